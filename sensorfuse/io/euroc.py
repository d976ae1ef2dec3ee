"""EuRoC / ASL ``mav0`` folders: the ``sensor.yaml`` calibration files and the dataset reader.

``sensor.yaml``: ``T_BS`` maps sensor points into the body frame: ``T_body_sensor``. The reader gives
``cam0``/``cam1`` images, ``imu0`` samples and the ``state_groundtruth_estimate0`` poses, stamps in ns as recorded.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import check_transform
from sensorfuse.io._yaml import read_yaml, require
from sensorfuse.io.dataset import DatasetReader, read_image_file
from sensorfuse.io.messages import Odometry
from sensorfuse.io.reader import StreamInfo
from sensorfuse.rig import Provenance, Rig, Sensor
from sensorfuse.types import ImuSamples

__all__ = ["EurocReader", "read_euroc_sensor_yaml", "rig_from_euroc"]


_EUROC = "EuRoC sensor.yaml"


def read_euroc_sensor_yaml(
    path: str | os.PathLike[str],
) -> tuple[str, np.ndarray, CameraModel | None, dict[str, float], float | None]:
    """Read an ASL ``sensor.yaml``.

    Returns:
        ``(sensor_type, T_body_sensor (4x4), camera or None, noise parameters, rate_hz or None)``.
    """
    path = Path(path)
    d = read_yaml(path, _EUROC)
    kind = str(require(d, "sensor_type", _EUROC, path))
    tb = require(d, "T_BS", _EUROC, path)
    try:
        T = check_transform(np.asarray(require(tb, "data", _EUROC, path), dtype=np.float64).reshape(4, 4), "T_BS")
    except (ValidationError, ValueError) as exc:
        raise FormatError(f"{_EUROC} {path}: T_BS: {exc}") from None
    camera = None
    if kind == "camera":
        fu, fv, cu, cv = (float(x) for x in require(d, "intrinsics", _EUROC, path))
        w, h = (int(x) for x in require(d, "resolution", _EUROC, path))
        try:
            camera = CameraModel(
                [[fu, 0, cu], [0, fv, cv], [0, 0, 1]],
                [float(x) for x in d.get("distortion_coefficients", [])],
                str(d.get("distortion_model", "radial-tangential")),
                w,
                h,
            )
        except ValidationError as exc:
            raise FormatError(f"{_EUROC} {path}: {exc}") from None
    noise = {
        k: float(v)
        for k, v in d.items()
        if k.endswith(("_noise_density", "_random_walk")) and isinstance(v, (int, float))
    }
    rate = float(d["rate_hz"]) if "rate_hz" in d else None
    return kind, T, camera, noise, rate


def rig_from_euroc(mav0: str | os.PathLike[str], *, name: str = "euroc") -> Rig:
    """A rig from an ASL ``mav0`` folder: one sensor per sub-folder with a camera or IMU ``sensor.yaml``, joined
    through the ``body`` frame by their ``T_BS``."""
    mav0 = Path(mav0)
    if not mav0.is_dir():
        raise FormatError(f"EuRoC folder {mav0}: not a directory")
    prov = Provenance(method="EuRoC / Kalibr calibration", data=str(mav0))
    sensors, edges = [], []
    for sub in sorted(p for p in mav0.iterdir() if (p / "sensor.yaml").is_file()):
        kind, T, cam, noise, rate = read_euroc_sensor_yaml(sub / "sensor.yaml")
        if kind not in ("camera", "imu"):
            continue
        sensors.append(Sensor(name=sub.name, kind=kind, camera=cam, noise=noise, rate_hz=rate, provenance=prov))
        edges.append((sub.name, T))
    if not sensors:
        raise FormatError(f"EuRoC folder {mav0}: no camera or IMU sensor.yaml found in its sub-folders")
    rig = Rig(name=name, sensors=tuple(sensors), base_frame="body", provenance=prov)
    for n, T in edges:
        rig = rig.with_extrinsic("body", n, T, prov)
    return rig


def _read_csv_rows(path: Path, ncols: int) -> np.ndarray:
    rows = []
    with path.open() as f:
        for k, row in enumerate(csv.reader(f)):
            if not row or row[0].lstrip().startswith("#"):
                continue
            if len(row) < ncols:
                raise FormatError(f"{path}: line {k + 1} has {len(row)} columns, expected {ncols}")
            rows.append(row[:ncols])
    return np.array(rows, dtype=object).reshape(-1, ncols)


class EurocReader(DatasetReader):
    """An EuRoC / ASL folder (``mav0/`` or its parent): ``cam0``/``cam1`` images (``data.csv`` + ``data/``), ``imu0``
    samples, and the ground-truth state (``state_groundtruth_estimate0/data.csv``) or a TUM trajectory file given
    as ``groundtruth=``. Calibration (intrinsics, ``T_BS``) from each ``sensor.yaml``."""

    format = "euroc"

    def __init__(self, path: str | Path, *, groundtruth: str | Path | None = None) -> None:
        super().__init__(path)
        from sensorfuse.io.euroc import rig_from_euroc

        mav0 = self.path / "mav0" if (self.path / "mav0").is_dir() else self.path
        self.rig = rig_from_euroc(mav0)
        for sub in sorted(p for p in mav0.iterdir() if p.is_dir()):
            csv_path = sub / "data.csv"
            kind = next((s.kind for s in self.rig.sensors if s.name == sub.name), None)
            if kind == "camera":
                if not csv_path.is_file():
                    continue
                rows = _read_csv_rows(csv_path, 2)
                stamps = rows[:, 0].astype(np.int64)
                files = [str(x).strip() for x in rows[:, 1]]
                info = StreamInfo(sub.name, "euroc/png", "camera", sub.name)
                self._add_stream(
                    info,
                    stamps,
                    lambda i, _d=sub, _f=files, _s=stamps, _n=sub.name: read_image_file(
                        _d / "data" / _f[i], int(_s[i]), _n
                    ),
                )
            elif kind == "imu" and csv_path.is_file():
                rows = _read_csv_rows(csv_path, 7)
                stamps = rows[:, 0].astype(np.int64)
                vals = rows[:, 1:].astype(np.float64)
                self._imu_data = (sub.name, stamps, vals)
                info = StreamInfo(sub.name, "euroc/imu_csv", "imu", sub.name)
                self._add_stream(
                    info,
                    stamps,
                    lambda i, _s=stamps, _v=vals, _n=sub.name: ImuSamples(
                        _s[i : i + 1], _v[i : i + 1, :3], _v[i : i + 1, 3:], _n
                    ),
                )
            elif sub.name.startswith("state_groundtruth") and csv_path.is_file():
                rows = _read_csv_rows(csv_path, 8)
                self._add_poses(sub.name, rows[:, 0].astype(np.int64), rows[:, 1:8].astype(np.float64), wxyz=True)
        if groundtruth is not None:
            self.add_tum_trajectory(groundtruth)
        if not self._streams:
            self.report.warn(f"{mav0}: calibration only (no data.csv with messages)")

    def _add_poses(self, topic: str, stamps: np.ndarray, pq: np.ndarray, *, wxyz: bool) -> None:
        from sensorfuse.geometry.transforms import transform_from_quat_wxyz, transform_from_quat_xyzw

        conv = transform_from_quat_wxyz if wxyz else transform_from_quat_xyzw
        T = conv(pq[:, 3:7], pq[:, :3])  # batched; the quaternions are normalised inside
        info = StreamInfo(topic, "euroc/groundtruth", "pose", "body")
        self._add_stream(info, stamps, lambda i, _s=stamps, _T=T: Odometry(int(_s[i]), "world", "body", _T[i]))

    def add_tum_trajectory(self, path: str | Path, topic: str = "groundtruth") -> None:
        """Add a TUM file (``t[s] tx ty tz qx qy qz qw``) as a pose stream (stamps rounded to the microsecond, as the
        file's float seconds carry no more)."""
        path = Path(path)
        rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        try:
            arr = np.array(rows, np.float64)
        except ValueError:
            raise FormatError(f"{path}: not a TUM trajectory (t tx ty tz qx qy qz qw per line)") from None
        if arr.ndim != 2 or arr.shape[1] != 8:
            raise FormatError(f"{path}: expected 8 columns (t tx ty tz qx qy qz qw), got shape {arr.shape}")
        stamps = np.rint(arr[:, 0] * 1e6).astype(np.int64) * 1000
        self._add_poses(topic, stamps, arr[:, 1:], wxyz=False)

    def imu(self, topic: str) -> ImuSamples:
        name, stamps, vals = getattr(self, "_imu_data", (None, None, None))
        if topic != name:
            return super().imu(topic)
        return ImuSamples(stamps, vals[:, :3], vals[:, 3:], name)
