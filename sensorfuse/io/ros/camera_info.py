"""ROS ``CameraInfo`` YAML files (the ``camera_calibration_parsers`` layout written by ROS camera calibration).

Distortion model names: ``plumb_bob`` (k1, k2, p1, p2, k3), ``rational_polynomial`` (k1, k2, p1, p2, k3, k4, k5, k6),
``equidistant`` (Kannala-Brandt k1..k4). They map to sensorfuse's ``brown_conrady`` / ``kannala_brandt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel, camera_model_name
from sensorfuse.io._yaml import read_yaml, require, write_yaml

__all__ = [
    "CameraInfoCalibration",
    "camera_info_distortion_model",
    "read_camera_info_yaml",
    "write_camera_info_yaml",
]

_WHAT = "ROS CameraInfo YAML"


@dataclass(frozen=True, eq=False)
class CameraInfoCalibration:
    """The content of a CameraInfo YAML file.

    Attributes:
        camera: intrinsics and distortion.
        camera_name: the file's ``camera_name``.
        R: (3, 3) rectification matrix (identity for a monocular camera).
        P: (3, 4) projection matrix of the rectified image.
    """

    camera: CameraModel
    camera_name: str
    R: np.ndarray
    P: np.ndarray


def camera_info_distortion_model(camera: CameraModel) -> str:
    """The ROS distortion model name for a camera model."""
    if camera.model == "kannala_brandt":
        return "equidistant"
    if camera.model == "brown_conrady" and camera.dist.size == 8:
        return "rational_polynomial"
    return "plumb_bob"


def _matrix(d: object, key: str, rows: int, cols: int, path: Path) -> np.ndarray:
    m = require(d, key, _WHAT, path)
    data = require(m, "data", _WHAT, f"{path} ({key})")
    r, c = m.get("rows", rows), m.get("cols", cols)
    try:
        arr = np.array(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(f"{_WHAT} {path}: {key}.data is not a list of numbers") from None
    if arr.size != r * c or (rows and r != rows) or (cols and c != cols):
        raise FormatError(
            f"{_WHAT} {path}: {key} should be {rows}x{cols}, got rows={r} cols={c} with {arr.size} values"
        )
    return arr.reshape(r, c)


def read_camera_info_yaml(path: str | os.PathLike[str]) -> CameraInfoCalibration:
    """Read a CameraInfo YAML file.

    Raises:
        FormatError: missing key, wrong matrix size, unknown distortion model, invalid intrinsics.
    """
    path = Path(path)
    d = read_yaml(path, _WHAT)
    width = require(d, "image_width", _WHAT, path)
    height = require(d, "image_height", _WHAT, path)
    K = _matrix(d, "camera_matrix", 3, 3, path)
    model_name = str(d.get("distortion_model", "plumb_bob"))
    D = _matrix(d, "distortion_coefficients", 1, 0, path).ravel() if "distortion_coefficients" in d else np.zeros(5)
    R = _matrix(d, "rectification_matrix", 3, 3, path) if "rectification_matrix" in d else np.eye(3)
    P = _matrix(d, "projection_matrix", 3, 4, path) if "projection_matrix" in d else np.hstack([K, np.zeros((3, 1))])
    try:
        model = camera_model_name(model_name)
        if model == "pinhole" and D.size:
            model = "brown_conrady"
        cam = CameraModel(K, D, model, width, height)
    except ValidationError as exc:
        raise FormatError(f"{_WHAT} {path}: {exc}") from None
    return CameraInfoCalibration(cam, str(d.get("camera_name", path.stem)), R, P)


def write_camera_info_yaml(
    camera: CameraModel,
    path: str | os.PathLike[str],
    *,
    camera_name: str = "camera",
    R: np.ndarray | None = None,
    P: np.ndarray | None = None,
) -> Path:
    """Write a CameraInfo YAML file.

    Args:
        camera: the intrinsics; a 4-coefficient Brown-Conrady model is written as ``plumb_bob`` with ``k3 = 0``.
        path: output file.
        camera_name: the ``camera_name`` field.
        R: rectification matrix (default identity).
        P: projection matrix (default ``[K | 0]``, i.e. a monocular camera).
    """
    D = camera.dist
    if camera.model != "kannala_brandt" and D.size < 5:
        D = np.concatenate([D, np.zeros(5 - D.size)])
    R = np.eye(3) if R is None else np.asarray(R, dtype=np.float64)
    P = np.hstack([camera.K, np.zeros((3, 1))]) if P is None else np.asarray(P, dtype=np.float64)
    data = {
        "image_width": camera.width,
        "image_height": camera.height,
        "camera_name": camera_name,
        "camera_matrix": {"rows": 3, "cols": 3, "data": camera.K.ravel().tolist()},
        "distortion_model": camera_info_distortion_model(camera),
        "distortion_coefficients": {"rows": 1, "cols": int(D.size), "data": D.tolist()},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": R.ravel().tolist()},
        "projection_matrix": {"rows": 3, "cols": 4, "data": P.ravel().tolist()},
    }
    return write_yaml(data, path)
