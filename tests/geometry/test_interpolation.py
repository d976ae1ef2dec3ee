import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from sensorfuse.errors import ExtrapolationError, SyncError, ValidationError
from sensorfuse.geometry import interpolate_linear, interpolate_poses, transform_from
from sensorfuse.types import PoseTrajectory

EPOCH = 1_532_402_927_612_460_000  # a real (nuScenes) Unix time in ns: float64 cannot hold it exactly


def _traj(rng, n=6):
    stamps = EPOCH + np.cumsum(rng.integers(5_000_000, 20_000_000, n)).astype(np.int64)
    T = transform_from(Rotation.random(n, random_state=rng).as_matrix(), rng.uniform(-10, 10, (n, 3)))
    return stamps, T


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_slerp_exact_at_samples_and_endpoints(seed):
    rng = np.random.default_rng(seed)
    stamps, T = _traj(rng)
    out, valid = interpolate_poses(stamps, T, stamps)
    assert valid.all()
    np.testing.assert_array_equal(out, T)  # bit-exact at the samples


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_slerp_has_constant_angular_rate(seed):
    rng = np.random.default_rng(seed)
    stamps, T = _traj(rng, 2)
    q = stamps[0] + (np.arange(11) * (stamps[1] - stamps[0])) // 10
    out, _ = interpolate_poses(stamps, T, q)
    rel = Rotation.from_matrix(T[0, :3, :3]).inv() * Rotation.from_matrix(out[:, :3, :3])
    angles = rel.magnitude()
    total = (Rotation.from_matrix(T[0, :3, :3]).inv() * Rotation.from_matrix(T[1, :3, :3])).magnitude()
    frac = (q - stamps[0]) / (stamps[1] - stamps[0])
    np.testing.assert_allclose(angles, frac * total, atol=1e-9)
    # translation is linear
    np.testing.assert_allclose(out[:, :3, 3], T[0, :3, 3] + frac[:, None] * (T[1, :3, 3] - T[0, :3, 3]), atol=1e-9)


def test_fraction_is_exact_at_epoch_scale():
    # two samples 1 us apart at a Unix-epoch time; the midpoint must be exact
    stamps = np.array([EPOCH, EPOCH + 1000], dtype=np.int64)
    out, _ = interpolate_linear(stamps, [[0.0], [1000.0]], [EPOCH + 1, EPOCH + 500, EPOCH + 999])
    np.testing.assert_allclose(out[:, 0], [1.0, 500.0, 999.0], rtol=0, atol=1e-9)


def test_extrapolation_policies():
    rng = np.random.default_rng(0)
    stamps, T = _traj(rng, 3)
    before = np.array([stamps[0] - 1_000_000], dtype=np.int64)
    with pytest.raises(ExtrapolationError, match=r"outside the data range .*1\.000 ms before the start"):
        interpolate_poses(stamps, T, before)
    assert issubclass(ExtrapolationError, SyncError)
    out, valid = interpolate_poses(stamps, T, before, extrapolation="nan")
    assert not valid[0]
    assert np.isnan(out).all()
    out, valid = interpolate_poses(stamps, T, before, extrapolation="hold")
    assert valid[0]
    np.testing.assert_array_equal(out[0], T[0])
    out, valid = interpolate_poses(stamps, T, before, max_extrapolation_ns=2_000_000)
    np.testing.assert_array_equal(out[0], T[0])
    with pytest.raises(ValidationError, match=r"extrapolation: expected one of"):
        interpolate_poses(stamps, T, before, extrapolation="linear")


def test_trajectory_type_and_bad_input():
    rng = np.random.default_rng(1)
    stamps, T = _traj(rng, 4)
    traj = PoseTrajectory(stamps, T, "map", "base_link")
    out, _valid = traj.interpolate(stamps[1:3])
    np.testing.assert_array_equal(out, T[1:3])
    with pytest.raises(ValidationError, match=r"strictly increasing; element 2"):
        PoseTrajectory(stamps[[0, 2, 1, 3]], T)
    with pytest.raises(ValidationError, match=r"expected \(4, 4, 4\)"):
        PoseTrajectory(stamps, T[:3])
    with pytest.raises(ValidationError, match=r"stamps_ns: expected integer nanoseconds"):
        interpolate_linear(stamps.astype(float), np.zeros(4), stamps)
    with pytest.raises(ValidationError, match=r"expected 4 rows"):
        interpolate_linear(stamps, np.zeros(3), stamps)
    with pytest.raises(ExtrapolationError, match="trajectory map<-base_link"):
        traj.interpolate([stamps[-1] + 1])
