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
