import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from sensorfuse.errors import SensorfuseError, ValidationError
from sensorfuse.geometry import (
    angle_between_rotations_deg,
    apply_transform,
    check_rotation,
    check_transform,
    compose,
    invert_transform,
    matrix_from_quat_wxyz,
    matrix_from_quat_xyzw,
    quat_wxyz_from_matrix,
    quat_wxyz_from_xyzw,
    quat_xyzw_from_matrix,
    quat_xyzw_from_wxyz,
    transform_difference,
    transform_from,
    transform_from_quat_wxyz,
    transform_from_quat_xyzw,
)

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def random_transform(rng: np.random.Generator, n: int | None = None) -> np.ndarray:
    size = 1 if n is None else n
    R = Rotation.random(size, random_state=rng).as_matrix()
    t = rng.uniform(-50, 50, (size, 3))
    T = transform_from(R, t)
    return T[0] if n is None else T


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_inverse_round_trip(seed):
    rng = np.random.default_rng(seed)
    T = random_transform(rng)
    np.testing.assert_allclose(T @ invert_transform(T), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(invert_transform(invert_transform(T)), T, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_composition_is_associative_and_frames_cancel(seed):
    rng = np.random.default_rng(seed)
    T_a_b, T_b_c, T_c_d = (random_transform(rng) for _ in range(3))
    np.testing.assert_allclose((T_a_b @ T_b_c) @ T_c_d, T_a_b @ (T_b_c @ T_c_d), atol=1e-9)
    np.testing.assert_allclose(compose(T_a_b, T_b_c, T_c_d), T_a_b @ T_b_c @ T_c_d, atol=1e-12)
    p_d = rng.normal(size=(5, 3))
    p_a = apply_transform(compose(T_a_b, T_b_c, T_c_d), p_d)
    np.testing.assert_allclose(
        p_a, apply_transform(T_a_b, apply_transform(T_b_c, apply_transform(T_c_d, p_d))), atol=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_quaternion_orders_round_trip(seed):
    rng = np.random.default_rng(seed)
    R = Rotation.random(4, random_state=rng).as_matrix()
    q_xyzw = quat_xyzw_from_matrix(R)
    q_wxyz = quat_wxyz_from_matrix(R)
    np.testing.assert_allclose(quat_xyzw_from_wxyz(q_wxyz), q_xyzw)
    np.testing.assert_allclose(quat_wxyz_from_xyzw(q_xyzw), q_wxyz)
    np.testing.assert_allclose(matrix_from_quat_xyzw(q_xyzw), R, atol=1e-12)
    np.testing.assert_allclose(matrix_from_quat_wxyz(q_wxyz), R, atol=1e-12)
    assert np.all(q_wxyz[:, 0] >= 0)


def test_quaternion_order_is_not_confused():
    # 90 deg about z: (x, y, z, w) = (0, 0, s, s)
    s = np.sqrt(0.5)
    Rz = np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(matrix_from_quat_xyzw([0, 0, s, s]), Rz, atol=1e-12)
    np.testing.assert_allclose(matrix_from_quat_wxyz([s, 0, 0, s]), Rz, atol=1e-12)
    T = transform_from_quat_wxyz([s, 0, 0, s], [1, 2, 3])
    np.testing.assert_allclose(T, transform_from_quat_xyzw([0, 0, s, s], [1, 2, 3]))
    np.testing.assert_allclose(apply_transform(T, [[1.0, 0, 0]]), [[1.0, 3.0, 3.0]])


def test_difference_and_angles():
    T = transform_from(Rotation.from_euler("z", 2.0, degrees=True).as_matrix(), [0.3, 0.4, 0.0])
    deg, m = transform_difference(np.eye(4), T)
    assert deg == pytest.approx(2.0)
    assert m == pytest.approx(0.5)
    assert angle_between_rotations_deg(np.eye(3), np.diag([1.0, -1, -1])) == pytest.approx(180.0)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.eye(3), r"expected a 4x4 rigid transform"),
        (np.full((4, 4), np.nan), r"NaN"),
        (np.diag([1.0, 1, 1, 2]), r"last row"),
        (np.diag([2.0, 1, 1, 1]), r"not orthonormal"),
        (np.diag([-1.0, 1, 1, 1]), r"reflection"),
        ([[1, 2], [3]], r"cannot be read as an array"),
        (np.array([["a"] * 4] * 4), r"numeric array"),
    ],
)
def test_check_transform_refuses_bad_input(bad, match):
    with pytest.raises(ValidationError, match=match):
        check_transform(bad)
    with pytest.raises(SensorfuseError):
        invert_transform(bad)


def test_check_rotation_reports_index_in_batch():
    R = np.repeat(np.eye(3)[None], 3, axis=0)
    R[1, 0, 0] = 1.1
    with pytest.raises(ValidationError, match=r"at index \(1,\)"):
        check_rotation(R)


def test_rounded_calibration_rotation_is_accepted():
    # KITTI prints 7 significant digits; such a matrix must pass
    R = np.array(
        [
            [7.533745e-03, -9.999714e-01, -6.166020e-04],
            [1.480249e-02, 7.280733e-04, -9.998902e-01],
            [9.998621e-01, 7.523790e-03, 1.480755e-02],
        ]
    )
    check_rotation(R)


def test_other_bad_inputs():
    with pytest.raises(ValidationError, match=r"t: expected shape"):
        transform_from(np.eye(3), [1.0, 2.0])
    with pytest.raises(ValidationError, match=r"zero quaternion"):
        matrix_from_quat_xyzw([0, 0, 0, 0])
    with pytest.raises(ValidationError, match=r"4 components"):
        matrix_from_quat_wxyz([1, 0, 0])
    with pytest.raises(ValidationError, match=r"points: expected shape \(N, 3\)"):
        apply_transform(np.eye(4), np.zeros((4, 2)))
    with pytest.raises(ValidationError, match=r"at least one"):
        compose()
