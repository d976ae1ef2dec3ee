"""Shared fixtures: paths to the bundled samples and to the real recordings in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"


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
