"""Start-up and short-log cost, in fresh processes (what a fleet of many short logs pays per log).

Side by side in one run, each the median of --repeat runs of a whole new Python process:

- ``python -c pass``: the interpreter alone;
- ``import sensorfuse.io`` (goal <= 0.2 s) and ``fuse-sync --help``;
- the baseline of the issue: a bare rosbags read of the log (``AnyReader`` + deserialise every message) in a fresh
  process, plus ``write``: files of the sizes fuse-sync writes, written by one process from one buffer;
- ``fuse-sync LOG -o OUT`` with the numba cache warm (one run first); ratio = fuse-sync / (read + write), goal 1.5.

The log is made once: ``fuse-sim DIR --duration 10 --format mcap --truth-images 0`` (small rig, 10 s, ~50 MB).

Run: python benchmarks/startup.py [--log /tmp/bstart/log] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent

READ = r"""
import sys
from pathlib import Path
from rosbags.highlevel import AnyReader
with AnyReader([Path(sys.argv[1])]) as rd:
    for con, ts, raw in rd.messages():
        rd.deserialize(raw, con.msgtype)
"""

WRITE = r"""
import json, os, sys
sizes = json.load(open(sys.argv[1]))
out = sys.argv[2]
os.makedirs(out)
buf = os.urandom(max(sizes))
for k, size in enumerate(sizes):
    with open(os.path.join(out, f"{k:06d}.bin"), "wb") as f:
        f.write(memoryview(buf)[:size])
"""


def _wall(cmd: list[str]) -> float:
    os.sync()
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)}: {p.stderr[-2000:]}")
    return dt


def _median(cmd_factory, repeat: int) -> float:
    return statistics.median(_wall(cmd_factory(k)) for k in range(repeat))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", default="/tmp/bstart/log", help="a 10 s small-rig MCAP log (made if missing)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    log = Path(args.log)
    if not log.exists():
        subprocess.run(
            [BIN / "fuse-sim", str(log.parent), "--duration", "10", "--format", "mcap", "--truth-images", "0"],
            check=True,
            capture_output=True,
        )
    size_mb = sum(f.stat().st_size for f in log.rglob("*") if f.is_file()) / 2**20 if log.is_dir() else 0
    tmp = Path(tempfile.mkdtemp(prefix="bstart"))
    try:
        out = tmp / "warm"
        subprocess.run([BIN / "fuse-sync", str(log), "-o", str(out)], check=True, capture_output=True)  # numba cache
        sizes = [f.stat().st_size for f in out.rglob("*") if f.is_file()]
        (tmp / "sizes.json").write_text(json.dumps(sizes))
        py = sys.executable
        rows = [
            ("python -c pass", _median(lambda k: [py, "-c", "pass"], args.repeat)),
            ("import sensorfuse.io", _median(lambda k: [py, "-c", "import sensorfuse.io"], args.repeat)),
            ("import sensorfuse.io + open(log)", _median(
                lambda k: [py, "-c", f"import sensorfuse.io as io; io.open({str(log)!r}).close()"], args.repeat)),
            ("fuse-sync --help", _median(lambda k: [str(BIN / "fuse-sync"), "--help"], args.repeat)),
            ("rosbags bare read", _median(lambda k: [py, "-c", READ, str(log)], args.repeat)),
            ("write files of fuse-sync's sizes", _median(
                lambda k: [py, "-c", WRITE, str(tmp / "sizes.json"), str(tmp / f"w{k}")], args.repeat)),
            ("fuse-sync LOG -o OUT", _median(
                lambda k: [str(BIN / "fuse-sync"), str(log), "-o", str(tmp / f"s{k}")], args.repeat)),
        ]  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t = dict(rows)
    print(f"log {log} ({size_mb:.0f} MB, {len(sizes)} files written by fuse-sync); median of {args.repeat} processes")
    print(f"{'what':36} {'wall s':>7}")
    for name, s in rows:
        print(f"{name:36} {s:7.3f}")
    floor = t["rosbags bare read"] + t["write files of fuse-sync's sizes"]
    print(f"{'import sensorfuse.io - python':36} {t['import sensorfuse.io'] - t['python -c pass']:7.3f}  (goal <= 0.2)")
    print(f"{'fuse-sync / (read + write)':36} {t['fuse-sync LOG -o OUT'] / floor:7.2f}  (goal <= 1.5)")


if __name__ == "__main__":
    main()
