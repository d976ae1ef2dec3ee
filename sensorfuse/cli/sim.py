"""``fuse-sim OUT``: simulate a drive log with exact ground truth and injected faults.

Writes ``OUT/log.bag`` (--format bag), the rosbag2 directory ``OUT/log/`` (mcap, db3) or ``OUT/kitti/`` (kitti), and
``OUT/ground_truth/`` (true rig, clocks, trajectory, objects, every message's fate, depth/instance images).
Same seed, same options: byte-identical output. docs/simulator.md describes the scene, noise models and faults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sensorfuse.cli._common import pairs, print_json, progress_bar, run

_EXAMPLES = (
    "Examples:\n\n"
    "  fuse-sim out --duration 10 --format mcap --seed 0\n\n"
    "  fuse-sim out --rig full --format bag --offset cam_front=3ms --offset imu=-1500us --drift lidar=20\n\n"
    "  fuse-sim out --duration 5s --faults realistic --no-noise --format db3\n\n"
    "  fuse-sim out --config faults.yaml   (per-sensor faults and extrinsic steps, see docs/simulator.md)"
)
app = typer.Typer(add_completion=False)


def _duration_s(text: str) -> float:
    from sensorfuse.units import parse_duration_ns

    try:
        return float(text)  # the issue's `--duration 10`: a bare number is seconds for this option only
    except ValueError:
        return parse_duration_ns(text) / 1e9


@app.command(help=__doc__, epilog=_EXAMPLES)
def sim(
    out: Annotated[Path, typer.Argument(help="output folder (created; must not hold a log already)")],
    duration: Annotated[str, typer.Option(help="log length: 10 (seconds) or with a unit, 10s, 1500ms")] = "10",
    format: Annotated[str, typer.Option("--format", help="mcap | bag | db3 | kitti")] = "mcap",
    seed: Annotated[int, typer.Option(help="random seed (scene, noise, faults)")] = 0,
    rig: Annotated[str, typer.Option(help="small (16 beams, 640x480) | full (64 beams, 2x 1280x720)")] = "small",
    offset: Annotated[
        list[str] | None, typer.Option(help="clock offset NAME=3ms (t_reference = t_sensor + offset); repeatable")
    ] = None,
    drift: Annotated[list[str] | None, typer.Option(help="clock drift NAME=PPM, e.g. lidar=20; repeatable")] = None,
    faults: Annotated[
        str, typer.Option(help="none | realistic (jitter, drops, duplicates, reorders, a burst)")
    ] = "none",
    noise: Annotated[bool, typer.Option(help="sensor noise on (--no-noise: exact measurements)")] = True,
    board: Annotated[str, typer.Option(help="checkerboard | charuco | none")] = "checkerboard",
    speed: Annotated[float, typer.Option(help="top speed in m/s (0.5..20)")] = 10.0,
    motion: Annotated[
        str, typer.Option(help="excitation: drive (a car's) | planar (no roll/pitch) | figure8 (every axis turns)")
    ] = "drive",
    image_format: Annotated[str, typer.Option(help="jpeg (CompressedImage) | png | raw (Image)")] = "jpeg",
    truth_images: Annotated[int, typer.Option(help="depth/instance truth for every N-th camera frame (0: none)")] = 10,
    config: Annotated[Path | None, typer.Option(help="YAML with stream_faults and extrinsic_steps")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
) -> None:
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.sim import ExtrinsicStep, SimConfig, simulate
    from sensorfuse.units import parse_duration_ns

    stream_faults: dict[str, dict[str, object]] = {}
    steps: tuple[ExtrinsicStep, ...] = ()
    if config is not None:
        from sensorfuse.io._yaml import read_yaml

        data = read_yaml(config, "fuse-sim config") or {}
        for k, v in (data.get("stream_faults") or {}).items():
            stream_faults[k] = dict(v)
        steps = tuple(ExtrinsicStep(**s) for s in data.get("extrinsic_steps") or [])
    for name, ns in pairs(offset or [], "--offset", parse_duration_ns).items():
        stream_faults.setdefault(name, {})["offset_ns"] = ns
    for name, ppm in pairs(drift or [], "--drift", float).items():
        stream_faults.setdefault(name, {})["drift_ppm"] = ppm
    cfg = SimConfig(
        duration_s=_duration_s(duration),
        seed=seed,
        rig=rig,
        format=format,
        speed_mps=speed,
        motion=motion,
        noise=noise,
        board=board,
        image_format=image_format,
        faults=faults,
        stream_faults=stream_faults,
        extrinsic_steps=steps,
        truth_images_every=truth_images,
    )
    with progress_bar(
        TextColumn("[bold]fuse-sim[/]"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}% {task.description}"),
        TimeElapsedColumn(),
        disable=json_out,
    ) as bar:
        task = bar.add_task("setting up", total=1.0)
        result = simulate(out, cfg, progress=lambda f, what: bar.update(task, completed=f, description=what))
    summary = {"log": str(result.log), "ground_truth": str(result.ground_truth), "messages": result.counts}
    if json_out:
        print_json(summary)
    else:
        typer.echo(f"log: {result.log}\nground truth: {result.ground_truth}")
        for topic, n in sorted(result.counts.items()):
            typer.echo(f"  {topic}: {n}")


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
