"""``fuse-info``'s job: what a drive log, dataset, single file, calibration folder or rig file holds, as plain
data (printing is the CLI's). Logs: per stream the type, frame, count, time range in each clock, rate, jitter, gaps,
drops, out-of-order stamps and lag, the time bases, transforms and intrinsics; files: PCD clouds, OpenCalib JSON and
radar CSV, images, KITTI/nuScenes scans; KITTI object folders: points, image size and labels per frame; rigs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.io.kitti.object import kitti_object_file, kitti_object_frames
from sensorfuse.io.open_log import FILE_SUFFIXES, file_kind, input_kind

__all__ = ["describe", "describe_file", "describe_folder", "describe_kitti_frames", "describe_log", "describe_rig"]


def describe(
    path: Path,
    *,
    frame: str | None = None,
    types: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """What ``path`` holds, with ``"format"`` naming its kind (``files``, ``kitti_object``, ``rig``,
    ``kitti_raw_calib``, ``euroc_rig`` or a log format)."""
    kind = input_kind(path)
    if kind == "files":
        return describe_folder(path)
    if kind == "file":
        return {"path": str(path), "format": "files", "files": [describe_file(path)], "not_understood": []}
    if kind == "kitti-object":
        return describe_kitti_frames(path, frame)
    if kind in ("rig", "kitti-raw-calib", "euroc-rig"):
        return describe_rig(path, kind)
    return describe_log(path, types=types, progress=progress)


def describe_log(
    path: Path, *, types: Path | None = None, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Everything fuse-info says about a log, as plain data (one pass over the stamps; ``progress(done, total)``
    messages)."""
    from scipy.spatial.transform import Rotation

    from sensorfuse.health import time_bases
    from sensorfuse.io import open as open_log

    with open_log(path, types=types) as reader:
        total = sum(s.count for s in reader.streams.values())
        stats = reader.stats(progress=None if progress is None else (lambda k: progress(k, total)))
        streams = []
        for topic, info in reader.streams.items():
            st = stats.get(topic)
            d = info.to_dict()
            if st is not None:
                d["timing"] = st.to_dict()
            streams.append(d)
        bases = time_bases(stats.values())
        tree = reader.tf_tree()
        transforms = []
        for (parent, child), T in tree.static_transforms().items():
            rpy = Rotation.from_matrix(T[:3, :3]).as_euler("xyz", degrees=True)
            transforms.append({"parent": parent, "child": child, "xyz_m": T[:3, 3].round(6), "rpy_deg": rpy.round(4)})
        dynamic = []
        for parent, child, static in tree.edges():
            if not static:
                t0, t1 = tree.time_range(parent, child)
                dynamic.append({"parent": parent, "child": child, "start_ns": t0, "end_ns": t1})
        cameras = {}
        for topic, cam in reader.cameras().items():
            cameras[topic] = {
                "model": cam.model,
                "width": cam.width,
                "height": cam.height,
                "K": cam.K,
                "dist": cam.dist,
            }
        notes = []
        if len(bases) > 1:
            names = "; ".join(f"{', '.join(b['clocks'])} (starting {b['start_ns'] / 1e9:.3f} s)" for b in bases)
            notes.append(
                f"{len(bases)} unrelated time bases: {names}. Stamps of different bases cannot be compared without "
                "a clock offset (fuse-sync estimates it)."
            )
        rig = getattr(reader, "rig", None)
        extra = {}
        if rig is not None:
            from sensorfuse.io.rigfile import rig_to_dict

            extra["rig"] = rig_to_dict(rig)
        return extra | {
            "path": str(path),
            "format": reader.format,
            "messages": total,
            "streams": streams,
            "time_bases": bases,
            "static_transforms": transforms,
            "dynamic_transforms": dynamic,
            "cameras": cameras,
            "notes": notes,
            "report": reader.report.to_dict(),
        }


def describe_file(path: Path) -> dict[str, Any]:
    from sensorfuse.io.images import read_image_size
    from sensorfuse.io.opencalib import read_opencalib_json, read_opencalib_radar_csv
    from sensorfuse.io.pcd import read_pcd

    kind = file_kind(path)
    if kind == "nuscenes-lidar-bin":
        from sensorfuse.io.nuscenes.reader import read_nuscenes_lidar_bin

        cloud = read_nuscenes_lidar_bin(path)
        return {
            "file": str(path),
            "kind": "nuscenes-lidar-bin",
            "points": len(cloud),
            "fields": ["x", "y", "z", "intensity", "ring"],
            "per_point_time": "none",
        }
    if kind == "kitti-velodyne-bin":
        from sensorfuse.io.kitti.velodyne import read_velodyne_bin

        cloud = read_velodyne_bin(path)
        return {
            "file": str(path),
            "kind": "kitti-velodyne-bin",
            "points": len(cloud),
            "fields": ["x", "y", "z", "intensity"],
            "per_point_time": "none",
        }
    if kind == "pcd":
        cloud, dropped, tdesc = read_pcd(path)
        xyz = cloud.xyz
        return {
            "file": path.name,
            "kind": "pcd",
            "points": len(cloud),
            "dropped_non_finite": dropped,
            "fields": [
                "x",
                "y",
                "z",
                *(k for k in ("intensity", "ring") if getattr(cloud, k) is not None),
                *cloud.fields,
            ],
            "per_point_time": tdesc or "none",
            "stamp_ns": cloud.stamp_ns if tdesc else None,
            "xyz_min_m": xyz.min(axis=0).round(2) if len(cloud) else None,
            "xyz_max_m": xyz.max(axis=0).round(2) if len(cloud) else None,
        }
    if kind == "opencalib-json":
        out = []
        for p in read_opencalib_json(path):
            d: dict[str, Any] = {"key": p.key, "sensor": p.sensor, "target": p.target}
            if p.camera is not None:
                d |= {"camera": p.camera.model, "size": p.camera.size, "K": p.camera.K, "dist": p.camera.dist}
            else:
                d |= {"T_target_source": p.T_target_source, "time_lag_s": p.time_lag_s}
            out.append(d)
        return {"file": path.name, "kind": "opencalib-json", "entries": out}
    if kind == "opencalib-radar-csv":
        scans = read_opencalib_radar_csv(path)
        return {
            "file": path.name,
            "kind": "opencalib-radar-csv",
            "scans": len(scans),
            "detections": int(sum(len(s) for s in scans)),
            "start_ns": scans[0].stamp_ns,
            "end_ns": scans[-1].stamp_ns,
            "rcs": "none in this export" if np.isnan(scans[0].rcs).all() else "dBsm",
        }
    w, h = read_image_size(path)  # kind == "image"
    return {"file": path.name, "kind": "image", "width": w, "height": h}


def describe_folder(path: Path) -> dict[str, Any]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FILE_SUFFIXES)[:500]
    if not files:
        raise FormatError(f"{path}: no log, dataset, PCD, OpenCalib or image files")
    described, skipped = [], []
    for f in files:
        try:
            described.append(describe_file(f) | {"file": str(f.relative_to(path))})
        except FormatError as exc:
            skipped.append({"file": str(f.relative_to(path)), "reason": str(exc)})
    return {"path": str(path), "format": "files", "files": described, "not_understood": skipped}


def _describe_kitti_frame(split: Path, frame: str) -> dict[str, Any]:
    def file(folder: str) -> Path | None:
        return kitti_object_file(split, folder, frame)

    import numpy as np

    from sensorfuse.geometry import project_points
    from sensorfuse.io import read_kitti_object_calib, read_velodyne_bin, rig_from_kitti_object_calib
    from sensorfuse.io.images import read_image_size

    calib = read_kitti_object_calib(file("calib"))
    out: dict[str, Any] = {"frame": frame, "calib": {"fx_px": calib.P2[0, 0], "T_cam0rect_velo": calib.T_cam0rect_velo}}
    img = file("image_2")
    size = read_image_size(img) if img is not None else None
    if size:
        out["image_2"] = {"width": size[0], "height": size[1]}
    velo = file("velodyne")
    if velo is not None:
        cloud = read_velodyne_bin(velo)
        xyz = cloud.xyz
        info: dict[str, Any] = {
            "points": len(cloud),
            "xyz_min_m": xyz.min(axis=0).round(2),
            "xyz_max_m": xyz.max(axis=0).round(2),
            "max_range_m": round(float(np.linalg.norm(xyz, axis=1).max()), 2),
            "intensity_range": [float(cloud.intensity.min()), float(cloud.intensity.max())],
        }
        if size:
            rig = rig_from_kitti_object_calib(calib, size)
            cam = rig.sensor("cam2").camera
            _, _, mask = project_points(xyz, rig.transform("cam2", "velodyne"), cam)
            info["points_in_image_2"] = int(mask.sum())
        out["velodyne"] = info
    labels = file("label_2")
    if labels is not None:
        classes = [ln.split()[0] for ln in labels.read_text().splitlines() if ln.strip()]
        out["label_2"] = {c: classes.count(c) for c in sorted(set(classes))}
    return out


def describe_kitti_frames(path: Path, frame: str | None = None) -> dict[str, Any]:
    """Points, image size and labels of every frame (or ``frame``) of a KITTI object folder."""
    frames = kitti_object_frames(path)
    if frame is not None:
        frames = [f for f in frames if f[0].endswith(frame)]
        if not frames:
            names = ", ".join(n for n, _, _ in kitti_object_frames(path))
            raise FormatError(f"{path}: no frame {frame!r}; frames: {names}")
    if not frames:
        raise FormatError(f"{path}: no calib/*.txt found")
    described = [_describe_kitti_frame(split, stem) | {"frame": name} for name, split, stem in frames]
    return {"format": "kitti_object", "path": str(path), "frames": described}


def describe_rig(path: Path, kind: str) -> dict[str, Any]:
    """A rig file, a KITTI raw calibration folder or EuRoC sensor.yaml files as a rig (``"rig"``: the rig-file
    dictionary, ``"rig_object"``: the :class:`~sensorfuse.rig.Rig`)."""
    from sensorfuse.io import load_rig, read_kitti_raw_calib, rig_from_euroc, rig_from_kitti_raw_calib, rig_to_dict

    if kind == "rig":
        rig = load_rig(path)
    elif kind == "kitti-raw-calib":
        rig = rig_from_kitti_raw_calib(read_kitti_raw_calib(path), source=str(path))
    else:
        rig = rig_from_euroc(path)
    return {"format": kind.replace("-", "_"), "path": str(path), "rig": rig_to_dict(rig), "rig_object": rig}
