"""``fuse-sync LOG -o OUT``: synchronise a whole drive log into a dataset.

Reads any log fuse-info reads (ROS1 .bag, ROS2 .db3/.mcap folder or file, MCAP, KITTI raw, EuRoC, nuScenes), puts
every stream on one clock (offsets given, from the rig file, GPS->UTC, or estimated for unrelated header clocks),
pairs every stream with the reference stream (default: the LiDAR) and reports what it could not pair and why,
deskews LiDAR sweeps with the log's odometry, and writes one folder per sensor, rig.yaml, frames.csv and
sync_report.json (docs/sync.md). The output appears only when complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sensorfuse.cli._common import console, pairs, print_json, progress_bar, run, table

_EXAMPLES = (
    "Examples:\n\n"
    "  fuse-sync drive.bag -o synced\n\n"
    "  fuse-sync log/ -o synced --reference cam_front --tolerance 20ms --offset cam_front=3ms\n\n"
    "  fuse-sync log.mcap -o synced --deskew camera --deskew-camera cam_front --start 2s --end 8s\n\n"
    "  fuse-sync drive.bag -o kitti_out --format kitti --json"
)
app = typer.Typer(add_completion=False)


def _window(text: str | None, what: str) -> tuple[int | None, bool]:
    """A bare integer is an absolute stamp in ns; a duration with a unit counts from the first reference frame."""
    from sensorfuse.units import parse_duration_ns

    if text is None:
        return None, False
    if text.lstrip("-").isdigit():
        return int(text), False
    try:
        return parse_duration_ns(text), True
    except Exception as exc:
        raise typer.BadParameter(f"{what} {text!r}: {exc} (a duration like 2s from the first frame, or ns)") from None


@app.command(help=__doc__, epilog=_EXAMPLES)
def sync(
    log: Annotated[Path, typer.Argument(help="the log: .bag, .db3, .mcap, a rosbag2 folder or a dataset folder")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output folder (must not exist unless --overwrite)")],
    reference: Annotated[
        str | None, typer.Option(help="reference stream (name or topic); default: the LiDAR, else a camera")
    ] = None,
    topics: Annotated[list[str] | None, typer.Option("--topics", help="topics to synchronise (repeatable)")] = None,
    tolerance: Annotated[
        str | None, typer.Option(help="pairing tolerance with a unit, e.g. 20ms; default: half each stream's period")
    ] = None,
    offset: Annotated[
        list[str] | None,
        typer.Option(help="clock offset NAME=3ms (sensor name or topic; t_reference = t_stream + offset); repeatable"),
    ] = None,
    rig: Annotated[Path | None, typer.Option(help="rig file: extrinsics, intrinsics, clocks")] = None,
    deskew: Annotated[str, typer.Option(help="auto (end if poses exist) | end | camera | none")] = "auto",
    deskew_camera: Annotated[str | None, typer.Option(help="camera for --deskew camera (default: the first)")] = None,
    imu_propagate: Annotated[
        str,
        typer.Option(help="integrate the gyro between poses for the deskew: auto (poses slower than 50 Hz) | on | off"),
    ] = "auto",
    start: Annotated[str | None, typer.Option(help="first frame: 2s from the first frame, or a stamp in ns")] = None,
    end: Annotated[str | None, typer.Option(help="end (exclusive), as --start")] = None,
    format: Annotated[str, typer.Option("--format", help="sensorfuse (lossless) | kitti (KITTI raw synced)")] = (
        "sensorfuse"
    ),
    estimate: Annotated[
        str, typer.Option(help="estimate clock offsets: unrelated (header clocks off the record clock) | all | none")
    ] = "unrelated",
    overwrite: Annotated[bool, typer.Option(help="replace OUT (only once the new output is complete)")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.pipelines.sync import SyncOptions, run_sync
    from sensorfuse.units import parse_duration_ns

    def duration(text: str) -> int:
        ns = parse_duration_ns(text)
        if ns < 0:
            raise typer.BadParameter(f"--tolerance {text!r}: must not be negative")
        return ns

    s, rel_s = _window(start, "--start")
    e, rel_e = _window(end, "--end")
    if s is not None and e is not None and rel_s != rel_e:
        raise typer.BadParameter("--start and --end: give both as durations or both as ns stamps")
    opts = SyncOptions(
        reference=reference,
        topics=list(topics) if topics else None,
        tolerance_ns=duration(tolerance) if tolerance else None,
        offsets=pairs(offset or [], "--offset", parse_duration_ns),
        rig=rig,
        deskew=deskew,
        deskew_camera=deskew_camera,
        imu_propagate=imu_propagate,
        start_ns=s,
        end_ns=e,
        window_relative=rel_s or rel_e,
        format=format,
        estimate=estimate,
        overwrite=overwrite,
    )
    with progress_bar(
        TextColumn("[bold]fuse-sync[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=json_out,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = {"stamps": "pass 1/2: stamps", "data": "pass 2/2: data"}.get(stage, stage)
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=min(done, total))

        report = run_sync(log, out, opts, progress)
        for t in tasks.values():
            bar.update(t, completed=bar.tasks[t].total)
    if json_out:
        print_json(_summary(report))
    else:
        _print(report)


def _summary(r: dict) -> dict:
    keys = ("log", "output", "output_format", "reference", "frames", "frames_complete", "frames_incomplete")
    out = {k: r[k] for k in keys}
    out["streams"] = {
        n: {
            "clock": {k: s["clock"][k] for k in ("offset_ns", "drift_ppm", "source", "note")},
            "association": s["association"] if isinstance(s["association"], str) else s["association"]["counts"],
            "written": r["written"].get(n, 0),
        }
        for n, s in r["streams"].items()
    }
    out |= {k: r[k] for k in ("deskew", "skipped_topics", "notes", "wall_time_s")}
    return out


def _print(r: dict) -> None:
    con = console()
    con.print(
        f"[bold]{r['output']}[/] ({r['output_format']}): {r['frames']} frames on [bold]{r['reference']}[/], "
        f"{r['frames_complete']} complete, {r['frames_incomplete']} incomplete; {r['wall_time_s']:.1f} s"
    )
    t = table("stream", "kind", "written", "clock", "paired", "missing", "|dt| p95 ms")
    for n, s in r["streams"].items():
        c = s["clock"]
        clock = f"{c['source']} {c['offset_ns'] / 1e6:+.3f} ms" + (
            f" {c['drift_ppm']:+.2f} ppm" if c["drift_ppm"] else ""
        )
        a = s["association"]
        if isinstance(a, str):
            paired, missing, p95 = "reference", "", ""
        else:
            cnt = a["counts"]
            paired = str(cnt["ok"])
            missing = ", ".join(f"{k} {v}" for k, v in cnt.items() if k != "ok" and v) or "0"
            p95 = "" if a["abs_dt_ns"]["p95"] is None else f"{a['abs_dt_ns']['p95'] / 1e6:.2f}"
        t.add_row(n, s["kind"], str(r["written"].get(n, 0)), clock, paired, missing, p95)
    con.print(t)
    d = r["deskew"]
    con.print(f"deskew: {d['mode']} {d['pose_source']} ({d['deskewed']} deskewed, {d['not_deskewed']} not)")
    for topic, why in sorted(r["skipped_topics"].items()):
        con.print(f"[dim]skipped {topic}: {why}[/]", highlight=False)
    for note in r["notes"]:
        con.print(f"[yellow]note:[/] {note}", highlight=False)


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
