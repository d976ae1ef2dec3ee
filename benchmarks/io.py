"""Streaming PointCloud2 -> PointCloud from a >= 1 GB MCAP: sensorfuse.io.open(...).read() vs a bare loop of
rosbags AnyReader + deserialize_cdr over the same messages, for four point layouts, and the reader's memory.

The log (written once, then reused from --out) holds simulated LiDAR sweeps: the points of the simulator's sample
log (sample_data/sim_small), tiled to 64 x 2048 = 131,072 points per sweep, in four layouts:

- ``packed``: x y z intensity (float32) t (uint32) ring (uint16), 22 bytes rounded up to 24 (Velodyne/Ouster-like);
- ``padded``: the Ouster driver's 48-byte point (x y z, 4 pad, intensity, t, reflectivity, ring, noise, range, pad);
- ``bigendian``: the packed layout with is_bigendian = true;
- ``nan``: an organised 64 x 2048 cloud, 32-byte points, 15 % NaN returns (is_dense = false).

Each timing (opening the log included, for both) is the best of three interleaved passes, over the page-cached file
or, with --cold, after dropping the page cache (root only), i.e. read from disk; memory is measured in fresh processes (RSS after
imports, then the peak while reading every topic, sampled every 5 ms).

Run: python benchmarks/io.py [--out DIR] [--sweeps N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
START = 1_700_000_000_000_000_000
N_POINTS = 64 * 2048


def _layouts() -> dict[str, tuple[list[tuple[str, int, int]], int, bool, bool]]:
    """topic -> (fields (name, offset, PointField datatype), point_step, big_endian, organised_with_nan)."""
    f4, u4, u2, u1 = 7, 6, 4, 2
    packed = [("x", 0, f4), ("y", 4, f4), ("z", 8, f4), ("intensity", 12, f4), ("t", 16, u4), ("ring", 20, u2)]
    ouster = [("x", 0, f4), ("y", 4, f4), ("z", 8, f4), ("intensity", 16, f4), ("t", 20, u4)]
    ouster += [("reflectivity", 24, u2), ("ring", 26, u1), ("noise", 28, u2), ("range", 32, u4)]
    nan = [("x", 0, f4), ("y", 4, f4), ("z", 8, f4), ("intensity", 16, f4), ("t", 20, u4), ("ring", 24, u2)]
    return {
        "/lidar/packed": (packed, 24, False, False),
        "/lidar/padded": (ouster, 48, False, False),
        "/lidar/bigendian": (packed, 24, True, False),
        "/lidar/nan": (nan, 32, False, True),
    }


_NP = {7: "f4", 6: "u4", 4: "u2", 2: "u1"}


def _source_points() -> dict[str, np.ndarray]:
    from sensorfuse.io import open as open_log

    with open_log(REPO / "sample_data" / "sim_small" / "log") as r:
        clouds = [m.data for m in r.read("/lidar/points")]
    xyz = np.concatenate([c.xyz for c in clouds])
    reps = -(-N_POINTS // len(xyz))
    xyz = np.tile(xyz, (reps, 1))[:N_POINTS]
    inten = np.tile(np.concatenate([c.intensity for c in clouds]), reps)[:N_POINTS]
    t = np.tile(np.concatenate([c.t_offset_ns for c in clouds]), reps)[:N_POINTS].astype(np.uint32)
    ring = (np.arange(N_POINTS) // 2048).astype(np.uint16)
    rng_m = np.linalg.norm(xyz, axis=1)
    return {
        "x": xyz[:, 0],
        "y": xyz[:, 1],
        "z": xyz[:, 2],
        "intensity": inten,
        "t": t,
        "ring": ring,
        "reflectivity": inten.astype(np.uint16),
        "noise": np.zeros(N_POINTS, np.uint16),
        "range": (rng_m * 1000).astype(np.uint32),
    }


def write_log(out: Path, sweeps: int) -> Path:
    from sensorfuse.io.ros.writer import LogWriter

    path = out / "log"
    if path.exists():
        return path
    out.mkdir(parents=True, exist_ok=True)
    cols = _source_points()
    rng = np.random.default_rng(0)
    with LogWriter(path, "mcap") as w:
        T = w.typestore.types
        for topic, (fields, step, big, organised) in _layouts().items():
            order = ">" if big else "<"
            dtype = np.dtype(
                {
                    "names": [f[0] for f in fields],
                    "formats": [order + _NP[f[2]] for f in fields],
                    "offsets": [f[1] for f in fields],
                    "itemsize": step,
                }
            )
            arr = np.zeros(N_POINTS, dtype)
            for name, _, _ in fields:
                arr[name] = cols[name]
            if organised:
                bad = rng.random(N_POINTS) < 0.15
                for c in "xyz":
                    arr[c][bad] = np.nan
            data = arr.view(np.uint8)
            pf = [T["sensor_msgs/msg/PointField"](name=n, offset=o, datatype=d, count=1) for n, o, d in fields]
            h, wdt = (64, 2048) if organised else (1, N_POINTS)
            for i in range(sweeps):
                stamp = START + i * 100_000_000
                msg = T["sensor_msgs/msg/PointCloud2"](
                    header=w._header(stamp, "lidar"),
                    height=h,
                    width=wdt,
                    fields=pf,
                    is_bigendian=big,
                    point_step=step,
                    row_step=step * wdt,
                    data=data,
                    is_dense=not organised,
                )
                w.write_ros(topic, stamp + 5_000_000, "sensor_msgs/msg/PointCloud2", msg)
    return path


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _baseline(path: Path, topic: str) -> int:
    from rosbags.highlevel import AnyReader

    n = 0
    with AnyReader([path]) as reader:
        conns = [c for c in reader.connections if c.topic == topic]
        for conn, _t, raw in reader.messages(connections=conns):
            reader.deserialize(raw, conn.msgtype)
            n += 1
    return n


def _ours(path: Path, topic: str) -> int:
    from sensorfuse.io import open as open_log

    n = 0
    with open_log(path) as r:
        for m in r.read(topic):
            assert len(m.data) > 0
            n += 1
    return n


def measure_memory(path: Path, which: str) -> dict[str, float]:
    """In this (fresh) process: RSS after imports, then the peak while reading every topic."""
    import rosbags.highlevel  # noqa: F401

    import sensorfuse.io  # noqa: F401
    from sensorfuse.io.ros.pointcloud2 import decode_cloud  # noqa: F401

    base = _rss_mb()
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    fn = _ours if which == "ours" else _baseline
    for topic in _layouts():
        fn(path, topic)
    done.set()
    th.join()
    return {"base_mb": base, "peak_mb": peak[0], "above_mb": peak[0] - base}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "sensorfuse_bench_io")
    ap.add_argument("--sweeps", type=int, default=80, help="sweeps per layout (80 -> 1.2 GB)")
    ap.add_argument(
        "--cold", action="store_true", help="drop the page cache before every pass (needs root): disk-bound reading"
    )
    ap.add_argument("--memory", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory:
        print(json.dumps(measure_memory(args.out / "log", args.memory)))
        return
    t0 = time.perf_counter()
    path = write_log(args.out, args.sweeps)
    size = sum(f.stat().st_size for f in path.rglob("*.mcap"))
    print(
        f"log: {path} ({size / 1e9:.2f} GB, {args.sweeps} sweeps x 4 layouts, {N_POINTS} points each; "
        f"ready in {time.perf_counter() - t0:.0f} s)"
    )

    def drop_cache() -> None:
        if args.cold:
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("1\n")

    for f in path.rglob("*.mcap"):  # page cache
        with f.open("rb") as fh:
            while fh.read(1 << 24):
                pass
    print("cache: " + ("cold (dropped before every pass)" if args.cold else "warm (file in the page cache)"))
    print(
        f"{'layout':<12} {'MB':>7} {'rosbags s':>10} {'ours s':>8} {'rosbags MB/s':>13} {'ours MB/s':>10} {'ratio':>6}"
    )
    fields = _layouts()
    for topic, (_f, step, _b, _o) in fields.items():
        mb = args.sweeps * N_POINTS * step / 1e6
        tb, to = [], []
        for _ in range(3):
            drop_cache()
            s = time.perf_counter()
            assert _baseline(path, topic) == args.sweeps
            tb.append(time.perf_counter() - s)
            drop_cache()
            s = time.perf_counter()
            assert _ours(path, topic) == args.sweeps
            to.append(time.perf_counter() - s)
        b, o = min(tb), min(to)
        print(
            f"{topic.split('/')[-1]:<12} {mb:>7.0f} {b:>10.2f} {o:>8.2f} {mb / b:>13.0f} {mb / o:>10.0f} {b / o:>6.2f}"
        )
    for which in ("baseline", "ours"):
        res = subprocess.run(
            [sys.executable, __file__, "--out", str(args.out), "--memory", which],
            capture_output=True,
            text=True,
            check=True,
        )
        m = json.loads(res.stdout)
        print(
            f"memory {which:<8}: RSS after imports {m['base_mb']:.0f} MB, peak while reading {m['peak_mb']:.0f} MB "
            f"(+{m['above_mb']:.0f} MB)"
        )


if __name__ == "__main__":
    main()
