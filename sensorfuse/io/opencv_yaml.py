"""OpenCV ``FileStorage`` camera files (``camera_matrix`` / ``distortion_coefficients`` as ``!!opencv-matrix``),
as written by OpenCV's calibration samples. Parsed with ``cv2.FileStorage`` (imported on use)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel

__all__ = ["read_opencv_camera_yaml", "write_opencv_camera_yaml"]

_WHAT = "OpenCV camera file"


def read_opencv_camera_yaml(path: str | os.PathLike[str]) -> CameraModel:
    """Read ``camera_matrix``, ``distortion_coefficients``, ``image_width`` and ``image_height``.

    Raises:
        FormatError: missing file or node, or invalid intrinsics.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{_WHAT} {path}: not found")
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except cv2.error as exc:
        raise FormatError(
            f"{_WHAT} {path}: OpenCV cannot parse it ({exc.msg if hasattr(exc, 'msg') else exc})"
        ) from None
    try:
        nodes = {k: fs.getNode(k) for k in ("camera_matrix", "distortion_coefficients", "image_width", "image_height")}
        missing = [k for k, n in nodes.items() if n.empty()]
        if missing:
            raise FormatError(f"{_WHAT} {path}: missing {', '.join(missing)}")
        K = nodes["camera_matrix"].mat()
        D = nodes["distortion_coefficients"].mat()
        w, h = int(nodes["image_width"].real()), int(nodes["image_height"].real())
    finally:
        fs.release()
    try:
        return CameraModel(
            np.asarray(K, dtype=np.float64), np.asarray(D, dtype=np.float64).ravel(), "brown_conrady", w, h
        )
    except ValidationError as exc:
        raise FormatError(f"{_WHAT} {path}: {exc}") from None


def write_opencv_camera_yaml(camera: CameraModel, path: str | os.PathLike[str]) -> Path:
    """Write a camera in OpenCV's FileStorage YAML layout (readable by ``cv2.FileStorage`` and this module)."""
    import cv2

    if camera.model == "kannala_brandt":
        raise ValidationError(
            "OpenCV's camera YAML layout has no model field; write fisheye cameras as CameraInfo YAML"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    try:
        fs.write("image_width", camera.width)
        fs.write("image_height", camera.height)
        fs.write("camera_matrix", camera.K)
        fs.write("distortion_coefficients", (camera.dist if camera.dist.size else np.zeros(5)).reshape(-1, 1))
    finally:
        fs.release()
    return path
