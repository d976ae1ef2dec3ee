"""Shared fixtures: paths to the bundled samples and to the real recordings in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sensorfuse.geometry import CameraModel

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"

# Kannala-Brandt: no fisheye camera is among the real samples; these are typical of a 848x800 T265-class lens.
KB_TYPICAL = CameraModel(
    [[285.72, 0, 418.93], [0, 285.93, 405.12], [0, 0, 1]],
    [-0.0069, 0.0413, -0.0385, 0.0063],
    "kannala_brandt",
    848,
    800,
)
# rational (8-coefficient) model: synthetic, with large k1/k4 as real rational calibrations have
RATIONAL = CameraModel(
    [[600.0, 0, 640.0], [0, 600.0, 360.0], [0, 0, 1]],
    [2.5, 0.8, 0.001, -0.0005, 0.02, 2.9, 1.3, 0.1],
    "rational_polynomial",
    1280,
    720,
)


def _shared_data() -> Path:
    return Path(os.environ.get("SENSORFUSE_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def sample_data() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data. Required in CI (a missing folder fails there); skipped on a machine that lacks it."""
    path = _shared_data()
    if not (path / "INDEX.md").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real recordings at {path} (set SENSORFUSE_SHARED_DATA)")
        pytest.skip(f"real recordings not found at {path}")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def _step_log(tmp_path_factory, step):
    """Edge frames of a 10 s simulator log (seed 5, full rig, no board) whose LiDAR mounting changes by ``step`` at
    5 s; /tf_static keeps the old mounting (true before the step)."""
    from sensorfuse.io import open as open_log
    from sensorfuse.pipelines.calib import log_edge_frames, log_lidar_camera_setup
    from sensorfuse.sim import SimConfig, simulate

    out = tmp_path_factory.mktemp("drift")
    cfg = SimConfig(duration_s=10.0, seed=5, rig="full", board="none", truth_images_every=0, extrinsic_steps=(step,))
    res = simulate(out, cfg)
    rig = res.sim_rig.rig
    with open_log(res.log) as r:
        setup = log_lidar_camera_setup(r, "/cam_front/image_raw/compressed", None, rig)
        frames, stamps, _ = log_edge_frames(r, setup, setup["T_init"], rig.transform("base_link", "lidar"))
    return frames, stamps, setup, cfg.start_ns + 5_000_000_000


@pytest.fixture(scope="session")
def step_log(tmp_path_factory):
    """For the drift check and the targetless refinement: at 5 s the LiDAR tilts by 0.5 deg (pitch)."""
    from sensorfuse.sim import ExtrinsicStep

    return _step_log(tmp_path_factory, ExtrinsicStep("lidar", 5.0, rpy_deg=(0.0, 0.5, 0.0)))


@pytest.fixture(scope="session")
def shift_log(tmp_path_factory):
    """For the drift check: at 5 s the LiDAR moves 6 cm to the left (camera: across the optical axis)."""
    from sensorfuse.sim import ExtrinsicStep

    return _step_log(tmp_path_factory, ExtrinsicStep("lidar", 5.0, translation_m=(0.0, 0.06, 0.0)))


def _tables_from_info(info_root, out):
    """The official table layout (v1.0-test/*.json) of the nuScenes sample, written from its mmdetection3d info
    file (the only form of it in ../shared/data): calibrations, ego poses (the camera's from mmdet3d's lidar2cam,
    which went through the global frame), sample_data and the annotations in the global frame."""
    import json
    from pathlib import Path

    from sensorfuse.geometry.transforms import quat_wxyz_from_matrix
    from sensorfuse.io.nuscenes.tables import read_mmdet3d_nuscenes_info

    s = read_mmdet3d_nuscenes_info(next((info_root / "mmdet3d_originals").glob("*_info.json")))[0]

    def rec(T, token, **extra):
        return {
            "token": token,
            "translation": T[:3, 3].tolist(),
            "rotation": quat_wxyz_from_matrix(T[:3, :3]).tolist(),
        } | extra

    us = lambda ns: round(ns / 1000)  # noqa: E731
    T_g_l = s["T_global_ego"] @ s["T_ego_lidar"]
    tables = {k: [] for k in ("sensor", "calibrated_sensor", "ego_pose", "sample_data", "sample_annotation")}
    tables |= {
        "category": [],
        "instance": [],
        "sample": [{"token": "s0", "timestamp": us(s["stamp_ns"]), "scene_token": "sc"}],
    }
    chans = {
        "LIDAR_TOP": (
            s["T_ego_lidar"],
            s["T_global_ego"],
            s["stamp_ns"],
            f"samples/LIDAR_TOP/{Path(s['lidar_path']).name}",
            None,
        )
    }
    for ch, c in s["cameras"].items():
        T_g_ec = T_g_l @ np.linalg.inv(c["T_cam_lidar"]) @ np.linalg.inv(c["T_ego_cam"])
        chans[ch] = (c["T_ego_cam"], T_g_ec, c["stamp_ns"], f"samples/{ch}/{Path(c['image']).name}", c["camera"].K)
    for ch, (T_e_s, T_g_e, t, fname, K) in chans.items():
        tables["sensor"].append(
            {"token": f"sn_{ch}", "channel": ch, "modality": "camera" if K is not None else "lidar"}
        )
        tables["calibrated_sensor"].append(
            rec(T_e_s, f"cs_{ch}", sensor_token=f"sn_{ch}", camera_intrinsic=[] if K is None else K.tolist())
        )
        tables["ego_pose"].append(rec(T_g_e, f"ep_{ch}", timestamp=us(t)))
        tables["sample_data"].append(
            {
                "token": f"sd_{ch}",
                "sample_token": "s0",
                "calibrated_sensor_token": f"cs_{ch}",
                "ego_pose_token": f"ep_{ch}",
                "timestamp": us(t),
                "filename": fname,
                "is_key_frame": True,
                "width": 1600,
                "height": 900,
            }
        )
    for j, b in enumerate(s["boxes"]):
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = T_g_l[:3, :3] @ b.rotation, T_g_l[:3, :3] @ b.center + T_g_l[:3, 3]
        tables["sample_annotation"].append(
            rec(
                T,
                f"a{j}",
                sample_token="s0",
                size=[b.size[1], b.size[0], b.size[2]],
                category_name=b.label,
                instance_token=f"i{j}",
                prev="",
                next="",
            )
        )
    (out / "v1.0-test").mkdir(parents=True)
    for k, v in tables.items():
        (out / "v1.0-test" / f"{k}.json").write_text(json.dumps(v))
    (out / "samples").symlink_to(info_root / "samples", target_is_directory=True)
    return s


@pytest.fixture
def nuscenes_tables(shared_data, tmp_path):
    """``(root, sample)``: the nuScenes sample of ../shared/data in the official table layout (written from its
    mmdetection3d info file by :func:`_tables_from_info`), and the info's sample it was written from."""
    return tmp_path, _tables_from_info(shared_data / "nuscenes_mini_scene0061_sample0", tmp_path)


# -- running on two workers (pytest-xdist, ``-n 2 --dist loadgroup``) ---------------------------------------------
#: session fixtures that take tens of seconds to build: the tests using one run on the same worker, so it is built once
#: (a module fixture would be built on each worker that runs one of its tests, and again after another module)
_EXPENSIVE = {
    "step_log": "sim-step-logs",
    "shift_log": "sim-step-logs",
    "step_report": "sim-step-logs",
    "board_log": "sim-board-log",
    "sim_full": "sim-full-rig",  # tests/fusion/test_labels.py
    "faulty": "sim-faulty",  # tests/pipelines/test_sync.py
    "figure8_log": "sim-lidar-imu",  # tests/calibration/test_lidar_imu.py
    "radar_log": "sim-radar",  # tests/calibration/test_radar.py
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the group marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        group = next((g for f, g in _EXPENSIVE.items() if f in getattr(item, "fixturenames", ())), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
