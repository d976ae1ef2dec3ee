"""``fuse-info PATH``: what a drive log, dataset, calibration or rig file holds.

Drive logs (ROS1 .bag, ROS2 .db3/.mcap, ROS1-profile .mcap) and datasets (KITTI raw drives, nuScenes, EuRoC): per
stream the type, frame, count, time range in each clock (header stamps vs record time), rate, jitter, largest gap,
estimated drops, out-of-order stamps and lag, the time bases, the static transform tree and camera intrinsics.
KITTI object folders: points, image size and labels per frame. KITTI raw calibration folders and rig files: the rig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sensorfuse.cli._common import console, print_json, run, table

_EXAMPLES = (
    "Examples:\n\n  fuse-info sample_data/kitti_object\n\n  fuse-info sample_data/kitti_object --frame 000001 --json\n\n"
    "  fuse-info sample_data/calibration/kitti_raw_2011_09_26\n\n  fuse-info rig.yaml\n\n"
    "  fuse-info sample_data/sim_small/log --json\n\n  fuse-info drive.bag\n\n  fuse-info old_ros2_bag/ --types msg_definitions/"
)
app = typer.Typer(add_completion=False)


def _detect(path: Path) -> str:
    from sensorfuse.errors import FormatError

    if not path.exists():
        raise FormatError(f"{path}: no such file or directory")
    from sensorfuse.cli._fileinfo import SUFFIXES
    from sensorfuse.io.open_log import detect_format

    if path.is_file() and path.suffix in (".yaml", ".yml"):
        return "rig"
    if path.is_file() and path.suffix.lower() in SUFFIXES:
        return "file"
    if path.is_dir() and (path / "calib_cam_to_cam.txt").is_file():
        return "kitti_raw_calib"
    try:
        fmt = detect_format(path)
    except FormatError:
        if path.is_dir() and any((p / "sensor.yaml").is_file() for p in path.iterdir() if p.is_dir()):
            return "euroc_rig"
        if path.is_dir() and any(p.suffix.lower() in SUFFIXES for p in path.rglob("*")):
            return "folder"
        raise
    return "kitti_object" if fmt == "kitti-object" else "log"


def _kitti_frames(root: Path) -> list[tuple[str, Path]]:
    splits = [root / s for s in ("training", "testing") if (root / s / "calib").is_dir()] or [root]
    return [
        (f"{s.name}/{p.stem}" if s != root else p.stem, s) for s in splits for p in sorted((s / "calib").glob("*.txt"))
    ]


def _describe_kitti_frame(split: Path, frame: str) -> dict[str, Any]:
    import numpy as np

    from sensorfuse.geometry import project_points
    from sensorfuse.io import read_kitti_object_calib, read_velodyne_bin, rig_from_kitti_object_calib
    from sensorfuse.io.images import read_image_size

    calib = read_kitti_object_calib(split / "calib" / f"{frame}.txt")
    out: dict[str, Any] = {"frame": frame, "calib": {"fx_px": calib.P2[0, 0], "T_cam0rect_velo": calib.T_cam0rect_velo}}
    img = split / "image_2" / f"{frame}.png"
    size = read_image_size(img) if img.is_file() else None
    if size:
        out["image_2"] = {"width": size[0], "height": size[1]}
    velo = split / "velodyne" / f"{frame}.bin"
    if velo.is_file():
        cloud = read_velodyne_bin(velo)
        xyz = cloud.xyz
        info: dict[str, Any] = {
            "points": len(cloud),
            "xyz_min_m": xyz.min(axis=0).round(2),
            "xyz_max_m": xyz.max(axis=0).round(2),
            "max_range_m": round(float(np.linalg.norm(xyz, axis=1).max()), 2),
            "intensity_range": [float(cloud.intensity.min()), float(cloud.intensity.max())],
        }
        if size:
            rig = rig_from_kitti_object_calib(calib, size)
            cam = rig.sensor("cam2").camera
            _, _, mask = project_points(xyz, rig.transform("cam2", "velodyne"), cam)
            info["points_in_image_2"] = int(mask.sum())
        out["velodyne"] = info
    labels = split / "label_2" / f"{frame}.txt"
    if labels.is_file():
        classes = [ln.split()[0] for ln in labels.read_text().splitlines() if ln.strip()]
        out["label_2"] = {c: classes.count(c) for c in sorted(set(classes))}
    return out


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
    kind = _detect(path)
    if kind in ("file", "folder"):
        from sensorfuse.cli._fileinfo import describe_file, describe_folder, print_files

        d = (
            describe_folder(path)
            if kind == "folder"
            else {"path": str(path), "format": "files", "files": [describe_file(path)], "not_understood": []}
        )
        print_json(d) if json_out else print_files(d)
        return
    if kind == "log":
        from sensorfuse.cli._loginfo import describe_log, print_log

        d = describe_log(path, types=types, show_progress=not json_out)
        print_json(d) if json_out else print_log(d)
        return
    if kind == "kitti_object":
        from sensorfuse.errors import FormatError

        frames = _kitti_frames(path)
        if frame is not None:
            frames = [f for f in frames if f[0].endswith(frame)]
            if not frames:
                raise FormatError(f"{path}: no frame {frame!r}; frames: {', '.join(n for n, _ in _kitti_frames(path))}")
        if not frames:
            raise FormatError(f"{path}: no calib/*.txt found")
        described = [_describe_kitti_frame(split, name.split("/")[-1]) | {"frame": name} for name, split in frames]
        if json_out:
            print_json({"format": "kitti_object", "path": str(path), "frames": described})
        else:
            _print_kitti(described)
        return
    from sensorfuse.io import load_rig, read_kitti_raw_calib, rig_from_euroc, rig_from_kitti_raw_calib, rig_to_dict

    if kind == "rig":
        rig = load_rig(path)
    elif kind == "kitti_raw_calib":
        rig = rig_from_kitti_raw_calib(read_kitti_raw_calib(path), source=str(path))
    else:
        rig = rig_from_euroc(path)
    if json_out:
        print_json({"format": kind, "path": str(path), "rig": rig_to_dict(rig)})
    else:
        _print_rig(rig)


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
