"""The OpenCalib formats: radar object-list CSVs and calibration JSON (PCD files: :mod:`sensorfuse.io.pcd`)."""

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
from sensorfuse.types import RadarScan

__all__ = ["OpenCalibParam", "read_opencalib_json", "read_opencalib_radar_csv"]


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
    rotation_deviation: float = 0.0  # max |R^T R - I| of the file's rotation block before orthonormalising


def _matrix(d: dict, path: Path, key: str) -> np.ndarray:
    try:
        m = d["data"]
        return np.asarray(m, np.float64).reshape(int(d["rows"]), int(d["cols"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise FormatError(f"OpenCalib JSON {path}: {key}: not a matrix ({exc})") from None


def read_opencalib_json(path: str | os.PathLike[str], *, orthonormalise: bool = False) -> list[OpenCalibParam]:
    """Read an OpenCalib ``*-intrinsic.json`` / ``*-extrinsic.json`` (every top-level entry).

    ``orthonormalise``: accept an extrinsic whose rotation block is not a rotation (OpenCalib's lidar2lidar sample
    has det 0.969) as its nearest rotation (SciPy's ``Rotation.from_matrix``); the deviation is kept in
    ``OpenCalibParam.rotation_deviation``. Without it such a file is refused."""
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
            M = _matrix(param["sensor_calib"], path, "sensor_calib")
            dev = 0.0
            if orthonormalise and M.shape == (4, 4) and np.all(np.isfinite(M)):
                from scipy.spatial.transform import Rotation

                dev = float(np.abs(M[:3, :3].T @ M[:3, :3] - np.eye(3)).max())
                M = M.copy()
                M[:3, :3] = Rotation.from_matrix(M[:3, :3]).as_matrix()
            try:
                T = check_transform(M, key)
            except ValidationError as exc:
                raise FormatError(f"OpenCalib JSON {path}: {exc}") from None
            lag = param.get("time_lag")
            out.append(
                OpenCalibParam(key, sensor, target, T_target_source=T, time_lag_s=None if lag is None else float(lag),
                               rotation_deviation=dev)
            )  # fmt: skip
        else:
            raise FormatError(f"OpenCalib JSON {path}: entry {key!r} has neither cam_K nor sensor_calib")
    return out


def write_opencalib_extrinsic(
    path: str | os.PathLike[str], T_target_source: object, *, sensor: str, target: str, key: str | None = None
) -> Path:
    """Write one extrinsic in OpenCalib's JSON layout (``sensor_calib`` maps ``sensor`` points into ``target``),
    readable by :func:`read_opencalib_json` and OpenCalib's tools."""
    import json

    T = check_transform(T_target_source, "T_target_source")
    key = key or f"{sensor}-to-{target}-extrinsic"
    doc = {
        key: {
            "param_type": "extrinsic",
            "sensor_name": sensor,
            "target_sensor_name": target,
            "device_type": "relational",
            "param": {
                "sensor_calib": {"data": T.tolist(), "continuous": True, "rows": 4, "type": 6, "cols": 4},
                "time_lag": 0,
            },
        }
    }
    path = Path(path)
    path.write_text(json.dumps(doc, indent=4) + "\n")
    return path


def load_initial_extrinsic(
    path: str | os.PathLike[str], target: str, source: str
) -> tuple[np.ndarray, str, str, float]:
    """An initial ``T_target_source`` from an OpenCalib extrinsic JSON (its own sensor names, the rotation
    orthonormalised) or a rig file (``target``/``source`` sensor or frame names there).

    Returns:
        ``(T_target_source, target, source, rotation_deviation)``.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        params = [p for p in read_opencalib_json(path, orthonormalise=True) if p.T_target_source is not None]
        if len(params) != 1:
            raise FormatError(f"OpenCalib JSON {path}: expected one extrinsic, found {len(params)}")
        p = params[0]
        assert p.T_target_source is not None
        return p.T_target_source, p.target, p.sensor, p.rotation_deviation
    from sensorfuse.io.rigfile import load_rig

    return load_rig(path).transform(target, source), target, source, 0.0


def read_opencalib_poses(
    path: str | os.PathLike[str], *, utc_offset_hours: float = 8.0
) -> tuple[np.ndarray, np.ndarray]:
    """Read an OpenCalib pose file (``lidar2imu``: one row per pose, ``YYYY-mm-dd-HH-MM-SS-mmm r11 r12 r13 tx r21 ...
    tz``, a 3x4 row-major matrix) into ``(stamps_ns (N,), T (N, 4, 4))``. The names are wall-clock time at
    ``utc_offset_hours`` (the PJLab samples: UTC+8); the stamps returned are Unix UTC ns. Rotation blocks are
    orthonormalised (the files hold them to ~1e-6).

    Raises:
        FormatError: a row with another layout, or stamps that do not increase (naming the line).
    """
    import datetime

    from scipy.spatial.transform import Rotation

    path = Path(path)
    if not path.is_file():
        raise FormatError(f"OpenCalib pose file {path}: not found")
    stamps, mats = [], []
    tz = datetime.timezone(datetime.timedelta(hours=utc_offset_hours))
    for k, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 13:
            raise FormatError(f"OpenCalib pose file {path}:{k}: {len(parts)} fields, expected 13")
        try:
            when = datetime.datetime.strptime(parts[0], "%Y-%m-%d-%H-%M-%S-%f").replace(tzinfo=tz)
            m = np.asarray(parts[1:], np.float64).reshape(3, 4)
        except ValueError as exc:
            raise FormatError(f"OpenCalib pose file {path}:{k}: {exc}") from None
        stamps.append(round(when.timestamp() * 1e3) * 1_000_000)
        mats.append(m)
    st = np.asarray(stamps, np.int64)
    if st.size and np.any(np.diff(st) <= 0):
        bad = int(np.flatnonzero(np.diff(st) <= 0)[0]) + 2
        raise FormatError(f"OpenCalib pose file {path}: time does not increase at pose {bad}")
    T = np.tile(np.eye(4), (st.size, 1, 1))
    if st.size:
        M = np.asarray(mats)
        T[:, :3, :3] = Rotation.from_matrix(M[:, :, :3]).as_matrix()
        T[:, :3, 3] = M[:, :, 3]
    return st, T
