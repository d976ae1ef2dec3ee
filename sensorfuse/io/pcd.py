"""PCD files through pypcd4.

``DATA ascii``, ``binary`` and ``binary_compressed`` (LZF) with any fields, read by pypcd4 (maintained, handles
all three and custom fields; Open3D's reader keeps only xyz/rgb/normals/intensity). The structured array then goes
through the same layout code as PointCloud2 (:mod:`sensorfuse.io.ros.pointcloud2`), so ``intensity``,
``ring``/``channel`` and per-point time fields (``t_offset_ns``, ``t``, ``time``, ``timestamp``...) are recognised
the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.io.ros.pointcloud2 import PointFieldSpec, cloud_columns, decode_cloud, layout_from_fields
from sensorfuse.types import PointCloud

__all__ = ["read_pcd", "write_pcd", "write_pcd_columns", "write_pcd_records"]


def read_pcd(
    path: str | os.PathLike[str], *, stamp_ns: int | None = None, frame_id: str = "pcd"
) -> tuple[PointCloud, int, str]:
    """Read a PCD file.

    Args:
        stamp_ns: the cloud's time (PCD has none). None: 0, or the earliest point time when the file carries
            absolute per-point times (then ``t_offset_ns`` is relative to it).

    Returns:
        (cloud, non-finite points dropped, how the per-point time was read or "").
    """
    from pypcd4 import PointCloud as Pcd

    path = Path(path)
    if not path.is_file():
        raise FormatError(f"PCD {path}: not found")
    try:
        pcd = Pcd.from_path(path)
        arr = pcd.pc_data
    except Exception as exc:
        raise FormatError(f"PCD {path}: cannot be read ({type(exc).__name__}: {exc}); truncated or not a PCD") from None
    dt = arr.dtype
    specs = [
        PointFieldSpec(n, dt.fields[n][1], dt.fields[n][0].base.str[1:], int(np.prod(dt.fields[n][0].shape) or 1))
        for n in dt.names
    ]
    where = f"PCD {path}"
    layout = layout_from_fields(specs, dt.itemsize, big_endian=False, where=where)
    data = np.ascontiguousarray(arr).view(np.uint8)
    cloud, dropped, desc = decode_cloud(
        layout, data, width=arr.shape[0], stamp_ns=stamp_ns or 0, frame_id=frame_id, where=where
    )
    if stamp_ns is None and "absolute" in desc and len(cloud):
        t0 = int(cloud.t_offset_ns.min())
        cloud = PointCloud(
            cloud.xyz,
            t0,
            frame_id,
            intensity=cloud.intensity,
            t_offset_ns=cloud.t_offset_ns - t0,
            ring=cloud.ring,
            fields=cloud.fields,
        )
    return cloud, dropped, desc


def write_pcd(cloud: PointCloud, path: str | os.PathLike[str], *, compressed: bool = True) -> Path:
    """Write a cloud as PCD (``binary_compressed`` by default, else ``binary``): x y z, then intensity, ring, the
    per-point time as a uint32 ns ``t`` field relative to the stamp (as Ouster clouds; PCD has no stamp), and the
    extra 1-D fields."""
    path = Path(path)
    return write_pcd_columns(cloud_columns(cloud, what=f"PCD {path}"), path, compressed=compressed)


_PCD_TYPE = {"f": "F", "i": "I", "u": "U"}


def write_pcd_columns(
    columns: dict[str, np.ndarray], path: str | os.PathLike[str], *, compressed: bool = False
) -> Path:
    """Named 1-D columns as a PCD file (``binary`` by default: fastest to write and read).

    ``binary`` is written here: the ASCII header and one structured array packed column by column (the PCD binary
    body is exactly that, little-endian records without padding), about 10x faster than building pypcd4's record
    array for a 130,000-point sweep. ``binary_compressed`` goes through pypcd4.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compressed:
        from pypcd4 import Encoding
        from pypcd4 import PointCloud as Pcd

        names = tuple(columns)
        types = tuple(np.dtype(v.dtype).type for v in columns.values())
        Pcd.from_points([columns[n] for n in names], names, types).save(path, encoding=Encoding.BINARY_COMPRESSED)
        return path
    cols = {k: np.asarray(v) for k, v in columns.items()}
    n = len(next(iter(cols.values()))) if cols else 0
    dts = []
    for k, v in cols.items():
        if v.ndim != 1 or len(v) != n or v.dtype.kind not in _PCD_TYPE or " " in k:
            raise ValidationError(f"PCD {path}: column {k!r} ({v.dtype}, shape {v.shape}) cannot be written")
        dts.append((k, v.dtype.newbyteorder("<")))
    rec = np.empty(n, np.dtype(dts))
    for k, v in cols.items():
        rec[k] = v
    return write_pcd_records(rec, path)


def write_pcd_records(rec: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """A 1-D structured array of little-endian numeric fields (no padding) as a ``binary`` PCD file."""
    path = Path(path)
    dt = rec.dtype
    fields = [dt.fields[k][0] for k in dt.names]
    if (
        rec.ndim != 1
        or any(f.kind not in _PCD_TYPE or f.byteorder == ">" for f in fields)
        or dt.itemsize != sum(f.itemsize for f in fields)
    ):
        raise ValidationError(f"PCD {path}: records of {dt} cannot be written as PCD fields")
    n = rec.shape[0]
    header = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
        f"FIELDS {' '.join(dt.names)}\n"
        f"SIZE {' '.join(str(f.itemsize) for f in fields)}\n"
        f"TYPE {' '.join(_PCD_TYPE[f.kind] for f in fields)}\n"
        f"COUNT {' '.join('1' for _ in fields)}\n"
        f"WIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA binary\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(np.ascontiguousarray(rec).view(np.uint8))
    return path
