"""Radar ego-velocity from Doppler and the radar's mounting from motion (sensorfuse.calibration.radar,
fuse-calib radar) on a simulator drive with exact truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sensorfuse.calibration.radar import ego_velocities, ego_velocity, radar_mounting
from sensorfuse.errors import CalibrationError

RADAR_OFFSET_NS = -8_000_000  # t_true = t_radar - 8 ms


@pytest.fixture(scope="session")
def radar_log(tmp_path_factory):
    """16 s of the small rig on a drive (accelerating, braking, turning), the radar clock 8 ms ahead."""
    from sensorfuse.sim import SimConfig, simulate

    cfg = SimConfig(duration_s=16.0, seed=2, rig="small", board="none", truth_images_every=0,
                    stream_faults={"radar": {"offset_ns": RADAR_OFFSET_NS}})  # fmt: skip
    return simulate(tmp_path_factory.mktemp("radar"), cfg)


def _truth_velocity(sim, stamps_ns):
    """The radar's true velocity in its own frame at true times (central differences of the true trajectory)."""
    from sensorfuse.io.sim_truth import load_ground_truth

    gt = load_ground_truth(sim.ground_truth)
    T_br = gt.rig.transform("base_link", "radar")
    h = 5_000_000
    tm, tp, t0 = (gt.trajectory.interpolate(stamps_ns + d, extrapolation="hold")[0] @ T_br for d in (-h, h, 0))
    v_w = (tp[:, :3, 3] - tm[:, :3, 3]) / (2 * h * 1e-9)
    return np.einsum("nji,nj->ni", t0[:, :3, :3], v_w), gt


@pytest.mark.slow
def test_ego_velocity_and_mounting_against_the_truth(radar_log):
    """Ego-velocity: <= 0.05 m/s RMS in the plane (measured 0.018 on a 64-beam drive; the 3 deg elevation spread
    leaves vz undetermined: named). A car moving with the ego is never taken for the world: scans where only it is
    in view are skipped with the reason. Mounting from a start 2 deg off in yaw: yaw <= 0.3 deg, offset <= 1 ms."""
    from sensorfuse.io.open_log import open_log

    with open_log(radar_log.log) as r:
        ev = ego_velocities(m.data for m in r.read("/radar/points"))
        traj = r.trajectory("/odom")
    assert ev.planar and ev.stamps_ns.size > 200
    t_true = ev.stamps_ns + RADAR_OFFSET_NS
    v_true, gt = _truth_velocity(radar_log, t_true)
    inside = (t_true - 5_000_000 >= gt.trajectory.stamp_ns[0]) & (t_true + 5_000_000 <= gt.trajectory.stamp_ns[-1])
    err = np.linalg.norm(ev.velocity[inside, :2] - v_true[inside, :2], axis=1)
    assert np.sqrt(np.mean(err**2)) < 0.05, np.sqrt(np.mean(err**2))
    assert all("static" in why or "moving object" in why for _, why in ev.skipped)
    T_true = gt.rig.transform("base_link", "radar")
    T0 = T_true.copy()
    T0[:3, :3] = Rotation.from_euler("z", 2.0, degrees=True).as_matrix() @ T_true[:3, :3]
    m = radar_mounting(ev, traj.stamp_ns, traj.T_world_body, T0)
    yaw_true = np.degrees(np.arctan2(T_true[1, 0], T_true[0, 0]))
    assert abs(m.yaw_deg - yaw_true) < 0.3, (m.yaw_deg, yaw_true)
    assert abs(m.offset_ns - RADAR_OFFSET_NS) < 1_000_000, m.offset_ns
    assert any("roll and pitch" in u for u in m.undetermined) and any("lever arm" in u for u in m.undetermined)


@pytest.mark.slow
def test_fuse_calib_radar_writes_clock_and_yaw(radar_log, tmp_path):
    import json
    import subprocess
    import sys

    from sensorfuse.io.rigfile import load_rig

    out = tmp_path / "rig.yaml"
    cmd = [sys.executable, "-m", "sensorfuse.cli.calib", "radar", str(radar_log.log), "-o", str(out), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    rig = load_rig(out)
    radar = next(x for x in rig.sensors if x.topic == "/radar/points")
    assert radar.clock.offset_ns == s["offset_ns"] and abs(s["offset_ns"] - RADAR_OFFSET_NS) < 1_000_000
    assert s["ego_velocity"]["skipped"] == len(s["skipped_scans"])
    e = next(e for e in rig.extrinsics if {e.target, e.source} == {"base_link", "radar"})
    assert "lever arm kept" in e.provenance.notes


def test_one_scan_static_world_and_refusals():
    """A synthetic scan: 60 static detections over 100 deg and a 40-detection car moving with the ego in a narrow
    sector: the static world wins (coverage, not count), the car is counted as moving; too few detections refused."""
    rng = np.random.default_rng(0)
    v = np.array([9.0, 0.4, 0.0])
    az = np.radians(rng.uniform(-50, 50, 60))
    el = np.radians(rng.uniform(-2, 2, 60))
    d = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1)
    static = d * rng.uniform(5, 60, (60, 1))
    dop_s = -d @ v + rng.normal(0, 0.03, 60)
    az_c = np.radians(rng.uniform(-8, -2, 40))
    dc = np.stack([np.cos(az_c), np.sin(az_c), np.zeros(40)], axis=1)
    car = dc * rng.uniform(6, 8, (40, 1))
    dop_c = rng.normal(0, 0.03, 40)  # moving with the ego: ~0 relative radial velocity
    e = ego_velocity(np.vstack([static, car]), np.r_[dop_s, dop_c])
    np.testing.assert_allclose(e.velocity[:2], v[:2], atol=0.05)
    assert e.planar and e.n_moving >= 40 and e.inliers[:60].mean() > 0.9
    with pytest.raises(CalibrationError, match="at least 8"):
        ego_velocity(static[:5], dop_s[:5])


@pytest.mark.parametrize("csv", ["front_radar.csv", "front_radar_delphi.csv"])
def test_opencalib_radar_to_lidar_sample(shared_data, tmp_path, csv):
    """OpenCalib's radar2lidar sample (one LiDAR sweep, a Continental and a Delphi export, not time-synchronised):
    refined in the ground plane from the provided extrinsic. Measured: Continental 0.79 -> 0.45 m median distance,
    yaw -0.54 deg, (x, y) (-0.18, -0.40) m; Delphi 0.28 -> 0.13 m, yaw +0.84 deg, (+0.23, -0.76) m. The two exports
    disagree by 1.4 deg / 0.45 m, far beyond their stated deviations (0.1 deg, 2-7 cm): this data does not decide
    the extrinsic (docs/calibration.md says so); the test holds that the fit improves the match, stays within 1 deg
    / 1 m of the provided value, and draws the overlay."""
    import json
    import subprocess
    import sys

    import cv2

    d = shared_data / "opencalib_radar2lidar"
    png, out = tmp_path / "bev.png", tmp_path / "refined.json"
    cmd = [sys.executable, "-m", "sensorfuse.cli.calib", "radar-lidar", str(d / csv), str(d / "lidar.pcd"), "--init",
           str(d / "front_radar-to-top_center_lidar-extrinsic.json"), "--report", str(png), "-o", str(out), "--json"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["median_distance_m"]["after"] < s["median_distance_m"]["before"]
    assert abs(s["change"]["yaw_deg"]) < 1.0 and np.linalg.norm(s["change"]["xy_m"]) < 1.0
    assert s["matched"] >= 100 and any("roll, pitch and z" in u for u in s["undetermined"])
    img = cv2.imread(str(png))
    green = (img[:, :, 1] > 150) & (img[:, :, 2] < 80) & (img[:, :, 0] < 80)
    red = (img[:, :, 2] > 200) & (img[:, :, 1] < 80)
    assert green.sum() > 200 and red.sum() > 200
    from sensorfuse.io.opencalib import read_opencalib_json

    back = read_opencalib_json(out)[0]
    assert (back.sensor, back.target) == ("front_radar", "top_center_lidar")
