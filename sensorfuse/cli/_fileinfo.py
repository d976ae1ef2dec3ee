"""The single-file part of ``fuse-info``: PCD clouds, OpenCalib calibration JSON and radar CSV, images, and folders
of such files (OpenCalib samples, calibration image sets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError

SUFFIXES = {".pcd", ".json", ".csv", ".png", ".jpg", ".jpeg", ".bin"}


def describe_file(path: Path) -> dict[str, Any]:
    from sensorfuse.io.images import read_image_size
    from sensorfuse.io.opencalib import read_opencalib_json, read_opencalib_radar_csv, read_pcd

    suffix = path.suffix.lower()
    if path.name.endswith(".pcd.bin"):
        from sensorfuse.io.dataset import read_nuscenes_lidar_bin

        cloud = read_nuscenes_lidar_bin(path)
        return {
            "file": str(path),
            "kind": "nuscenes-lidar-bin",
            "points": len(cloud),
            "fields": ["x", "y", "z", "intensity", "ring"],
            "per_point_time": "none",
        }
    if suffix == ".bin":
        from sensorfuse.io.kitti import read_velodyne_bin

        cloud = read_velodyne_bin(path)
        return {
            "file": str(path),
            "kind": "kitti-velodyne-bin",
            "points": len(cloud),
            "fields": ["x", "y", "z", "intensity"],
            "per_point_time": "none",
        }
    if suffix == ".pcd":
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
    if suffix == ".json":
        out = []
        for p in read_opencalib_json(path):
            d: dict[str, Any] = {"key": p.key, "sensor": p.sensor, "target": p.target}
            if p.camera is not None:
                d |= {"camera": p.camera.model, "size": p.camera.size, "K": p.camera.K, "dist": p.camera.dist}
            else:
                d |= {"T_target_source": p.T_target_source, "time_lag_s": p.time_lag_s}
            out.append(d)
        return {"file": path.name, "kind": "opencalib-json", "entries": out}
    if suffix == ".csv":
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
    if suffix in (".png", ".jpg", ".jpeg"):
        w, h = read_image_size(path)
        return {"file": path.name, "kind": "image", "width": w, "height": h}
    raise FormatError(f"{path}: fuse-info does not know {suffix} files")


def describe_folder(path: Path) -> dict[str, Any]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)[:500]
    if not files:
        raise FormatError(f"{path}: no log, dataset, PCD, OpenCalib or image files")
    described, skipped = [], []
    for f in files:
        try:
            described.append(describe_file(f) | {"file": str(f.relative_to(path))})
        except FormatError as exc:
            skipped.append({"file": str(f.relative_to(path)), "reason": str(exc)})
    return {"path": str(path), "format": "files", "files": described, "not_understood": skipped}


def print_files(d: dict[str, Any]) -> None:
    from rich.table import Table

    from sensorfuse.cli._common import console

    c = console()
    t = Table(title=d["path"])
    for col in ("file", "kind", "what"):
        t.add_column(col, overflow="fold")
    for f in d["files"]:
        if f["kind"] in ("pcd", "nuscenes-lidar-bin", "kitti-velodyne-bin"):
            what = f"{f['points']} points, fields {' '.join(f['fields'])}, per-point time: {f['per_point_time']}"
        elif f["kind"] == "image":
            what = f"{f['width']}x{f['height']}"
        elif f["kind"] == "opencalib-radar-csv":
            what = f"{f['scans']} scans, {f['detections']} detections, rcs {f['rcs']}"
        else:
            parts = []
            for e in f["entries"]:
                if "camera" in e:
                    K = np.asarray(e["K"])
                    parts.append(f"{e['sensor']}: {e['camera']} {e['size'][0]}x{e['size'][1]} fx={K[0, 0]:.2f}")
                else:
                    T = np.asarray(e["T_target_source"])
                    parts.append(f"T_{e['target']}_{e['sensor']} t={np.round(T[:3, 3], 4).tolist()}")
            what = "; ".join(parts)
        t.add_row(f["file"], f["kind"], what)
    for s in d["not_understood"]:
        t.add_row(s["file"], "-", s["reason"])
    c.print(t)
