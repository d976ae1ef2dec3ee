"""``fuse-info PATH``: what a drive log, dataset, calibration or rig file holds (the job is
:mod:`sensorfuse.pipelines.info`; this module parses and prints).

Drive logs (ROS1 .bag, ROS2 .db3/.mcap, ROS1-profile .mcap) and datasets (KITTI raw drives, nuScenes, EuRoC): per
stream the type, frame, count, time range in each clock (header stamps vs record time), rate, jitter, largest gap,
estimated drops, out-of-order stamps and lag, the time bases, the static transform tree and camera intrinsics.
KITTI object folders: points, image size and labels per frame. KITTI raw calibration folders and rig files: the rig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from sensorfuse.cli._common import console, print_json, progress_bar, run, table

_EXAMPLES = (
    "Examples:\n\n  fuse-info sample_data/kitti_object\n\n  fuse-info sample_data/kitti_object --frame 000001 --json\n\n"
    "  fuse-info sample_data/calibration/kitti_raw_2011_09_26\n\n  fuse-info rig.yaml\n\n"
    "  fuse-info sample_data/sim_small/log --json\n\n  fuse-info drive.bag\n\n  fuse-info old_ros2_bag/ --types msg_definitions/"
)
app = typer.Typer(add_completion=False)


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


def _print_kitti(frames: list[dict[str, Any]]) -> None:
    t = table("frame", "points", "in image_2", "image", "labels", "x range (m)", title="KITTI object frames")
    for f in frames:
        v = f.get("velodyne", {})
        im = f.get("image_2")
        t.add_row(
            f["frame"],
            str(v.get("points", "-")),
            str(v.get("points_in_image_2", "-")),
            f"{im['width']}x{im['height']}" if im else "-",
            ", ".join(f"{k} {n}" for k, n in f.get("label_2", {}).items()) or "-",
            f"{v['xyz_min_m'][0]:.1f} .. {v['xyz_max_m'][0]:.1f}" if v else "-",
        )
    console().print(t)


def _print_rig(rig: Any) -> None:
    t = table("sensor", "kind", "frame", "intrinsics", "clock offset", title=f"rig {rig.name!r}")
    for s in rig.sensors:
        t.add_row(
            s.name,
            s.kind,
            s.frame_id,
            f"{s.camera.model} {s.camera.width}x{s.camera.height} fx={s.camera.fx:.1f}" if s.camera else "-",
            f"{s.clock.offset_ns / 1e6:+.3f} ms" if not s.clock.is_identity else "-",
        )
    c = console()
    c.print(t)
    c.print(f"extrinsics: {', '.join(f'T_{e.target}_{e.source}' for e in rig.extrinsics) or '(none)'}")


@app.command(help=__doc__, epilog=_EXAMPLES)
def info(
    path: Annotated[Path, typer.Argument(help="dataset folder, calibration folder or rig file")],
    frame: Annotated[str | None, typer.Option(help="only this frame (e.g. 000001) of a KITTI object folder")] = None,
    types: Annotated[
        Path | None, typer.Option(help="folder of pkg__Name.msg definitions for logs that carry none (old ROS2 .db3)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")] = False,
) -> None:
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.pipelines.info import describe

    with progress_bar(
        TextColumn("stamps"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
        disable=json_out,
    ) as bar:  # fmt: skip
        task = None

        def progress(done: int, total: int) -> None:
            nonlocal task
            if total < 5000:  # a quick pass: no bar
                return
            if task is None:
                task = bar.add_task("stamps", total=total)
            bar.update(task, completed=done)

        d = describe(path, frame=frame, types=types, progress=progress)
    rig = d.pop("rig_object", None)
    if json_out:
        print_json(d)
    elif d["format"] == "files":
        print_files(d)
    elif d["format"] == "kitti_object":
        _print_kitti(d["frames"])
    elif rig is not None:
        _print_rig(rig)
    else:
        print_log(d)


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
