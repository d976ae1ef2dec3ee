"""``fuse-view``: look at a log, a KITTI object folder or simulator output — LiDAR cloud, 3D boxes, radar with
Doppler, camera frusta with their images, the ego trajectory, and each camera's image with the projected points,
box wireframes, 2D labels and their cross-check (flagged objects red).

Interactive by default (an Open3D window and a 2D window; press h for the keys). Headless: ``--screenshot out.png``
renders one frame and exits (no display needed; use ``--view camera`` to look from a camera); ``--overlays DIR``
writes the 2D overlay of every frame. Logs are synchronised on the fly with fuse-sync's plan (nothing is written);
frame N is read with the readers' random access.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sensorfuse.cli._common import print_json, progress_bar, run

_EXAMPLES = (
    "Examples:\n\n  fuse-view sample_data/sim_small\n\n"
    "  fuse-view kitti_object/ --screenshot shot.png --view camera\n\n"
    "  fuse-view drive.mcap --frame 120 --camera cam_front --screenshot shot.png\n\n"
    "  fuse-view drive.mcap --overlays qa/"
)
app = typer.Typer(add_completion=False)


def _size(text: str) -> tuple[int, int]:
    w, sep, h = text.lower().partition("x")
    if not sep or not w.isdigit() or not h.isdigit() or int(w) <= 0 or int(h) <= 0:
        raise typer.BadParameter(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 1280x720")
    return int(w), int(h)


@app.command(help=__doc__, epilog=_EXAMPLES)
def view(
    path: Annotated[
        Path, typer.Argument(help="a log (.bag, .db3, .mcap, folder), KITTI object folder or simulator output")
    ],
    frame: Annotated[int, typer.Option(help="frame to show first (negative: from the end)")] = 0,
    camera: Annotated[str | None, typer.Option(help="camera to look from / overlay (default the first)")] = None,
    screenshot: Annotated[Path | None, typer.Option(help="render frame N to this PNG and exit")] = None,
    overlays: Annotated[Path | None, typer.Option(help="write every frame's 2D overlay PNGs here and exit")] = None,
    view_: Annotated[str, typer.Option("--view", help="chase, bev or camera")] = "chase",
    colour: Annotated[str, typer.Option(help="cloud colour: intensity, height, range or camera")] = "intensity",
    hide: Annotated[
        list[str] | None,
        typer.Option(
            help="layer to hide (repeat): cloud, boxes, radar, frusta, images, trajectory, axes, labels2d, hud"
        ),
    ] = None,
    size: Annotated[str, typer.Option(help="window / screenshot size for chase and bev views")] = "1280x720",
    keys: Annotated[
        str | None, typer.Option(help="scripted keys for the interactive viewer, comma-separated (e.g. n,n,space,q)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print what was written as JSON")] = False,
) -> None:
    from sensorfuse.errors import ValidationError
    from sensorfuse.pipelines.view import open_view
    from sensorfuse.viz.scene import LAYERS

    layers = set(LAYERS) - set(hide or [])
    bad = set(hide or []) - set(LAYERS)
    if bad:
        raise ValidationError(f"--hide {', '.join(sorted(bad))}: layers are {', '.join(LAYERS)}")
    wh = _size(size)
    v = view_ if view_ != "camera" or camera is None else f"camera:{camera}"
    with open_view(path, camera=camera) as src:
        if screenshot is None and overlays is None:
            from sensorfuse.viz.app import run_viewer

            st = run_viewer(src, start=frame, camera=camera, view=view_, colour_by=colour, size=wh,
                            keys=None if keys is None else [k.strip() for k in keys.split(",") if k.strip()])  # fmt: skip
            if json_out:
                print_json({"frames": len(src), "last_frame": st.index, "keys": st.log})
            return
        done: dict = {"source": str(path), "kind": src.kind, "frames": len(src)}
        if screenshot is not None:
            from sensorfuse.viz.render import screenshot as shoot

            fr = src.frame(frame)  # a frame out of range: ValidationError naming the count
            done["screenshot"] = str(shoot(fr, screenshot, v, size=wh, layers=layers, colour_by=colour))
            if not json_out:
                print(f"frame {fr.index} ({fr.name}) from {v}: {screenshot}")
        if overlays is not None:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

            from sensorfuse.viz.render import write_overlays

            with progress_bar(TextColumn("[bold]fuse-view[/] overlays"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), disable=json_out) as bar:  # fmt: skip
                task = bar.add_task("overlays", total=len(src))
                paths = write_overlays(src, overlays, cameras=None if camera is None else [camera], layers=layers,
                                       progress=lambda k, n: bar.update(task, completed=k))  # fmt: skip
            done["overlays"] = [str(p) for p in paths]
            if not json_out:
                print(f"{len(paths)} overlay PNGs in {overlays}")
        if json_out:
            print_json(done)


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
