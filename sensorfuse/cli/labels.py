"""``fuse-labels``: cross-check annotated 2D boxes against the projection of their 3D boxes, and propagate 3D labels
into the cameras.

DATASET is a KITTI object folder (label_2 3D boxes against their 2D boxes in image_2), simulator output (the true
boxes at each camera's mid-exposure time against the pixels they cover, computed with the true rig; instance images
give the visible part) or a nuScenes folder: with an mmdetection3d info file, its devkit-made 2D boxes are compared;
in the official table layout (v1.0-*/*.json), 3D boxes only, projected into every camera.
``check`` flags objects below the IoU threshold (0.5, ``--strict`` 0.75), projecting nowhere in the image, or holding
no LiDAR point, and prints one row per object and a summary (``--json``: both as JSON); a 2D box without a 3D box
gets a candidate 3D box from the LiDAR points in its frustum. ``project -o OUT`` writes the
propagated 2D labels (truncation, occlusion from the LiDAR z-buffer) and overlay PNGs. The pipeline is
:mod:`sensorfuse.pipelines.labels`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sensorfuse.cli._common import console, print_json, run, table

_EXAMPLES = (
    "Examples:\n\n  fuse-labels check kitti_object/\n\n  fuse-labels check kitti_object/ --strict --json\n\n"
    "  fuse-labels check sim_out/ --camera cam_front\n\n  fuse-labels project kitti_object/ -o labels_out/"
)
app = typer.Typer(add_completion=False, help="Joint 2D/3D labels: cross-checks and propagation.")
_CAMERA = "camera: KITTI index (default 2) or a camera name (simulator, nuScenes; default all)"


@app.command(help=__doc__, epilog=_EXAMPLES)
def check(
    dataset: Annotated[Path, typer.Argument(help="a KITTI object folder, simulator output or nuScenes folder")],
    camera: Annotated[str | None, typer.Option(help=_CAMERA)] = None,
    threshold: Annotated[float, typer.Option(help="IoU below which an object is flagged")] = 0.5,
    strict: Annotated[bool, typer.Option(help="threshold 0.75")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    from sensorfuse.pipelines.labels import check_dataset

    rep = check_dataset(dataset, camera=camera, threshold=0.75 if strict else threshold)
    if json_out:
        print_json(rep)
        return
    con = console()
    t = table("object", "class", "IoU", "points", "flags", title=f"fuse-labels check {dataset}")
    for f in rep["frames"]:
        for o in f["objects"]:
            iou = "" if o["iou"] is None else f"{o['iou']:.3f}"
            pts = "" if o["points"] is None else str(o["points"])
            flags = ", ".join(o["flags"])
            cand = o.get("candidate_3d")
            if cand is not None:  # a 2D box without a 3D box: what its LiDAR points propose
                c = ", ".join(f"{v:.1f}" for v in cand["center"])
                flags += f" (candidate 3D box: {cand['points']} points at {c})"
            t.add_row(o["id"], o["label"], iou, pts, flags)
    con.print(t)
    s = rep["summary"]
    flags = ", ".join(f"{k} {v}" for k, v in s["flags"].items() if v) or "none"
    con.print(
        f"{s['frames']} frames, {s['objects']} objects, mean IoU {s['mean_iou']}, lowest frame mean "
        f"{s['min_frame_mean_iou']}; flagged {s['flagged']} (threshold {s['threshold']}): {flags}"
    )


@app.command(name="project", help="write propagated 2D labels (JSON per frame) and overlay PNGs", epilog=_EXAMPLES)
def project(
    dataset: Annotated[Path, typer.Argument(help="a KITTI object folder, simulator output or nuScenes folder")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output folder (written when complete)")],
    camera: Annotated[str | None, typer.Option(help=_CAMERA)] = None,
    overwrite: Annotated[bool, typer.Option(help="replace OUT")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    from sensorfuse.pipelines.labels import project_dataset

    s = project_dataset(dataset, out, camera=camera, overwrite=overwrite)
    if json_out:
        print_json(s)
    else:
        print(f"{len(s['frames'])} frames: labels/*.json and overlay/*.png in {out}")


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
