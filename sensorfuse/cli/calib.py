"""``fuse-calib``: calibrate sensors, with a quality figure for every result and a report PNG beside it.

``intrinsics IMAGES_OR_LOG --board KIND:COLSxROWS:SIZE[...] -o rig.yaml``: camera intrinsics from a folder or glob of
board images, or a log's camera topic (``--topic``, ``--every N``). Boards: ``chessboard:9x6:0.025`` (inner corners,
square in m), ``charuco:7x5:0.04:0.03[:DICT_5X5_100]`` (squares, square and marker size), ``aprilgrid:6x6:0.088[:0.3]``
(tags, tag size, spacing ratio; Kalibr's layout). Models: pinhole, brown_conrady (default), kannala_brandt. Outlier
views are left out and reported; the rig file carries the quality figures (RMS, leave-one-view-out RMS, coverage,
parameter uncertainties) in the camera's provenance. The pipeline is :mod:`sensorfuse.pipelines.calib`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from sensorfuse.cli._common import print_json, progress_bar, run

app = typer.Typer(
    add_completion=False,
    help="Calibrate sensors: camera intrinsics, LiDAR-camera (targetless on KITTI, board-based on logs).",
)
_EXAMPLES = (
    "Examples:\n\n  fuse-calib intrinsics calib_images/ --board chessboard:9x6:0.025 -o cam.yaml\n\n"
    "  fuse-calib intrinsics drive.mcap --topic /cam/image_raw --every 10 --board aprilgrid:6x6:0.088 -o cam.yaml"
)


@app.callback()
def _group() -> None:
    """Calibrate sensors: ``fuse-calib intrinsics ...``, ``fuse-calib lidar-camera ...``."""


@app.command(help=__doc__, epilog=_EXAMPLES)
def intrinsics(
    source: Annotated[str, typer.Argument(help="a folder or glob of images, or a log with a camera topic")],
    board: Annotated[str, typer.Option(help="the target, e.g. chessboard:9x6:0.025")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="rig file to write (report PNG beside it)")] = None,
    model: Annotated[str, typer.Option(help="pinhole, brown_conrady or kannala_brandt")] = "brown_conrady",
    name: Annotated[str, typer.Option(help="the camera's name in the rig file")] = "camera",
    topic: Annotated[str | None, typer.Option(help="camera topic of a log")] = None,
    every: Annotated[int, typer.Option(help="use every N-th image")] = 1,
    camera_info: Annotated[Path | None, typer.Option(help="also write a ROS CameraInfo YAML")] = None,
    kalibr: Annotated[Path | None, typer.Option(help="also write a Kalibr camchain YAML")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.pipelines.calib import intrinsics_from_images

    with progress_bar(SpinnerColumn(), TextColumn("[bold]fuse-calib[/] {task.description}"), TimeElapsedColumn(),
                  disable=json_out, transient=True) as bar:  # fmt: skip
        task = bar.add_task("detecting the board", total=None)
        res, summary = intrinsics_from_images(
            source, board, out=out, camera_name=name, model=model, topic=topic, every=every, camera_info=camera_info, kalibr=kalibr,
            progress=lambda k, _n: bar.update(task, description=f"detecting the board: {k} images"),
        )  # fmt: skip
    if json_out:
        print_json(summary)
        return
    q = res.quality()
    cam = res.camera
    print(f"{cam.model} {cam.width}x{cam.height}: fx {cam.fx:.3f} fy {cam.fy:.3f} cx {cam.cx:.3f} cy {cam.cy:.3f}")
    print(f"dist {np.array2string(cam.dist, precision=5)}" if cam.dist.size else "no distortion")
    print(
        f"{q['views_used']} views, RMS {q['rms_px']} px, leave-one-out {q['loo_rms_px']} px, coverage {q['coverage']:.0%}; "
        + "std "
        + ", ".join(f"{k} {v}" for k, v in list(q["std"].items())[:4])
    )
    for k, v in res.rejected.items():
        print(f"left out {k}: {v}")
    for w in res.warnings:
        print(f"warning: {w}")
    if out is not None:
        print(f"written: {summary['rig']} (report {summary['report']})")


@app.command(
    name="lidar-camera",
    epilog=(
        "Examples:\n\n  fuse-calib lidar-camera kitti_object/ --init kitti_object/training/calib/000001.txt "
        "-o refined.txt --json\n\n  fuse-calib lidar-camera board_drive.mcap --target chessboard:7x5:0.15 --border 0.225 "
        "-o rig.yaml"
    ),
)
def lidar_camera(
    dataset: Annotated[Path, typer.Argument(help="a KITTI object folder, or a log")],
    init: Annotated[
        Path | None,
        typer.Option(
            help="KITTI: the initial calib.txt (P2, R0_rect held fixed); logs: a rig file (default /tf_static)"
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="board in view, e.g. chessboard:7x5:0.15 (inner corners, square m)")
    ] = None,
    border: Annotated[
        float | None, typer.Option(help="board edge beyond the outer inner corners, m (adds outline residuals)")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="camera topic of the log (if several)")] = None,
    lidar: Annotated[str | None, typer.Option(help="LiDAR topic of the log (if several)")] = None,
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="KITTI: refined calib.txt; logs: rig file (report PNG beside it)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """LiDAR -> camera extrinsics.

    KITTI object folder (targetless): refine Tr_velo_to_cam by aligning LiDAR depth and intensity edges with image
    edges over every frame that shares the initial calibration's camera. The initial guess should be within ~2 deg /
    10 cm; a result without a clear minimum is refused.

    Log with a board in view (--target): board poses from the images (PnP with the log's CameraInfo), every LiDAR
    point paired with the board pose at its own time, the extrinsic solved from all board planes jointly; the
    initial guess (/tf_static or --init rig.yaml) should put the board within ~0.5 m. Writes a rig file.

    Log without --target (targetless): the edge alignment over 20 sweeps spread over the log, each paired with its
    image and deskewed with the log's odometry; the initial guess from /tf_static or --init. Writes a rig file.

    The change from the initial guess and the quality figures are printed. See docs/calibration.md."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.pipelines.calib import lidar_camera as job

    what = "board poses + sweeps" if target is not None else "edge alignment"
    with progress_bar(TextColumn(f"[bold]fuse-calib[/] {what}"), BarColumn(), TimeElapsedColumn(),
                  disable=json_out, transient=True) as bar:  # fmt: skip
        task = bar.add_task("read", total=None)
        workflow, res, summary = job(
            dataset, init=init, target=target, border_m=border, camera_topic=camera, lidar_topic=lidar, out=out,
            progress=lambda k, n: bar.update(task, completed=k, total=n),
        )  # fmt: skip
    if json_out:
        print_json(summary)
        return
    if workflow == "target":
        c, q = summary["change"], res.quality()
        print(f"{summary['board_poses']} board poses in {summary['images']} images, {q['sweeps']} sweeps with "
              f"{q['points']} board points; change from {summary['init_from']}: {c['rotation_deg']} deg, "
              f"{c['translation_cm']} cm (x y z {c['translation_cm_xyz']} cm)")  # fmt: skip
        print(f"residual RMS {q['rms_mm']} mm, one sigma {q['std_deg']} deg / {q['std_mm']} mm, board normals span "
              f"{q['normal_spread_deg']} deg, {summary['wall_time_s']} s")  # fmt: skip
    else:
        c = summary["change"]
        q = res.quality()
        print(f"{len(summary['frames'])} frames; change from the initial guess: {c['rotation_deg']} deg, "
              f"{c['translation_cm']} cm (x y z {c['translation_cm_xyz']} cm)")  # fmt: skip
        print(f"score {q['score']} (initial {q['score_init']}), confidence {q['confidence']}, sharpness "
              f"{q['sharpness']}, {q['edge_points']} edge points in view, {summary['wall_time_s']} s")  # fmt: skip
        iv = res.axis_interval
        if iv:
            from sensorfuse.calibration.lidar_camera import PROFILE_RISE, PROFILE_STEP, axis_unit

            def _side(k: str, v: float, sign: str) -> str:
                f = axis_unit(k)[1]
                step = PROFILE_STEP[0 if k.startswith("r") else 1] * f
                return f"{sign}<{step:.2f}" if v == 0 else f"{sign}{v * f:.2f}"

            print(f"interval (score within {PROFILE_RISE:.1%} of the result's) per axis: " + ", ".join(
                f"{k} {_side(k, lo, '-')}/{_side(k, hi, '+')} {axis_unit(k)[0]}" for k, (lo, hi) in iv.items()
            ))  # fmt: skip
        rises = {k[5:]: q[k] for k in q if k.startswith("rise_")}
        if rises:
            print("score rise 0.25 deg / 3 cm off the result, per axis (camera frame): "
                  + ", ".join(f"{k} {v * 100:.1f} %" for k, v in rises.items()))  # fmt: skip
    for n in summary["notes"]:
        print(f"note: {n}")
    if out is not None:
        print(f"written: {summary.get('calib') or summary['rig']} (report {summary['report']})")


@app.command(
    name="time-offset",
    epilog=(
        "Examples:\n\n  fuse-calib time-offset drive.mcap --streams /imu/data,/odom -o rig.yaml\n\n"
        "  fuse-calib time-offset euroc/mav0 --groundtruth V101_gt.txt --streams imu0,groundtruth --json\n\n"
        "  fuse-calib time-offset drive.bag --streams /imu,/lidar_odom --prior-offset 30ms --max-offset 100ms\n\n"
        "  fuse-calib time-offset drive.mcap --streams /lidar/points,/cam_front/image_raw/compressed -o rig.yaml"
    ),
)
def time_offset(
    source: Annotated[str, typer.Argument(help="a log or dataset folder")],
    streams: Annotated[str, typer.Option(help="REFERENCE,OTHER: two IMU or pose topics, or LIDAR,CAMERA")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="rig file to write (report PNG beside it)")] = None,
    groundtruth: Annotated[Path | None, typer.Option(help="a TUM trajectory added as the topic 'groundtruth'")] = None,
    prior_offset: Annotated[str, typer.Option(help="search near this offset, e.g. 30ms")] = "0ms",
    max_offset: Annotated[str | None, typer.Option(help="only within this of the prior, e.g. 100ms")] = None,
    rotation: Annotated[
        bool, typer.Option(help="also require the rotation (refused where the motion cannot give it)")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Time offset between two streams that observe motion (IMU angular rate, odometry/pose orientation).

    The offset follows the rig file's convention, t_REFERENCE = t_OTHER + offset, from the cross-correlation of the
    angular-rate magnitudes (any lag, or near --prior-offset) refined jointly with the rotation between the two and
    the gyro's bias. Every figure has its standard deviation (Jacobian and a bootstrap over time windows); the
    rotation about an axis the motion never turns away from is named (and refused with --rotation). With -o the
    rig file gets OTHER's clock offset with its provenance, so `fuse-sync --rig` applies it. With LIDAR,CAMERA the
    camera's clock comes from the targetless edge alignment under motion instead (the sweeps deskewed to each shifted
    image time with the log's odometry, the extrinsic held). See docs/calibration.md."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.errors import ValidationError
    from sensorfuse.pipelines.calib_motion import time_offset as job
    from sensorfuse.units import parse_duration_ns

    parts = [s.strip() for s in streams.split(",") if s.strip()]
    if len(parts) != 2:
        raise ValidationError(f"--streams: expected two topics REFERENCE,OTHER, got {streams!r}")
    max_s = None if max_offset is None else parse_duration_ns(max_offset) * 1e-9
    with progress_bar(TextColumn("[bold]fuse-calib[/] time offset"), BarColumn(), TimeElapsedColumn(),
                  disable=json_out, transient=True) as bar:  # fmt: skip
        task = bar.add_task("fit", total=None)
        res, summary = job(
            source, (parts[0], parts[1]), groundtruth=groundtruth, prior_offset_ns=parse_duration_ns(prior_offset),
            max_offset_s=max_s, rotation=rotation, out=out,
            progress=lambda k, n: bar.update(task, completed=k, total=n),
        )  # fmt: skip
    if json_out:
        print_json(summary)
        return
    if res is None:  # LiDAR -> camera from the edges
        print(
            f"{summary['stream']} -> {summary['reference']}: offset {summary['offset_ms']:+.3f} ms (std "
            f"{summary['offset_std_ms']:.3f} ms; {summary['convention']}), {summary['frames']} frames, edge-score "
            f"contrast {summary['contrast']:.1%}"
        )
        for n in summary["notes"]:
            print(f"note: {n}")
        if "rig" in summary:
            print(f"wrote {summary['rig']} (clock of {summary['clock']['sensor']})")
        return
    std = ", ".join(f"{v:.3f}" for v in res.rotation_std_deg)
    print(
        f"{res.stream} -> {res.reference}: offset {res.offset_ns * 1e-6:+.3f} ms "
        f"(std {res.offset_std_ns * 1e-6:.3f} ms; t_{res.reference} = t_{res.stream} + offset)"
    )
    print(f"rotation {res.rotation_deg:.3f} deg (std {std} deg about the principal axes)")
    if res.gyro_bias is not None:
        print(f"gyro bias of {res.bias_of}: {', '.join(f'{v:+.5f}' for v in res.gyro_bias)} rad/s")
    print(
        f"{res.n_intervals} intervals of {res.interval_s * 1e3:.0f} ms, residual RMS {res.residual_rms:.4f} rad/s, "
        f"rate correlation {res.coarse.correlation:.3f}"
    )
    for n in res.notes:
        print(f"note: {n}")
    if "rig" in summary:
        print(f"wrote {summary['rig']} (clock of {summary['clock']['sensor']}) and {summary['report']}")


@app.command(
    name="lidar-imu",
    epilog=(
        "Examples:\n\n  fuse-calib lidar-imu drive.mcap -o rig.yaml\n\n"
        "  fuse-calib lidar-imu drive.bag --lidar /velodyne_points --imu /imu/data --init rig.yaml --json\n\n"
        "  fuse-calib lidar-imu drive.mcap --prior-offset 20ms --max-offset 50ms"
    ),
)
def lidar_imu(
    source: Annotated[str, typer.Argument(help="a log with a LiDAR topic (per-point times) and an IMU topic")],
    lidar: Annotated[str | None, typer.Option(help="LiDAR topic (default: the log's only one)")] = None,
    imu: Annotated[str | None, typer.Option(help="IMU topic (default: the log's only one)")] = None,
    init: Annotated[Path | None, typer.Option(help="rig file with the translation and clocks to keep")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="rig file to write (report PNG beside it)")] = None,
    prior_offset: Annotated[str, typer.Option(help="search near this offset, e.g. 20ms")] = "0ms",
    max_offset: Annotated[str | None, typer.Option(help="only within this of the prior, e.g. 50ms")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """LiDAR-to-IMU rotation, the LiDAR's time offset against the IMU and the gyro bias, from a drive.

    The sweeps are registered scan-to-map (small_gicp), first deskewed at constant velocity, then with the gyro
    through the current estimate, alternated with the alignment of the LiDAR's rotation rates with the gyro's until
    the estimate stops moving (offset: t_IMU = t_LIDAR + offset). Every figure has its standard deviation; a rotation
    the drive does not determine is refused with what to record instead. The lever arm and gravity are not estimated:
    with -o the rig gets the LiDAR's clock and T_imu_lidar with the rotation found and the translation of --init or
    /tf_static (not written where neither has one). See docs/calibration.md."""
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    from sensorfuse.pipelines.calib_motion import lidar_imu as job
    from sensorfuse.units import parse_duration_ns

    max_s = None if max_offset is None else parse_duration_ns(max_offset) * 1e-9
    with progress_bar(TextColumn("[bold]fuse-calib[/] lidar-imu {task.description}"), BarColumn(),
                      TimeElapsedColumn(), disable=json_out, transient=True) as bar:  # fmt: skip
        task = bar.add_task("", total=None)
        res, summary = job(
            source, lidar=lidar, imu=imu, init=init, prior_offset_ns=parse_duration_ns(prior_offset),
            max_offset_s=max_s, out=out,
            progress=lambda stage, k, n: bar.update(task, description=stage, completed=k, total=n),
        )  # fmt: skip
    if json_out:
        print_json(summary)
        return
    rt = res.rotation_time
    std = ", ".join(f"{v:.3f}" for v in rt.rotation_std_deg)
    print(
        f"{rt.stream} -> {rt.reference}: offset {rt.offset_ns * 1e-6:+.3f} ms "
        f"(std {rt.offset_std_ns * 1e-6:.3f} ms; t_{rt.reference} = t_{rt.stream} + offset)"
    )
    print(f"rotation R_imu_lidar {rt.rotation_deg:.3f} deg (std {std} deg about the principal axes)")
    if "initial" in summary:
        print(f"  {summary['initial']['rotation_change_deg']:.3f} deg from the initial ({summary['initial']['from']})")
    if rt.gyro_bias is not None:
        print(f"gyro bias of {rt.bias_of}: {', '.join(f'{v:+.5f}' for v in rt.gyro_bias)} rad/s")
    odo = summary["odometry"]
    print(
        f"{odo['sweeps']} sweeps registered ({odo['ms_per_sweep']:.0f} ms each, median inliers "
        f"{odo['median_inlier_share']:.0%}); {len(res.passes)} passes, residual RMS {rt.residual_rms:.4f} rad/s"
    )
    for n in [*rt.notes, *res.undetermined, *summary.get("notes", [])]:
        print(f"note: {n}")
    if "rig" in summary:
        extra = f", {summary['extrinsic']}" if "extrinsic" in summary else ""
        print(f"wrote {summary['rig']} (clock of {summary['clock']['sensor']}{extra}) and {summary['report']}")


@app.command(
    name="lidar-lidar",
    epilog=(
        "Examples:\n\n  fuse-calib lidar-lidar qt.pcd p64.pcd --init p64-to-qt-extrinsic.json -o refined.json\n\n"
        "  fuse-calib lidar-lidar top.pcd left.pcd --init rig.yaml --target lidar_top --source lidar_left --json"
    ),
)
def lidar_lidar(
    target_pcd: Annotated[Path, typer.Argument(help="the reference LiDAR's cloud (PCD)")],
    source_pcd: Annotated[Path, typer.Argument(help="the other LiDAR's cloud, taken at the same time (PCD)")],
    init: Annotated[Path, typer.Option(help="initial extrinsic: OpenCalib JSON (source -> target) or a rig file")],
    target: Annotated[str | None, typer.Option(help="target sensor in a rig --init (default: file stem)")] = None,
    source: Annotated[str | None, typer.Option(help="source sensor in a rig --init (default: file stem)")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="OpenCalib extrinsic JSON to write")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """LiDAR-to-LiDAR extrinsic T_target_source by GICP (small_gicp), coarse to fine from --init.

    Prints the result, how far it moved from --init, the overlap and RMSE before and after, and per-axis standard
    deviations from the registration's Hessian (a linearised lower bound) with the weakest direction; refuses clouds
    that barely overlap or leave a component undetermined. An OpenCalib --init whose rotation is not orthonormal is
    taken as its nearest rotation and the deviation printed. See docs/calibration.md."""
    from sensorfuse.pipelines.calib_files import lidar_lidar as job

    res, summary = job(target_pcd, source_pcd, init=init, target=target, source=source, out=out)
    if json_out:
        print_json(summary)
        return
    deg, m = res.moved
    t, s = summary["target"]["sensor"], summary["source"]["sensor"]
    if summary.get("init_rotation_deviation", 0) > 1e-5:
        print(f"note: --init's rotation is not orthonormal (max |R^T R - I| = {summary['init_rotation_deviation']:.4f}); "
              "its nearest rotation was used")  # fmt: skip
    print(f"T_{t}_{s}: moved {deg:.3f} deg, {m * 100:.1f} cm from --init")
    print(f"overlap {res.overlap_before:.1%} -> {res.overlap_after:.1%}, RMSE {res.rmse_before_m * 100:.1f} -> "
          f"{res.rmse_after_m * 100:.1f} cm")  # fmt: skip
    print(f"std rotation {', '.join(f'{v:.3f}' for v in res.rotation_std_deg)} deg, translation "
          f"{', '.join(f'{v * 100:.2f}' for v in res.translation_std_m)} cm (x, y, z; weakest: {res.weakest})")  # fmt: skip
    for row in np.round(res.T_target_source, 6):
        print("  " + "  ".join(f"{v:+.6f}" for v in row))
    if "wrote" in summary:
        print(f"wrote {summary['wrote']}")


@app.command(
    name="radar",
    epilog=(
        "Examples:\n\n  fuse-calib radar drive.mcap -o rig.yaml\n\n"
        "  fuse-calib radar drive.bag --radar /radar/points --odom /odom --init rig.yaml --json"
    ),
)
def radar(
    source: Annotated[str, typer.Argument(help="a log with a radar topic (Doppler) and an odometry/pose topic")],
    radar_topic: Annotated[str | None, typer.Option("--radar", help="radar topic (default: the only one)")] = None,
    odom: Annotated[str | None, typer.Option(help="odometry/pose topic (default: the only one)")] = None,
    init: Annotated[Path | None, typer.Option(help="rig file with the radar's lever arm (else /tf_static)")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="rig file to write")] = None,
    max_offset: Annotated[str, typer.Option(help="search the offset within this, e.g. 250ms")] = "250ms",
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Radar ego-velocity from the Doppler of static detections, and the radar's mounting yaw and time offset
    against the vehicle's odometry.

    Each scan's velocity is fitted by RANSAC (moving objects and clutter rejected and counted; scans tracked in
    time so a car moving with the ego is not taken for the world); a scan that cannot give one is listed with the
    reason. The mounting compares them with the odometry's velocity at the radar (offset: t_ODOM = t_RADAR +
    offset). A radar without elevation spread gives yaw only (roll, pitch held, said); the lever arm is kept from
    --init or /tf_static. See docs/calibration.md."""
    from sensorfuse.pipelines.calib_motion import radar_motion as job
    from sensorfuse.units import parse_duration_ns

    _ev, m, summary = job(source, radar=radar_topic, odom=odom, init=init,
                         max_offset_s=parse_duration_ns(max_offset) * 1e-9, out=out)  # fmt: skip
    if json_out:
        print_json(summary)
        return
    e = summary["ego_velocity"]
    print(f"{summary['radar']}: ego-velocity in {e['scans']} scans ({e['skipped']} skipped), median std "
          f"{', '.join(f'{v:.3f}' for v in e['median_std_mps'])} m/s; {e['static_detections']} static detections, "
          f"{e['moving_or_clutter']} moving or clutter")  # fmt: skip
    print(f"yaw {m.yaw_deg:+.3f} deg (std {m.yaw_std_deg:.3f}; {summary['initial']['rotation_change_deg']:.3f} deg "
          f"from {summary['initial']['from']})")  # fmt: skip
    print(f"offset {m.offset_ns * 1e-6:+.3f} ms (std {m.offset_std_ns * 1e-6:.3f} ms; t_{summary['odometry']} = "
          f"t_{summary['radar']} + offset), residual {m.residual_rms_mps:.3f} m/s over {m.scans} scans")  # fmt: skip
    for u in m.undetermined:
        print(f"note: {u}")
    if "rig" in summary:
        print(f"wrote {summary['rig']} (clock of {summary['clock']['sensor']}, {summary.get('extrinsic', '')})")


@app.command(
    name="radar-lidar",
    epilog=(
        "Examples:\n\n  fuse-calib radar-lidar front_radar.csv lidar.pcd "
        "--init front_radar-to-top_center_lidar-extrinsic.json --report bev.png\n\n"
        "  fuse-calib radar-lidar front_radar.csv lidar.pcd --init ext.json -o refined.json --json"
    ),
)
def radar_lidar(
    radar_csv: Annotated[Path, typer.Argument(help="OpenCalib radar CSV (Continental or Delphi export)")],
    lidar_pcd: Annotated[Path, typer.Argument(help="the LiDAR's cloud (PCD)")],
    init: Annotated[Path, typer.Option(help="initial extrinsic: OpenCalib JSON (radar -> LiDAR) or a rig file")],
    out: Annotated[Path | None, typer.Option("-o", "--out", help="OpenCalib extrinsic JSON to write")] = None,
    report: Annotated[Path | None, typer.Option(help="bird's-eye overlay PNG (initial red, refined green)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Planar radar -> LiDAR extrinsic refined in the ground plane (yaw, x, y) against LiDAR structure.

    Radar detections (all scans of the CSV) are matched in bird's-eye view to the LiDAR points between 1.5 m below
    and above the LiDAR within 60 m, and yaw and (x, y) refitted (soft-L1); roll, pitch and z are kept (planar
    detections cannot give them). Radars report objects, and files that are not time-synchronised put moving objects
    in the wrong place: read the change against its deviation and the overlay before using it. See
    docs/calibration.md."""
    from sensorfuse.pipelines.calib_files import radar_lidar as job

    res, summary = job(radar_csv, lidar_pcd, init=init, out=out, report=report)
    if json_out:
        print_json(summary)
        return
    d = summary["median_distance_m"]
    print(f"{summary['radar']['detections']} detections in {summary['radar']['scans']} scans, {res.within_reach} "
          f"within the LiDAR's reach, {res.matched} matched")  # fmt: skip
    print(f"median distance to LiDAR structure {d['before']:.3f} -> {d['after']:.3f} m")
    print(f"change: yaw {res.yaw_change_deg:+.3f} deg (std {res.std[0]:.3f}), x {res.xy_change_m[0]:+.3f} m "
          f"(std {res.std[1]:.3f}), y {res.xy_change_m[1]:+.3f} m (std {res.std[2]:.3f})")  # fmt: skip
    for u in res.undetermined:
        print(f"note: {u}")
    for key in ("wrote", "report"):
        if key in summary:
            print(f"wrote {summary[key]}")


def main() -> None:
    run(app)


if __name__ == "__main__":  # pragma: no cover
    main()
