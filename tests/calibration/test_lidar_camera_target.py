"""Target-based LiDAR -> camera calibration on a simulator log (full rig: 64-beam LiDAR, 1280x720 camera, sensor
noise on) with the held checkerboard swung in front of the driving vehicle; ground truth from the simulator's rig."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sensorfuse.calibration.board import board_pose
from sensorfuse.calibration.lidar_camera_target import calibrate_lidar_camera_target
from sensorfuse.errors import CalibrationError
from sensorfuse.geometry.transforms import se3_exp, transform_difference

BOARD = "chessboard:7x5:0.15"  # the simulator's 8 x 6 squares of 15 cm
BORDER_M = 0.225  # one square + the 7.5 cm margin
EXTENT = (0.0, 0.9, 0.0, 0.6)  # the corner grid on the board


def _synthetic(tilts_deg, T_cam_lidar, rng, noise_m=0.0):
    """Board poses 6 m ahead with the given (yaw, pitch) tilts, one image every 33 ms, and a sweep of points on each
    board (in the LiDAR frame) at the image times."""
    from scipy.spatial.transform import Rotation

    from sensorfuse.calibration.board import BoardPose

    poses, sweeps = [], []
    T_lc = np.linalg.inv(T_cam_lidar)
    for k, (yaw, pitch) in enumerate(tilts_deg):
        T = np.eye(4)
        T[:3, :3] = Rotation.from_euler("yx", [yaw, pitch], degrees=True).as_matrix()
        T[:3, 3] = [rng.uniform(-1, 1), rng.uniform(-0.5, 0.5), 6.0]
        stamp = 1_000_000_000 + k * 33_000_000
        poses.append(BoardPose(stamp, T, 0.1, 35))
        uv = rng.uniform([-0.2, -0.2], [1.1, 0.8], size=(300, 2))
        Pc = np.c_[uv, np.zeros(300)] @ T[:3, :3].T + T[:3, 3]
        Pc += rng.normal(scale=noise_m, size=Pc.shape) if noise_m else 0.0
        sweeps.append(((Pc @ T_lc[:3, :3].T + T_lc[:3, 3]).astype(np.float32), np.full(300, stamp, np.int64)))
    return poses, sweeps


def test_synthetic_exact_and_degenerate(rng):
    T_true = se3_exp(np.r_[0.02, -0.01, 0.03, 0.1, -0.3, -0.2])
    tilts = [(y, p) for y in (-30, 0, 30) for p in (-20, 0, 20)]
    poses, sweeps = _synthetic(tilts, T_true, rng)
    res = calibrate_lidar_camera_target(sweeps, poses, _perturbed(T_true, rng), board_extent=EXTENT, border_m=0.2)
    deg, m = transform_difference(res.T_cam_lidar, T_true)
    assert deg < 1e-3 and m < 1e-4 and res.rms_m < 1e-4
    # all boards facing one way: translation along the normal cannot be told from a board offset
    poses, sweeps = _synthetic([(5, 0)] * 9, T_true, rng, noise_m=0.01)
    with pytest.raises(CalibrationError, match="normals span"):
        calibrate_lidar_camera_target(sweeps, poses, T_true, board_extent=EXTENT, border_m=0.2)


@pytest.fixture(scope="session")
def board_log(tmp_path_factory):
    """A 6 s full-rig log with the board, its board poses and sweeps, and the true T_cam_lidar."""
    import cv2

    from sensorfuse.calibration.board import Board, detect_board
    from sensorfuse.io import open as open_log
    from sensorfuse.io.images import to_bgr
    from sensorfuse.sim import SimConfig, simulate

    out = tmp_path_factory.mktemp("board")
    res = simulate(out, SimConfig(duration_s=6.0, seed=3, rig="full", format="mcap", truth_images_every=0))
    T_true = res.sim_rig.rig.transform("cam_front", "lidar")
    board = Board.parse(BOARD)
    poses, sweeps = [], []
    with open_log(res.log) as r:
        camera = r.cameras()["/cam_front/camera_info"]
        for m in r.read("/cam_front/image_raw/compressed"):
            d = detect_board(cv2.cvtColor(to_bgr(m.data), cv2.COLOR_BGR2GRAY), board)
            b = board_pose(d, camera, m.data.stamp_ns) if d is not None else None
            if b is not None:
                poses.append(b)
        for m in r.read("/lidar/points"):
            sweeps.append((m.data.xyz, m.data.stamp_ns + m.data.t_offset_ns))
    return res, poses, sweeps, T_true


def _perturbed(T, rng, deg=2.0, m=0.10):
    a = rng.normal(size=3)
    a /= np.linalg.norm(a)
    t = rng.normal(size=3)
    t /= np.linalg.norm(t)
    return se3_exp(np.r_[a * np.radians(rng.uniform(0, deg)), t * rng.uniform(0, m)]) @ T


@pytest.mark.slow
def test_seeded_trials_meet_the_accuracy_goal(board_log):
    """<= 0.1 deg and <= 5 mm from starts up to 2 deg / 10 cm off (measured: ~0.03 deg / 1.5 mm on the 10 s log)."""
    _, poses, sweeps, T_true = board_log
    assert len(poses) >= 100
    rng = np.random.default_rng(7)
    for _ in range(4):
        T0 = _perturbed(T_true, rng)
        res = calibrate_lidar_camera_target(sweeps, poses, T0, board_extent=EXTENT, border_m=BORDER_M)
        deg, m = transform_difference(res.T_cam_lidar, T_true)
        assert deg <= 0.1 and m <= 0.005, (deg, m, res.quality())
        # the quality figures are honest: the true error is within ~4 sigma of the reported uncertainty
        assert deg <= 4 * res.std_deg + 0.02 and m <= 4 * res.std_m + 0.002
        assert res.rms_m < 0.02 and res.normal_spread_deg > 30


@pytest.mark.slow
def test_board_poses_match_the_truth(board_log):
    """PnP through the full Brown-Conrady model: the board plane at each image within 0.1 deg (median) of the
    simulator's board."""
    from sensorfuse.io.sim_truth import load_ground_truth

    res, poses, _, _ = board_log
    gt = load_ground_truth(res.out_dir)
    T_base_cam = gt.rig.transform("base_link", "cam_front")
    boards = gt.objects()
    ang = []
    for b in poses[::5]:
        box = next(x for x in boards.boxes(b.stamp_ns) if x.label == "board")
        T_wb = gt.trajectory.interpolate(np.array([b.stamp_ns], np.int64))[0][0]
        R_cw = np.linalg.inv(T_wb @ T_base_cam)[:3, :3]
        n_true = R_cw @ box.rotation[:, 0]
        ang.append(np.degrees(np.arccos(min(1.0, abs(float(n_true @ b.T_cam_board[:3, 2]))))))
    assert np.median(ang) < 0.1, np.median(ang)


@pytest.mark.slow
def test_refusals(board_log):
    _, poses, sweeps, T_true = board_log
    kw = {"board_extent": EXTENT, "border_m": BORDER_M}
    with pytest.raises(CalibrationError, match="board pose"):
        calibrate_lidar_camera_target(sweeps, poses[:2], T_true, **kw)
    # an initial guess far outside the basin: nothing near the board
    with pytest.raises(CalibrationError, match="initial extrinsic"):
        calibrate_lidar_camera_target(sweeps, poses, se3_exp(np.r_[0, np.radians(40), 0, 0, 0, 0]) @ T_true, **kw)
    # clocks off by far more than the image interval: the points are paired with the wrong board pose
    shifted = [(xyz, t + 2_000_000_000) for xyz, t in sweeps]
    with pytest.raises(CalibrationError):
        calibrate_lidar_camera_target(shifted, poses, T_true, **kw)


@pytest.mark.slow
def test_cli_writes_a_rig_and_a_report(board_log, tmp_path):
    from sensorfuse.io.rigfile import load_rig, save_rig

    res, _, _, T_true = board_log
    init = tmp_path / "init.yaml"
    T0 = se3_exp(np.r_[np.radians([1.0, -1.2, 0.8]), 0.05, -0.04, 0.06]) @ T_true
    save_rig(res.sim_rig.rig.with_extrinsic("cam_front", "lidar", T0), init)
    out = tmp_path / "cal.yaml"
    cmd = [sys.executable, "-m", "sensorfuse.cli.calib", "lidar-camera", str(res.log), "--target", BOARD,
           "--border", str(BORDER_M), "--init", str(init), "-o", str(out), "--json",
           "--camera", "/cam_front/image_raw/compressed"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["init_from"] == "--init rig" and summary["change"]["rotation_deg"] > 1.5
    rig = load_rig(out)
    deg, m = transform_difference(rig.transform("cam_front", "lidar"), T_true)
    assert deg <= 0.1 and m <= 0.005
    ext = rig.extrinsics[0]
    assert ext.provenance.quality["std_deg"] > 0 and ext.provenance.quality["poses"] == summary["board_poses"]
    import cv2

    report = cv2.imread(summary["report"])
    assert report is not None and report.shape[0] == 2 * 720
    # the report draws LiDAR points: many coloured (non-gray) pixels in both halves
    sat = np.ptp(report.astype(int), axis=2) > 60
    assert sat[:720].sum() > 2000 and sat[720:].sum() > 2000
    # two cameras and no --camera: refused, with what to do
    p = subprocess.run([sys.executable, "-m", "sensorfuse.cli.calib", "lidar-camera", str(res.log), "--target", BOARD],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 1 and "--camera" in p.stderr


@pytest.mark.slow
def test_targetless_on_a_log(board_log, tmp_path):
    """Targetless refinement of a log (edge alignment over sweeps deskewed to their images). What it reaches on the
    simulator, from 1.8 deg / 9 cm off: 0.16 deg / 3.1 cm on this 6 s log with a board swinging through the view
    (0.27 deg / 2.8 cm before the two fixes to the LiDAR edges in docs/calibration.md; 0.01-0.07 deg / 0.6-1.65 cm
    on 10 s logs without a board). The issue's translation goal for the simulator, 1 cm, is NOT met (docs/calibration.md);
    this test holds what is achieved, so a regression fails it."""
    from sensorfuse.io.rigfile import load_rig
    from sensorfuse.pipelines.calib import lidar_camera_targetless_log

    res, _, _, T_true = board_log
    T0 = se3_exp(np.r_[np.radians([1.0, -1.2, 0.8]), 0.05, -0.04, 0.06]) @ T_true
    init = res.sim_rig.rig.with_extrinsic("cam_front", "lidar", T0)
    out = tmp_path / "rig.yaml"
    r, summary = lidar_camera_targetless_log(
        res.log, camera_topic="/cam_front/image_raw/compressed", init_rig=init, out=out
    )
    deg, m = transform_difference(r.T_cam_lidar, T_true)
    print(f"targetless on the board log: {deg:.3f} deg, {m * 100:.1f} cm")
    assert r.converged and deg < 0.25 and m < 0.04, (deg, m)
    assert summary["init_from"] == "--init rig" and len(summary["frames"]) >= 15
    assert transform_difference(load_rig(out).transform("cam_front", "lidar"), r.T_cam_lidar)[0] < 1e-6
    assert (tmp_path / "rig.png").is_file()
