"""fuse-view frame loading: the time from "next frame" to a rendered view, per stage, against the issue's goal
(well under 1 s for a 120k-point frame after the first).

For every frame of the KITTI object folder in ../shared/data (120k points each), the first frame included (numba
kernels load from the cache, the window is created), and the simulator sample log (12k points, synchronised on the
fly) and the nuScenes keyframe (35k points, six images):

- ``read_ms``: ``source.frame(i)`` (files, transforms, label cross-check);
- ``geometry_ms``: the Open3D geometries (colours, boxes, frusta with images);
- ``render_ms``: drawing the chase view into the hidden window and reading it back.

Run under a display or xvfb-run (or headless EGL): python benchmarks/viewer.py [--json] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sensorfuse.pipelines.view import open_view
from sensorfuse.viz.render import Renderer, geometries

REPO = Path(__file__).resolve().parents[1]


def _time(path: Path, renderer: Renderer) -> list[dict]:
    rows = []
    with open_view(path) as src:
        for i in range(len(src)):
            t0 = time.perf_counter()
            fr = src.frame(i)
            t1 = time.perf_counter()
            geometries(fr)
            t2 = time.perf_counter()
            renderer.render(fr, "chase")  # builds the geometries again and draws them
            t3 = time.perf_counter()
            render = (t3 - t2) - (t2 - t1)
            rows.append(
                {
                    "source": path.name,
                    "frame": fr.name,
                    "points": int(fr.xyz.shape[0]),
                    "read_ms": round((t1 - t0) * 1e3, 1),
                    "geometry_ms": round((t2 - t1) * 1e3, 1),
                    "render_ms": round(max(render, 0.0) * 1e3, 1),
                    "total_ms": round((t1 - t0 + t3 - t2) * 1e3, 1),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t = time.perf_counter()
    renderer = Renderer(1280, 720)
    window_ms = (time.perf_counter() - t) * 1e3
    rows = []
    for p in (a.data / "kitti_object", REPO / "sample_data" / "sim_small", a.data / "nuscenes_mini_scene0061_sample0"):
        rows += _time(p, renderer)
    renderer.close()
    later = [r["total_ms"] for r in rows[1:] if r["source"] == "kitti_object"]
    summary = {"window_ms": round(window_ms, 1), "kitti_after_first_max_ms": max(later), "goal_ms": 1000}
    if a.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=2))
        return
    print(f"hidden 1280x720 window created in {window_ms:.0f} ms")
    print(f"{'source':<34} {'frame':<16} {'points':>7} {'read':>7} {'geometry':>9} {'render':>7} {'total':>7}  (ms)")
    for r in rows:
        print(
            f"{r['source']:<34} {r['frame']:<16} {r['points']:>7} {r['read_ms']:>7} {r['geometry_ms']:>9} "
            f"{r['render_ms']:>7} {r['total_ms']:>7}"
        )
    print(f"KITTI frames after the first: at most {max(later):.0f} ms (goal: well under 1000 ms)")


if __name__ == "__main__":
    main()
