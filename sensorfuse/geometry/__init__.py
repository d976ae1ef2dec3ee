"""Shared geometry: rigid transforms, trajectory interpolation, camera models.

This layer imports nothing from ``io``, ``fusion``, ``calibration`` or ``viz``.
"""

from sensorfuse.geometry.camera import CAMERA_MODELS, CameraModel, camera_model_name, project_points
from sensorfuse.geometry.interpolation import Extrapolation, bracket, interpolate_linear, interpolate_poses
from sensorfuse.geometry.transforms import (
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

__all__ = [
    "CAMERA_MODELS",
    "CameraModel",
    "Extrapolation",
    "angle_between_rotations_deg",
    "apply_transform",
    "bracket",
    "camera_model_name",
    "check_rotation",
    "check_transform",
    "compose",
    "interpolate_linear",
    "interpolate_poses",
    "invert_transform",
    "matrix_from_quat_wxyz",
    "matrix_from_quat_xyzw",
    "project_points",
    "quat_wxyz_from_matrix",
    "quat_wxyz_from_xyzw",
    "quat_xyzw_from_matrix",
    "quat_xyzw_from_wxyz",
    "transform_difference",
    "transform_from",
    "transform_from_quat_wxyz",
    "transform_from_quat_xyzw",
]
