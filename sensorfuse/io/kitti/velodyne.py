"""KITTI velodyne scans (``.bin``: float32 x, y, z, reflectance per point)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.types import PointCloud

__all__ = ["read_velodyne_bin", "write_velodyne_bin"]


def read_velodyne_bin(path: str | os.PathLike[str], *, stamp_ns: int = 0, frame_id: str = "velodyne") -> PointCloud:
    """Read a KITTI velodyne scan (float32 little-endian N x 4: x, y, z, reflectance).

    Args:
        path: the ``.bin`` file.
        stamp_ns: the scan's time (the file carries none: KITTI raw keeps it in ``timestamps.txt``).
        frame_id: frame name for the cloud.

    Raises:
        FormatError: missing file, size not a multiple of 16 bytes, or non-finite values.
    """
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype="<f4")
    except FileNotFoundError:
        raise FormatError(f"KITTI velodyne scan {path}: not found") from None
    if raw.size % 4:
        raise FormatError(
            f"KITTI velodyne scan {path}: {raw.size * 4} bytes is not a whole number of 16-byte points "
            "(x, y, z, reflectance as float32): truncated or not a velodyne .bin"
        )
    pts = raw.reshape(-1, 4)
    if not np.isfinite(pts).all():
        raise FormatError(f"KITTI velodyne scan {path}: holds NaN/inf values; not a valid KITTI scan")
    return PointCloud(xyz=pts[:, :3], intensity=pts[:, 3], stamp_ns=stamp_ns, frame_id=frame_id)


def write_velodyne_bin(cloud: PointCloud, path: str | os.PathLike[str]) -> Path:
    """Write a cloud as a KITTI velodyne ``.bin`` (x, y, z, intensity as float32; intensity 0 when absent)."""
    path = Path(path)
    out = np.zeros((len(cloud), 4), dtype="<f4")
    out[:, :3] = cloud.xyz
    if cloud.intensity is not None:
        out[:, 3] = cloud.intensity
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    out.tofile(tmp)
    os.replace(tmp, path)
    return path
