"""The log part of ``fuse-info``: streams with their timing in each clock, time bases, transforms, intrinsics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def describe_log(path: Path, *, types: Path | None = None, show_progress: bool = True) -> dict[str, Any]:
    """Everything fuse-info says about a log, as plain data (one pass over the stamps)."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from scipy.spatial.transform import Rotation

    from sensorfuse.cli._common import progress_bar
    from sensorfuse.health import time_bases
    from sensorfuse.io import open as open_log

    with open_log(path, types=types) as reader:
        total = sum(s.count for s in reader.streams.values())
        with progress_bar(
            TextColumn("stamps"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            disable=not show_progress or total < 5000,
            transient=True,
        ) as bar:
            task = bar.add_task("stamps", total=total)
            stats = reader.stats(progress=lambda k: bar.update(task, completed=k))
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


def _dur(ns: float) -> str:
    """A duration for people: 3 significant digits in ns, us, ms, s, or days."""
    a = abs(float(ns))
    for unit, scale in (("d", 86400e9), ("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if a >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.0f} ns"


def _t(ns: int | None) -> str:
    """A stamp for people: UTC date and time for epoch stamps, seconds for small clocks (time since power-on)."""
    if ns is None:
        return "-"
    if abs(ns) > 10**17:
        import datetime as dt

        when = dt.datetime.fromtimestamp(ns // 10**9, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return f"{when}.{(ns % 10**9) // 10**6:03d}"
    return f"{ns / 1e9:.3f} s"


def print_log(d: dict[str, Any]) -> None:
    from rich.table import Table

    from sensorfuse.cli._common import console

    c = console()
    c.print(f"[bold]{d['path']}[/]  format {d['format']}, {d['messages']} messages", highlight=False)
    t = Table(title="streams")
    for col in ("topic", "type", "kind", "frame", "count", "rate Hz", "notes"):
        t.add_column(col, overflow="fold")
    for s in d["streams"]:
        tm = s.get("timing") or {}
        notes = list(s["notes"])
        if s["point_time"]:
            notes.insert(0, f"per-point time: {s['point_time']}")
        if not s["decodable"]:
            notes.insert(0, "NOT DECODED")
        if tm.get("clock_jumps"):
            notes.append(f"{tm['clock_jumps']} clock jump(s): stamps from more than one clock")
        t.add_row(
            s["topic"],
            s["msgtype"].replace("/msg/", "/"),
            s["kind"],
            s["frame_id"] or "-",
            str(s["count"]),
            f"{tm['rate_hz']:.2f}" if tm.get("rate_hz") else "-",
            "; ".join(notes),
        )
    c.print(t)
    t = Table(title="timing (header: the messages' own stamps; record: the log's clock; lag = record - header)")
    for col in (
        "topic",
        "header first",
        "header last",
        "record first",
        "jitter",
        "max gap",
        "drops",
        "reordered",
        "lag",
    ):
        t.add_column(col, overflow="fold")
    for s in d["streams"]:
        tm = s.get("timing") or {}
        hdr = tm.get("clock") == "header"
        fmt = (lambda ns: f"GPS {ns / 1e9:.3f} s") if tm.get("gps_time") else _t
        t.add_row(
            s["topic"],
            fmt(tm.get("start_ns")) if hdr else "-",
            fmt(tm.get("end_ns")) if hdr else "-",
            _t(s["log_start_ns"]),
            _dur(tm["jitter_ns"]) if tm.get("jitter_ns") is not None else "-",
            _dur(tm["max_gap_ns"]) if tm.get("max_gap_ns") is not None else "-",
            str(tm.get("dropped_estimate", "-")),
            str(tm.get("out_of_order", "-")),
            _dur(tm["latency_median_ns"]) if tm.get("latency_median_ns") is not None else "-",
        )
    c.print(t)
    for n in d["notes"]:
        c.print(f"[bold yellow]note:[/] {n}", highlight=False)
    if d["static_transforms"]:
        tt = Table(title="static transforms T_parent_child")
        for col in ("parent", "child", "x y z (m)", "roll pitch yaw (deg)"):
            tt.add_column(col, overflow="fold")
        for tr in d["static_transforms"]:
            tt.add_row(
                tr["parent"],
                tr["child"],
                " ".join(f"{v:.4f}" for v in tr["xyz_m"]),
                " ".join(f"{v:.3f}" for v in tr["rpy_deg"]),
            )
        c.print(tt)
    for tr in d["dynamic_transforms"]:
        c.print(f"dynamic transform {tr['parent']} -> {tr['child']}: {_t(tr['start_ns'])} .. {_t(tr['end_ns'])} s")
    for topic, cam in d["cameras"].items():
        K = np.asarray(cam["K"])
        c.print(
            f"camera {topic}: {cam['model']} {cam['width']}x{cam['height']} fx={K[0, 0]:.2f} fy={K[1, 1]:.2f} "
            f"cx={K[0, 2]:.2f} cy={K[1, 2]:.2f} dist={np.round(np.asarray(cam['dist']), 6).tolist()}",
            highlight=False,
        )
    rep = d["report"]
    for topic, n in rep["bad_records"].items():
        c.print(f"[bold red]{n} unreadable record(s) on {topic}:[/] {rep['first_error'][topic]}", highlight=False)
    for w in rep["warnings"]:
        c.print(f"[yellow]warning:[/] {w}", highlight=False)
