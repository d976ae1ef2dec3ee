"""``fuse-calib``: calibration workflows over files and logs (the algorithms are in :mod:`sensorfuse.calibration`,
which knows no file format).

- :func:`intrinsics_from_images`: a folder or glob of images, or a camera topic of a log (every N-th image), ->
  board detections -> :func:`~sensorfuse.calibration.intrinsics.calibrate_intrinsics` -> a rig file with the camera,
  its provenance and quality figures, optionally a ROS CameraInfo YAML, and a report PNG beside the result.
- :func:`lidar_camera_kitti`: a KITTI object folder and an initial calib.txt -> ``Tr_velo_to_cam`` refined by edge
  alignment (:func:`~sensorfuse.calibration.lidar_camera.refine_targetless`) over every frame of the same camera,
  ``P2`` and ``R0_rect`` held fixed -> calib.txt and a before/after report PNG.
"""

from __future__ import annotations

import datetime
import glob
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, ValidationError

__all__ = [
    "calib_check",
    "drift_report_image",
    "intrinsics_from_images",
    "intrinsics_report_image",
    "is_kitti_object",
    "kitti_targetless_inputs",
    "lidar_camera_kitti",
    "lidar_camera_report_image",
    "lidar_camera_target_log",
    "lidar_camera_targetless_log",
    "log_edge_frames",
    "log_lidar_camera_setup",
    "target_report_image",
]

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm"}


def _images(source: str | Path, topic: str | None, every: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name, 8-bit gray image) of a folder, a glob or a log's camera topic."""
    import cv2

    p = Path(source)
    if p.is_dir() and not topic and any(f.suffix.lower() in _IMAGE_EXT for f in p.iterdir()):
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in _IMAGE_EXT)
    elif not p.exists() and any(ch in str(source) for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(str(source)))
        if not files:
            raise FormatError(f"{source}: the pattern matches no image")
    else:
        yield from _log_images(p, topic, every)
        return
    for f in files[::every]:
        img = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise FormatError(f"{f}: not an image OpenCV can read")
        yield f.name, img


def _log_images(path: Path, topic: str | None, every: int) -> Iterator[tuple[str, np.ndarray]]:
    import cv2

    from sensorfuse.io import open as open_log
    from sensorfuse.pipelines.view import to_bgr

    with open_log(path) as reader:
        cams = [t for t, s in reader.streams.items() if s.kind == "camera"]
        if topic is None:
            if len(cams) != 1:
                raise ValidationError(f"{path}: {len(cams)} camera topics ({', '.join(cams)}); choose one with --topic")
            topic = cams[0]
        elif topic not in cams:
            raise ValidationError(f"{path}: no camera topic {topic!r}; camera topics: {', '.join(cams) or 'none'}")
        n = reader.stream(topic).count
        for i in range(0, n, every):
            m = reader.get(topic, i)
            yield f"{topic}#{i}", cv2.cvtColor(to_bgr(m.data), cv2.COLOR_BGR2GRAY)


def intrinsics_from_images(
    source: str | Path,
    board_spec: str,
    *,
    out: str | Path | None = None,
    camera_name: str = "camera",
    model: str = "brown_conrady",
    topic: str | None = None,
    every: int = 1,
    camera_info: str | Path | None = None,
    kalibr: str | Path | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Calibrate one camera from board images; returns ``(IntrinsicsResult, summary)`` and writes ``out`` (a rig
    file), ``out`` with ``.png`` (the report), ``camera_info`` (ROS CameraInfo YAML) and ``kalibr`` (a one-camera
    Kalibr camchain YAML) when given."""
    from sensorfuse.calibration.intrinsics import Board, calibrate_intrinsics, detect_board

    if every < 1:
        raise ValidationError(f"--every {every}: expected a positive number")
    board = Board.parse(board_spec)
    names, dets, size, sample = [], [], None, None
    for k, (name, img) in enumerate(_images(source, topic, every)):
        if size is None:
            size = (img.shape[1], img.shape[0])
        elif (img.shape[1], img.shape[0]) != size:
            raise ValidationError(f"{name}: image is {img.shape[1]}x{img.shape[0]}, the first one {size[0]}x{size[1]}")
        d = detect_board(img, board, view=name)
        names.append(name)
        dets.append(d)
        if d is not None and sample is None:
            sample = img
        if progress is not None:
            progress(k + 1, None)
    if size is None:
        raise FormatError(f"{source}: no image")
    flags = 0
    if kalibr is not None and model == "brown_conrady":
        from dataclasses import replace

        import cv2

        flags = cv2.CALIB_FIX_K3  # Kalibr's radtan has k1 k2 p1 p2 only: calibrate that model, not drop k3 after
    res = calibrate_intrinsics(dets, size, model=model, names=names, flags=flags)
    if flags:
        res.camera = replace(res.camera, dist=res.camera.dist[:4])
        res.warnings.append("k3 held at 0 for the Kalibr export (radtan: k1 k2 p1 p2)")
    summary = {
        "source": str(source),
        "board": board_spec,
        "images": len(names),
        "camera": {
            "model": res.camera.model,
            "width": size[0],
            "height": size[1],
            "K": res.camera.K.tolist(),
            "dist": res.camera.dist.tolist(),
        },
        "quality": res.quality(),
    }
    from sensorfuse.rig import Provenance, Rig, Sensor

    # the rig of the result: what -o writes, and what the exports are made from
    q = res.quality()
    quality = {"rms_px": q["rms_px"], "views_used": q["views_used"], "coverage": q["coverage"]}
    if q["loo_rms_px"] is not None:
        quality["loo_rms_px"] = q["loo_rms_px"]
    quality |= {f"std_{k}": v for k, v in q["std"].items()}
    notes = "; ".join([*(f"{k}: {v}" for k, v in res.rejected.items()), *res.warnings]) or None
    prov = Provenance(
        f"fuse-calib intrinsics ({board.kind}, OpenCV)", str(source), datetime.date.today().isoformat(), quality,
        notes,
    )  # fmt: skip
    rig = Rig(name=camera_name, sensors=(Sensor(camera_name, "camera", camera=res.camera, provenance=prov),))
    if kalibr is not None:
        from sensorfuse.io.kalibr import write_kalibr_camchain

        summary["kalibr"] = str(write_kalibr_camchain(rig, kalibr, [camera_name]))
    if out is not None:
        from sensorfuse.io.rigfile import save_rig

        out = Path(out)
        save_rig(rig, out)
        import cv2

        png = out.with_suffix(".png")
        if not cv2.imwrite(str(png), intrinsics_report_image(res, sample)):
            raise FormatError(f"{png}: could not write the report")
        summary["rig"] = str(out)
        summary["report"] = str(png)
    if camera_info is not None:
        from sensorfuse.io.ros_camera_info import write_camera_info_yaml

        summary["camera_info"] = str(write_camera_info_yaml(res.camera, camera_info, camera_name=camera_name))
    return res, summary


def intrinsics_report_image(res: Any, sample: np.ndarray | None) -> np.ndarray:
    """The report picture: a sample view and the same view undistorted (straight board lines stay straight), the
    corner coverage per image cell, and the per-view RMS (rejected views listed)."""
    import cv2

    from sensorfuse.viz.scene import draw_text_block

    cam = res.camera
    w, h = cam.width, cam.height
    img = sample if sample is not None else np.full((h, w), 90, np.uint8)
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img
    if cam.model == "kannala_brandt":
        und = cv2.fisheye.undistortImage(img, cam.K, cam.dist, Knew=cam.K)
    else:
        und = cv2.undistort(img, cam.K, cam.dist)
    cov = res.coverage_grid
    heat = cv2.resize(
        (255 * np.clip(cov / max(cov.max(), 1), 0, 1)).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST
    )
    heat = cv2.applyColorMap(heat, cv2.COLORMAP_VIRIDIS)
    bars = np.full((h, w, 3), 25, np.uint8)
    per = res.per_view_rms_px
    top = max([*per.values(), 0.5])
    bw = max(w // max(len(per), 1), 2)
    for k, (_name, v) in enumerate(per.items()):
        y = int(h - 30 - (h - 60) * v / top)
        cv2.rectangle(bars, (k * bw + 2, y), ((k + 1) * bw - 2, h - 30), (80, 200, 80), -1)
    grid = np.vstack([np.hstack([img, und]), np.hstack([heat, bars])])
    draw_text_block(grid, [f"sample view ({w}x{h})"], origin=(6, 6))
    draw_text_block(grid, ["undistorted"], origin=(w + 6, 6))
    draw_text_block(
        grid, [f"corner coverage {res.coverage:.0%} of {cov.shape[1]}x{cov.shape[0]} cells"], origin=(6, h + 6)
    )
    lines = [
        f"per-view RMS (max {top:.2f} px); RMS {res.rms_px:.3f} px, leave-one-out "
        + ("-" if res.loo_rms_px is None else f"{res.loo_rms_px:.3f} px"),
        f"fx {cam.fx:.2f}  fy {cam.fy:.2f}  cx {cam.cx:.2f}  cy {cam.cy:.2f}",
        *[f"rejected {k}: {v[:60]}" for k, v in list(res.rejected.items())[:4]],
        *[f"warning: {x[:70]}" for x in res.warnings[:2]],
    ]
    draw_text_block(grid, lines, origin=(w + 6, h + 6), scale=0.4)
    return grid


# -- LiDAR -> camera, targetless, KITTI object folders -------------------------------------------------------------


def is_kitti_object(path: str | Path) -> bool:
    """A KITTI object folder: ``calib/`` with ``velodyne/`` beside it, at the root or under training/ or testing/."""
    root = Path(path)
    return any(
        (d / "calib").is_dir() and (d / "velodyne").is_dir() for d in (root, root / "training", root / "testing")
    )


def kitti_targetless_inputs(dataset: str | Path, init: Any) -> tuple[list[Any], Any, np.ndarray, list[str]]:
    """The edge frames of every KITTI object frame (training/ and testing/, or one split) whose calibration has the
    camera of ``init`` (same P2 and R0_rect: the same recording day), the camera model, ``T_pre`` (P2's baseline @
    R0_rect) and notes on the frames left out."""
    import cv2

    from sensorfuse.calibration.lidar_camera import edge_frame
    from sensorfuse.geometry.camera import CameraModel
    from sensorfuse.io.kitti import read_kitti_object_calib, read_velodyne_bin

    root = Path(dataset)
    splits = [root / s for s in ("training", "testing") if (root / s / "calib").is_dir()] or [root]
    frames, notes = [], []
    size = None
    for sd in splits:
        if not (sd / "calib").is_dir():
            raise FormatError(f"{sd}: no calib/ folder; not a KITTI object folder")
        for cf in sorted((sd / "calib").glob("*.txt")):
            name = f"{sd.name}/{cf.stem}"
            c = read_kitti_object_calib(cf)
            if not (np.allclose(c.P2, init.P2, atol=1e-6) and np.allclose(c.R0_rect, init.R0_rect, atol=1e-9)):
                notes.append(f"{name}: another camera calibration (P2/R0_rect differ from the one given): left out")
                continue
            vel, png = sd / "velodyne" / f"{cf.stem}.bin", sd / "image_2" / f"{cf.stem}.png"
            if not vel.is_file() or not png.is_file():
                notes.append(f"{name}: no velodyne scan or image_2: left out")
                continue
            img = cv2.imread(str(png), cv2.IMREAD_COLOR)
            if img is None:
                raise FormatError(f"{png}: not a readable image")
            if size is None:
                size = (img.shape[1], img.shape[0])
            cloud = read_velodyne_bin(vel)
            frames.append(edge_frame(cloud.xyz, img, cloud.intensity, name=name))
    if not frames:
        raise FormatError(f"{root}: no frame with the camera of the initial calibration")
    P2 = np.asarray(init.P2, np.float64)
    K = P2[:, :3]
    camera = CameraModel(K, width=size[0], height=size[1])
    T_pre = np.eye(4)
    T_pre[:3, 3] = np.linalg.solve(K, P2[:, 3])
    return frames, camera, T_pre @ init.R0_rect_4x4, notes


def lidar_camera_kitti(
    dataset: str | Path, init_calib: str | Path, out: str | Path | None = None, *, require_convergence: bool = True
) -> tuple[Any, dict[str, Any]]:
    """Refine ``Tr_velo_to_cam`` of a KITTI calib.txt (P2 and R0_rect held fixed) from the frames of ``dataset``
    that share its camera; write the refined calib.txt to ``out`` with a report PNG beside it."""
    import time

    from sensorfuse.calibration.lidar_camera import refine_targetless
    from sensorfuse.io.kitti import KittiObjectCalib, read_kitti_object_calib, write_kitti_object_calib

    t0 = time.perf_counter()
    init = read_kitti_object_calib(init_calib)
    frames, camera, T_pre, notes = kitti_targetless_inputs(dataset, init)
    res = refine_targetless(frames, camera, init.Tr_velo_to_cam, T_pre=T_pre, require_convergence=require_convergence)
    summary: dict[str, Any] = {
        "dataset": str(dataset),
        "init": str(init_calib),
        "frames": [f.name for f in frames],
        "Tr_velo_to_cam": res.X.tolist(),
        "change": {"rotation_deg": round(res.change_deg, 4), "translation_cm": round(res.change_m * 100, 2),
                   "translation_cm_xyz": np.round((res.X[:3, 3] - init.Tr_velo_to_cam[:3, 3]) * 100, 2).tolist()},
        "quality": res.quality(),
        "notes": notes + res.notes,
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    if out is not None:
        import cv2

        out = Path(out)
        refined = KittiObjectCalib(init.P, init.R0_rect, res.X, init.Tr_imu_to_velo)
        write_kitti_object_calib(refined, out)
        png = out.with_suffix(".png")
        if not cv2.imwrite(str(png), lidar_camera_report_image(frames[0], camera, T_pre @ init.Tr_velo_to_cam,
                                                              res.T_cam_lidar, dataset, frames[0].name)):  # fmt: skip
            raise FormatError(f"{png}: could not write the report")
        summary["calib"] = str(out)
        summary["report"] = str(png)
    return res, summary


def lidar_camera_report_image(
    frame: Any, camera: Any, T_before: np.ndarray, T_after: np.ndarray, dataset: str | Path, name: str
) -> np.ndarray:
    """Before / after: the LiDAR depth-edge points of one frame over its image edges (gray), projected with the
    initial and the refined extrinsic."""
    import cv2

    from sensorfuse.viz.scene import draw_text_block

    d = frame.distance
    base = np.where(np.isfinite(d) & (d < 1.0), 255, 60).astype(np.uint8)
    rows = []
    for label, T in (("initial", T_before), ("refined", T_after)):
        img = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
        Pc = frame.points @ T[:3, :3].T + T[:3, 3]
        uv, ok = camera._project(Pc)
        ok &= camera.in_image(np.where(ok[:, None], uv, -1.0))
        for u, v in np.rint(uv[ok]).astype(int):
            cv2.circle(img, (u, v), 1, (0, 0, 255), -1)
        draw_text_block(img, [f"{name}: LiDAR depth/intensity edges (red) on image edges (white), {label}"])
        rows.append(img)
    return np.vstack(rows)


def _pick_topic(reader: Any, kind: str, topic: str | None, option: str) -> str:
    topics = [t for t, s in reader.streams.items() if s.kind == kind]
    if topic is None:
        if len(topics) != 1:
            raise ValidationError(
                f"{reader.path}: {len(topics)} {kind} topics ({', '.join(topics) or 'none'}); choose one with {option}"
            )
        return topics[0]
    if topic not in topics:
        raise ValidationError(f"{reader.path}: no {kind} topic {topic!r}; {kind} topics: {', '.join(topics) or 'none'}")
    return topic


def log_lidar_camera_setup(reader: Any, camera_topic: str | None, lidar_topic: str | None, init_rig: Any) -> dict:
    """The camera and LiDAR of a log for a LiDAR -> camera calibration: topics, frames, the camera model
    (CameraInfo beside the image topic, else ``init_rig``) and the initial ``T_cam_lidar`` (/tf_static, else
    ``init_rig``; ``init_rig`` wins where both have it)."""
    from sensorfuse.errors import CalibrationError
    from sensorfuse.pipelines.sync import _camera_info_beside

    cam_t = _pick_topic(reader, "camera", camera_topic, "--camera")
    lid_t = _pick_topic(reader, "lidar", lidar_topic, "--lidar")
    cam_frame = reader.stream(cam_t).frame_id or reader.get(cam_t, 0).data.frame_id
    lid_frame = reader.stream(lid_t).frame_id or reader.get(lid_t, 0).data.frame_id
    cams = reader.cameras()
    camera = cams.get(cam_t) or _camera_info_beside(cam_t, cams)
    T_init, init_from = None, ""
    if init_rig is not None:
        by_frame = {s.frame_id: s for s in init_rig.sensors}
        if camera is None and cam_frame in by_frame and by_frame[cam_frame].camera is not None:
            camera = by_frame[cam_frame].camera
        try:
            T_init, init_from = init_rig.transform(cam_frame, lid_frame), "--init rig"
        except Exception:  # not in the given rig: fall back on the log
            T_init = None
    if camera is None:
        raise CalibrationError(
            f"{reader.path}: no intrinsics for {cam_t} (no CameraInfo beside it): calibrate them first with "
            "`fuse-calib intrinsics` and pass the rig file with --init"
        )
    if T_init is None:
        try:
            T_init, init_from = reader.tf_tree().lookup(cam_frame, lid_frame), "log /tf_static"
        except Exception:
            raise CalibrationError(
                f"{reader.path}: no initial extrinsic {cam_frame} <- {lid_frame} (no /tf_static path between them): "
                "pass a rig file with a rough one (a few degrees, decimetres) with --init"
            ) from None
    return {
        "camera_topic": cam_t,
        "lidar_topic": lid_t,
        "camera_frame": cam_frame,
        "lidar_frame": lid_frame,
        "camera_name": cam_frame,
        "lidar_name": lid_frame,
        "camera": camera,
        "T_init": np.asarray(T_init, np.float64),
        "init_from": init_from,
    }


def _calib_rig(setup: dict, T: np.ndarray, prov: Any, source: str) -> Any:
    from sensorfuse.rig import Extrinsic, Rig, Sensor

    sensors = (
        Sensor(setup["camera_name"], "camera", setup["camera_frame"], setup["camera_topic"], camera=setup["camera"]),
        Sensor(setup["lidar_name"], "lidar", setup["lidar_frame"], setup["lidar_topic"]),
    )
    extr = (Extrinsic(setup["camera_frame"], setup["lidar_frame"], T, provenance=prov),)
    return Rig(name=Path(source).stem or "calibration", sensors=sensors, extrinsics=extr, provenance=prov)


def _log_summary(log: str | Path, setup: dict, T: np.ndarray, res: Any, notes: list[str], t0: float) -> dict:
    """What a LiDAR -> camera calibration of a log reports: topics, where the initial guess came from, the result,
    its change from the guess, the quality figures, notes and the wall time."""
    import time

    T0 = setup["T_init"]
    return {
        "log": str(log),
        "camera_topic": setup["camera_topic"],
        "lidar_topic": setup["lidar_topic"],
        "init_from": setup["init_from"],
        f"T_{setup['camera_frame']}_{setup['lidar_frame']}": T.tolist(),
        "change": {"rotation_deg": round(res.change_deg, 4), "translation_cm": round(res.change_m * 100, 2),
                   "translation_cm_xyz": np.round((T[:3, 3] - T0[:3, 3]) * 100, 2).tolist()},
        "quality": res.quality(),
        "notes": notes + res.notes,
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip


def _write_log_result(
    out: str | Path, log: str | Path, setup: dict, res: Any, method: str, notes: list[str], report: Callable
) -> dict:
    """The rig file (camera, LiDAR, the extrinsic with provenance and numeric quality figures) and the report PNG
    beside it."""
    import cv2

    from sensorfuse.io.rigfile import save_rig
    from sensorfuse.rig import Provenance

    q = res.quality()
    prov = Provenance(
        method, str(log), datetime.date.today().isoformat(),
        {k: v for k, v in q.items() if isinstance(v, int | float) and not isinstance(v, bool)}, "; ".join(notes) or None,
    )  # fmt: skip
    out = Path(out)
    save_rig(_calib_rig(setup, res.T_cam_lidar, prov, str(log)), out)
    png = out.with_suffix(".png")
    if not cv2.imwrite(str(png), report()):
        raise FormatError(f"{png}: could not write the report")
    return {"rig": str(out), "report": str(png)}


def lidar_camera_target_log(
    log: str | Path,
    board_spec: str,
    *,
    border_m: float | None = None,
    camera_topic: str | None = None,
    lidar_topic: str | None = None,
    init_rig: Any = None,
    out: str | Path | None = None,
    range_std_m: float = 0.01,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Target-based LiDAR -> camera calibration from a log with a board in view: board poses by PnP in every image
    (the log's CameraInfo intrinsics), every LiDAR sweep with per-point times, the initial extrinsic from
    /tf_static (or ``init_rig``) -> :func:`~sensorfuse.calibration.lidar_camera_target.calibrate_lidar_camera_target`
    -> a rig file (camera, LiDAR, the extrinsic with its provenance and quality figures) and a report PNG."""
    import time

    import cv2

    from sensorfuse.calibration.intrinsics import Board, detect_board
    from sensorfuse.calibration.lidar_camera_target import board_pose, calibrate_lidar_camera_target
    from sensorfuse.io import open as open_log
    from sensorfuse.pipelines.view import to_bgr

    t0 = time.perf_counter()
    board = Board.parse(board_spec)
    if board.kind != "chessboard" and border_m is not None:
        raise ValidationError("--border is defined for chessboards (the edge beyond the outer inner corners)")
    notes: list[str] = []
    with open_log(log) as reader:
        setup = log_lidar_camera_setup(reader, camera_topic, lidar_topic, init_rig)
        camera = setup["camera"]
        n_img = reader.stream(setup["camera_topic"]).count
        n_lid = reader.stream(setup["lidar_topic"]).count
        poses, image_index = [], {}  # image message index by stamp: the report reads its one image again
        for k, m in enumerate(reader.read(setup["camera_topic"])):
            img = cv2.cvtColor(to_bgr(m.data), cv2.COLOR_BGR2GRAY)
            if (img.shape[1], img.shape[0]) != camera.size:
                raise ValidationError(
                    f"{log}: {setup['camera_topic']} image is {img.shape[1]}x{img.shape[0]}, its camera model "
                    f"{camera.size[0]}x{camera.size[1]}"
                )
            d = detect_board(img, board, view=f"{setup['camera_topic']}#{k}")
            b = board_pose(d, camera, m.data.stamp_ns) if d is not None else None
            if b is not None:
                poses.append(b)
                image_index[b.stamp_ns] = k
            if progress is not None:
                progress(k + 1, n_img + n_lid)
        sweeps = []
        no_time = 0
        for k, m in enumerate(reader.read(setup["lidar_topic"])):
            pc = m.data
            if pc.t_offset_ns is None:
                no_time += 1
                t = np.full(pc.xyz.shape[0], pc.stamp_ns, np.int64)
            else:
                t = pc.point_stamps_ns
            sweeps.append((pc.xyz, t))
            if progress is not None:
                progress(n_img + k + 1, n_img + n_lid)
    if no_time:
        notes.append(f"{no_time} sweep(s) without per-point time: all their points taken at the sweep stamp")
    obj = board.object_points()
    extent = (obj[:, 0].min(), obj[:, 0].max(), obj[:, 1].min(), obj[:, 1].max())
    res = calibrate_lidar_camera_target(
        sweeps, poses, setup["T_init"], board_extent=extent, border_m=border_m, range_std_m=range_std_m
    )
    summary = _log_summary(log, setup, res.T_cam_lidar, res, notes, t0)
    summary |= {"images": n_img, "board_poses": len(poses), "sweeps": len(sweeps)}
    if out is not None:

        def image_of(stamp_ns: int) -> np.ndarray:
            with open_log(log) as reader:
                msg = reader.get(setup["camera_topic"], image_index[stamp_ns]).data
            return cv2.cvtColor(to_bgr(msg), cv2.COLOR_BGR2GRAY)

        summary |= _write_log_result(
            out, log, setup, res, "fuse-calib lidar-camera (target: board planes)", summary["notes"],
            lambda: target_report_image(res, poses, image_of, sweeps, camera, setup["T_init"]),
        )  # fmt: skip
    return res, summary


def target_report_image(
    res: Any,
    poses: list[Any],
    image_of: Callable[[int], np.ndarray],
    sweeps: list[Any],
    camera: Any,
    T_before: np.ndarray,
) -> np.ndarray:
    """Before / after: the LiDAR points taken within 10 ms of a board image (the one with most of them in view),
    projected with the initial and the calibrated extrinsic, coloured by range. ``image_of(stamp_ns)`` gives the
    8-bit gray image of a board pose."""
    import cv2

    from sensorfuse.viz.overlay import turbo_lut
    from sensorfuse.viz.scene import draw_text_block

    best, pts, most = None, None, 0
    spans = np.array([(t.min(), t.max()) if t.size else (0, -1) for _, t in sweeps], np.int64).reshape(-1, 2)
    for b in poses:  # the image with the most LiDAR points taken within 10 ms of it
        for k in np.flatnonzero((spans[:, 0] <= b.stamp_ns + 10_000_000) & (spans[:, 1] >= b.stamp_ns - 10_000_000)):
            xyz, t = sweeps[k]
            m = np.abs(t - b.stamp_ns) < 10_000_000
            if m.sum() > most:  # of those, the ones in view
                uv, ok = camera.project(np.asarray(xyz[m], np.float64) @ T_before[:3, :3].T + T_before[:3, 3])
                m[np.flatnonzero(m)] = ok & camera.in_image(np.where(ok[:, None], uv, -1.0))
            if m.sum() > most:
                best, pts, most = b, np.asarray(xyz[m], np.float64), int(m.sum())
    rows = []
    gray = image_of(best.stamp_ns) if best is not None else np.zeros((camera.height, camera.width), np.uint8)
    lut = turbo_lut()
    for label, T in (("initial", T_before), ("calibrated", res.T_cam_lidar)):
        img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        if pts is not None:
            Pc = pts @ T[:3, :3].T + T[:3, 3]
            uv, ok = camera.project(Pc)
            ok &= camera.in_image(np.where(ok[:, None], uv, -1.0))
            rng_ = np.linalg.norm(Pc[ok], axis=1)
            col = lut[np.clip((rng_ - 2.0) / 18.0 * 255, 0, 255).astype(np.int64)]
            for (u, v), c in zip(np.rint(uv[ok]).astype(int), col, strict=True):
                cv2.circle(img, (int(u), int(v)), 2, tuple(int(x) for x in c), -1)
        draw_text_block(img, [f"LiDAR points within 10 ms of this image, {label} extrinsic (colour: range 2-20 m)"])
        rows.append(img)
    return np.vstack(rows)


# -- calibration drift check ---------------------------------------------------------------------------------------


def log_edge_frames(
    reader: Any,
    setup: dict,
    T_cam_lidar: np.ndarray,
    T_base_lidar: np.ndarray | None,
    *,
    every: int = 1,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[list[Any], np.ndarray, list[str]]:
    """Edge frames of a log: each LiDAR sweep paired with the camera image nearest to the moment it swept the
    camera's view (median time of its points in view under ``T_cam_lidar``), points put in ring order, edges found
    in the sweep as measured and then deskewed to that image's stamp with the log's odometry (when it has a pose
    topic and ``T_base_lidar`` is known), each edge point by the time of the point it came from."""
    from collections import deque

    from sensorfuse.calibration.lidar_camera import edge_frame
    from sensorfuse.fusion.deskew import deskew_points
    from sensorfuse.pipelines.sync import pose_trajectory
    from sensorfuse.pipelines.view import to_bgr
    from sensorfuse.rig import ClockModel

    notes: list[str] = []
    camera = setup["camera"]
    poses = None
    pose_topics = reader.topics("pose")
    if pose_topics and T_base_lidar is not None:
        poses = pose_trajectory(list(reader.read(pose_topics[0])), ClockModel())
    if poses is None:
        notes.append("no odometry (or no base <- LiDAR transform): sweeps are not deskewed to the image time")
    notes.append("stamps used as recorded: one clock assumed (run fuse-sync first on logs with clock offsets)")
    cam_t, lid_t = setup["camera_topic"], setup["lidar_topic"]
    n_lid = reader.stream(lid_t).count
    frames, stamps = [], []
    pending: list[tuple[int, Any, np.ndarray | None, int]] = []  # (sweep index, cloud, point times, target time)
    recent: deque = deque(maxlen=6)

    def emit(k: int, pc: Any, t_pts: np.ndarray | None, img_msg: Any) -> None:
        t_img = int(img_msg.stamp_ns)
        move = None
        order = np.lexsort((t_pts, pc.ring)) if pc.ring is not None and t_pts is not None else slice(None)
        if poses is not None and t_pts is not None:
            if t_pts.min() < poses.stamp_ns[0] or t_pts.max() > poses.stamp_ns[-1]:
                return  # the sweep is not covered by the odometry: skipped (counted below)
            t_sorted = t_pts[order]

            def move(pts: np.ndarray, src: np.ndarray) -> np.ndarray:  # edges found as measured, then deskewed
                return deskew_points(pts, t_sorted[src], poses, T_base_lidar, t_img, what=f"{lid_t} sweep {k}").xyz

        xyz = np.asarray(pc.xyz, np.float64)[order]
        inten = pc.intensity[order] if pc.intensity is not None else None
        ring = np.asarray(pc.ring)[order] if pc.ring is not None else None
        frames.append(edge_frame(xyz, to_bgr(img_msg), inten, ring=ring, name=f"sweep {k}", move=move))
        stamps.append(t_img)

    def nearest(tm: int) -> Any:
        return min(recent, key=lambda m: abs(int(m.stamp_ns) - tm))

    k_sweep = -1
    for m in reader.read([cam_t, lid_t]):
        if m.topic == cam_t:
            recent.append(m.data)
            done = [p for p in pending if int(m.data.stamp_ns) >= p[3]]
            for p in done:
                emit(*p[:3], nearest(p[3]))
                pending.remove(p)
            continue
        k_sweep += 1
        if progress is not None:
            progress(k_sweep + 1, n_lid)
        if k_sweep % every:
            continue
        pc = m.data
        t_pts = pc.point_stamps_ns if pc.t_offset_ns is not None else None
        if t_pts is None:
            tm = int(pc.stamp_ns)
        else:
            P = np.asarray(pc.xyz, np.float64) @ T_cam_lidar[:3, :3].T + T_cam_lidar[:3, 3]
            uv, ok = camera.project(P)
            ok &= camera.in_image(np.where(ok[:, None], uv, -1.0))
            if not ok.any():
                continue
            tm = int(np.median(t_pts[ok]))
        pending.append((k_sweep, pc, t_pts, tm))
    for p in pending:  # the last sweeps: the nearest image seen
        if recent:
            emit(*p[:3], nearest(p[3]))
    skipped = len(range(0, k_sweep + 1, every)) - len(frames)
    if skipped:
        notes.append(f"{skipped} sweep(s) skipped (no point in view, or outside the odometry's time range)")
    if not frames:
        raise ValidationError(f"{reader.path}: no LiDAR sweep with points in the camera's view and an image")
    order = np.argsort(np.array(stamps, np.int64), kind="stable")
    return [frames[i] for i in order], np.array(stamps, np.int64)[order], notes


def _base_lidar(reader: Any, setup: dict, rig: Any) -> np.ndarray | None:
    """``T_body_lidar`` for the body of the log's first pose topic (from ``rig``, else /tf_static), or None."""
    topics = reader.topics("pose")
    if not topics:
        return None
    body = reader.get(topics[0], 0).data.child_frame_id
    for lookup in ([rig.transform] if rig is not None else []) + [reader.tf_tree().lookup]:
        try:
            return lookup(body, setup["lidar_frame"])
        except Exception:  # not in this source: try the next
            continue
    return None


def lidar_camera_targetless_log(
    log: str | Path,
    *,
    camera_topic: str | None = None,
    lidar_topic: str | None = None,
    init_rig: Any = None,
    out: str | Path | None = None,
    frames: int = 20,
    require_convergence: bool = True,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Targetless LiDAR -> camera refinement on a log: ``frames`` sweeps spread over the log, each paired with its
    image and deskewed (:func:`log_edge_frames`), the initial extrinsic from /tf_static or ``init_rig`` ->
    :func:`~sensorfuse.calibration.lidar_camera.refine_targetless` -> a rig file and a before/after report PNG."""
    import time

    from sensorfuse.calibration.lidar_camera import refine_targetless
    from sensorfuse.io import open as open_log

    t0 = time.perf_counter()
    with open_log(log) as reader:
        setup = log_lidar_camera_setup(reader, camera_topic, lidar_topic, init_rig)
        every = max(1, reader.stream(setup["lidar_topic"]).count // max(frames, 1))
        T0 = setup["T_init"]
        efs, _, notes = log_edge_frames(reader, setup, T0, _base_lidar(reader, setup, init_rig), every=every,
                                        progress=progress)  # fmt: skip
    res = refine_targetless(efs, setup["camera"], T0, require_convergence=require_convergence)
    summary = _log_summary(log, setup, res.T_cam_lidar, res, notes, t0)
    summary["frames"] = [f.name for f in efs]
    if out is not None:
        summary |= _write_log_result(
            out, log, setup, res, "fuse-calib lidar-camera (targetless: edge alignment)", summary["notes"],
            lambda: lidar_camera_report_image(efs[0], setup["camera"], T0, res.T_cam_lidar, log, efs[0].name),
        )  # fmt: skip
    return res, summary


def calib_check(
    source: str | Path,
    calib: str | Path,
    *,
    camera_topic: str | None = None,
    lidar_topic: str | None = None,
    window: int = 20,
    every: int = 1,
    threshold_deg: float = 0.3,
    threshold_m: float = 0.03,
    report: str | Path | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """``fuse-check calib``: the drift check (:func:`~sensorfuse.calibration.drift.check_drift`) of a LiDAR ->
    camera calibration over a KITTI object folder (``calib``: a calib.txt; its frames form one unordered window) or
    a log (``calib``: a rig file; windows of ``window`` sweeps, each paired with its image and deskewed); ``report``:
    a PNG of the corrections over time (:func:`drift_report_image`)."""
    import time

    from sensorfuse.calibration.drift import check_drift
    from sensorfuse.io import open as open_log
    from sensorfuse.io.rigfile import load_rig

    t0 = time.perf_counter()
    notes: list[str] = []

    def tick(stage: str) -> Callable[[int, int | None], None] | None:
        return None if progress is None else (lambda k, n: progress(stage, k, n))

    if is_kitti_object(source):
        from sensorfuse.io.kitti import read_kitti_object_calib

        init = read_kitti_object_calib(calib)
        frames, camera, T_pre, notes = kitti_targetless_inputs(source, init)
        rep = check_drift(frames, camera, init.Tr_velo_to_cam, T_pre=T_pre, threshold_deg=threshold_deg,
                          threshold_m=threshold_m, progress=tick("align"))  # fmt: skip
        what = {"dataset": str(source), "calib": str(calib)}
    else:
        rig = load_rig(calib)
        with open_log(source) as reader:
            setup = log_lidar_camera_setup(reader, camera_topic, lidar_topic, rig)
            if setup["init_from"] != "--init rig":
                raise ValidationError(
                    f"{calib}: no transform {setup['camera_frame']} <- {setup['lidar_frame']} in this rig file (the "
                    "calibration to check)"
                )
            T = setup["T_init"]
            frames, stamps, notes = log_edge_frames(reader, setup, T, _base_lidar(reader, setup, rig), every=every,
                                                    progress=tick("read"))  # fmt: skip
        rep = check_drift(frames, setup["camera"], T, stamps_ns=stamps, window=window, threshold_deg=threshold_deg,
                          threshold_m=threshold_m, progress=tick("align"))  # fmt: skip
        what = {"log": str(source), "calib": str(calib), "camera_topic": setup["camera_topic"],
                "lidar_topic": setup["lidar_topic"]}  # fmt: skip
    summary = what | rep.to_dict()
    summary["notes"] = notes + summary["notes"]
    summary["wall_time_s"] = round(time.perf_counter() - t0, 1)
    if report is not None:
        import cv2

        if not cv2.imwrite(str(report), drift_report_image(rep)):
            raise FormatError(f"{report}: could not write the report")
        summary["report"] = str(report)
    return rep, summary


def drift_report_image(rep: Any, width: int = 1000, height: int = 420) -> np.ndarray:
    """The drift check over time: each window's rotation correction (deg, left axis, blue bars over its frames) and
    translation across the optical axis (cm, orange), the thresholds (dashed), each frame's score (gray dots, 0..max)
    and the located start (red line)."""
    import cv2

    from sensorfuse.viz.scene import draw_text_block

    img = np.full((height, width, 3), 255, np.uint8)
    x0, x1, y0, y1 = 60, width - 20, 56, height - 40
    n = len(rep.names)
    top_deg = max(2 * rep.threshold_deg, 1.2 * max(w.rotation_deg for w in rep.windows))
    top_cm = max(2 * rep.threshold_m * 100, 1.2 * max(float(np.hypot(*w.translation_m[:2])) * 100 for w in rep.windows))

    def X(i: float) -> int:
        return int(x0 + (x1 - x0) * (i + 0.5) / max(n, 1))

    def Y(v: float, top: float) -> int:
        return int(y1 - (y1 - y0) * min(v / top, 1.0))

    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 0), 1)
    smax = max(float(np.max(rep.scores)), 1e-6)
    for i, s in enumerate(rep.scores):
        cv2.circle(img, (X(i), Y(s, smax)), 2, (160, 160, 160), -1)
    for w in rep.windows:
        a, b = X(w.first - 0.4), X(w.last + 0.4)
        cv2.line(img, (a, Y(w.rotation_deg, top_deg)), (b, Y(w.rotation_deg, top_deg)), (200, 90, 0), 2)
        t = float(np.hypot(*w.translation_m[:2])) * 100
        cv2.line(img, (a, Y(t, top_cm) + 1), (b, Y(t, top_cm) + 1), (0, 140, 255), 1)
    for v, top, col in ((rep.threshold_deg, top_deg, (200, 90, 0)), (rep.threshold_m * 100, top_cm, (0, 140, 255))):
        y = Y(v, top)
        for xx in range(x0, x1, 12):
            cv2.line(img, (xx, y), (min(xx + 6, x1), y), col, 1)
    if rep.start is not None:
        cv2.line(img, (X(rep.start - 0.5), y0), (X(rep.start - 0.5), y1), (0, 0, 230), 2)
    verdict = f"DRIFT ({rep.kind}) from {rep.names[rep.start]}" if rep.drift and rep.start is not None else (
        f"DRIFT ({rep.kind})" if rep.drift else "OK")  # fmt: skip
    draw_text_block(img, [
        f"{verdict}. Per window: rotation correction (blue, 0-{top_deg:.2f} deg), translation across the optical "
        f"axis (orange, 0-{top_cm:.1f} cm);", f"thresholds dashed; per frame: score (gray, 0-{smax:.3f}); red: start",
    ])  # fmt: skip
    cv2.putText(img, rep.names[0], (x0, y1 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, rep.names[-1], (x1 - 90, y1 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img
