"""nuScenes ``calibrated_sensor`` records (and ``ego_pose`` records) <-> transforms, cameras and rigs.

A ``calibrated_sensor`` record holds ``translation`` (m) and ``rotation`` as a quaternion in **(w, x, y, z)**
order giving the sensor's pose in the ego frame (``T_ego_sensor``), plus ``camera_intrinsic`` (3x3, empty for
non-cameras). An ``ego_pose`` record gives ``T_global_ego`` the same way, with a ``timestamp`` in microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import quat_wxyz_from_matrix, transform_from_quat_wxyz
from sensorfuse.rig import Provenance, Rig, Sensor

__all__ = [
    "NUSCENES_IMAGE_SIZE",
    "calibrated_sensor_record",
    "camera_from_calibrated_sensor",
    "nuscenes_records_from_rig",
    "rig_from_nuscenes_calibrated_sensors",
    "transform_from_nuscenes_record",
]


#: nuScenes camera image size (width, height).
NUSCENES_IMAGE_SIZE = (1600, 900)


def channel_kind(channel: str) -> str:
    c = channel.upper()
    if c.startswith("CAM"):
        return "camera"
    if c.startswith("LIDAR"):
        return "lidar"
    if c.startswith("RADAR"):
        return "radar"
    return "other"


def transform_from_nuscenes_record(record: Mapping[str, Any], *, what: str = "calibrated_sensor") -> np.ndarray:
    """``T_ego_sensor`` from a calibrated_sensor record (or ``T_global_ego`` from an ego_pose record)."""
    try:
        t = record["translation"]
        q = record["rotation"]
    except KeyError as exc:
        raise FormatError(f"nuScenes {what} record {record.get('token', '?')!r}: missing key {exc}") from None
    try:
        return transform_from_quat_wxyz(q, t)
    except ValidationError as exc:
        raise FormatError(f"nuScenes {what} record {record.get('token', '?')!r}: {exc}") from None


def camera_from_calibrated_sensor(
    record: Mapping[str, Any], image_size: tuple[int, int] = NUSCENES_IMAGE_SIZE
) -> CameraModel:
    """The pinhole camera of a calibrated_sensor record (nuScenes images are already undistorted)."""
    K = record.get("camera_intrinsic") or []
    if len(K) == 0:
        raise FormatError(f"nuScenes calibrated_sensor record {record.get('token', '?')!r} has no camera_intrinsic")
    try:
        return CameraModel(np.asarray(K, dtype=np.float64), [], "pinhole", *image_size)
    except ValidationError as exc:
        raise FormatError(f"nuScenes calibrated_sensor record {record.get('token', '?')!r}: {exc}") from None


def calibrated_sensor_record(
    T_ego_sensor: np.ndarray, camera: CameraModel | None = None, *, token: str = "", sensor_token: str = ""
) -> dict[str, Any]:
    """A calibrated_sensor record (quaternion (w, x, y, z) with w >= 0)."""
    T = np.asarray(T_ego_sensor, dtype=np.float64)
    if camera is not None and camera.model != "pinhole":
        raise ValidationError("nuScenes camera_intrinsic holds a pinhole K; undistort the images first")
    return {
        "token": token,
        "sensor_token": sensor_token,
        "translation": T[:3, 3].tolist(),
        "rotation": quat_wxyz_from_matrix(T[:3, :3]).tolist(),
        "camera_intrinsic": camera.K.tolist() if camera is not None else [],
    }


def rig_from_nuscenes_calibrated_sensors(
    records: Mapping[str, Mapping[str, Any]],
    *,
    image_size: tuple[int, int] = NUSCENES_IMAGE_SIZE,
    name: str = "nuscenes",
    source: str | None = None,
) -> Rig:
    """A rig from ``{channel: calibrated_sensor record}`` (e.g. ``CAM_FRONT``, ``LIDAR_TOP``): every sensor is
    attached to the ``ego`` frame; sensor names and frame ids are the channel names."""
    prov = Provenance(method="nuScenes calibrated_sensor", data=source)
    sensors = []
    for channel, rec in records.items():
        kind = channel_kind(channel)
        cam = camera_from_calibrated_sensor(rec, image_size) if kind == "camera" else None
        rate = {"camera": 12.0, "lidar": 20.0, "radar": 13.0}.get(kind)
        sensors.append(Sensor(name=channel, kind=kind, camera=cam, rate_hz=rate, provenance=prov))
    rig = Rig(name=name, sensors=tuple(sensors), base_frame="ego", provenance=prov)
    for channel, rec in records.items():
        rig = rig.with_extrinsic("ego", channel, transform_from_nuscenes_record(rec), prov)
    return rig


def nuscenes_records_from_rig(rig: Rig, *, ego: str = "ego") -> dict[str, dict[str, Any]]:
    """``{sensor name: calibrated_sensor record}`` for every sensor of the rig, relative to the ``ego`` frame."""
    return {
        s.name: calibrated_sensor_record(rig.transform(ego, s.name), s.camera, token=f"{s.name}", sensor_token=s.name)
        for s in rig.sensors
    }
