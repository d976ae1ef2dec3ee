"""fuse-sync throughput and memory vs a bare rosbags read of the same messages, on simulator logs.

For each log (full rig: 64-beam LiDAR 10 Hz, two 1280x720 cameras 30 Hz, IMU 200 Hz, radar 20 Hz, GNSS, odometry):

- ``fuse-sync``: ``run_sync(log, out)`` with its defaults (deskew to sweep end, lossless output), wall time;
- ``rosbags``: ``AnyReader`` + ``deserialize_cdr`` over the same topics, nothing else (the baseline of the issue);
- real-time factor = log duration / fuse-sync wall time; ratio = fuse-sync / rosbags;
- peak RSS of fuse-sync in a fresh process (sampled every 10 ms), for the memory bound (60 s vs 10 s log).

Logs are made once with ``fuse-sim DIR --rig full --duration D --format mcap --truth-images 0`` (``--image-format
raw`` for the raw-image log) and reused from --logs.

Run: python benchmarks/sync.py [--logs /tmp/bsync]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, threading, time, resource
from pathlib import Path
log, out, what = sys.argv[1], sys.argv[2], sys.argv[3]
if what == "sync":
    from sensorfuse.pipelines.sync import SyncOptions, run_sync
    t = time.perf_counter(); r = run_sync(log, out, SyncOptions()); dt = time.perf_counter() - t
    n = sum(r["written"].values())
else:
    from rosbags.highlevel import AnyReader
    t = time.perf_counter(); n = 0
    with AnyReader([Path(log)]) as rd:
        cons = [c for c in rd.connections if c.topic not in ("/tf_static",)]
        for con, ts, raw in rd.messages(connections=cons):
            rd.deserialize(raw, con.msgtype); n += 1
    dt = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": dt, "messages": n, "peak_rss_mb": rss}))
"""


def _run(log: Path, what: str) -> dict:
    out = Path(tempfile.mkdtemp()) / "out"
    try:
        p = subprocess.run([sys.executable, "-c", CHILD, str(log), str(out), what], capture_output=True, text=True)
        if p.returncode:
            raise SystemExit(p.stderr)
        return json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", default="/tmp/bsync", help="folder with jpeg60/, jpeg10/, raw10/ (fuse-sim outputs)")
    args = ap.parse_args()
    root = Path(args.logs)
    rows = []
    for name, dur in (("jpeg60", 60.0), ("jpeg10", 10.0), ("raw10", 10.0)):
        log = root / name / "log"
        if not log.exists():
            print(f"skip {name}: {log} missing (make it with fuse-sim, see the docstring)")
            continue
        base = min((_run(log, "rosbags") for _ in range(2)), key=lambda r: r["wall_s"])
        ours = min((_run(log, "sync") for _ in range(2)), key=lambda r: r["wall_s"])
        rows.append((name, dur, ours, base))
    print(
        f"{'log':8} {'msgs':>7} {'fuse-sync s':>11} {'rosbags s':>9} {'ratio':>6} {'x real time':>11} {'peak RSS MB':>11}"
    )
    for name, dur, ours, base in rows:
        print(
            f"{name:8} {ours['messages']:7d} {ours['wall_s']:11.2f} {base['wall_s']:9.2f} "
            f"{ours['wall_s'] / base['wall_s']:6.2f} {dur / ours['wall_s']:11.1f} {ours['peak_rss_mb']:11.0f}"
        )


if __name__ == "__main__":
    main()
