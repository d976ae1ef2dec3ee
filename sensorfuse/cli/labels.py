"""``fuse-labels check DATASET``: cross-check annotated 2D boxes against the projection of their 3D boxes.

For every labelled frame of a KITTI object folder (``training/`` with calib, label_2, velodyne): each label line's 3D
box is projected into the chosen camera with the frame's calibration and compared with the line's 2D box (IoU);
objects below the IoU threshold (0.5, ``--strict`` 0.75), projecting nowhere in the image, or holding no LiDAR point
are flagged. Prints one row per object and a summary (mean IoU, counts per flag); ``--json`` prints both as JSON.
KITTI's 2D boxes are drawn on image_2, so the default camera is 2. ``fuse-labels project DATASET -o OUT`` writes the
propagated 2D labels (truncation, occlusion from the LiDAR z-buffer) and overlay PNGs. (nuScenes samples and
simulator logs: not yet.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from sensorfuse.cli._common import print_json, run

_EXAMPLES = "Examples:\n\n  fuse-labels check kitti_object/\n\n  fuse-labels check kitti_object/ --strict --json"
app = typer.Typer(add_completion=False, help="Joint 2D/3D labels: cross-checks.")


@dataclass
class _KittiFrame:
    name: str
    camera: Any  # CameraModel
    T_cam_boxes: Any  # (4, 4) cam0 (label frame) -> camera
    T_boxes_velo: Any  # (4, 4) velodyne -> cam0
    pairs: list  # (object id, Box3D, annotated Box2D or None), id = frame:line
    xyz: Any  # (N, 3) velodyne points, or None
    image: Path  # the camera's PNG (may not exist)


def _kitti_reader(root: Path, camera: int) -> Any:
    """The KITTI object reader of ``root``, once the folder has labels and ``camera`` exists."""
    from sensorfuse.errors import ValidationError
    from sensorfuse.io.dataset import KittiObjectReader

    reader = KittiObjectReader(root)
    if "label_2" not in reader.streams:
        raise ValidationError(f"{root}: no label_2 folder; nothing to check")
    if camera not in (0, 1, 2, 3):
        raise ValidationError(f"--camera {camera}: KITTI has cameras 0-3")
    return reader


def _kitti_frames(reader: Any, camera: int, frames: list[str] | None = None) -> Iterator[_KittiFrame]:
    """The labelled frames of a KITTI object reader with what the label commands need, one at a time."""
    import numpy as np

    from sensorfuse.types import Box2D

    cam_name = f"cam{camera}"
    sd = reader.split_dir
    for i, name in enumerate(reader.frames):
        if (frames is not None and name not in frames) or not (sd / "label_2" / f"{name}.txt").is_file():
            continue
        rig = reader.rig_for(i)
        xyz = None
        if "velodyne" in reader.streams and (sd / "velodyne" / f"{name}.bin").is_file():
            xyz = reader.get("velodyne", i).data.xyz
        pairs = []
        for b in reader.get("label_2", i).data:
            bb = b.attributes.get("bbox_2d")
            b2 = None
            if bb is not None and np.all(np.asarray(bb) >= 0):
                b2 = Box2D(*bb, frame_id=cam_name, stamp_ns=b.stamp_ns, label=b.label)
            pairs.append((f"{name}:{b.attributes.get('line', len(pairs))}", b, b2))
        yield _KittiFrame(
            name,
            rig.sensor(cam_name).camera,
            rig.transform(cam_name, "cam0"),
            rig.transform("cam0", "velodyne"),
            pairs,
            xyz,
            sd / f"image_{camera}" / f"{name}.png",
        )


def check_kitti(
    root: Path, *, camera: int = 2, threshold: float = 0.5, frames: list[str] | None = None
) -> dict[str, Any]:
    """The check of a KITTI object folder (see the module docstring): ``{"frames": [...], "summary": {...}}``."""
    import numpy as np

    from sensorfuse.fusion.labels import FLAGS, check_labels

    cam_name = f"cam{camera}"
    out_frames = []
    all_rows = []
    for fr in _kitti_frames(_kitti_reader(root, camera), camera, frames):
        rows, summary = check_labels(
            fr.pairs, fr.T_cam_boxes, fr.camera, threshold=threshold, cloud_xyz=fr.xyz,
            T_boxes_cloud=fr.T_boxes_velo if fr.xyz is not None else None,
        )  # fmt: skip
        out_frames.append({"frame": fr.name, "summary": summary, "objects": [r.to_dict() for r in rows]})
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


def project_kitti(root: Path, out: Path, *, camera: int = 2, overwrite: bool = False) -> dict[str, Any]:
    """Propagated 2D labels and overlays of a KITTI object folder: per labelled frame ``labels/<frame>.json`` (each
    3D label's 2D box in the camera, truncation, occlusion from the LiDAR z-buffer, points, the annotated 2D box and
    the IoU) and ``overlay/<frame>.png`` (visible LiDAR points by depth, projected boxes green, annotated orange,
    flagged red). Written into ``OUT.partial`` and renamed when complete."""
    import json

    import cv2

    from sensorfuse.errors import FormatError
    from sensorfuse.fusion.labels import project_labels
    from sensorfuse.geometry.projection import project_cloud
    from sensorfuse.io._files import PartialDir, json_default
    from sensorfuse.viz.overlay import BOX_COLOURS, draw_boxes, draw_points

    cam_name = f"cam{camera}"
    reader = _kitti_reader(root, camera)  # before anything is written
    pdir = PartialDir(out, overwrite=overwrite)
    try:
        (pdir.tmp / "labels").mkdir()
        (pdir.tmp / "overlay").mkdir()
        frames = []
        for fr in _kitti_frames(reader, camera):
            name = fr.name
            labels = project_labels([b for _, b, _ in fr.pairs], fr.T_cam_boxes, fr.camera, camera_frame=cam_name,
                                    cloud_xyz=fr.xyz, T_boxes_cloud=fr.T_boxes_velo)  # fmt: skip
            rows, drawn = [], []
            for (oid, _, ann), pl in zip(fr.pairs, labels, strict=True):
                iou = None if ann is None or pl.box2d is None else round(ann.iou(pl.box2d), 4)
                rows.append({
                    "id": oid, "label": pl.box3d.label,
                    "xyxy": None if pl.box2d is None else [round(float(v), 2) for v in pl.box2d.xyxy],
                    "truncation": round(pl.truncation, 4),
                    "occlusion": None if pl.occlusion is None else round(pl.occlusion, 4),
                    "points": pl.points, "points_visible": pl.points_visible,
                    "annotated_xyxy": None if ann is None else [round(float(v), 2) for v in ann.xyxy], "iou": iou,
                })  # fmt: skip
                if ann is not None:
                    drawn.append((ann.xyxy, BOX_COLOURS["annotated"], ""))
                if pl.box2d is not None:
                    bad = iou is not None and iou < 0.5
                    colour = BOX_COLOURS["flagged" if bad else "projected"]
                    drawn.append((pl.box2d.xyxy, colour, f"{pl.box3d.label} {iou if iou is not None else ''}"))
            (pdir.tmp / "labels" / f"{name}.json").write_text(json.dumps(rows, indent=1, default=json_default))
            if fr.image.is_file() and fr.xyz is not None:
                img = cv2.imread(str(fr.image), cv2.IMREAD_COLOR)
                proj = project_cloud(fr.xyz, fr.T_cam_boxes @ fr.T_boxes_velo, fr.camera, zbuffer=True, splat=1)
                over = draw_boxes(draw_points(img, proj), drawn)
                if not cv2.imwrite(str(pdir.tmp / "overlay" / f"{name}.png"), over):
                    raise FormatError(f"{out}: overlay for frame {name} could not be written (disk full?)")
            frames.append({"frame": name, "objects": len(rows)})
        summary = {"dataset": str(root), "camera": cam_name, "frames": frames, "output": str(out)}
        (pdir.tmp / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        pdir.commit()
    except BaseException:
        pdir.discard()
        raise
    return summary


@app.command(name="project", help="write propagated 2D labels (JSON per frame) and overlay PNGs of a KITTI folder")
def project(
    dataset: Annotated[Path, typer.Argument(help="a KITTI object folder")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output folder (written when complete)")],
    camera: Annotated[int, typer.Option(help="camera index (KITTI: 2)")] = 2,
    overwrite: Annotated[bool, typer.Option(help="replace OUT")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    s = project_kitti(dataset, out, camera=camera, overwrite=overwrite)
    if json_out:
        print_json(s)
    else:
        print(f"{len(s['frames'])} frames: labels/*.json and overlay/*.png in {out}")


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
