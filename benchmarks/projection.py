"""Projection + z-buffer: numba kernels vs the numpy reference vs an OpenCV path vs a memcpy of the input.

On a KITTI object frame from ../shared/data (~115k points, 1242x375) with a Brown-Conrady model with KITTI-like
coefficients and the z-buffer on:

- ``numba_ms``: :func:`sensorfuse.geometry.projection.project_cloud` (transform, project, mask, z-buffer, visibility);
- ``numpy_ms``: :func:`project_cloud_numpy`, the vectorised numpy reference (same outputs);
- ``opencv_ms``: ``cv2.projectPoints`` + the same masking (front, fold-back radius, image) and the numpy z-buffer;
- ``memcpy_ms``: copying the input xyz array once (the memory floor);
- ``output_floor_ms``: a numba loop that only allocates and writes the outputs :func:`project_cloud` returns (uv and
  depth float64, valid and visible masks, the zeroed float32 depth image), with no arithmetic and no z-buffer: what
  any kernel with this API must spend before it computes anything.

Then a scaling table (10k -> 2M points, the frame's points tiled with jitter), a 1920x1080 camera and the six cameras
of the nuScenes sample. Median of repeated runs after a warm-up (the kernels are compiled and cached beforehand).

Run: python benchmarks/projection.py [--json] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numba as nb
import numpy as np

from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.projection import project_cloud, project_cloud_numpy, zbuffer_numpy

BC = np.array([-0.3, 0.12, 0.001, -0.0005, -0.02])


def _ms(fn, repeat: int = 15) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def _opencv(xyz: np.ndarray, T: np.ndarray, cam: CameraModel) -> None:
    import cv2

    P = xyz.astype(np.float64)
    rvec, _ = cv2.Rodrigues(T[:3, :3])
    uv, _ = cv2.projectPoints(P, rvec, T[:3, 3], cam.K, cam.dist)
    uv = uv[:, 0, :]
    Pc = P @ T[:3, :3].T + T[:3, 3]
    z = Pc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = (Pc[:, 0] / z) ** 2 + (Pc[:, 1] / z) ** 2
    valid = (z > 0) & (r2 <= cam.max_undistorted_radius**2) & cam.in_image(uv)
    uv[~valid] = np.nan
    zbuffer_numpy(uv, z, valid, cam.width, cam.height)


@nb.njit(cache=True)
def _write_outputs(P: np.ndarray, uv: np.ndarray, depth: np.ndarray, valid: np.ndarray, visible: np.ndarray,
                   image: np.ndarray) -> None:  # fmt: skip
    image[:] = 0.0
    for i in range(P.shape[0]):
        uv[i, 0] = P[i, 0]
        uv[i, 1] = P[i, 1]
        depth[i] = P[i, 2]
        valid[i] = True
        visible[i] = True


def _output_floor(xyz: np.ndarray, cam: CameraModel) -> None:
    n = xyz.shape[0]
    flags = (np.empty(n, np.bool_), np.empty(n, np.bool_))
    _write_outputs(xyz, np.empty((n, 2)), np.empty(n), *flags, np.empty((cam.height, cam.width), np.float32))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    from sensorfuse.io.kitti.calib import read_kitti_object_calib
    from sensorfuse.io.kitti.velodyne import read_velodyne_bin

    d = Path(args.data) / "kitti_object" / "training"
    cal = read_kitti_object_calib(d / "calib" / "000000.txt")
    xyz = read_velodyne_bin(d / "velodyne" / "000000.bin").xyz
    T = cal.T_camrect_cam0rect(2) @ cal.T_cam0rect_velo
    cam = CameraModel(cal.K(2), BC, "brown_conrady", 1242, 375)
    _ = cam.max_undistorted_radius  # the model's fold-back radius: computed once per camera, not per call
    res = {
        "points": int(xyz.shape[0]),
        "numba_ms": _ms(lambda: project_cloud(xyz, T, cam, zbuffer=True)),
        "numpy_ms": _ms(lambda: project_cloud_numpy(xyz, T, cam, zbuffer=True), 7),
        "opencv_ms": _ms(lambda: _opencv(xyz, T, cam), 7),
        "memcpy_ms": _ms(lambda: xyz.copy(), 50),
        "output_floor_ms": _ms(lambda: _output_floor(xyz, cam), 50),
    }
    res["numba_vs_numpy"] = res["numpy_ms"] / res["numba_ms"]
    res["numba_vs_opencv"] = res["opencv_ms"] / res["numba_ms"]
    res["numba_vs_memcpy"] = res["numba_ms"] / res["memcpy_ms"]
    res["output_floor_vs_memcpy"] = res["output_floor_ms"] / res["memcpy_ms"]
    rng = np.random.default_rng(0)
    scaling = []
    for n in (10_000, 100_000, 1_000_000, 2_000_000):
        k = -(-n // xyz.shape[0])
        big = (np.tile(xyz, (k, 1))[:n] + rng.normal(0, 0.02, (n, 3))).astype(np.float32)
        ms = _ms(lambda big=big: project_cloud(big, T, cam, zbuffer=True), 7)
        scaling.append({"points": n, "numba_ms": ms, "ns_per_point": ms * 1e6 / n})
    res["scaling"] = scaling
    K_hd = np.array([[1400.0, 0, 959.5], [0, 1400.0, 539.5], [0, 0, 1]])
    hd = CameraModel(K_hd, BC * 0.5, "brown_conrady", 1920, 1080)
    res["hd_1920x1080_ms"] = _ms(lambda: project_cloud(xyz, T, hd, zbuffer=True))
    res["nuscenes_six_cameras_ms"] = _nuscenes(Path(args.data))
    if args.json:
        print(json.dumps(res))
        return
    print(f"KITTI frame, {res['points']} points, 1242x375 Brown-Conrady, z-buffer on (median ms)")
    print(f"{'numba':>8} {'numpy':>8} {'opencv':>8} {'memcpy':>8} | {'vs numpy':>8} {'vs opencv':>9} {'/ memcpy':>8}")
    print(
        f"{res['numba_ms']:8.2f} {res['numpy_ms']:8.2f} {res['opencv_ms']:8.2f} {res['memcpy_ms']:8.3f} | "
        f"{res['numba_vs_numpy']:7.1f}x {res['numba_vs_opencv']:8.1f}x {res['numba_vs_memcpy']:7.1f}x"
    )
    print(
        f"writing the outputs alone (no arithmetic, no z-buffer): {res['output_floor_ms']:.3f} ms = "
        f"{res['output_floor_vs_memcpy']:.1f}x memcpy"
    )
    print(f"\n{'points':>10} {'numba ms':>9} {'ns/point':>9}")
    for row in scaling:
        print(f"{row['points']:10d} {row['numba_ms']:9.2f} {row['ns_per_point']:9.1f}")
    print(f"\n1920x1080 camera: {res['hd_1920x1080_ms']:.2f} ms")
    if res["nuscenes_six_cameras_ms"] is not None:
        print(f"nuScenes LIDAR_TOP onto six cameras: {res['nuscenes_six_cameras_ms']:.2f} ms")


def _nuscenes(data: Path) -> float | None:
    """LIDAR_TOP of the nuScenes sample onto its six cameras (1600x900 pinhole), calibration from the sample's
    mmdet3d info file (``lidar2ego``, ``cam2ego``, ``cam2img``)."""
    root = data / "nuscenes_mini_scene0061_sample0"
    infos = sorted((root / "mmdet3d_originals").glob("*_info.json"))
    bins = sorted((root / "samples" / "LIDAR_TOP").glob("*.pcd.bin"))
    if not infos or not bins:
        return None
    info = json.loads(infos[0].read_text())["data_list"][0]
    xyz = np.fromfile(bins[0], np.float32).reshape(-1, 5)[:, :3]
    lidar2ego = np.array(info["lidar_points"]["lidar2ego"])
    views = []
    for im in info["images"].values():
        T = np.linalg.inv(np.array(im["cam2ego"])) @ lidar2ego
        views.append((T, CameraModel(np.array(im["cam2img"])[:3, :3], np.zeros(0), "pinhole", 1600, 900)))
    return _ms(lambda: [project_cloud(xyz, T, c, zbuffer=True) for T, c in views])


if __name__ == "__main__":
    main()
