"""PCD files (through pypcd4) and the OpenCalib formats: radar object-list CSVs and calibration JSON.

PCD: ``DATA ascii``, ``binary`` and ``binary_compressed`` (LZF) with any fields, read by pypcd4 (maintained, handles
all three and custom fields; Open3D's reader keeps only xyz/rgb/normals/intensity). The structured array then goes
through the same layout code as PointCloud2, so ``intensity``, ``ring``/``channel`` and per-point time fields
(``t``, ``time``, ``timestamp``, ``time_stamp``...) are recognised the same way.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import check_transform
from sensorfuse.io._files import read_json
from sensorfuse.io.pointcloud2 import PointFieldSpec, cloud_columns, decode_cloud, layout_from_fields
from sensorfuse.types import PointCloud, RadarScan

__all__ = [
    "OpenCalibParam",
    "read_opencalib_json",
    "read_opencalib_radar_csv",
    "read_pcd",
    "write_pcd",
    "write_pcd_columns",
]


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


def _split_scans(t: np.ndarray, gap_ns: int) -> list[np.ndarray]:
    cuts = np.flatnonzero(np.diff(t) > gap_ns) + 1
    return np.split(np.arange(t.size), cuts)


def read_opencalib_radar_csv(
    path: str | os.PathLike[str], *, frame_id: str = "radar", scan_gap_ns: int = 5_000_000
) -> list[RadarScan]:
    """OpenCalib radar CSV exports -> one RadarScan per scan (rows closer than ``scan_gap_ns`` in ``time_ns``).

    - Continental (ARS408-style, ``position_x/y``, ``velocity_x/y``, ``rcs``): ``xyz = (x, y, 0)``, ``velocity`` the
      relative (x, y) velocity, ``doppler`` its radial component.
    - Delphi (ESR-style, ``track_range_m``, ``track_angle_rad``, ``track_range_rate_m_per_s``): polar to
      ``xyz``, ``doppler`` = range rate, ``rcs`` NaN (not in the export). Rows with range 0 (empty track slots)
      are left out.
    Each scan is stamped with its first row's ``time_ns``.
    """
    path = Path(path)
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise FormatError(f"OpenCalib radar CSV {path}: not found") from None
    if not rows:
        raise FormatError(f"OpenCalib radar CSV {path}: no rows")
    cols = set(rows[0])

    def col(name: str, dtype: type = np.float64) -> np.ndarray:
        try:
            return np.array([r[name] for r in rows], dtype=dtype)
        except (KeyError, ValueError) as exc:
            raise FormatError(f"OpenCalib radar CSV {path}: column {name!r}: {exc}") from None

    t = col("time_ns", np.int64)
    if {"position_x", "position_y", "velocity_x", "velocity_y"} <= cols:
        xy = np.stack([col("position_x"), col("position_y")], 1)
        v = np.stack([col("velocity_x"), col("velocity_y")], 1)
        rcs = col("rcs")
        r = np.linalg.norm(xy, axis=1)
        dop = np.where(r > 0, np.sum(xy * v, axis=1) / np.maximum(r, 1e-9), 0.0)
        valid = np.ones(t.size, bool)
    elif {"track_range_m", "track_angle_rad", "track_range_rate_m_per_s"} <= cols:
        rng, ang = col("track_range_m"), col("track_angle_rad")
        xy = np.stack([rng * np.cos(ang), rng * np.sin(ang)], 1)
        dop, rcs, v = col("track_range_rate_m_per_s"), np.full(t.size, np.nan), None
        valid = rng > 0
    else:
        raise FormatError(f"OpenCalib radar CSV {path}: neither Continental nor Delphi columns (got {sorted(cols)})")
    scans = []
    for idx in _split_scans(t, scan_gap_ns):
        k = idx[valid[idx]]
        xyz = np.zeros((k.size, 3), np.float32)
        xyz[:, :2] = xy[k]
        vel = None if v is None else v[k].astype(np.float32)
        scans.append(
            RadarScan(xyz, dop[k].astype(np.float32), rcs[k].astype(np.float32), int(t[idx[0]]), frame_id, velocity=vel)
        )
    return scans


@dataclass(frozen=True)
class OpenCalibParam:
    """One OpenCalib calibration JSON entry: ``camera`` for an intrinsic, ``T_target_source`` for an extrinsic
    (OpenCalib's ``sensor_calib`` maps ``sensor_name`` points into ``target_sensor_name``)."""

    key: str
    sensor: str
    target: str
    camera: CameraModel | None = None
    T_target_source: np.ndarray | None = None
    time_lag_s: float | None = None


def _matrix(d: dict, path: Path, key: str) -> np.ndarray:
    try:
        m = d["data"]
        return np.asarray(m, np.float64).reshape(int(d["rows"]), int(d["cols"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise FormatError(f"OpenCalib JSON {path}: {key}: not a matrix ({exc})") from None


def read_opencalib_json(path: str | os.PathLike[str]) -> list[OpenCalibParam]:
    """Read an OpenCalib ``*-intrinsic.json`` / ``*-extrinsic.json`` (every top-level entry)."""
    path = Path(path)
    doc = read_json(path, "OpenCalib JSON")
    out = []
    for key, entry in doc.items():
        try:
            param = entry["param"]
            sensor, target = entry["sensor_name"], entry["target_sensor_name"]
        except (KeyError, TypeError):
            raise FormatError(
                f"OpenCalib JSON {path}: entry {key!r} lacks param / sensor_name / target_sensor_name"
            ) from None
        if "cam_K" in param:
            K = _matrix(param["cam_K"], path, "cam_K")
            dist = _matrix(param["cam_dist"], path, "cam_dist").ravel() if "cam_dist" in param else np.zeros(0)
            try:
                cam = CameraModel(
                    K,
                    dist,
                    "brown_conrady" if dist.size else "pinhole",
                    int(param["img_dist_w"]),
                    int(param["img_dist_h"]),
                )
            except (ValidationError, KeyError) as exc:
                raise FormatError(f"OpenCalib JSON {path}: {key}: {exc}") from None
            out.append(OpenCalibParam(key, sensor, target, camera=cam))
        elif "sensor_calib" in param:
            try:
                T = check_transform(_matrix(param["sensor_calib"], path, "sensor_calib"), key)
            except ValidationError as exc:
                raise FormatError(f"OpenCalib JSON {path}: {exc}") from None
            lag = param.get("time_lag")
            out.append(
                OpenCalibParam(key, sensor, target, T_target_source=T, time_lag_s=None if lag is None else float(lag))
            )
        else:
            raise FormatError(f"OpenCalib JSON {path}: entry {key!r} has neither cam_K nor sensor_calib")
    return out
