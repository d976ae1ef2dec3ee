"""nuScenes ``calibrated_sensor`` records (and ``ego_pose`` records) <-> transforms, cameras and rigs.

A ``calibrated_sensor`` record holds ``translation`` (m) and ``rotation`` as a quaternion in **(w, x, y, z)**
order giving the sensor's pose in the ego frame (``T_ego_sensor``), plus ``camera_intrinsic`` (3x3, empty for
non-cameras). An ``ego_pose`` record gives ``T_global_ego`` the same way, with a ``timestamp`` in microseconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
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
    "read_mmdet3d_nuscenes_info",
    "rig_from_nuscenes_calibrated_sensors",
    "transform_from_nuscenes_record",
]

#: nuScenes camera image size (width, height).
NUSCENES_IMAGE_SIZE = (1600, 900)


def _kind(channel: str) -> str:
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
        kind = _kind(channel)
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


# -- mmdetection3d "info v1.1" files (one JSON/pickle per log: samples with calibration, 3D and 2D boxes) -------------

MMDET3D_CLASSES = ("car", "truck", "trailer", "bus", "construction_vehicle", "bicycle", "motorcycle", "pedestrian",
                   "traffic_cone", "barrier")  # fmt: skip


def read_mmdet3d_nuscenes_info(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The samples of an mmdetection3d nuScenes info file (``info_version`` 1.1, JSON), converted:

    per sample ``{"token", "stamp_ns" (LiDAR), "lidar_path", "T_ego_lidar", "T_global_ego", "cameras": {channel:
    {"camera" (CameraModel, 1600x900 pinhole), "stamp_ns", "T_cam_lidar" (through the global frame at both times,
    as mmdet3d computed it), "T_ego_cam", "image"}}, "boxes": [Box3D in LIDAR_TOP at the LiDAR time], "cam_boxes":
    {channel: [(Box2D, (3,) centre of the 3D box in the camera frame)]}}``.

    Boxes: ``bbox_3d = [x, y, z, dx, dy, dz, yaw]`` with the box centre (the devkit's centre, as the converter wrote
    it; the camera boxes' ``bbox_3d`` centre coincides with it through ``lidar2cam``), ``dx, dy, dz`` = length,
    width, height, yaw about z from x; ``velocity`` (vx, vy, m/s, LiDAR frame),
    ``num_lidar_pts`` and the class go into ``attributes`` / ``label``. Camera boxes: mmdet3d's ``cam_instances``
    (the devkit's 2D box of each 3D box: its 8 corners' hull cut to the image), each with its 3D box centre in the
    camera frame (for matching).
    """
    from sensorfuse.io._files import read_json
    from sensorfuse.types import Box2D, Box3D

    path = Path(path)
    doc = read_json(path, "mmdetection3d info")
    meta = doc.get("metainfo", {}) if isinstance(doc, dict) else {}
    if not isinstance(doc, dict) or "data_list" not in doc or str(meta.get("info_version", "")) != "1.1":
        raise FormatError(
            f"{path}: not an mmdetection3d info v1.1 file (expected metainfo.info_version 1.1, data_list)"
        )
    names = {v: k for k, v in meta.get("categories", {}).items()} or dict(enumerate(MMDET3D_CLASSES))
    out = []
    for k, s in enumerate(doc["data_list"]):
        stamp = round(float(s["timestamp"]) * 1e9)
        boxes = []
        for j, inst in enumerate(s.get("instances", [])):
            x, y, z, dx, dy, dz, yaw = (float(v) for v in inst["bbox_3d"])
            c, sn = np.cos(yaw), np.sin(yaw)
            R = np.array([[c, -sn, 0.0], [sn, c, 0.0], [0.0, 0.0, 1.0]])
            attrs = {"velocity": [float(v) for v in inst.get("velocity", [0.0, 0.0])], "index": j}
            if "num_lidar_pts" in inst:
                attrs["num_lidar_pts"] = int(inst["num_lidar_pts"])
            if not inst.get("bbox_3d_isvalid", True):
                attrs["invalid"] = True
            label = names.get(int(inst["bbox_label_3d"]), str(inst["bbox_label_3d"]))
            boxes.append(Box3D([x, y, z], [dx, dy, dz], R, "LIDAR_TOP", stamp, label, attributes=attrs))
        cams, cam_boxes = {}, {}
        for ch, im in s.get("images", {}).items():
            K = np.array(im["cam2img"], np.float64)[:3, :3]
            t_cam = round(float(im["timestamp"]) * 1e9)
            cams[ch] = {
                "camera": CameraModel(K, np.zeros(0), "pinhole", 1600, 900),
                "stamp_ns": t_cam,
                "T_cam_lidar": np.array(im["lidar2cam"], np.float64),
                "T_ego_cam": np.array(im["cam2ego"], np.float64),
                "image": im["img_path"],
            }
            rows = []
            for ci in s.get("cam_instances", {}).get(ch, []):
                bx, by, bz = (float(v) for v in ci["bbox_3d"][:3])
                label = names.get(int(ci["bbox_label_3d"]), str(ci["bbox_label_3d"]))
                rows.append((Box2D(*ci["bbox"], frame_id=ch, stamp_ns=t_cam, label=label), np.array([bx, by, bz])))
            cam_boxes[ch] = rows
        out.append({
            "token": s.get("token", str(k)), "stamp_ns": stamp, "lidar_path": s["lidar_points"]["lidar_path"],
            "T_ego_lidar": np.array(s["lidar_points"]["lidar2ego"], np.float64),
            "T_global_ego": np.array(s["ego2global"], np.float64), "cameras": cams, "boxes": boxes,
            "cam_boxes": cam_boxes,
        })  # fmt: skip
    return out
