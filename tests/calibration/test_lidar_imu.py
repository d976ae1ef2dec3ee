"""LiDAR↔IMU rotation and time offset from scan registration (sensorfuse.calibration.lidar_motion) on simulator logs
with exact truth: accuracy on a figure-8, a large mounting rotation, the refusal on a planar drive, the CLI and
its rig file."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sensorfuse.calibration.lidar_motion import (
    GyroDeskew,
    lidar_imu_rotation_time,
    lidar_odometry,
    prepare_sweeps,
)
from sensorfuse.errors import CalibrationError, ValidationError
from sensorfuse.geometry.transforms import angle_between_rotations_deg
from sensorfuse.types import PointCloud

OFFSET_NS = 12_000_000  # the LiDAR clock's offset in the simulator logs: t_true = t_lidar + 12 ms (IMU = true time)


def _sim(tmp_path_factory, name, motion, duration):
    from sensorfuse.sim import SimConfig, simulate

    cfg = SimConfig(duration_s=duration, seed=1, rig="small", motion=motion, board="none", truth_images_every=0,
                    stream_faults={"lidar": {"offset_ns": OFFSET_NS}})  # fmt: skip
    return simulate(tmp_path_factory.mktemp(name), cfg)


@pytest.fixture(scope="session")
def figure8_log(tmp_path_factory):
    """20 s of the small rig (16 beams) on a figure-8 with roll/pitch wobble, the LiDAR clock 12 ms behind."""
    return _sim(tmp_path_factory, "lidar_imu_f8", "figure8", 20.0)


def _inputs(sim):
    from sensorfuse.io.open_log import open_log

    with open_log(sim.log) as r:
        imu = r.imu("/imu/data")
        sweeps = prepare_sweeps(m.data for m in r.read("/lidar/points"))
    return sweeps, imu


@pytest.mark.slow
def test_figure8_rotation_and_offset_against_the_truth(figure8_log):
    """Full excitation: rotation <= 0.1 deg, offset <= 0.3 ms (the issue's figures). Measured on this log: 0.06 deg
    and 0.09 ms, in 5 passes (the constant-velocity pass is 20 ms and 3 deg off; the gyro deskew brings it in). The
    IMU's frame is turned by a seeded 40 deg rotation first, so the mounting is far from identity and from any
    initial guess (the estimator takes none)."""
    from sensorfuse.io.rigfile import load_rig

    sweeps, imu = _inputs(figure8_log)
    Q = Rotation.from_rotvec(np.radians(40) * np.array([0.6, -0.48, 0.64])).as_matrix()
    res = lidar_imu_rotation_time(sweeps, imu.stamp_ns, imu.gyro @ Q.T)
    truth = load_rig(figure8_log.ground_truth / "rig.yaml")
    R_true = Q @ truth.transform("imu", "lidar")[:3, :3]
    err = angle_between_rotations_deg(res.R_imu_lidar, R_true)
    assert err < 0.1, err
    assert abs(res.offset_ns - OFFSET_NS) < 300_000, res.offset_ns
    rt = res.rotation_time
    assert np.all(rt.rotation_std_deg < 0.3) and 0 < rt.offset_std_ns < 1_000_000
    # the stated uncertainty covers the error (3 sigma)
    assert abs(res.offset_ns - OFFSET_NS) < 3 * rt.offset_std_ns + 50_000
    assert res.passes[0]["deskew"] == "constant velocity" and res.passes[-1]["deskew"] == "gyro"
    assert res.passes[-1]["rotation_change_deg"] < 0.01
    assert any("lever arm" in u for u in res.to_dict()["undetermined"])


@pytest.mark.slow
def test_planar_drive_is_refused_with_the_axis_named(tmp_path_factory):
    """A planar drive turns about the vertical only: the rotation about the other axes is not determined and is
    refused with the advice, never returned."""
    sim = _sim(tmp_path_factory, "lidar_imu_planar", "planar", 16.0)
    sweeps, imu = _inputs(sim)
    with pytest.raises(CalibrationError, match=r"not determined.*figure-8"):
        lidar_imu_rotation_time(sweeps, imu.stamp_ns, imu.gyro, max_passes=1)


@pytest.mark.slow
def test_fuse_calib_lidar_imu_writes_clock_and_rotation(figure8_log, tmp_path):
    import json
    import subprocess
    import sys

    import cv2

    from sensorfuse.io.rigfile import load_rig

    out = tmp_path / "rig.yaml"
    cmd = [sys.executable, "-m", "sensorfuse.cli.calib", "lidar-imu", str(figure8_log.log), "-o", str(out), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    rig = load_rig(out)
    lidar = next(s for s in rig.sensors if s.topic == "/lidar/points")
    assert lidar.clock.offset_ns == summary["offset_ns"] and abs(lidar.clock.offset_ns - OFFSET_NS) < 300_000
    truth = load_rig(figure8_log.ground_truth / "rig.yaml")
    T = rig.transform("imu", "lidar")
    assert angle_between_rotations_deg(T[:3, :3], truth.transform("imu", "lidar")[:3, :3]) < 0.1
    # the translation is /tf_static's, said so
    np.testing.assert_allclose(T[:3, 3], truth.transform("imu", "lidar")[:3, 3], atol=1e-9)
    e = next(e for e in rig.extrinsics if {e.target, e.source} == {"imu", "lidar"})
    assert "lever arm is not estimated" in e.provenance.notes
    assert summary["odometry"]["median_inlier_share"] > 0.8 and summary["initial"]["from"] == "log /tf_static"
    img = cv2.imread(summary["report"])
    assert img is not None and (img < 128).any()
    bad = subprocess.run([*cmd[:5], "--lidar", "/imu/data"], capture_output=True, text=True)
    assert bad.returncode == 1 and "no lidar topic" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_lever_arm_model_on_the_true_poses(figure8_log):
    """The lever-arm least squares (accelerometer against LiDAR positions) with the simulator's true LiDAR poses at
    10 Hz and the log's noisy IMU, the accelerometer bias estimated: within 1 cm (measured 1.3 mm; 1.07 cm without
    the bias) and |g| within 0.1 m/s^2 (9.808). (With our
    odometry's poses it is still ~10 cm off: not used by the workflow; see lever_arm's docstring.)"""
    from sensorfuse.calibration.lidar_motion import LidarOdometry, lever_arm
    from sensorfuse.io.open_log import open_log
    from sensorfuse.io.sim_truth import load_ground_truth

    gt = load_ground_truth(figure8_log.ground_truth)
    with open_log(figure8_log.log) as r:
        imu = r.imu("/imu/data")
    T_bl = gt.rig.transform("base_link", "lidar")
    st = np.arange(gt.trajectory.stamp_ns[0] + 50_000_000, gt.trajectory.stamp_ns[-1] - 50_000_000, 100_000_000)
    T = gt.trajectory.interpolate(st)[0] @ T_bl
    odo = LidarOdometry(st - OFFSET_NS, T, np.ones(st.size), np.ones(st.size), "truth", 0.0)
    la = lever_arm(
        odo, imu.stamp_ns, imu.gyro, imu.accel, gt.rig.transform("imu", "lidar")[:3, :3], OFFSET_NS, estimate_bias=True
    )
    truth = gt.rig.transform("lidar", "imu")[:3, 3]
    assert np.linalg.norm(la.p_lidar_imu - truth) < 0.01, la.p_lidar_imu - truth
    assert abs(la.gravity_mps2 - 9.81) < 0.1 and not la.undetermined


# -- quick: the parts -------------------------------------------------------------------------------------------


def test_gyro_deskew_rotation_matches_the_integrated_rate():
    """0.5 rad/s about the IMU's z until 450 ms (IMU clock), then still; the IMU clock is 10 ms ahead. From LiDAR
    time 400 ms to the sweep end at 500 ms the IMU turned over 410..455 ms: 0.02 rad, plus 0.00125 rad of the
    trapezoid at the step (without the offset it would be 0.02625), mapped through R_lidar_imu."""
    st = np.arange(0, 1_000_000_000, 5_000_000, dtype=np.int64)
    w = np.zeros((st.size, 3))
    w[st <= 450_000_000, 2] = 0.5
    R_li = Rotation.from_euler("x", 90, degrees=True).as_matrix()  # IMU z -> LiDAR -y
    g = GyroDeskew(st, w, R_li, offset_ns=10_000_000)
    rel = g.relative(np.array([400_000_000]), 500_000_000)
    np.testing.assert_allclose(rel.as_rotvec()[0], [0.0, 0.02125, 0.0], atol=1e-9)  # R_end^T R_t: -0.02125 about -y


def test_odometry_refuses_too_few_sweeps_and_clouds_without_point_times():
    xyz = np.random.default_rng(0).uniform(-20, 20, (500, 3)).astype(np.float32)
    with pytest.raises(ValidationError, match="no per-point time"):
        prepare_sweeps([PointCloud(xyz, 1_000, "lidar")])
    sw = prepare_sweeps([PointCloud(xyz, 1_000, "lidar", t_offset_ns=np.zeros(500, np.int64))])
    with pytest.raises(CalibrationError, match="at least 3"):
        lidar_odometry(sw)


def test_the_ouster_recording_is_too_short_and_says_so(shared_data):
    """The real Ouster OS1-64 MCAP holds 2 sweeps (0.18 s) and 17 IMU samples on another clock: no motion
    calibration can come from it; refused naming the file."""
    import subprocess
    import sys

    log = shared_data / "mcap_ros1_ouster_os1_64/test.mcap"
    p = subprocess.run([sys.executable, "-m", "sensorfuse.cli.calib", "lidar-imu", str(log)], capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert p.returncode == 1 and str(log) in p.stderr and "2 sweep(s)" in p.stderr and "record longer" in p.stderr
