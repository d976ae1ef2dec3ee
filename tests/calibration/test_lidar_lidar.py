"""LiDAR -> LiDAR registration (sensorfuse.calibration.lidar_lidar, fuse-calib lidar-lidar): OpenCalib's real
two-LiDAR sample, a known transform between two halves of one real cloud, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sensorfuse.calibration.lidar_lidar import register_lidar_lidar
from sensorfuse.errors import CalibrationError, FormatError
from sensorfuse.geometry.transforms import angle_between_rotations_deg
from sensorfuse.io.opencalib import read_opencalib_json
from sensorfuse.io.pcd import read_pcd


@pytest.fixture(scope="module")
def l2l(shared_data):
    d = shared_data / "opencalib_lidar2lidar_manual"
    return d, read_pcd(d / "qt.pcd")[0].xyz, read_pcd(d / "p64.pcd")[0].xyz


def _perturbed(T, deg, m, rng):
    D = np.eye(4)
    ax, tv = rng.normal(size=3), rng.normal(size=3)
    D[:3, :3] = Rotation.from_rotvec(np.radians(deg) * ax / np.linalg.norm(ax)).as_matrix()
    D[:3, 3] = m * tv / np.linalg.norm(tv)
    return D @ T


def test_opencalib_sample_refines_its_initial_extrinsic(l2l, tmp_path):
    """The sample's extrinsic is the manual tool's starting value (its README) and not even a rotation (det 0.969):
    refused as is, taken as its nearest rotation with --init. Measured: the result moves 0.72 deg / 15.6 cm from it,
    overlap 56.8 -> 57.4 %, RMSE 17.1 -> 15.7 cm. Stated tolerance for agreement with the provided value: 1.5 deg,
    30 cm. From 3 starts 2 deg / 20 cm further off, the same result within 0.01 deg / 1 mm (measured: 1e-14)."""
    import json
    import subprocess
    import sys

    d, qt, p64 = l2l
    ext = d / "p64-to-qt-extrinsic.json"
    with pytest.raises(FormatError, match="not orthonormal"):
        read_opencalib_json(ext)
    out = tmp_path / "refined.json"
    cmd = [sys.executable, "-m", "sensorfuse.cli.calib", "lidar-lidar", str(d / "qt.pcd"), str(d / "p64.pcd"),
           "--init", str(ext), "-o", str(out), "--json"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert 0.02 < s["init_rotation_deviation"] < 0.03
    assert s["moved_from_init"]["rotation_deg"] < 1.5 and s["moved_from_init"]["translation_m"] < 0.3
    assert s["overlap"]["after"] >= s["overlap"]["before"] > 0.4 and s["rmse_m"]["after"] < s["rmse_m"]["before"]
    back = read_opencalib_json(out)[0]
    assert (back.sensor, back.target) == ("p64", "qt")
    np.testing.assert_allclose(back.T_target_source, s["T_target_source"], atol=1e-8)
    rng = np.random.default_rng(0)
    T0 = read_opencalib_json(ext, orthonormalise=True)[0].T_target_source
    for _ in range(3):
        r = register_lidar_lidar(qt, p64, _perturbed(T0, 2.0, 0.2, rng))
        assert angle_between_rotations_deg(r.T_target_source[:3, :3], back.T_target_source[:3, :3]) < 0.01
        assert np.linalg.norm(r.T_target_source[:3, 3] - back.T_target_source[:3, 3]) < 1e-3
    plain = subprocess.run(cmd[:-3], capture_output=True, text=True, timeout=300)
    assert plain.returncode == 0 and "nearest rotation" in plain.stdout and "T_qt_p64: moved" in plain.stdout


def test_a_known_transform_between_two_halves_of_a_real_cloud(l2l):
    """Two disjoint halves of the real 64-beam cloud (alternate points: no point appears in both), one moved by a
    known 25 deg / 2 m transform with 1 cm noise, registered from a start 2 deg / 20 cm off: recovered within
    0.05 deg and 1 cm, the stated deviations small."""
    _, _, p64 = l2l
    rng = np.random.default_rng(1)
    xyz = np.asarray(p64, np.float64)
    tgt, src_in_tgt = xyz[0::2], xyz[1::2]
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("zyx", [25, 3, -2], degrees=True).as_matrix()
    T[:3, 3] = [1.5, -1.2, 0.4]  # T_target_source
    src = (src_in_tgt - T[:3, 3]) @ T[:3, :3] + rng.normal(0, 0.01, src_in_tgt.shape)
    r = register_lidar_lidar(tgt, src, _perturbed(T, 2.0, 0.2, rng))
    assert angle_between_rotations_deg(r.T_target_source[:3, :3], T[:3, :3]) < 0.05
    assert np.linalg.norm(r.T_target_source[:3, 3] - T[:3, 3]) < 0.01
    assert np.all(r.rotation_std_deg < 0.05) and np.all(r.translation_std_m < 0.01)


def test_clouds_that_do_not_overlap_are_refused(l2l):
    _, qt, p64 = l2l
    far = np.eye(4)
    far[:3, 3] = [400.0, 0.0, 0.0]
    with pytest.raises(CalibrationError, match=r"overlap|converge|see too little"):
        register_lidar_lidar(qt, p64, far)
    with pytest.raises(CalibrationError, match="at least 100"):
        register_lidar_lidar(qt[:50], p64, np.eye(4))
