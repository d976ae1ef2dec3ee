"""Camera rendering in the simulator: the numba rasteriser vs Open3D RaycastingScene on the same scene and rays.

Prints one table (ms per 1280x720 frame, visibility + depth + instance; the rasteriser also shades textures), and the
share of pixels on which both see the same object. Run: python benchmarks/sim_render.py
"""

from __future__ import annotations

import time

import numpy as np
import open3d as o3d

from sensorfuse.geometry.raster import rasterize
from sensorfuse.sim.rigs import preset_rig, without_noise
from sensorfuse.sim.scene import build_scene
from sensorfuse.sim.sensors import World
from sensorfuse.sim.trajectory import EgoTrajectory

START = 1_700_000_000_000_000_000


def main(frames: int = 20) -> None:
    rng = np.random.default_rng(0)
    ego = EgoTrajectory.design(10.0, 10.0, rng)
    world = World(build_scene(ego, 10.0, rng), ego, START)
    sim_rig = without_noise(preset_rig("full"))
    print(f"{'camera':<10} {'model':<15} {'raster ms':>10} {'render ms':>10} {'o3d cast ms':>12} {'agree %':>8}")
    for cam in sim_rig.cameras:
        rays = world.camera_rays(cam.name, cam.camera)
        T0 = ego.pose(np.array(1.0)) @ sim_rig.T_base(cam.name)
        world.render(cam.name, cam.camera, T0, START + 10**9, {}, rng)  # compile / warm up
        t_r = t_full = t_o3d = 0.0
        agree = []
        for i in range(frames):
            t_ns = START + 10**9 + i * 400_000_000
            T_wc = ego.pose(world.t_s(t_ns)) @ sim_rig.T_base(cam.name)
            tris, _uv, _m, inst = world.triangles_at(float(world.t_s(t_ns)))
            T_cw = np.linalg.inv(T_wc)
            tris_c = tris @ T_cw[:3, :3].T + T_cw[:3, 3]
            t0 = time.perf_counter()
            _depth, index = rasterize(tris_c, rays)
            t_r += time.perf_counter() - t0
            t0 = time.perf_counter()
            world.render(cam.name, cam.camera, T_wc, t_ns, {}, rng)
            t_full += time.perf_counter() - t0
            t0 = time.perf_counter()
            rc = o3d.t.geometry.RaycastingScene()
            V = tris_c.reshape(-1, 3).astype(np.float32)
            rc.add_triangles(V, np.arange(V.shape[0], dtype=np.uint32).reshape(-1, 3))
            r = rays.rays.reshape(-1, 3)
            ans = rc.cast_rays(o3d.core.Tensor(np.hstack([np.zeros_like(r), r]).astype(np.float32)))
            pid = ans["primitive_ids"].numpy().astype(np.int64)
            t_o3d += time.perf_counter() - t0
            pid[pid == np.iinfo(np.uint32).max] = -1
            ours = np.where(index.ravel() >= 0, inst[np.maximum(index.ravel(), 0)], 0)
            ref = np.where(pid >= 0, inst[np.maximum(pid, 0)], 0)
            agree.append(np.mean(ours == ref))
        n = frames
        print(
            f"{cam.name:<10} {cam.camera.model:<15} {1e3 * t_r / n:>10.1f} {1e3 * t_full / n:>10.1f} "
            f"{1e3 * t_o3d / n:>12.1f} {100 * min(agree):>8.3f}"
        )


if __name__ == "__main__":
    main()
