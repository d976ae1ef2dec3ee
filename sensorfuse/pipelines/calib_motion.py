"""``fuse-calib time-offset``: the time offset (and rotation) between two streams of a log that observe motion.

The log's IMU topics give angular rates, its pose topics (Odometry, PoseStamped, TransformStamped, a dataset's
ground truth) orientations; :func:`~sensorfuse.calibration.rotation_time.align_rotation_and_time` aligns them. The
rig file written carries the second stream's clock (``t_reference = t_stream + offset_ns``, composed with the first
stream's clock where the rig has one), with the provenance and quality figures, so ``fuse-sync --rig`` uses it as
it is; the rotation is in the JSON summary and the report (an extrinsic needs a lever arm, which rates do not give:
it is not written). LiDAR streams are calibrated against an IMU by :func:`lidar_imu` (scan registration deskewed by
the gyro); camera streams are not motion streams yet (visual odometry is not built): both are refused here with
that said.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import CalibrationError, SensorfuseError, TopicNotFound, ValidationError
from sensorfuse.geometry.transforms import angle_between_rotations_deg
from sensorfuse.pipelines._topics import pick_topic

__all__ = ["lidar_imu", "motion_stream", "radar_motion", "time_offset"]

#: Stream kinds that are motion streams, and how they are read.
MOTION_KINDS = {"imu": "gyro", "pose": "orientations"}


def motion_stream(reader: Any, topic: str) -> Any:
    """A :class:`~sensorfuse.calibration.rotation_time.MotionStream` of a log's IMU or pose topic."""
    from sensorfuse.calibration.rotation_time import MotionStream

    info = reader.streams.get(topic)
    if info is None:
        known = ", ".join(t for t, s in reader.streams.items() if s.kind in MOTION_KINDS) or "none"
        raise TopicNotFound(f"{reader.path}: no topic {topic!r}; its IMU and pose topics: {known}")
    if info.kind == "imu":
        imu = reader.imu(topic)
        return MotionStream.from_gyro(imu.stamp_ns, imu.gyro, topic)
    if info.kind == "pose":
        traj = reader.trajectory(topic)
        return MotionStream.from_poses(traj.stamp_ns, traj.T_world_body, topic)
    raise ValidationError(
        f"{reader.path}: {topic} is a {info.kind} stream; time offsets are estimated between IMU and pose streams "
        "(a LiDAR against an IMU: fuse-calib lidar-imu, which registers the sweeps; camera motion is not built in yet: "
        "give the camera's odometry topic)"
    )


def _sensor_of(rig: Any, topic: str) -> Any:
    return next((s for s in rig.sensors if s.topic == topic or s.name == topic), None) if rig is not None else None


def time_offset(
    source: str | Path,
    streams: tuple[str, str],
    *,
    groundtruth: str | Path | None = None,
    prior_offset_ns: int = 0,
    max_offset_s: float | None = None,
    rotation: bool = False,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Estimate the offset of ``streams[1]`` against ``streams[0]`` (``t_0 = t_1 + offset_ns``) in a log.

    Args:
        source: a log or dataset folder.
        streams: the reference topic and the other topic.
        groundtruth: a TUM trajectory file added as the topic ``groundtruth`` (EuRoC folders).
        prior_offset_ns, max_offset_s: search near a known offset only.
        rotation: also require the rotation between them to be determined (refused where the motion cannot).
        out: rig file to write (the report PNG beside it).

    Returns:
        ``(RotationTimeResult, summary)``.
    """
    from sensorfuse.calibration.rotation_time import align_rotation_and_time
    from sensorfuse.io.open_log import open_log

    a_topic, b_topic = streams
    if a_topic == b_topic:
        raise ValidationError(f"--streams: two different topics are needed, got {a_topic!r} twice")
    options: dict[str, Any] = {}
    if groundtruth is not None:
        options["groundtruth"] = groundtruth
    with open_log(source, **options) as reader:
        kinds = [reader.streams[t].kind if t in reader.streams else None for t in streams]
        if kinds == ["camera", "lidar"]:
            raise ValidationError(
                "--streams: give the LiDAR first (LIDAR,CAMERA): the camera's clock is the one estimated"
            )
        edges = kinds == ["lidar", "camera"]
        if not edges:
            a, b = motion_stream(reader, a_topic), motion_stream(reader, b_topic)
            rig = getattr(reader, "rig", None)
    if edges:
        return None, _lidar_camera_offset(source, a_topic, b_topic, max_offset_s, out, progress)
    res = align_rotation_and_time(
        a, b, prior_offset_ns=prior_offset_ns, max_offset_s=max_offset_s, need_rotation=rotation, progress=progress
    )
    summary: dict[str, Any] = {"source": str(source), **res.to_dict()}
    summary.pop("windows")
    summary["windows"] = [w for w in res.windows if w.get("offset_ms") is not None]
    if out is not None:
        from sensorfuse.viz.reports import rotation_time_report_image

        kinds = {t: "imu" if s.kind == "gyro" else "odometry" for t, s in ((a_topic, a), (b_topic, b))}
        summary.update(
            _write(out, source, rig, a_topic, b_topic, kinds, res.offset_ns, _rate_quality(res),
                   res.notes + res.undetermined, report=lambda: rotation_time_report_image(res))
        )  # fmt: skip
    return res, summary


def _lidar_camera_offset(
    source: str | Path,
    lidar: str,
    camera: str,
    max_offset_s: float | None,
    out: str | Path | None,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    """The LiDAR -> camera offset from the edge alignment (:func:`~sensorfuse.pipelines.calib.lidar_camera_time_offset`),
    written as the camera's clock."""
    from sensorfuse.pipelines.calib import lidar_camera_time_offset

    summary, setup = lidar_camera_time_offset(
        source, camera_topic=camera, lidar_topic=lidar,
        max_offset_ms=50.0 if max_offset_s is None else max_offset_s * 1e3, progress=progress,
    )  # fmt: skip
    if out is not None:
        quality = {
            "offset_std_ns": round(summary["offset_std_ms"] * 1e6),
            "contrast": summary["contrast"],
            "frames": summary["frames"],
        }
        summary.update(
            _write(out, source, None, lidar, camera, {lidar: "lidar", camera: "camera"}, summary["offset_ns"],
                   quality, summary["notes"], method="LiDAR-camera edge alignment under motion (fuse-calib time-offset)",
                   cameras={camera: setup["camera"]},
                   frames={lidar: setup["lidar_frame"], camera: setup["camera_frame"]})
        )  # fmt: skip
    return summary


def _initial_transform(reader: Any, rig: Any, init: Any, target: str, source: str) -> tuple[np.ndarray, str]:
    """``T_target_source`` from the ``--init`` rig where given, else the log's /tf_static, and where it came from
    (raises the rig's or the tree's error where neither joins the frames)."""
    if rig is not None:
        return rig.transform(target, source), str(init)
    return reader.tf_tree().lookup(target, source), "log /tf_static"


def lidar_imu(
    source: str | Path,
    *,
    lidar: str | None = None,
    imu: str | None = None,
    init: str | Path | None = None,
    prior_offset_ns: int = 0,
    max_offset_s: float | None = None,
    out: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """``fuse-calib lidar-imu``: the LiDAR's rotation against the IMU, its time offset and the gyro bias.

    Scan-to-map odometry of the sweeps, alternated with the rate alignment
    (:func:`~sensorfuse.calibration.lidar_motion.lidar_imu_rotation_time`). The rig written (``out``) gets the LiDAR's
    clock (against the IMU's, composed with the IMU's clock in ``init``) and, where ``init`` or the log's /tf_static
    gives the translation between the two, ``T_imu_lidar`` with the estimated rotation and that translation (the
    lever arm is not estimated: said in the provenance); without a translation the extrinsic is not written.

    Returns:
        ``(LidarImuResult, summary)``.
    """
    from sensorfuse.calibration.lidar_motion import lidar_imu_rotation_time, prepare_sweeps
    from sensorfuse.io.open_log import open_log
    from sensorfuse.io.rigfile import load_rig

    rig = load_rig(init) if init is not None else None
    with open_log(source) as reader:
        l_topic = pick_topic(reader, "lidar", lidar, "--lidar")
        i_topic = pick_topic(reader, "imu", imu, "--imu")
        l_frame = reader.stream(l_topic).frame_id or l_topic.strip("/")
        i_frame = reader.stream(i_topic).frame_id or i_topic.strip("/")
        samples = reader.imu(i_topic)
        n = reader.stream(l_topic).count
        clouds = (m.data for m in reader.read(l_topic))
        if progress is not None:
            clouds = _counted(clouds, lambda k: progress("reading sweeps", k, n))
        sweeps = prepare_sweeps(clouds)
        try:
            T_init, init_from = _initial_transform(reader, rig, init, i_frame, l_frame)
        except SensorfuseError:
            T_init, init_from = None, None
    try:
        res = lidar_imu_rotation_time(
            sweeps, samples.stamp_ns, samples.gyro, imu_name=i_topic, lidar_name=l_topic,
            prior_offset_ns=prior_offset_ns, max_offset_s=max_offset_s, progress=progress,
        )  # fmt: skip
    except CalibrationError as exc:
        raise CalibrationError(f"{source}: {exc}") from None
    summary: dict[str, Any] = {"source": str(source), **res.to_dict()}
    if T_init is not None:
        change = float(angle_between_rotations_deg(T_init[:3, :3], res.R_imu_lidar))
        summary["initial"] = {"from": init_from, "rotation_change_deg": change}
    if out is not None:
        extrinsic = None
        if T_init is not None:
            T = np.array(T_init, dtype=np.float64)
            T[:3, :3] = res.R_imu_lidar
            extrinsic = (i_frame, l_frame, T, f"translation kept from {init_from} (the lever arm is not estimated)")
        else:
            summary.setdefault("notes", []).append(
                f"T_{i_frame}_{l_frame} not written: no translation between them in --init or /tf_static "
                "(the lever arm is not estimated); the rotation is in this summary"
            )
        from sensorfuse.viz.reports import rotation_time_report_image

        rt = res.rotation_time
        summary.update(
            _write(out, source, rig, i_topic, l_topic, {i_topic: "imu", l_topic: "lidar"}, rt.offset_ns,
                   _rate_quality(rt), rt.notes + rt.undetermined,
                   method="LiDAR odometry (small_gicp) against the gyro (fuse-calib lidar-imu)",
                   frames={i_topic: i_frame, l_topic: l_frame}, extrinsic=extrinsic,
                   report=lambda: rotation_time_report_image(rt))
        )  # fmt: skip
    return res, summary


def radar_motion(
    source: str | Path,
    *,
    radar: str | None = None,
    odom: str | None = None,
    init: str | Path | None = None,
    max_offset_s: float = 0.25,
    out: str | Path | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """``fuse-calib radar``: the radar's ego-velocity per scan (Doppler of static detections), and its mounting
    yaw and clock offset against the log's odometry/pose topic
    (:func:`~sensorfuse.calibration.radar.radar_mounting`). The lever arm and the starting rotation come from
    ``init`` or /tf_static (refused without either: the lever arm is not estimated). The rig written gets the
    radar's clock (against the pose stream's, composed with its clock in ``init``) and ``T_base_radar`` with the
    rotation found.

    Returns:
        ``(EgoVelocities, RadarMounting, summary)``.
    """
    from sensorfuse.calibration.radar import ego_velocities, radar_mounting
    from sensorfuse.io.open_log import open_log
    from sensorfuse.io.rigfile import load_rig

    rig = load_rig(init) if init is not None else None
    with open_log(source) as reader:
        r_topic = pick_topic(reader, "radar", radar, "--radar")
        o_topic = pick_topic(reader, "pose", odom, "--odom")
        traj = reader.trajectory(o_topic)
        r_frame = reader.stream(r_topic).frame_id or r_topic.strip("/")
        b_frame = traj.body_frame
        try:
            T_init, init_from = _initial_transform(reader, rig, init, b_frame, r_frame)
        except SensorfuseError as exc:
            raise CalibrationError(
                f"{source}: no initial {b_frame} <- {r_frame} extrinsic ({exc}); give --init rig.yaml with the radar's "
                "lever arm (it is not estimated)"
            ) from None
        try:
            ev = ego_velocities(m.data for m in reader.read(r_topic))
            mount = radar_mounting(ev, traj.stamp_ns, traj.T_world_body, T_init, max_offset_s=max_offset_s)
        except CalibrationError as exc:
            raise CalibrationError(f"{source} ({r_topic}): {exc}") from None
    change = float(angle_between_rotations_deg(np.asarray(T_init)[:3, :3], mount.R_base_radar))
    summary: dict[str, Any] = {
        "source": str(source),
        "radar": r_topic,
        "odometry": o_topic,
        "ego_velocity": ev.summary(),
        "skipped_scans": [{"stamp_ns": t, "reason": why} for t, why in ev.skipped],
        **mount.to_dict(),
        "initial": {"from": init_from, "rotation_change_deg": change},
    }
    if out is not None:
        T = np.array(T_init, dtype=np.float64)
        T[:3, :3] = mount.R_base_radar
        quality = {
            "offset_std_ns": mount.offset_std_ns,
            "yaw_std_deg": mount.yaw_std_deg,
            "residual_rms_mps": mount.residual_rms_mps,
            "scans": mount.scans,
        }
        summary.update(
            _write(out, source, rig, o_topic, r_topic, {o_topic: "odometry", r_topic: "radar"}, mount.offset_ns,
                   quality, mount.undetermined, method="radar Doppler ego-velocity against odometry (fuse-calib radar)",
                   frames={o_topic: b_frame, r_topic: r_frame},
                   extrinsic=(b_frame, r_frame, T, f"lever arm kept from {init_from} (not estimated)"))
        )  # fmt: skip
    return ev, mount, summary


def _counted(it: Any, tick: Callable[[int], None]) -> Any:
    for k, x in enumerate(it, 1):
        tick(k)
        yield x


def _rate_quality(res: Any) -> dict[str, float]:
    """The quality figures of a rate alignment (a RotationTimeResult) for the rig file's provenance."""
    return {
        "offset_std_ns": int(res.offset_std_ns),
        "residual_rms_rad_s": float(res.residual_rms),
        "correlation": float(res.coarse.correlation),
        "rotation_deg": float(res.rotation_deg),
        "intervals": int(res.n_intervals),
    }


def _write(
    out: str | Path,
    source: str | Path,
    rig: Any,
    a_topic: str,
    b_topic: str,
    kinds: dict[str, str],
    offset_ns: int,
    quality: dict[str, float],
    notes: list[str],
    *,
    method: str | None = None,
    frames: dict[str, str] | None = None,
    extrinsic: tuple[str, str, np.ndarray, str] | None = None,
    report: Callable[[], np.ndarray] | None = None,
    cameras: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The rig file: ``b_topic``'s clock ``offset_ns`` against ``a_topic``'s (composed with its clock in ``rig``),
    with the provenance (``quality``, ``notes``), ``extrinsic`` where given, and ``report()``'s PNG beside it."""
    from dataclasses import replace

    from sensorfuse.io.images import write_png
    from sensorfuse.io.rigfile import save_rig
    from sensorfuse.rig import ClockModel, Provenance, Rig, Sensor
    from sensorfuse.viz.reports import report_path

    if rig is None:
        rig = Rig(name=Path(source).stem or "rig")
    sa, sb = _sensor_of(rig, a_topic), _sensor_of(rig, b_topic)
    names = {s.name for s in rig.sensors}

    def new_sensor(topic: str, kind: str) -> Any:
        name = topic.strip("/").replace("/", "_") or "stream"
        while name in names:
            name += "_"
        names.add(name)
        return Sensor(
            name, kind, frame_id=(frames or {}).get(topic, ""), topic=topic, camera=(cameras or {}).get(topic)
        )

    if sa is None:
        sa = new_sensor(a_topic, kinds[a_topic])
        rig = rig.with_sensor(sa)
    if sb is None:
        sb = new_sensor(b_topic, kinds[b_topic])
        rig = rig.with_sensor(sb)
    if sa.clock.drift_ppm:
        raise ValidationError(f"{out}: {sa.name}'s clock has a drift in the rig; an offset against it is not composed")
    offset = int(offset_ns) + int(sa.clock.offset_ns)
    prov = Provenance(
        method or f"time offset from angular rates against {sa.name} (fuse-calib time-offset)",
        str(source), datetime.date.today().isoformat(), quality, "; ".join(notes) or None,
    )  # fmt: skip
    sb = replace(sb, clock=ClockModel(offset_ns=offset), provenance=prov)
    rig = rig.with_sensor(sb)
    if rig.reference_clock is None:
        rig = replace(rig, reference_clock=sa.name)
    written: dict[str, Any] = {}
    if extrinsic is not None:
        target, src, T, how = extrinsic
        rig = rig.with_extrinsic(target, src, T, replace(prov, notes="; ".join(filter(None, [prov.notes, how]))))
        written["extrinsic"] = f"T_{target}_{src}"
    out = Path(out)
    save_rig(rig, out)
    if report is not None:
        png = report_path(out)
        write_png(png, report())
        written["report"] = str(png)
    return {"rig": str(out), "clock": {"sensor": sb.name, "offset_ns": offset}, **written}
