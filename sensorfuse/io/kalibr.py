"""Kalibr camchain YAML (``camchain.yaml`` / ``camchain-imucam.yaml``).

Kalibr conventions, as converted here:

- ``T_cam_imu`` maps IMU points into the camera: it *is* ``T_cam_imu`` in sensorfuse's naming;
- ``T_cn_cnm1`` maps camera n-1 into camera n: ``T_camN_camN-1``;
- ``timeshift_cam_imu`` (seconds): ``t_imu = t_cam + timeshift``. With the IMU as the reference clock this is the
  camera's ``clock.offset_ns`` (``t_reference = t_stream + offset``).
- Only Kalibr's ``pinhole`` camera with ``radtan``, ``equidistant`` or ``none`` distortion maps to a sensorfuse
  model; ``omni``, ``ds``, ``eucm`` and ``fov`` are refused with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel, camera_model_name
from sensorfuse.geometry.transforms import check_transform
from sensorfuse.io._yaml import read_yaml, require, write_yaml
from sensorfuse.rig import ClockModel, Provenance, Rig, Sensor

__all__ = ["kalibr_camchain_from_rig", "read_kalibr_camchain", "rig_from_kalibr_camchain", "write_kalibr_camchain"]


_CAMCHAIN = "Kalibr camchain"


def _transform(value: object, where: str, path: object) -> np.ndarray:
    try:
        return check_transform(np.asarray(value, dtype=np.float64), where)
    except (ValidationError, ValueError, TypeError) as exc:
        raise FormatError(f"{_CAMCHAIN} {path}: {where}: {exc}") from None


def _camera_from_kalibr(d: dict[str, Any], name: str, path: object) -> CameraModel:
    where = f"{_CAMCHAIN} {path} ({name})"
    cam_model = str(require(d, "camera_model", _CAMCHAIN, f"{path} ({name})"))
    if cam_model != "pinhole":
        raise FormatError(f"{where}: camera_model {cam_model!r} is not supported (only 'pinhole' maps to sensorfuse)")
    dist_model = str(d.get("distortion_model", "none"))
    if dist_model in ("fov",):
        raise FormatError(f"{where}: distortion_model 'fov' is not supported; recalibrate with radtan or equidistant")
    fu, fv, pu, pv = (float(x) for x in require(d, "intrinsics", _CAMCHAIN, where))
    w, h = (int(x) for x in require(d, "resolution", _CAMCHAIN, where))
    coeffs = [float(x) for x in d.get("distortion_coeffs", [])]
    try:
        model = camera_model_name(dist_model)
        if model == "pinhole" and any(coeffs):
            raise ValidationError(f"distortion_model 'none' with non-zero coefficients {coeffs}")
        return CameraModel([[fu, 0, pu], [0, fv, pv], [0, 0, 1]], coeffs if model != "pinhole" else [], model, w, h)
    except ValidationError as exc:
        raise FormatError(f"{where}: {exc}") from None


def read_kalibr_camchain(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Parse a camchain file: ``{"cam0": {...}, "cam1": {...}}`` with ``camera`` (CameraModel) and, where present,
    ``T_cam_imu``, ``T_cn_cnm1`` (4x4), ``timeshift_cam_imu`` (s), ``rostopic``."""
    path = Path(path)
    data = read_yaml(path, _CAMCHAIN)
    if not isinstance(data, dict) or not data:
        raise FormatError(f"{_CAMCHAIN} {path}: expected a mapping of cam0, cam1, ...")
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(data, key=lambda k: (len(str(k)), str(k))):
        d = data[name]
        if not str(name).startswith("cam") or not isinstance(d, dict):
            raise FormatError(f"{_CAMCHAIN} {path}: unexpected top-level entry {name!r} (expected cam0, cam1, ...)")
        entry: dict[str, Any] = {"camera": _camera_from_kalibr(d, name, path)}
        for key in ("T_cam_imu", "T_cn_cnm1"):
            if key in d:
                entry[key] = _transform(d[key], f"{name}.{key}", path)
        if "timeshift_cam_imu" in d:
            entry["timeshift_cam_imu"] = float(d["timeshift_cam_imu"])
        if "rostopic" in d:
            entry["rostopic"] = str(d["rostopic"])
        out[str(name)] = entry
    return out


def rig_from_kalibr_camchain(path: str | os.PathLike[str], *, name: str = "kalibr", imu_name: str = "imu0") -> Rig:
    """A rig from a camchain file: one camera sensor per ``camN`` (frame ``camN``), and an IMU sensor with the IMU
    as reference clock when the file has ``T_cam_imu`` (camchain-imucam)."""
    chain = read_kalibr_camchain(path)
    prov = Provenance(method="Kalibr", data=str(path))
    has_imu = any("T_cam_imu" in e for e in chain.values())
    sensors = []
    for cam, e in chain.items():
        shift_ns = round(e.get("timeshift_cam_imu", 0.0) * 1e9)
        sensors.append(
            Sensor(
                name=cam,
                kind="camera",
                topic=e.get("rostopic"),
                camera=e["camera"],
                clock=ClockModel(shift_ns),
                provenance=prov,
            )
        )
    if has_imu:
        sensors.append(Sensor(name=imu_name, kind="imu", provenance=prov))
    rig = Rig(name=name, sensors=tuple(sensors), reference_clock=imu_name if has_imu else None, provenance=prov)
    names = list(chain)
    for i, (cam, e) in enumerate(chain.items()):
        if "T_cam_imu" in e:
            rig = rig.with_extrinsic(cam, imu_name, e["T_cam_imu"], prov)
        elif "T_cn_cnm1" in e and i > 0:
            rig = rig.with_extrinsic(cam, names[i - 1], e["T_cn_cnm1"], prov)
    return rig


def kalibr_camchain_from_rig(
    rig: Rig, cameras: Sequence[str] | None = None, *, imu: str | None = None
) -> dict[str, Any]:
    """The camchain document of ``cameras`` (default: every camera of the rig, in order).

    With ``imu`` it writes ``T_cam_imu`` and ``timeshift_cam_imu`` (camchain-imucam); ``T_cn_cnm1`` is written for
    every camera after the first. Kalibr's model names are used: ``radtan`` / ``equidistant`` / ``none``.
    """
    names = list(cameras) if cameras is not None else [s.name for s in rig.cameras()]
    out: dict[str, Any] = {}
    for i, n in enumerate(names):
        s = rig.sensor(n)
        cam = s.camera
        if cam is None:
            raise ValidationError(f"sensor {n!r} is not a camera")
        d: dict[str, Any] = {}
        if imu is not None:
            d["T_cam_imu"] = rig.transform(n, imu).tolist()
        if i > 0:
            d["T_cn_cnm1"] = rig.transform(n, names[i - 1]).tolist()
        d["camera_model"] = "pinhole"
        d["distortion_coeffs"] = cam.dist.tolist()
        d["distortion_model"] = {"pinhole": "none", "brown_conrady": "radtan", "kannala_brandt": "equidistant"}[
            cam.model
        ]
        if cam.model == "brown_conrady" and cam.dist.size != 4:
            raise ValidationError(
                f"camera {n!r}: Kalibr's radtan model has 4 coefficients, this one has {cam.dist.size}"
            )
        d["intrinsics"] = [cam.fx, cam.fy, cam.cx, cam.cy]
        d["resolution"] = [cam.width, cam.height]
        if s.topic:
            d["rostopic"] = s.topic
        if imu is not None:
            d["timeshift_cam_imu"] = s.clock.offset_ns / 1e9
        out[f"cam{i}"] = d
    return out


def write_kalibr_camchain(
    rig: Rig, path: str | os.PathLike[str], cameras: Sequence[str] | None = None, *, imu: str | None = None
) -> Path:
    """Write :func:`kalibr_camchain_from_rig` to ``path``."""
    return write_yaml(kalibr_camchain_from_rig(rig, cameras, imu=imu), path)
