"""``fuse-calib time-offset``: the time offset (and rotation) between two streams of a log that observe motion.

The log's IMU topics give angular rates, its pose topics (Odometry, PoseStamped, TransformStamped, a dataset's
ground truth) orientations; :func:`~sensorfuse.calibration.rotation_time.align_rotation_and_time` aligns them. The
rig file written carries the second stream's clock (``t_reference = t_stream + offset_ns``, composed with the first
stream's clock where the rig has one), with the provenance and quality figures, so ``fuse-sync --rig`` uses it as
it is; the rotation is in the JSON summary and the report (an extrinsic needs a lever arm, which rates do not give:
it is not written). LiDAR and camera streams are not motion streams yet (scan registration and visual odometry are
not built): they are refused with that said.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sensorfuse.errors import TopicNotFound, ValidationError

__all__ = ["motion_stream", "time_offset"]

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
        "(LiDAR odometry and camera motion are not built in yet: give the LiDAR's or camera's odometry topic)"
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
        a, b = motion_stream(reader, a_topic), motion_stream(reader, b_topic)
        rig = getattr(reader, "rig", None)
    res = align_rotation_and_time(
        a, b, prior_offset_ns=prior_offset_ns, max_offset_s=max_offset_s, need_rotation=rotation, progress=progress
    )
    summary: dict[str, Any] = {"source": str(source), **res.to_dict()}
    summary.pop("windows")
    summary["windows"] = [w for w in res.windows if w.get("offset_ms") is not None]
    if out is not None:
        kinds = {t: "imu" if s.kind == "gyro" else "odometry" for t, s in ((a_topic, a), (b_topic, b))}
        summary.update(_write(out, source, rig, res, a_topic, b_topic, kinds))
    return res, summary


def _write(
    out: str | Path, source: str | Path, rig: Any, res: Any, a_topic: str, b_topic: str, kinds: dict[str, str]
) -> dict[str, Any]:
    from dataclasses import replace

    from sensorfuse.io.images import write_png
    from sensorfuse.io.rigfile import save_rig
    from sensorfuse.rig import ClockModel, Provenance, Rig, Sensor
    from sensorfuse.viz.reports import report_path, rotation_time_report_image

    if rig is None:
        rig = Rig(name=Path(source).stem or "rig")
    sa, sb = _sensor_of(rig, a_topic), _sensor_of(rig, b_topic)
    names = {s.name for s in rig.sensors}

    def new_sensor(topic: str, kind: str) -> Any:
        name = topic.strip("/").replace("/", "_") or "stream"
        while name in names:
            name += "_"
        names.add(name)
        return Sensor(name, kind, topic=topic)

    if sa is None:
        sa = new_sensor(a_topic, kinds[a_topic])
        rig = rig.with_sensor(sa)
    if sb is None:
        sb = new_sensor(b_topic, kinds[b_topic])
        rig = rig.with_sensor(sb)
    if sa.clock.drift_ppm:
        raise ValidationError(f"{out}: {sa.name}'s clock has a drift in the rig; an offset against it is not composed")
    offset = int(res.offset_ns) + int(sa.clock.offset_ns)
    q = {
        "offset_std_ns": int(res.offset_std_ns),
        "residual_rms_rad_s": float(res.residual_rms),
        "correlation": float(res.coarse.correlation),
        "rotation_deg": float(res.rotation_deg),
        "intervals": int(res.n_intervals),
    }
    prov = Provenance(
        f"time offset from angular rates against {sa.name} (fuse-calib time-offset)",
        str(source), datetime.date.today().isoformat(), q, "; ".join(res.notes + res.undetermined) or None,
    )  # fmt: skip
    sb = replace(sb, clock=ClockModel(offset_ns=offset), provenance=prov)
    rig = rig.with_sensor(sb)
    if rig.reference_clock is None:
        rig = replace(rig, reference_clock=sa.name)
    out = Path(out)
    save_rig(rig, out)
    png = report_path(out)
    write_png(png, rotation_time_report_image(res))
    return {"rig": str(out), "report": str(png), "clock": {"sensor": sb.name, "offset_ns": offset}}
