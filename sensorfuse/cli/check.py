"""``fuse-check``: checks of a calibration against new data.

``calib LOG_OR_DATASET --calib CALIB``: does the LiDAR -> camera extrinsic still fit? Per frame an alignment score
(LiDAR depth edges on image edges, 0..1) and, per window of frames, the locally best correction; a drift above the
threshold (default 0.3 deg / 3 cm across the optical axis) is flagged with the frame where it starts. KITTI object
folders take a calib.txt (their frames are checked as one unordered set); logs take a rig file. Exit code 0 when the
calibration passes, 3 when a drift is flagged, 1 on an error. The algorithm is :mod:`sensorfuse.calibration.drift`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sensorfuse.cli._common import print_json, progress_bar, run

DRIFT_EXIT = 3
app = typer.Typer(add_completion=False, help="Check a calibration against new data.")


@app.callback()
def _group() -> None:
    """Check a calibration against new data: ``fuse-check calib ...``."""


@app.command(
    epilog=(
        "Examples:\n\n  fuse-check calib kitti_object/ --calib kitti_object/training/calib/000001.txt\n\n"
        "  fuse-check calib drive.mcap --calib rig.yaml --camera /cam_front/image_raw/compressed --json"
    )
)
def calib(
    source: Annotated[Path, typer.Argument(help="a log, or a KITTI object folder")],
    calib_file: Annotated[Path, typer.Option("--calib", help="rig file (logs) or KITTI calib.txt")],
    camera: Annotated[str | None, typer.Option(help="camera topic of the log (if several)")] = None,
    lidar: Annotated[str | None, typer.Option(help="LiDAR topic of the log (if several)")] = None,
    window: Annotated[int, typer.Option(help="sweeps per window (logs); windows overlap by half")] = 20,
    every: Annotated[int, typer.Option(help="use every N-th sweep (logs)")] = 1,
    threshold_deg: Annotated[float, typer.Option(help="rotation drift threshold, deg")] = 0.3,
    threshold_cm: Annotated[
        float, typer.Option(help="translation drift threshold (across the optical axis), cm")
    ] = 3.0,
    report: Annotated[Path | None, typer.Option(help="write a PNG of the corrections over time")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Check a LiDAR -> camera calibration for drift (see the module help above and docs/calibration.md)."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.pipelines.calib import calib_check

    with progress_bar(TextColumn("[bold]fuse-check[/] {task.description}"), BarColumn(), TimeElapsedColumn(),
                  disable=json_out, transient=True) as bar:  # fmt: skip
        tasks: dict[str, int] = {}

        def progress(stage: str, k: int, n: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task({"read": "sweeps + images", "align": "windows"}.get(stage, stage), total=n)
            bar.update(tasks[stage], completed=k, total=n)

        rep, summary = calib_check(
            source, calib_file, camera_topic=camera, lidar_topic=lidar, window=window, every=every,
            threshold_deg=threshold_deg, threshold_m=threshold_cm / 100, report=report, progress=progress,
        )  # fmt: skip
    if json_out:
        print_json(summary)
    else:
        for w in summary["windows"]:
            flags = ", ".join(k for k in ("rotation", "translation") if w[f"flag_{k}"]) or "ok"
            print(f"{w['frames'][0]} .. {w['frames'][1]}: score {w['score']} (best {w['score_best']}), correction "
                  f"{w['rotation_deg']} deg, {w['translation_cm_xyz']} cm  [{flags}]")  # fmt: skip
        if rep.drift:
            where = f", starting at {summary['start_frame']}" if summary["start_frame"] else ""
            if summary["start_ns"] is not None:
                where += f" (t = {summary['start_ns']} ns)"
            print(f"DRIFT ({summary['kind']}){where}: worst correction {summary['worst_rotation_deg']} deg, "
                  f"{summary['worst_translation_cm']} cm across the optical axis")  # fmt: skip
        else:
            print(f"calibration OK: worst correction {summary['worst_rotation_deg']} deg / "
                  f"{summary['worst_translation_cm']} cm (thresholds {threshold_deg} deg / {threshold_cm} cm)")  # fmt: skip
        for n in summary["notes"]:
            print(f"note: {n}")
    if rep.drift:
        sys.exit(DRIFT_EXIT)


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
