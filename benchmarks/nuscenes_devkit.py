"""Our projection of the nuScenes sample against nuscenes-devkit itself (not a reimplementation).

nuscenes-devkit pins numpy < 2, so it cannot share sensorfuse's environment; this runs in two:

1. ``python benchmarks/nuscenes_devkit.py dump OUT.npz`` (sensorfuse's venv): LIDAR_TOP projected into the six cameras
   with ``project_cloud`` and mmdetection3d's ``lidar2cam`` (the chain through the global frame), the kept points
   under ``map_pointcloud_to_image``'s rules (depth > 1 m, 1 px margins).
2. ``python benchmarks/nuscenes_devkit.py compare OUT.npz`` (a venv with ``pip install nuscenes-devkit``): the
   devkit's ``LidarPointCloud.transform`` + ``view_points(normalize=True)`` + that function's mask, verbatim; prints
   per camera whether the same points are kept and the largest pixel difference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CAMERAS = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")


def dump(out: Path, data: Path) -> None:
    from sensorfuse.geometry.camera import CameraModel
    from sensorfuse.geometry.projection import project_cloud

    root = data / "nuscenes_mini_scene0061_sample0"
    info = json.loads(next((root / "mmdet3d_originals").glob("*_info.json")).read_text())["data_list"][0]
    xyz = np.fromfile(next((root / "samples" / "LIDAR_TOP").glob("*.pcd.bin")), np.float32).reshape(-1, 5)[:, :3]
    arrays = {"xyz": xyz}
    for ch in CAMERAS:
        im = info["images"][ch]
        K, l2c = np.array(im["cam2img"])[:3, :3], np.array(im["lidar2cam"])
        q = project_cloud(xyz, l2c, CameraModel(K, np.zeros(0), "pinhole", 1600, 900))
        u, v = q.uv[:, 0], q.uv[:, 1]
        with np.errstate(invalid="ignore"):
            keep = q.valid & (q.depth > 1.0) & (u > 1) & (u < 1599) & (v > 1) & (v < 899)
        arrays |= {f"{ch}_uv": q.uv, f"{ch}_keep": keep, f"{ch}_K": K, f"{ch}_l2c": l2c}
    np.savez(out, **arrays)


def compare(path: Path) -> None:
    from nuscenes.utils.data_classes import LidarPointCloud
    from nuscenes.utils.geometry_utils import view_points

    d = np.load(path)
    xyz = d["xyz"]
    print(f"{'camera':16s} {'kept':>5s}  same kept points  max px difference")
    for ch in CAMERAS:
        pc = LidarPointCloud(np.r_[xyz.T.astype(np.float32), np.zeros((1, len(xyz)), np.float32)])
        pc.transform(d[f"{ch}_l2c"])
        depths = pc.points[2, :]
        pts = view_points(pc.points[:3, :], d[f"{ch}_K"], normalize=True)
        mask = (depths > 1.0) & (pts[0] > 1) & (pts[0] < 1600 - 1) & (pts[1] > 1) & (pts[1] < 900 - 1)
        same = bool((mask == d[f"{ch}_keep"]).all())
        diff = float(np.abs(pts[:2, mask].T - d[f"{ch}_uv"][mask]).max()) if same else float("nan")
        print(f"{ch:16s} {int(mask.sum()):5d}  {same!s:16s}  {diff:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("dump", "compare"))
    ap.add_argument("npz", type=Path)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    a = ap.parse_args()
    dump(a.npz, a.data) if a.mode == "dump" else compare(a.npz)


if __name__ == "__main__":
    main()
