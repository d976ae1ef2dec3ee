"""Rigid transforms as 4x4 float64 matrices named ``T_target_source`` (``p_target = T_target_source @ p_source``).

Compose with ``@`` so inner frame names cancel: ``T_cam_imu = T_cam_velo @ T_velo_imu``. Rotations go through
``scipy.spatial.transform.Rotation``. Quaternion helpers name their component order: ``xyzw`` (ROS, scipy) or
``wxyz`` (nuScenes, pyquaternion, Eigen's constructor).

Public functions validate once (``check_transform`` and friends); batch versions accept ``(..., 4, 4)``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from sensorfuse._checks import ROTATION_ATOL, check_array, check_rotation, check_transform
from sensorfuse.errors import ValidationError

__all__ = [
    "ROTATION_ATOL",
    "angle_between_rotations_deg",
    "apply_transform",
    "check_rotation",
    "check_transform",
    "compose",
    "invert_transform",
    "matrix_from_quat_wxyz",
    "matrix_from_quat_xyzw",
    "quat_wxyz_from_matrix",
    "quat_wxyz_from_xyzw",
    "quat_xyzw_from_matrix",
    "quat_xyzw_from_wxyz",
    "se3_exp",
    "se3_log",
    "transform_difference",
    "transform_from",
    "transform_from_quat_wxyz",
    "transform_from_quat_xyzw",
]


def transform_from(R: object, t: object) -> np.ndarray:
    """Build ``T`` (4x4, or a stack) from rotation(s) ``R (..., 3, 3)`` and translation(s) ``t (..., 3)``."""
    R = check_rotation(R)
    t = check_array(t, "t", dtype=np.float64, finite=True)
    if t.shape[-1:] != (3,) or t.shape[:-1] != R.shape[:-2]:
        raise ValidationError(f"t: expected shape {(*R.shape[:-2], 3)} to match R {R.shape}, got {t.shape}")
    return _transform_from(R, t)


def _transform_from(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    T = np.zeros((*R.shape[:-2], 4, 4))
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def invert_transform(T: object) -> np.ndarray:
    """Inverse of a rigid transform (exact closed form ``[R^T, -R^T t]``), batched over leading axes."""
    T = check_transform(T)
    return _invert(T)


def _invert(T: np.ndarray) -> np.ndarray:
    Rt = np.swapaxes(T[..., :3, :3], -1, -2)
    return _transform_from(Rt, -(Rt @ T[..., :3, 3:4])[..., 0])


def compose(*transforms: object) -> np.ndarray:
    """``compose(T_a_b, T_b_c, T_c_d) == T_a_d``; validates each argument."""
    if not transforms:
        raise ValidationError("compose: needs at least one transform")
    out = check_transform(transforms[0], "transforms[0]")
    for i, T in enumerate(transforms[1:], 1):
        out = out @ check_transform(T, f"transforms[{i}]")
    return out


def apply_transform(T: object, points: object) -> np.ndarray:
    """Map points ``(N, 3)`` from the source frame into the target frame of ``T`` (float64 result)."""
    T = check_transform(T)
    if T.ndim != 2:
        raise ValidationError(f"T: apply_transform takes one 4x4 transform, got shape {T.shape}")
    P = check_array(points, "points", shape=(None, 3), dtype=np.float64)
    return P @ T[:3, :3].T + T[:3, 3]


# -- quaternions (the component order is part of every name) -----------------------------------------------


def _check_quat(q: object, name: str) -> np.ndarray:
    q = check_array(q, name, dtype=np.float64, finite=True)
    if q.shape[-1:] != (4,):
        raise ValidationError(f"{name}: expected quaternion(s) with 4 components (..., 4), got shape {q.shape}")
    n = np.linalg.norm(q, axis=-1)
    if np.any(n < 1e-9):
        raise ValidationError(f"{name}: a zero quaternion is not a rotation")
    return q


def quat_xyzw_from_wxyz(q_wxyz: object) -> np.ndarray:
    """Reorder (w, x, y, z) -> (x, y, z, w); batched."""
    q = _check_quat(q_wxyz, "q_wxyz")
    return np.concatenate([q[..., 1:], q[..., :1]], axis=-1)


def quat_wxyz_from_xyzw(q_xyzw: object) -> np.ndarray:
    """Reorder (x, y, z, w) -> (w, x, y, z); batched."""
    q = _check_quat(q_xyzw, "q_xyzw")
    return np.concatenate([q[..., 3:], q[..., :3]], axis=-1)


def matrix_from_quat_xyzw(q_xyzw: object) -> np.ndarray:
    """Rotation matrix from a (x, y, z, w) quaternion (normalised first); batched."""
    q = _check_quat(q_xyzw, "q_xyzw")
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape((*q.shape[:-1], 3, 3))


def matrix_from_quat_wxyz(q_wxyz: object) -> np.ndarray:
    """Rotation matrix from a (w, x, y, z) quaternion (normalised first); batched."""
    return matrix_from_quat_xyzw(quat_xyzw_from_wxyz(q_wxyz))


def quat_xyzw_from_matrix(R: object) -> np.ndarray:
    """(x, y, z, w) quaternion with w >= 0 from rotation matrix/matrices."""
    R = check_rotation(R)
    q = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat(canonical=True)
    return q.reshape((*R.shape[:-2], 4))


def quat_wxyz_from_matrix(R: object) -> np.ndarray:
    """(w, x, y, z) quaternion with w >= 0 from rotation matrix/matrices."""
    return quat_wxyz_from_xyzw(quat_xyzw_from_matrix(R))


def transform_from_quat_xyzw(q_xyzw: object, t: object) -> np.ndarray:
    """4x4 from a (x, y, z, w) quaternion and a translation (ROS ``geometry_msgs/Transform`` order)."""
    return transform_from(matrix_from_quat_xyzw(q_xyzw), t)


def transform_from_quat_wxyz(q_wxyz: object, t: object) -> np.ndarray:
    """4x4 from a (w, x, y, z) quaternion and a translation (nuScenes ``rotation``/``translation`` order)."""
    return transform_from(matrix_from_quat_wxyz(q_wxyz), t)


# -- comparing transforms -------------------------------------------------------------------------------------


def angle_between_rotations_deg(R_a: object, R_b: object) -> np.ndarray:
    """Angle of ``R_a^T R_b`` in degrees (geodesic distance), batched; numerically safe near 0 and 180 deg."""
    R_a, R_b = check_rotation(R_a, "R_a"), check_rotation(R_b, "R_b")
    rel = np.swapaxes(R_a, -1, -2) @ R_b
    rv = Rotation.from_matrix(rel.reshape(-1, 3, 3)).as_rotvec()
    return np.degrees(np.linalg.norm(rv, axis=-1)).reshape(rel.shape[:-2])


def transform_difference(T_a: object, T_b: object) -> tuple[float, float]:
    """Rotation (deg) and translation (m) between two transforms of the same pair of frames."""
    T_a, T_b = check_transform(T_a, "T_a"), check_transform(T_b, "T_b")
    if T_a.shape != (4, 4) or T_b.shape != (4, 4):
        raise ValidationError("transform_difference: expects two single 4x4 transforms")
    return float(angle_between_rotations_deg(T_a[:3, :3], T_b[:3, :3])), float(np.linalg.norm(T_a[:3, 3] - T_b[:3, 3]))


def se3_exp(p: object) -> np.ndarray:
    """The rigid transform of a 6-vector ``(rotation vector (rad), translation (m))``: rotation by SciPy's rotvec,
    translation taken as is (the parametrisation every refinement here perturbs a transform with: ``se3_exp(p) @ T``).
    """
    from scipy.spatial.transform import Rotation

    v = np.asarray(p, np.float64)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(v[:3]).as_matrix()
    T[:3, 3] = v[3:6]
    return T


def se3_log(T: object) -> np.ndarray:
    """The inverse of :func:`se3_exp`: ``(rotation vector, translation)`` of a rigid transform."""
    from scipy.spatial.transform import Rotation

    M = np.asarray(T, np.float64)
    return np.r_[Rotation.from_matrix(M[:3, :3]).as_rotvec(), M[:3, 3]]
