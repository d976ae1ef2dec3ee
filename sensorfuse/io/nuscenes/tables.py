"""nuScenes annotated samples: the official ``v1.0-*`` JSON tables and mmdetection3d info files, read into plain
records (keyframes with their sensors, poses and annotations) for the label checks and the viewer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import invert_transform
from sensorfuse.io.nuscenes.calib import (
    NUSCENES_IMAGE_SIZE,
    camera_from_calibrated_sensor,
    channel_kind,
    transform_from_nuscenes_record,
)

__all__ = ["has_nuscenes_samples", "read_mmdet3d_nuscenes_info", "read_nuscenes_samples", "read_nuscenes_table_samples"]


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


def nuscenes_tables(
    root: str | os.PathLike[str], *, version: str | None = None
) -> tuple[Path, Path, Callable[..., list[dict[str, Any]]]]:
    """Where the tables of a nuScenes root are: ``(tables folder, data root, table(name, required=True))``. ``root``
    is the data root (holding ``v1.0-*/``; the first version unless ``version``) or a tables folder itself;
    ``table`` loads one table (``[]`` for a missing one that is not required).

    Raises:
        FormatError: no ``v1.0-*/sample_data.json``; a required table missing or not JSON (naming the file).
    """
    import json

    root = Path(root)
    if (root / "sample_data.json").is_file():
        tables, dataroot = root, root.parent
    else:
        versions = sorted(p.parent.name for p in root.glob("v1.0-*/sample_data.json"))
        if not versions:
            raise FormatError(f"{root}: no v1.0-*/sample_data.json; not a nuScenes root")
        tables, dataroot = root / (version or versions[0]), root

    def table(name: str, required: bool = True) -> list[dict[str, Any]]:
        f = tables / f"{name}.json"
        if not f.is_file():
            if required:
                raise FormatError(f"nuScenes table {f}: missing (needed to read {root})")
            return []
        try:
            return json.loads(f.read_text())
        except json.JSONDecodeError as exc:
            raise FormatError(f"nuScenes table {f}: not JSON ({exc})") from None

    return tables, dataroot, table


def nuscenes_annotations(table: Callable[..., list[dict[str, Any]]], *, required: bool = False) -> list[dict[str, Any]]:
    """The ``sample_annotation`` records of :func:`nuscenes_tables`' ``table``, each with its ``category_name`` (from
    ``instance`` -> ``category`` where the record lacks it); [] without the table unless ``required``."""
    categories = {r["token"]: r["name"] for r in table("category", False)}
    instances = {r["token"]: r for r in table("instance", False)}
    out = []
    for a in table("sample_annotation", required):
        if "category_name" not in a and a.get("instance_token") in instances:
            a = a | {"category_name": categories.get(instances[a["instance_token"]]["category_token"], "")}
        out.append(a)
    return out


def _annotation_velocity(
    ann: Mapping[str, Any],
    by_token: Mapping[str, Mapping[str, Any]],
    sample_us: Mapping[str, int],
    max_dt_s: float = 1.5,
) -> np.ndarray:
    """The devkit's ``box_velocity``: (vx, vy, vz) in the global frame from the previous and the next annotation of
    the track (a centred difference, allowed over up to 2 x ``max_dt_s``), or from one of them and this one (up to
    ``max_dt_s``); NaN without a neighbour or over a longer gap."""
    prev, nxt = by_token.get(ann.get("prev") or ""), by_token.get(ann.get("next") or "")
    if prev is None and nxt is None:
        return np.full(3, np.nan)
    first, last = prev or ann, nxt or ann
    dt = (sample_us[last["sample_token"]] - sample_us[first["sample_token"]]) * 1e-6
    if dt <= 0 or dt > (2 * max_dt_s if prev is not None and nxt is not None else max_dt_s):
        return np.full(3, np.nan)
    return (np.asarray(last["translation"], np.float64) - np.asarray(first["translation"], np.float64)) / dt


def read_nuscenes_table_samples(root: str | os.PathLike[str], *, version: str | None = None) -> list[dict[str, Any]]:
    """The keyframes of the nuScenes table layout (``<root>/v1.0-*/*.json``), in the form of
    :func:`read_mmdet3d_nuscenes_info` (``cam_boxes`` empty: nuScenes annotates in 3D only), without the devkit.

    Per sample: LIDAR_TOP's keyframe sample_data, its ego pose and calibration; every camera's keyframe sample_data
    with ``T_cam_lidar`` through the global frame with the ego pose at each time (the devkit's
    ``map_pointcloud_to_image`` chain); the sample's annotations as Box3D in LIDAR_TOP at the LiDAR time, with the
    devkit's ``box_velocity`` (from the track's neighbouring annotations; NaN where it has none) turned into the
    LiDAR frame, as mmdetection3d's converter does.
    """
    from sensorfuse.io.nuscenes.labels import box_from_nuscenes_record
    from sensorfuse.types import Box3D

    root = Path(root)
    tables, _, table = nuscenes_tables(root, version=version)
    sensor = {r["token"]: r for r in table("sensor")}
    calib = {r["token"]: r for r in table("calibrated_sensor")}
    ego = {r["token"]: r for r in table("ego_pose")}
    samples = sorted(table("sample"), key=lambda r: r["timestamp"])
    sample_us = {r["token"]: int(r["timestamp"]) for r in samples}
    anns = nuscenes_annotations(table, required=True)
    ann_by_token = {a["token"]: a for a in anns}
    anns_of: dict[str, list[dict[str, Any]]] = {}
    for a in anns:
        anns_of.setdefault(a["sample_token"], []).append(a)
    key_data: dict[str, dict[str, dict[str, Any]]] = {}
    for sd in table("sample_data"):
        if sd.get("is_key_frame", True) and sd["sample_token"] in sample_us:
            channel = sensor[calib[sd["calibrated_sensor_token"]]["sensor_token"]]["channel"]
            key_data.setdefault(sd["sample_token"], {})[channel] = sd
    out = []
    for s in samples:
        data = key_data.get(s["token"], {})
        lid = data.get("LIDAR_TOP")
        if lid is None:
            raise FormatError(f"{tables}: sample {s['token']} has no LIDAR_TOP keyframe sample_data")
        T_e_l = transform_from_nuscenes_record(calib[lid["calibrated_sensor_token"]])
        T_g_e = transform_from_nuscenes_record(ego[lid["ego_pose_token"]], what="ego_pose")
        T_l_g = invert_transform(T_g_e @ T_e_l)
        t_l = int(lid["timestamp"]) * 1000
        cams = {}
        for ch, sd in sorted(data.items()):
            if channel_kind(ch) != "camera":
                continue
            cs = calib[sd["calibrated_sensor_token"]]
            T_e_c = transform_from_nuscenes_record(cs)
            T_g_ec = transform_from_nuscenes_record(ego[sd["ego_pose_token"]], what="ego_pose")
            size = (int(sd.get("width") or NUSCENES_IMAGE_SIZE[0]), int(sd.get("height") or NUSCENES_IMAGE_SIZE[1]))
            cams[ch] = {
                "camera": camera_from_calibrated_sensor(cs, size),
                "stamp_ns": int(sd["timestamp"]) * 1000,
                "T_cam_lidar": invert_transform(T_g_ec @ T_e_c) @ T_g_e @ T_e_l,
                "T_ego_cam": T_e_c,
                "image": sd["filename"],
            }
        boxes = []
        for j, a in enumerate(anns_of.get(s["token"], [])):
            g = box_from_nuscenes_record(a, stamp_ns=t_l)
            v = T_l_g[:3, :3] @ _annotation_velocity(a, ann_by_token, sample_us)
            attrs = dict(g.attributes) | {"velocity": [float(v[0]), float(v[1])], "index": j}
            boxes.append(Box3D(T_l_g[:3, :3] @ g.center + T_l_g[:3, 3], g.size, T_l_g[:3, :3] @ g.rotation,
                               "LIDAR_TOP", t_l, g.label, track_id=g.track_id, attributes=attrs))  # fmt: skip
        out.append({
            "token": s["token"], "stamp_ns": t_l, "lidar_path": lid["filename"], "T_ego_lidar": T_e_l,
            "T_global_ego": T_g_e, "cameras": cams, "boxes": boxes, "cam_boxes": {},
        })  # fmt: skip
    return out


def _info_files(root: Path) -> list[Path]:
    return sorted(root.glob("mmdet3d_originals/*_info.json")) + sorted(root.glob("*_info.json"))


def _has_annotation_table(root: Path) -> bool:
    return any(root.glob("v1.0-*/sample_annotation.json"))


def has_nuscenes_samples(root: str | os.PathLike[str]) -> bool:
    """Whether ``root`` holds annotated nuScenes keyframes :func:`read_nuscenes_samples` reads: an mmdetection3d info
    file (``*_info.json``, or in ``mmdet3d_originals/``) or the official tables with ``sample_annotation.json``."""
    root = Path(root)
    return bool(_info_files(root)) or _has_annotation_table(root)


def read_nuscenes_samples(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The annotated keyframes under ``root``: from its mmdetection3d info files
    (:func:`read_mmdet3d_nuscenes_info`) when it has any, else from the official tables
    (:func:`read_nuscenes_table_samples`).

    Raises:
        FormatError: neither layout.
    """
    root = Path(root)
    infos = _info_files(root)
    if infos:
        samples = [s for f in infos for s in read_mmdet3d_nuscenes_info(f)]
    elif _has_annotation_table(root):
        samples = read_nuscenes_table_samples(root)
    else:
        raise FormatError(f"{root}: no mmdetection3d info file (*_info.json) and no v1.0-*/ tables")
    return samples
