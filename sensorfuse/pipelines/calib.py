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
from sensorfuse.io.images import IMAGE_SUFFIXES, read_image_bgr, read_image_gray, to_gray, write_png
from sensorfuse.io.kitti.object import kitti_object_file, kitti_object_frames
from sensorfuse.io.open_log import is_kitti_object
from sensorfuse.pipelines._topics import pick_topic
from sensorfuse.viz.reports import (
    drift_report_image,
    intrinsics_report_image,
    lidar_camera_report_image,
    report_path,
    target_report_image,
)

__all__ = [
    "calib_check",
    "intrinsics_from_images",
    "kitti_targetless_inputs",
    "lidar_camera",
    "lidar_camera_kitti",
    "lidar_camera_target_log",
    "lidar_camera_targetless_log",
    "log_edge_frames",
    "log_lidar_camera_setup",
]


def _images(source: str | Path, topic: str | None, every: int) -> Iterator[tuple[str, np.ndarray]]:
    """(name, 8-bit gray image) of a folder, a glob or a log's camera topic."""

    p = Path(source)
    if p.is_dir() and not topic and any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir()):
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    elif not p.exists() and any(ch in str(source) for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(str(source)))
        if not files:
            raise FormatError(f"{source}: the pattern matches no image")
    else:
        yield from _log_images(p, topic, every)
        return
    for f in files[::every]:
        yield f.name, read_image_gray(f)


def _log_images(path: Path, topic: str | None, every: int) -> Iterator[tuple[str, np.ndarray]]:

    from sensorfuse.io import open as open_log

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
            yield f"{topic}#{i}", to_gray(m.data)


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
    from sensorfuse.calibration.board import Board, detect_board
    from sensorfuse.calibration.intrinsics import calibrate_intrinsics

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

        from sensorfuse.calibration.intrinsics import fixed_k3_flags

        flags = fixed_k3_flags()  # Kalibr's radtan has k1 k2 p1 p2 only: calibrate that model, not drop k3 after
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
        png = report_path(out)
        write_png(png, intrinsics_report_image(res, sample))
        summary["rig"] = str(out)
        summary["report"] = str(png)
    if camera_info is not None:
        from sensorfuse.io.ros.camera_info import write_camera_info_yaml

        summary["camera_info"] = str(write_camera_info_yaml(res.camera, camera_info, camera_name=camera_name))
    return res, summary


def kitti_targetless_inputs(dataset: str | Path, init: Any) -> tuple[list[Any], Any, np.ndarray, list[str]]:
    """The edge frames of every KITTI object frame (training/ and testing/, or one split) whose calibration has the
    camera of ``init`` (same P2 and R0_rect: the same recording day), the camera model, ``T_pre`` (P2's baseline @
    R0_rect) and notes on the frames left out."""

    from sensorfuse.calibration.lidar_camera import edge_frame
    from sensorfuse.geometry.camera import CameraModel
    from sensorfuse.io.kitti.calib import read_kitti_object_calib
    from sensorfuse.io.kitti.velodyne import read_velodyne_bin

    root = Path(dataset)
    frames, notes = [], []
    size = None
    listed = kitti_object_frames(root)
    if not listed:
        raise FormatError(f"{root}: no calib/*.txt; not a KITTI object folder")
    for _, sd, stem in listed:
        name = f"{sd.name}/{stem}"
        c = read_kitti_object_calib(kitti_object_file(sd, "calib", stem))
        if not (np.allclose(c.P2, init.P2, atol=1e-6) and np.allclose(c.R0_rect, init.R0_rect, atol=1e-9)):
            notes.append(f"{name}: another camera calibration (P2/R0_rect differ from the one given): left out")
            continue
        vel, png = kitti_object_file(sd, "velodyne", stem), kitti_object_file(sd, "image_2", stem)
        if vel is None or png is None:
            notes.append(f"{name}: no velodyne scan or image_2: left out")
            continue
        img = read_image_bgr(png, "cam2")
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
    from sensorfuse.io.kitti.calib import KittiObjectCalib, read_kitti_object_calib, write_kitti_object_calib

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
        out = Path(out)
        refined = KittiObjectCalib(init.P, init.R0_rect, res.X, init.Tr_imu_to_velo)
        write_kitti_object_calib(refined, out)
        png = report_path(out)
        write_png(png, lidar_camera_report_image(frames[0], camera, T_pre @ init.Tr_velo_to_cam, res.T_cam_lidar,
                                                 dataset, frames[0].name))  # fmt: skip
        summary["calib"] = str(out)
        summary["report"] = str(png)
    return res, summary


def log_lidar_camera_setup(reader: Any, camera_topic: str | None, lidar_topic: str | None, init_rig: Any) -> dict:
    """The camera and LiDAR of a log for a LiDAR -> camera calibration: topics, frames, the camera model
    (CameraInfo beside the image topic, else ``init_rig``) and the initial ``T_cam_lidar`` (/tf_static, else
    ``init_rig``; ``init_rig`` wins where both have it)."""
    from sensorfuse.errors import CalibrationError
    from sensorfuse.pipelines.sync import _camera_info_beside

    cam_t = pick_topic(reader, "camera", camera_topic, "--camera")
    lid_t = pick_topic(reader, "lidar", lidar_topic, "--lidar")
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

    from sensorfuse.io.rigfile import save_rig
    from sensorfuse.rig import Provenance

    q = res.quality()
    prov = Provenance(
        method, str(log), datetime.date.today().isoformat(),
        {k: v for k, v in q.items() if isinstance(v, int | float) and not isinstance(v, bool)}, "; ".join(notes) or None,
    )  # fmt: skip
    out = Path(out)
    save_rig(_calib_rig(setup, res.T_cam_lidar, prov, str(log)), out)
    png = report_path(out)
    write_png(png, report())
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

    from sensorfuse.calibration.board import Board, board_pose, detect_board
    from sensorfuse.calibration.lidar_camera_target import calibrate_lidar_camera_target
    from sensorfuse.io import open as open_log

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
            img = to_gray(m.data)
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
            return to_gray(msg)

        summary |= _write_log_result(
            out, log, setup, res, "fuse-calib lidar-camera (target: board planes)", summary["notes"],
            lambda: target_report_image(res, poses, image_of, sweeps, camera, setup["T_init"]),
        )  # fmt: skip
    return res, summary


def log_edge_frames(
    reader: Any,
    setup: dict,
    T_cam_lidar: np.ndarray,
    T_base_lidar: np.ndarray | None,
    *,
    every: int = 1,
    shift_ns: int = 0,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[list[Any], np.ndarray, list[str]]:
    """Edge frames of a log: each LiDAR sweep paired with the camera image nearest to the moment it swept the
    camera's view (median time of its points in view under ``T_cam_lidar``), points put in ring order, edges found
    in the sweep as measured and then deskewed to that image's stamp with the log's odometry (when it has a pose
    topic and ``T_base_lidar`` is known), each edge point by the time of the point it came from. ``shift_ns`` is
    added to the image stamps (a camera clock offset: ``t_odometry = t_camera + shift_ns``)."""
    from collections import deque

    from sensorfuse.calibration.lidar_camera import edge_frame
    from sensorfuse.fusion.deskew import deskew_points
    from sensorfuse.io.images import to_bgr
    from sensorfuse.pipelines.sync import pose_trajectory
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
        t_img = int(img_msg.stamp_ns) + shift_ns  # the image's time on the odometry's clock
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

    if is_kitti_object(source):  # the one rule: sensorfuse.io.open_log
        from sensorfuse.io.kitti.calib import read_kitti_object_calib

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
        write_png(report, drift_report_image(rep))
        summary["report"] = str(report)
    return rep, summary


def lidar_camera(
    dataset: str | Path,
    *,
    init: str | Path | None = None,
    target: str | None = None,
    border_m: float | None = None,
    camera_topic: str | None = None,
    lidar_topic: str | None = None,
    out: str | Path | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> tuple[str, Any, dict[str, Any]]:
    """``fuse-calib lidar-camera``: pick the workflow for ``dataset`` and run it -> ``(workflow, result, summary)``.

    A board given (``target``): :func:`lidar_camera_target_log`; a KITTI object folder: :func:`lidar_camera_kitti`
    (``init`` = the calib.txt to refine, required); any other log: :func:`lidar_camera_targetless_log`. For logs
    ``init`` is a rig file with the initial extrinsic (default: the log's /tf_static).
    """
    if target is None and is_kitti_object(dataset):
        if init is None:
            raise ValidationError("KITTI: --init calib.txt is required (the calibration to refine)")
        return ("kitti", *lidar_camera_kitti(dataset, init, out))
    init_rig = None
    if init is not None:
        from sensorfuse.io.rigfile import load_rig

        init_rig = load_rig(init)
    if target is not None:
        res, summary = lidar_camera_target_log(
            dataset, target, border_m=border_m, camera_topic=camera_topic, lidar_topic=lidar_topic,
            init_rig=init_rig, out=out, progress=progress,
        )  # fmt: skip
        return "target", res, summary
    res, summary = lidar_camera_targetless_log(
        dataset, camera_topic=camera_topic, lidar_topic=lidar_topic, init_rig=init_rig, out=out, progress=progress
    )
    return "targetless", res, summary


def lidar_camera_time_offset(
    log: str | Path,
    *,
    camera_topic: str | None = None,
    lidar_topic: str | None = None,
    init_rig: Any = None,
    max_offset_ms: float = 50.0,
    frames: int = 20,
    bootstrap: int = 50,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], Any]:
    """The camera's clock offset against the LiDAR/odometry clock from the targetless edge alignment under motion:
    the shift of the image stamps (``t_odometry = t_camera + offset``) at which the LiDAR's edges, deskewed to the
    shifted image time with the log's odometry, best meet the image's edges, the extrinsic held at ``init_rig``'s
    or /tf_static's. A coarse grid (4 ms) over +-``max_offset_ms``, a fine one (1 ms) around its best, a parabola
    through the fine peak; the standard deviation from a bootstrap over the frames.

    Under forward motion a clock offset moves the edges like a translation along the direction of travel: the
    offset found is the one for the extrinsic given (calibrate the extrinsic first; the two are not separated here).

    Returns:
        ``(summary, setup)``: the setup of :func:`log_lidar_camera_setup` (topics, frames, the camera's model).

    Raises:
        CalibrationError: no odometry to deskew with, a peak at the edge of the search, or a curve too flat to
            decide (the rig hardly moves).
    """
    from sensorfuse.calibration.lidar_camera import frame_scores
    from sensorfuse.errors import CalibrationError
    from sensorfuse.io import open as open_log

    with open_log(log) as reader:
        setup = log_lidar_camera_setup(reader, camera_topic, lidar_topic, init_rig)
        T0 = setup["T_init"]
        Tb = _base_lidar(reader, setup, init_rig)
        if not reader.topics("pose") or Tb is None:
            raise CalibrationError(
                f"{log}: the LiDAR-camera offset needs odometry (a pose topic) and the base <- LiDAR transform to "
                "deskew the sweeps to the shifted image time"
            )
        every = max(1, reader.stream(setup["lidar_topic"]).count // max(frames, 1))
        coarse = np.arange(-max_offset_ms, max_offset_ms + 1e-9, 4.0)
        done = [0]
        total = coarse.size + 9

        def scores(ms: float) -> np.ndarray:
            efs, _, _ = log_edge_frames(reader, setup, T0, Tb, every=every, shift_ns=round(ms * 1e6))
            done[0] += 1
            if progress is not None:
                progress(done[0], total)
            return frame_scores(efs, setup["camera"], np.eye(4), T0, np.eye(4), 3.0)

        per = {float(ms): scores(float(ms)) for ms in coarse}
        n = min(v.size for v in per.values())
        mean = {k: float(v[:n].mean()) for k, v in per.items()}
        best = max(mean, key=lambda k: mean[k])
        if best in (coarse[0], coarse[-1]):
            raise CalibrationError(
                f"{log}: the edge score is best at the edge of the search ({best:+.0f} ms): the offset is beyond "
                f"+-{max_offset_ms:g} ms (widen --max-offset) or the extrinsic is off (calibrate it first)"
            )
        for ms in np.arange(best - 4.0, best + 4.0 + 1e-9, 1.0):
            if float(ms) not in per:
                per[float(ms)] = scores(float(ms))
    n = min(v.size for v in per.values())
    grid = np.array(sorted(per))
    S = np.stack([per[g][:n] for g in grid], axis=1)  # (frames, grid)

    def peak(rows: np.ndarray) -> float:
        m = S[rows].mean(axis=0)
        fine = (grid >= best - 4.0) & (grid <= best + 4.0)
        g, v = grid[fine], m[fine]
        j = int(np.argmax(v))
        lo, hi = max(j - 2, 0), min(j + 3, g.size)
        a, b, _ = np.polyfit(g[lo:hi], v[lo:hi], 2)
        return float(-b / (2 * a)) if a < 0 else float(g[j])

    offset = peak(np.arange(n))
    rng = np.random.default_rng(0)
    boot = np.array([peak(rng.integers(0, n, n)) for _ in range(bootstrap)])
    std = float(np.std(boot, ddof=1))
    m = S.mean(axis=0)
    contrast = float((m.max() - m.min()) / max(m.max(), 1e-12))
    if contrast < 0.05 or std > 5.0:
        raise CalibrationError(
            f"{log}: the edge score hardly changes with the offset (contrast {contrast:.1%}, std {std:.1f} ms): the "
            "rig does not move enough for the edges to tell the time; record a drive"
        )
    summary = {
        "source": str(log),
        "reference": setup["lidar_topic"],
        "stream": setup["camera_topic"],
        "offset_ns": round(offset * 1e6),
        "offset_ms": round(offset, 4),
        "offset_std_ms": round(std, 4),
        "convention": "t_lidar/odometry = t_camera + offset_ns",
        "frames": n,
        "contrast": round(contrast, 4),
        "curve": {"offset_ms": grid.tolist(), "score": [round(float(v), 6) for v in m]},
        "notes": [
            "the extrinsic is held (the offset and the translation along the direction of travel are coupled: "
            "calibrate the extrinsic first)"
        ],
    }
    return summary, setup
