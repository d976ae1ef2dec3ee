"""Rotation and time offset from motion (sensorfuse.calibration.rotation_time): simulator drives with exact truth,
the refusals, and the real recordings of ../shared/data against what their SOURCE.md files state."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sensorfuse.calibration.rotation_time import MotionStream, align_rotation_and_time, coarse_time_offset
from sensorfuse.errors import CalibrationError
from sensorfuse.geometry.transforms import angle_between_rotations_deg
from sensorfuse.sim.motion import motion_streams


def _streams(m):
    return (
        MotionStream.from_gyro(m.imu_stamps_ns, m.gyro, "imu"),
        MotionStream.from_orientations(m.pose_stamps_ns, m.R_world_sensor, "lidar"),
    )


# -- simulator: accuracy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("motion", "max_offset_ms", "max_rot_deg"), [("figure8", 0.3, 0.1), ("drive", 0.5, 0.2)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simulator_accuracy(motion, max_offset_ms, max_rot_deg, seed):
    """60 s, IMU at 200 Hz with the rig's noise and bias, a 10 Hz pose stream 17 ms behind with 0.02 deg pose noise.
    figure8 (every axis turns): offset <= 0.3 ms, rotation <= 0.1 deg (measured 0.04-0.05 ms, 0.015 deg); drive (a
    car with suspension roll and pitch): <= 0.5 ms, <= 0.2 deg (measured 0.16-0.22 ms, 0.06-0.07 deg)."""
    m = motion_streams(60.0, seed=seed, motion=motion)
    r = align_rotation_and_time(*_streams(m))
    err_ms = (r.offset_ns - m.offset_ns) * 1e-6
    err_deg = float(angle_between_rotations_deg(r.R_reference_stream, m.R_imu_sensor))
    assert abs(err_ms) <= max_offset_ms, err_ms
    assert err_deg <= max_rot_deg, err_deg
    # the stated uncertainty covers the error (within 3 sigma) and is not absurdly pessimistic
    assert abs(err_ms) <= 3 * r.offset_std_ns * 1e-6 + 0.05
    assert r.offset_std_ns * 1e-6 < 1.0
    assert np.all(np.abs(r.gyro_bias - m.gyro_bias0) < 5e-4), r.gyro_bias - m.gyro_bias0  # bias walks ~1e-4 in 60 s
    assert r.bias_of == "imu" and not r.undetermined
    d = r.to_dict()
    assert d["convention"] == "t_reference = t_stream + offset_ns" and len(d["windows"]) == 8


def test_offset_sign_and_both_directions():
    """Swapping reference and stream negates the offset and inverts the rotation."""
    m = motion_streams(40.0, seed=3, motion="figure8", offset_ns=-23_000_000)
    a, b = _streams(m)
    ab, ba = align_rotation_and_time(a, b), align_rotation_and_time(b, a)
    assert abs(ab.offset_ns - m.offset_ns) < 300_000
    assert abs(ab.offset_ns + ba.offset_ns) < 100_000
    assert angle_between_rotations_deg(ab.R_reference_stream, ba.R_reference_stream.T) < 0.02


# -- simulator: what the data cannot decide ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planar():
    return motion_streams(60.0, seed=0, motion="planar")


def test_planar_motion_names_the_turning_axis_and_refuses(planar):
    """A car on a flat road turns about the vertical only: the rotation about it cannot be found from rates."""
    with pytest.raises(CalibrationError, match=r"turns about one axis only.*figure-8.*prior") as e:
        align_rotation_and_time(*_streams(planar))
    # the first axis named is the vertical seen in the IMU frame
    import re

    R_world_imu = planar.R_world_sensor[0] @ planar.R_imu_sensor.T
    up_imu = R_world_imu.T @ np.array([0.0, 0.0, 1.0])
    v = np.array(
        [float(c) for c in re.search(r"rotation about ~[+-][xyz] \(([^)]*)\)", str(e.value)).group(1).split(",")]
    )
    assert abs(v @ up_imu) > 0.99, (v, up_imu)


def test_planar_motion_with_a_prior_holds_that_axis(planar):
    """With a prior (off by 0.87 deg, sigma 1 deg) the result is returned, the held axis named in the notes; the
    offset still comes from the yaw rate (within 1 ms: smooth yaw carries little timing information)."""
    R_prior = planar.R_imu_sensor @ Rotation.from_rotvec(np.radians([0.5, -0.5, 0.5])).as_matrix()
    r = align_rotation_and_time(*_streams(planar), R_prior=R_prior, prior_sigma_deg=1.0)
    assert r.undetermined and any("held to the prior" in n for n in r.notes)
    assert abs(r.offset_ns - planar.offset_ns) < 1_000_000
    assert angle_between_rotations_deg(r.R_reference_stream, planar.R_imu_sensor) < 1.0


def test_offset_only_is_given_without_the_rotation(planar):
    r = align_rotation_and_time(*_streams(planar), need_rotation=False)
    assert r.undetermined and any("not determined" in n for n in r.notes)
    assert abs(r.offset_ns - planar.offset_ns) < 3 * r.offset_std_ns


def test_standing_still_is_refused():
    m = motion_streams(30.0, seed=0, motion="drive")
    n = m.pose_stamps_ns.size
    still = MotionStream.from_orientations(m.pose_stamps_ns, np.repeat(m.R_world_sensor[:1], n, axis=0), "lidar")
    gyro = MotionStream.from_gyro(m.imu_stamps_ns, m.gyro * 0 + m.gyro_bias0, "imu")
    with pytest.raises(CalibrationError, match=r"standing still.*figure-8"):
        align_rotation_and_time(gyro, still)


def test_too_short_is_refused():
    with pytest.raises(CalibrationError, match="record longer"):
        align_rotation_and_time(*_streams(motion_streams(6.0, seed=0, motion="figure8")))


def test_saturated_gyro_is_refused():
    """A gyro clipped at 0.15 rad/s (the drive turns faster most of the time)."""
    m = motion_streams(40.0, seed=0, motion="figure8", gyro_clip=0.15)
    with pytest.raises(CalibrationError, match="saturated"):
        align_rotation_and_time(*_streams(m))


def test_no_overlap_is_refused():
    m = motion_streams(30.0, seed=0, motion="figure8")
    a = MotionStream.from_gyro(m.imu_stamps_ns, m.gyro, "imu")
    b = MotionStream.from_orientations(m.pose_stamps_ns + 10**12, m.R_world_sensor, "lidar")
    with pytest.raises(CalibrationError, match="do not overlap"):
        coarse_time_offset(a, b, max_offset_s=1.0)


def test_repeats_and_bad_input():
    from sensorfuse.errors import ValidationError

    m = motion_streams(20.0, seed=0)
    st = m.pose_stamps_ns.copy()
    st[5] = st[4]
    s = MotionStream.from_orientations(st, m.R_world_sensor, "lidar")
    assert s.dropped_repeats == 1 and s.stamps_ns.size == st.size - 1
    with pytest.raises(ValidationError, match="lidar: expected orientations"):
        MotionStream.from_orientations(st, np.zeros((3, 3)), "lidar")
    with pytest.raises(ValidationError, match=r"imu: stamps_ns.*integer"):
        MotionStream.from_gyro(m.imu_stamps_ns * 1e-9, m.gyro, "imu")


# -- real recordings ----------------------------------------------------------------------------------------------


def _euroc(shared_data):
    csv = shared_data / "euroc_v1_01_imu_full/mav0/imu0/data.csv"
    st = np.loadtxt(csv, delimiter=",", comments="#", dtype=np.int64, usecols=0)
    gyro = np.loadtxt(csv, delimiter=",", comments="#", usecols=(1, 2, 3))
    gt = np.loadtxt(shared_data / "euroc_v1_01_micro/groundtruth_evo/V101_gt.txt")
    gst = np.round(gt[:, 0] * 1e5).astype(np.int64) * 10_000  # 10 us stamps in seconds (SOURCE.md's trap)
    return st, gyro, gst, gt[:, 4:8]


def test_euroc_imu_against_ground_truth(shared_data):
    """EuRoC V1_01: 146 s of IMU against the Vicon ground truth (rotation ~identity, T_BS = I). Measured: offset
    -0.26 ms (t_gt = t_imu + 0.26 ms), rotation 0.01 deg, gyro bias (-0.0022, 0.0211, 0.0765) rad/s. SOURCE.md's
    own check (|omega| correlation on a 0.5 ms grid, no bias) says 2.5 ms / 0.24 deg; docs/calibration.md has why."""
    st, gyro, gst, q = _euroc(shared_data)
    r = align_rotation_and_time(MotionStream.from_gyro(st, gyro, "imu"), MotionStream.from_orientations(gst, q, "gt"))
    assert abs(r.offset_ns) < 1_000_000
    assert r.rotation_deg < 0.25
    assert r.offset_std_ns < 100_000 and max(r.rotation_std_deg) < 0.1
    assert abs(r.gyro_bias[2] - 0.0765) < 0.003 and abs(r.gyro_bias[1] - 0.021) < 0.003
    assert r.coarse.correlation > 0.95


def test_euroc_injected_shift_and_rotation_are_recovered(shared_data):
    """The same data with the ground truth shifted by 12.345 ms and rotated by 30 deg: recovered on top of the
    untouched result within 0.3 ms and 0.1 deg."""
    st, gyro, gst, q = _euroc(shared_data)
    imu = MotionStream.from_gyro(st, gyro, "imu")
    base = align_rotation_and_time(imu, MotionStream.from_orientations(gst, q, "gt"))
    R_x = Rotation.from_rotvec(np.radians(30.0) * np.array([1.0, 1.0, 0.0]) / np.sqrt(2))
    q2 = (Rotation.from_quat(q) * R_x).as_quat()  # the stream's frame rotated: R_imu_stream = R_base @ R_x
    shifted = MotionStream.from_orientations(gst - 12_345_000, q2, "gt")
    r = align_rotation_and_time(imu, shifted)
    assert abs(r.offset_ns - (base.offset_ns + 12_345_000)) < 300_000
    assert angle_between_rotations_deg(r.R_reference_stream, base.R_reference_stream @ R_x.as_matrix()) < 0.1


@pytest.mark.parametrize(
    ("trial", "rot_deg"), [("07_undisturbed_fast_rotation_B", 0.09), ("21_undisturbed_fast_combined", 0.20)]
)
def test_broad_imu_against_optical_reference(shared_data, trial, rot_deg):
    """BROAD: gyro vs OptiTrack orientation, pre-aligned by the authors; SOURCE.md: residual t_omc = t_imu - 4.2 ms,
    rotation 0.09 / 0.20 deg. Measured: +4.19 / +4.26 ms, 0.089 / 0.207 deg."""
    from scipy.io import loadmat

    m = loadmat(shared_data / f"broad_imu_optical_mocap/{trial}.mat", squeeze_me=True)
    n = m["imu_gyr"].shape[0]
    st = np.round(np.arange(n) / float(m["sampling_rate"]) * 1e9).astype(np.int64)
    q = m["opt_quat"][:, [1, 2, 3, 0]]  # (w, x, y, z) -> SciPy's (x, y, z, w); NaN rows are optical dropouts
    r = align_rotation_and_time(
        MotionStream.from_gyro(st, m["imu_gyr"], "imu"), MotionStream.from_orientations(st, q, "omc")
    )
    assert abs(r.offset_ns * 1e-6 - 4.2) < 0.15, r.offset_ns
    assert abs(r.rotation_deg - rot_deg) < 0.05
    assert r.offset_std_ns < 100_000


def test_ethz_tango_triplet_clock_offsets_and_loop_closure(shared_data):
    """Three Tango devices on one rig, each on its own clock (minutes apart, no overlap without the offset).
    SOURCE.md: t_CALIGULA = t_MARS - 126.834 s = t_NERO - 234.570 s, rotations 149.4 / 48.4 / 101.2 deg, loop
    closure 0.08 deg. Measured: -126.8342 / -107.7363 / +234.5711 s, 149.8 / 49.0 / 101.0 deg, loop 0.074 deg."""
    streams = {}
    for f in sorted((shared_data / "ethz_hand_eye_pose_pairs/tango_triplet_easy").glob("*.csv")):
        a = np.loadtxt(f, delimiter=",")
        name = f.name.split("_")[0]
        streams[name] = MotionStream.from_orientations(np.round(a[:, 0] * 1e9).astype(np.int64), a[:, 4:8], name)
        assert streams[name].dropped_repeats > 300  # 2-decimal stamps repeat (SOURCE.md's trap), counted
    pairs = [("CALIGULA", "MARS"), ("MARS", "NERO"), ("NERO", "CALIGULA")]
    res = {p: align_rotation_and_time(streams[p[0]], streams[p[1]]) for p in pairs}
    expect = {("CALIGULA", "MARS"): -126.834, ("MARS", "NERO"): -107.736, ("NERO", "CALIGULA"): 234.570}
    for p, off in expect.items():
        assert abs(res[p].offset_ns * 1e-9 - off) < 0.005, (p, res[p].offset_ns)
    loop = np.eye(3)
    for p in pairs:
        loop = loop @ res[p].R_reference_stream
    assert float(angle_between_rotations_deg(loop, np.eye(3))) < 0.15
    assert abs(sum(res[p].offset_ns for p in pairs)) < 3_000_000


# -- fuse-calib time-offset ----------------------------------------------------------------------------------------


@pytest.fixture
def euroc_full(shared_data, tmp_path):
    """An EuRoC folder: the micro set's sensor.yaml files with the full 146 s IMU CSV."""
    import shutil

    mav0 = tmp_path / "euroc" / "mav0"
    (mav0 / "imu0").mkdir(parents=True)
    shutil.copy(shared_data / "euroc_v1_01_micro/mav0/imu0/sensor.yaml", mav0 / "imu0")
    shutil.copy(shared_data / "euroc_v1_01_imu_full/mav0/imu0/data.csv", mav0 / "imu0")
    return mav0.parent, shared_data / "euroc_v1_01_micro/groundtruth_evo/V101_gt.txt"


def test_fuse_calib_time_offset_writes_the_clock_that_fuse_sync_reads(euroc_full, tmp_path):
    import json
    import subprocess
    import sys

    from sensorfuse.io.rigfile import load_rig

    mav0, gt = euroc_full
    out = tmp_path / "rig.yaml"
    cmd = [sys.executable, "-m", "sensorfuse.cli.calib", "time-offset", str(mav0), "--groundtruth", str(gt),
           "--streams", "imu0,groundtruth", "-o", str(out), "--json"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert abs(summary["offset_ms"]) < 1.0 and summary["convention"] == "t_reference = t_stream + offset_ns"
    rig = load_rig(out)
    s = next(s for s in rig.sensors if s.topic == "groundtruth")
    assert s.clock.offset_ns == summary["clock"]["offset_ns"] == summary["offset_ns"]
    assert s.provenance is not None and s.provenance.quality["offset_std_ns"] > 0
    assert rig.reference_clock == "imu0"
    import cv2

    img = cv2.imread(summary["report"])
    assert img is not None and img.shape[1] == 1000 and (img < 128).any()
    # the plain output names the convention; a LiDAR topic or a single topic is refused in one line
    p = subprocess.run(cmd[:-3], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "t_imu0 = t_groundtruth + offset" in p.stdout, p.stderr
    bad = subprocess.run([*cmd[:-5], "--streams", "imu0"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "two topics" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_only_motion_topics_are_taken():
    from pathlib import Path

    from sensorfuse.errors import TopicNotFound, ValidationError
    from sensorfuse.io.open_log import open_log
    from sensorfuse.pipelines.calib_motion import motion_stream

    log = Path(__file__).parents[2] / "sample_data/sim_small/log"
    with open_log(log) as reader:
        assert motion_stream(reader, "/imu/data").kind == "gyro"
        assert motion_stream(reader, "/odom").kind == "orientation"
        with pytest.raises(ValidationError, match=r"lidar stream.*fuse-calib lidar-imu"):
            motion_stream(reader, "/lidar/points")
        with pytest.raises(TopicNotFound, match="/imu/data, /odom"):
            motion_stream(reader, "/nope")


@pytest.mark.slow
def test_calibrate_then_sync_on_a_simulator_log(tmp_path):
    """A 14 s simulator log whose IMU clock is 7 ms off (and 1 ms of nominal transport latency): fuse-calib
    time-offset between /odom and /imu/data finds the clock itself (measured +7.15 ms; the record-time estimate
    fuse-sync makes on its own says 8.0 ms, the latency included), the IMU's mounting rotation against the base
    (measured 0.008 deg off the truth), and fuse-sync --rig pairs on that clock."""
    import json
    import subprocess
    import sys

    from sensorfuse.io.rigfile import load_rig
    from sensorfuse.pipelines.calib_motion import time_offset
    from sensorfuse.sim import SimConfig, simulate

    cfg = SimConfig(duration_s=14, seed=3, truth_images_every=0, n_cars=0, n_pedestrians=0,
                    stream_faults={"imu": {"offset_ns": 7_000_000}})  # fmt: skip
    sim = simulate(tmp_path / "sim", cfg)
    res, summary = time_offset(sim.log, ("/odom", "/imu/data"), out=tmp_path / "rig.yaml")
    assert abs(res.offset_ns - 7_000_000) < 500_000, res.offset_ns
    truth = load_rig(sim.ground_truth / "rig.yaml")
    R_base_imu = truth.transform(truth.base_frame, "imu")[:3, :3]
    assert angle_between_rotations_deg(res.R_reference_stream, R_base_imu) < 0.1
    cmd = [
        sys.executable,
        "-m",
        "sensorfuse.cli.sync",
        str(sim.log),
        "-o",
        str(tmp_path / "synced"),
        "--rig",
        str(tmp_path / "rig.yaml"),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    report = json.loads((tmp_path / "synced/sync_report.json").read_text())
    clock = report["streams"][summary["clock"]["sensor"]]["clock"]
    assert clock["source"] == "rig" and clock["offset_ns"] == res.offset_ns


def test_opencalib_lidar_ins_pose_files(shared_data):
    """OpenCalib's LiDAR-INS sample: 1,081 NovAtel and LiDAR poses (108 s, 10 Hz, same stamps). Its SOURCE.md
    derives the extrinsic exactly (the LiDAR poses are the INS poses conjugated by it, residual 1e-5 m), so this
    checks conventions and the reader, not accuracy: the rotation comes out within 1e-4 deg of it (measured 2e-6),
    the offset 0 (the pose files share their stamps); the auto tool's initial JSON is 1.12 deg away."""
    from sensorfuse.io.opencalib import read_opencalib_json, read_opencalib_poses

    d = shared_data / "opencalib_lidar2imu/auto_calib"
    tn, N = read_opencalib_poses(d / "NovAtel-pose-lidar-time.txt")
    tl, L = read_opencalib_poses(d / "top_center_lidar-pose.txt")
    assert tn.size == 1081 and np.array_equal(tn, tl) and tn[0] == 1_635_236_489_468_000_000  # 16:21:29.468 UTC+8
    T_lidar_gnss = np.array([[0.000534119, 0.999955744, 0.009392831, -1.207930],
                             [-0.999853228, 0.000373173, 0.017128434, -0.021773],
                             [0.017124171, -0.009400601, 0.999809178, -1.377327], [0, 0, 0, 1]])  # fmt: skip
    res = align_rotation_and_time(
        MotionStream.from_poses(tn, N, "novatel"), MotionStream.from_poses(tl, L, "lidar"), max_offset_s=0.5
    )
    R_gnss_lidar = np.linalg.inv(T_lidar_gnss)[:3, :3]
    assert angle_between_rotations_deg(res.R_reference_stream, R_gnss_lidar) < 1e-4
    assert abs(res.offset_ns) < 10_000
    init = read_opencalib_json(d / "gnss-to-top_center_lidar-extrinsic.json")[0].T_target_source
    assert 1.0 < angle_between_rotations_deg(np.linalg.inv(init)[:3, :3], res.R_reference_stream) < 1.3


@pytest.mark.slow
def test_lidar_camera_offset_from_edges_under_motion(tmp_path):
    """fuse-calib time-offset LIDAR,CAMERA on a 4 s full-rig drive at 10 m/s whose camera clock is 8 ms off: the
    edge alignment with the sweeps deskewed to each shifted image time peaks at the offset (goal: within 1 ms;
    measured 7.63 ms here, std 0.17 ms, and 7.40 ms / 0.26 ms on an 8 s log: the stated std is ~2x optimistic). The rig file gets the camera's clock with its
    intrinsics. (On the small rig, 16 beams and 640x480, the same gives 5.9 ms with a stated std of 2 ms: the
    deviation says it cannot decide to 1 ms.)"""
    import json
    import subprocess
    import sys

    from sensorfuse.io.rigfile import load_rig
    from sensorfuse.sim import SimConfig, simulate

    cfg = SimConfig(duration_s=4.0, seed=0, rig="full", board="none", truth_images_every=0, n_cars=0, n_pedestrians=0,
                    stream_faults={"cam_front": {"offset_ns": 8_000_000}})  # fmt: skip
    sim = simulate(tmp_path / "sim", cfg)
    out = tmp_path / "rig.yaml"
    cmd = [sys.executable, "-m", "sensorfuse.cli.calib", "time-offset", str(sim.log), "--streams",
           "/lidar/points,/cam_front/image_raw/compressed", "--max-offset", "20ms", "-o", str(out), "--json"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert abs(s["offset_ns"] - 8_000_000) < 1_000_000, s["offset_ms"]
    assert 0 < s["offset_std_ms"] < 1.0 and s["contrast"] > 0.1
    cam = next(x for x in load_rig(out).sensors if x.topic == "/cam_front/image_raw/compressed")
    assert cam.clock.offset_ns == s["offset_ns"] and cam.camera is not None and cam.frame_id == "cam_front"
    swapped = [*cmd[:5], "--streams", "/cam_front/image_raw/compressed,/lidar/points"]
    bad = subprocess.run(swapped, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "LiDAR first" in bad.stderr
