"""``fuse-labels check DATASET``: cross-check annotated 2D boxes against the projection of their 3D boxes.

For every labelled frame of a KITTI object folder (``training/`` with calib, label_2, velodyne): each label line's 3D
box is projected into the chosen camera with the frame's calibration and compared with the line's 2D box (IoU);
objects below the IoU threshold (0.5, ``--strict`` 0.75), projecting nowhere in the image, or holding no LiDAR point
are flagged. Prints one row per object and a summary (mean IoU, counts per flag); ``--json`` prints both as JSON.
KITTI's 2D boxes are drawn on image_2, so the default camera is 2. (nuScenes samples and simulator logs: not yet.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sensorfuse.cli._common import print_json, run

_EXAMPLES = "Examples:\n\n  fuse-labels check kitti_object/\n\n  fuse-labels check kitti_object/ --strict --json"
app = typer.Typer(add_completion=False, help="Joint 2D/3D labels: cross-checks.")


def check_kitti(
    root: Path, *, camera: int = 2, threshold: float = 0.5, frames: list[str] | None = None
) -> dict[str, Any]:
    """The check of a KITTI object folder (see the module docstring): ``{"frames": [...], "summary": {...}}``."""
    import numpy as np

    from sensorfuse.errors import ValidationError
    from sensorfuse.fusion.labels import FLAGS, check_labels
    from sensorfuse.io.dataset import KittiObjectReader
    from sensorfuse.types import Box2D

    reader = KittiObjectReader(root)
    if "label_2" not in reader.streams:
        raise ValidationError(f"{root}: no label_2 folder; nothing to check")
    if camera not in (0, 1, 2, 3):
        raise ValidationError(f"--camera {camera}: KITTI has cameras 0-3")
    cam_name = f"cam{camera}"
    out_frames = []
    all_rows = []
    for i, name in enumerate(reader.frames):
        if frames is not None and name not in frames:
            continue
        if not (reader.split_dir / "label_2" / f"{name}.txt").is_file():
            continue
        boxes = reader.get("label_2", i).data
        rig = reader.rig_for(i)
        cam = rig.sensor(cam_name).camera
        T_cam_boxes = rig.transform(cam_name, "cam0")
        cloud = None
        if "velodyne" in reader.streams and (reader.split_dir / "velodyne" / f"{name}.bin").is_file():
            cloud = reader.get("velodyne", i).data.xyz
        pairs = []
        for b in boxes:
            line = b.attributes.get("line", len(pairs))
            bb = b.attributes.get("bbox_2d")
            b2 = None
            if bb is not None and np.all(np.asarray(bb) >= 0):
                b2 = Box2D(*bb, frame_id=cam_name, stamp_ns=b.stamp_ns, label=b.label)
            pairs.append((f"{name}:{line}", b, b2))
        rows, summary = check_labels(
            pairs, T_cam_boxes, cam, threshold=threshold, cloud_xyz=cloud,
            T_boxes_cloud=rig.transform("cam0", "velodyne") if cloud is not None else None,
        )  # fmt: skip
        out_frames.append({"frame": name, "summary": summary, "objects": [r.to_dict() for r in rows]})
        all_rows += rows
    both = [r.iou for r in all_rows if r.iou is not None]
    per_frame = [f["summary"]["mean_iou"] for f in out_frames if f["summary"]["mean_iou"] is not None]
    summary = {
        "dataset": str(root),
        "camera": cam_name,
        "threshold": threshold,
        "frames": len(out_frames),
        "objects": len(all_rows),
        "mean_iou": round(float(np.mean(both)), 4) if both else None,
        "min_frame_mean_iou": round(float(min(per_frame)), 4) if per_frame else None,
        "flagged": sum(1 for r in all_rows if r.flags),
        "flags": {f: sum(f in r.flags for r in all_rows) for f in FLAGS},
    }
    return {"frames": out_frames, "summary": summary}


@app.command(help=__doc__, epilog=_EXAMPLES)
def check(
    dataset: Annotated[Path, typer.Argument(help="a KITTI object folder (with training/ or calib/ label_2/)")],
    camera: Annotated[int, typer.Option(help="camera index whose 2D boxes the labels hold (KITTI: 2)")] = 2,
    threshold: Annotated[float, typer.Option(help="IoU below which an object is flagged")] = 0.5,
    strict: Annotated[bool, typer.Option(help="threshold 0.75")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    rep = check_kitti(dataset, camera=camera, threshold=0.75 if strict else threshold)
    if json_out:
        print_json(rep)
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = Table(title=f"fuse-labels check {dataset} ({rep['summary']['camera']})")
    for col in ("object", "class", "IoU", "points", "flags"):
        t.add_column(col)
    for f in rep["frames"]:
        for o in f["objects"]:
            iou = "" if o["iou"] is None else f"{o['iou']:.3f}"
            pts = "" if o["points"] is None else str(o["points"])
            t.add_row(o["id"], o["label"], iou, pts, ", ".join(o["flags"]))
    con.print(t)
    s = rep["summary"]
    flags = ", ".join(f"{k} {v}" for k, v in s["flags"].items() if v) or "none"
    con.print(
        f"{s['frames']} frames, {s['objects']} objects, mean IoU {s['mean_iou']}, lowest frame mean "
        f"{s['min_frame_mean_iou']}; flagged {s['flagged']} (threshold {s['threshold']}): {flags}"
    )


@app.command(name="project", help="(not yet) write propagated 2D labels and overlay PNGs")
def project(dataset: Annotated[Path, typer.Argument()], out: Annotated[Path, typer.Option("-o")]) -> None:
    from sensorfuse.errors import SensorfuseError

    raise SensorfuseError("fuse-labels project is not implemented yet (issue 7); fuse-labels check works")


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
