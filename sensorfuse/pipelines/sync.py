"""``fuse-sync``: a whole drive log to a synchronised dataset.

Two passes over the log, memory bounded by one message (plus the small pose table):

1. stamps — header stamps from the raw bytes and record times of every selected stream, and the decoded poses of the
   pose source (no image or cloud is deserialised);
2. data — every message of every selected stream, deskewed (LiDAR) and written as it comes.

Between them, :mod:`sensorfuse.fusion.sync` decides each stream's clock, the reference frames and every partner,
from the stamps alone. Output: :class:`~sensorfuse.io.synced.SyncedWriter` (default) or a KITTI-raw folder.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse._checks import sort_unique
from sensorfuse._scratch import Scratch
from sensorfuse.errors import SensorfuseError, SyncError, TopicNotFound, ValidationError
from sensorfuse.fusion.associate import associate
from sensorfuse.fusion.deskew import deskew_points
from sensorfuse.fusion.sync import ClockChoice, StreamTiming, SyncPlan, choose_clocks, plan_sync
from sensorfuse.io import open as open_log
from sensorfuse.io.messages import Odometry, odometry_trajectory
from sensorfuse.io.reader import NO_STAMP, LogReader
from sensorfuse.io.rigfile import load_rig
from sensorfuse.io.synced import FOLDER_KINDS, RIG_YAML, TABLE_KINDS, DatasetWriter, FramePlan, SyncedWriter
from sensorfuse.rig import ClockModel, Extrinsic, Provenance, Rig, Sensor
from sensorfuse.types import ImuSamples, PointCloud, PoseTrajectory

__all__ = ["DESKEW", "SyncOptions", "run_sync", "stream_name"]

DESKEW = ("auto", "end", "camera", "none")
IMU_PROPAGATE = ("auto", "on", "off")
#: ``--imu-propagate auto`` integrates the gyro between poses when the pose source is slower than this
PROPAGATE_BELOW_HZ = 50.0
SYNC_KINDS = FOLDER_KINDS + TABLE_KINDS
#: progress callback: (stage, done, total)
Progress = Callable[[str, int, int], None]


@dataclass
class SyncOptions:
    """Options of ``fuse-sync`` (see ``fuse-sync --help`` and docs/sync.md)."""

    reference: str | None = None
    topics: list[str] | None = None
    tolerance_ns: int | None = None
    offsets: dict[str, int] = field(default_factory=dict)
    rig: str | Path | None = None
    deskew: str = "auto"
    deskew_camera: str | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    window_relative: bool = False
    format: str = "sensorfuse"
    estimate: str = "unrelated"
    overwrite: bool = False
    imu_propagate: str = "auto"


def stream_name(topic: str) -> str:
    """A folder-safe stream name from a topic: ``/lidar/points`` -> ``lidar_points``."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", topic.strip("/")).strip("_")
    return name or "stream"


def _select(reader: LogReader, topics: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """Topics to synchronise and, for the report, every other topic with the reason it is left out."""
    skipped: dict[str, str] = {}
    chosen = []
    for t, info in reader.streams.items():
        if topics is not None and t not in topics:
            skipped[t] = "not in --topics"
        elif not info.decodable:
            skipped[t] = f"type {info.msgtype} cannot be decoded"
        elif info.count == 0:
            skipped[t] = "no messages"
        elif info.kind not in SYNC_KINDS:
            skipped[t] = {
                "tf": f"transforms: written into {RIG_YAML}",
                "camera_info": f"intrinsics: written into {RIG_YAML}",
            }.get(info.kind, f"kind {info.kind!r} is not synchronised")
        else:
            chosen.append(t)
    if topics is not None:
        for t in topics:
            reader.stream(t)  # TopicNotFound naming the topics
        empty = [t for t in topics if reader.stream(t).count == 0]
        if empty:
            raise SyncError(f"{reader.path}: topic(s) {', '.join(empty)} have no messages")
    if not chosen:
        raise SyncError(
            f"{reader.path}: no LiDAR, camera, radar, IMU, GNSS or pose stream with messages to synchronise"
        )
    return chosen, skipped


def _names(reader: LogReader, topics: list[str], rig: Rig | None) -> dict[str, str]:
    """Stream names: the rig's sensor name for the topic, else the frame id when no other selected stream shares it,
    else a name from the topic."""
    frames = [reader.stream(t).frame_id for t in topics]
    names: dict[str, str] = {}
    for t, frame in zip(topics, frames, strict=True):
        name = None
        if rig is not None:
            name = next((s.name for s in rig.sensors if s.topic == t), None)
        if name is None and frame and frames.count(frame) == 1 and reader.stream(t).kind != "pose":
            name = stream_name(frame)
        name = name or stream_name(t)
        base, k = name, 2
        while name in names.values():
            name, k = f"{base}_{k}", k + 1
        names[t] = name
    return names


def _resolve_offsets(offsets: dict[str, int], names: dict[str, str]) -> dict[str, ClockModel]:
    out = {}
    for key, ns in offsets.items():
        name = names.get(key, key)
        if name not in names.values():
            raise TopicNotFound(f"--offset {key}: no such stream or topic; streams: {', '.join(names.values())}")
        out[name] = ClockModel(offset_ns=int(ns))
    return out


def _output_rig(
    reader: LogReader, base: Rig | None, names: dict[str, str], clocks: dict[str, ClockChoice], notes: list[str]
) -> Rig:
    """The rig of the output: --rig's, plus /tf_static (or dataset calibration) edges, CameraInfo intrinsics and
    the clocks as applied."""
    cams = reader.cameras()
    sensors = []
    kinds = {"pose": "odometry"}
    for t, name in names.items():
        info = reader.stream(t)
        old = next((s for s in base.sensors if s.name == name), None) if base else None
        cam = cams.get(t) or _camera_info_beside(t, cams) or (old.camera if old else None)
        kind = kinds.get(info.kind, info.kind)
        if kind == "camera" and cam is None:
            notes.append(f"{name}: no intrinsics (no CameraInfo, not in --rig); listed as kind 'other' in {RIG_YAML}")
            kind = "other"
        sensors.append(
            Sensor(
                name,
                kind,
                frame_id=info.frame_id or (old.frame_id if old else name),
                topic=t,
                rate_hz=info.rate_hz,
                camera=cam if kind == "camera" else None,
                clock=clocks[name].clock,
                noise=old.noise if old else {},
                provenance=old.provenance if old else None,
            )
        )
    extr = list(base.extrinsics) if base else []
    have = {frozenset((e.target, e.source)) for e in extr}
    tree = reader.tf_tree()
    for (parent, child), T in sorted(tree.static_transforms().items()):
        if frozenset((parent, child)) not in have:
            extr.append(Extrinsic(parent, child, T, Provenance("log /tf_static", data=str(reader.path))))
            have.add(frozenset((parent, child)))
    return Rig(
        name=base.name if base else Path(reader.path).stem,
        sensors=tuple(sensors),
        extrinsics=tuple(extr),
        base_frame=base.base_frame if base else None,
        provenance=Provenance("fuse-sync", data=str(reader.path)),
    )


def _camera_info_beside(topic: str, cams: dict[str, Any]) -> Any:
    """The CameraInfo of an image topic: ``/cam/image_raw/compressed`` -> ``/cam/image_raw/camera_info`` or
    ``/cam/camera_info`` (the nearest ``camera_info`` up the topic's namespace)."""
    parts = topic.split("/")
    for k in range(len(parts) - 1, 0, -1):
        cand = "/".join(parts[:k]) + "/camera_info"
        if cand in cams:
            return cams[cand]
    return None


@dataclass
class _Deskewer:
    mode: str
    poses: PoseTrajectory | None
    T_base: dict[str, np.ndarray]
    target_by_msg: dict[str, dict[int, int]]
    source: str
    counts: dict[str, int] = field(default_factory=lambda: {"deskewed": 0, "not_deskewed": 0})
    reasons: dict[str, int] = field(default_factory=dict)
    max_shift_m: float = 0.0
    propagation: dict[str, Any] = field(default_factory=dict)
    max_gap_ns: int | None = None  # pose-gap limit (set for an IMU-densified trajectory: the original poses')
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stream_reason(self, name: str) -> str | None:
        """Why stream ``name`` cannot be deskewed at all (None if it can be tried sweep by sweep)."""
        if self.mode == "none":
            return "off"
        if self.poses is None:
            return "no pose source"
        if name not in self.T_base:
            return "no extrinsic to the pose body frame"
        return None

    def skip(self, name: str, why: str) -> dict[str, Any]:
        """Count a sweep written as recorded; its index.csv extras."""
        if why == "off":
            return {"deskew": "none"}
        with self._lock:
            self.counts["not_deskewed"] += 1
            self.reasons[why] = self.reasons.get(why, 0) + 1
        return {"deskew": f"none ({why})"}

    def apply(
        self,
        name: str,
        index: int,
        cloud: PointCloud,
        *,
        shift_ns: int,
        out: np.ndarray | None = None,
        scratch: Scratch | None = None,
    ) -> dict[str, Any]:
        """Deskew one cloud whose stamp maps to the reference clock by ``+ shift_ns``, into ``out`` (N, 3) when
        given; returns the index.csv extras, with ``xyz_deskewed`` when the sweep was deskewed. Called from the
        writer's threads; ``scratch`` holds the point times."""
        why = self.stream_reason(name)
        if why is None and cloud.t_offset_ns is None:
            why = "no per-point time"
        if why is None and len(cloud):
            n = len(cloud)
            t = np.empty(n, np.int64) if scratch is None else scratch.get("deskew_t", n, np.int64)
            np.add(cloud.t_offset_ns, cloud.stamp_ns + shift_ns, out=t)
            target = self.target_by_msg.get(name, {}).get(index)
            target_kind = self.mode
            if target is None:
                target, target_kind = int(t.max()), "end"
            try:
                res = deskew_points(
                    cloud.xyz,
                    t,
                    self.poses,
                    self.T_base[name],
                    target,
                    what=f"{name} {index}",
                    out=out,
                    max_gap_ns=self.max_gap_ns,
                )
            except SensorfuseError as exc:
                why = f"poses do not cover the sweep ({type(exc).__name__})"
            else:
                with self._lock:
                    self.counts["deskewed"] += 1
                    self.max_shift_m = max(self.max_shift_m, res.max_shift_m)
                return {
                    "deskew": target_kind,
                    "deskew_target_ns": target,
                    "deskew_max_shift_m": round(res.max_shift_m, 4),
                    "xyz_deskewed": res.xyz,
                }
        return self.skip(name, why or "empty cloud")


def pose_trajectory(messages: list[Any], clock: ClockModel) -> PoseTrajectory | None:
    """The trajectory of a pose stream's decoded messages on the reference clock (sorted, repeated stamps dropped),
    or None with fewer than two poses."""
    msgs = [m.data for m in messages if isinstance(m.data, Odometry)]
    if len(msgs) < 2:
        return None
    return odometry_trajectory(msgs, clock.to_reference(np.array([m.stamp_ns for m in msgs], np.int64)))[0]


def _deskewer(
    opts: SyncOptions,
    reader: LogReader,
    plan: SyncPlan,
    poses_msgs: dict[str, list],
    names: dict[str, str],
    clocks: dict[str, ClockChoice],
    notes: list[str],
) -> _Deskewer:
    lidars = [n for n, s in plan.streams.items() if s.kind == "lidar"]
    mode = opts.deskew
    pose_topic = next((t for t in poses_msgs if reader.stream(t).kind == "pose"), None)
    imu_topic = next((t for t in poses_msgs if reader.stream(t).kind == "imu"), None)
    if mode == "none" or not lidars:
        return _Deskewer("none", None, {}, {}, "")
    poses = None
    source = ""
    if pose_topic is not None:
        poses = pose_trajectory(poses_msgs[pose_topic], clocks[names[pose_topic]].clock)
        if poses is not None:
            source = f"{pose_topic} ({poses.world_frame} <- {poses.body_frame}, {len(poses)} poses)"
    if poses is None:
        if mode != "auto":
            raise SyncError(
                f"--deskew {mode}: the log has no pose stream (Odometry/PoseStamped) to deskew with; use --deskew none"
            )
        notes.append("deskew: no pose stream in the log, clouds written as recorded")
        return _Deskewer("none", None, {}, {}, "")
    tree = reader.tf_tree()
    propagation: dict[str, Any] = {}
    max_gap = None
    if imu_topic is not None:
        poses, source, propagation, max_gap = _propagate(
            poses, source, poses_msgs[imu_topic], imu_topic, names, clocks, tree, notes
        )
    T_base = {}
    for n in lidars:
        frame = reader.stream(plan.streams[n].topic).frame_id
        try:
            T_base[n] = tree.lookup(poses.body_frame, frame)
        except SensorfuseError as exc:
            notes.append(f"deskew: {n}: no static transform {poses.body_frame} <- {frame} ({exc}); not deskewed")
    if mode == "auto":
        mode = "end"
    targets: dict[str, dict[int, int]] = {}
    if mode == "camera":
        cams = [n for n, s in plan.streams.items() if s.kind == "camera"]
        cam = opts.deskew_camera or (cams[0] if cams else None)
        if cam is None or cam not in plan.streams:
            raise SyncError(f"--deskew camera: no camera stream {cam or ''} (cameras: {', '.join(cams) or 'none'})")
        cs, t_cam = plan.streams[cam], plan.reference_ns[cam]
        for n in lidars:
            ls = plan.streams[n]
            a = associate(plan.reference_ns[n], np.where(cs.ok, t_cam, np.iinfo(np.int64).max // 2))
            t_target = t_cam[np.maximum(a.index, 0)]
            targets[n] = {int(i): int(t_target[i]) for i in np.flatnonzero(~a.missing & ls.ok)}
        source += f"; target: {cam} stamp (mid-exposure), sweep end where no {cam} frame is within tolerance"
    return _Deskewer(mode, poses, T_base, targets, source, propagation=propagation, max_gap_ns=max_gap)


def _propagation_imu(opts: SyncOptions, reader: LogReader, topics: list[str], pose_topics: list[str]) -> list[str]:
    """The IMU topic to integrate between poses for the deskew (decoded in the stamp pass), if any."""
    imus = [t for t in topics if reader.stream(t).kind == "imu"]
    if opts.deskew == "none" or opts.imu_propagate == "off" or not pose_topics:
        return []
    if not imus:
        if opts.imu_propagate == "on":
            raise SyncError("--imu-propagate on: the log has no IMU stream among the selected topics")
        return []
    rate = reader.stream(pose_topics[0]).rate_hz or 0.0
    if opts.imu_propagate == "auto" and rate >= PROPAGATE_BELOW_HZ:
        return []
    return imus[:1]


def _propagate(
    poses: PoseTrajectory,
    source: str,
    msgs: list,
    topic: str,
    names: dict[str, str],
    clocks: dict[str, ClockChoice],
    tree: Any,
    notes: list[str],
) -> tuple[PoseTrajectory, str, dict[str, Any], int | None]:
    """Poses with the rotation between them integrated from the IMU (:func:`sensorfuse.fusion.propagate_poses`)."""
    from sensorfuse.fusion.propagate import propagate_poses

    blocks = [m.data for m in msgs if isinstance(m.data, ImuSamples) and len(m.data)]
    if not blocks:
        notes.append(f"deskew: no readable IMU samples on {topic}; poses interpolated without the gyro")
        return poses, source, {}, None
    frame = blocks[0].frame_id
    try:
        T_bi = tree.lookup(poses.body_frame, frame)
    except SensorfuseError as exc:
        notes.append(f"deskew: no static transform {poses.body_frame} <- {frame} ({exc}); IMU not used for the poses")
        return poses, source, {}, None
    t = clocks[names[topic]].clock.to_reference(np.concatenate([b.stamp_ns for b in blocks]))
    gyro = np.concatenate([b.gyro for b in blocks])
    keep = sort_unique(t, keep="first")
    imu = ImuSamples(t[keep], gyro[keep], np.zeros_like(gyro[keep]), frame)
    res = propagate_poses(poses, imu, T_bi)
    summary = {"imu": names[topic], **res.summary()}
    source += (
        f"; rotation between poses integrated from {names[topic]} ({res.propagated} of {res.intervals} intervals, "
        f"gyro vs poses median {summary['gyro_residual_deg_median']} deg)"
    )
    return res.trajectory, source, summary, res.max_gap_ns


@dataclass
class LogPlan:
    """What pass 1 of :func:`run_sync` learns about a log: the streams, their clocks and the synchronisation plan."""

    topics: list[str]
    skipped: dict[str, str]
    names: dict[str, str]
    scan: Any
    clocks: dict[str, ClockChoice]
    plan: SyncPlan
    notes: list[str]
    rig: Rig
    tick: Callable[[str], Callable[[int], None] | None]
    pose_topics: list[str]


def plan_log(
    reader: LogReader, opts: SyncOptions, base_rig: Rig | None = None, progress: Progress | None = None
) -> LogPlan:
    """Pass 1 of :func:`run_sync` on an open log: choose the streams, read their stamps (and the poses), decide the
    clocks and every frame's partners; also used by the viewer to sync a log on the fly."""
    topics, skipped = _select(reader, opts.topics)
    names = _names(reader, topics, base_rig)
    given = _resolve_offsets(opts.offsets, names)
    rig_clocks = {}
    if base_rig is not None:
        rig_clocks = {names[s.topic]: s.clock for s in base_rig.sensors if s.topic in names}
    total = sum(reader.stream(t).count for t in topics)
    pose_topics = [t for t in topics if reader.stream(t).kind == "pose"][:1]
    imu_topics = _propagation_imu(opts, reader, topics, pose_topics)

    def tick(stage: str) -> Callable[[int], None] | None:
        return None if progress is None else (lambda k: progress(stage, k, total))

    scan = reader.scan(topics, decode=pose_topics + imu_topics, progress=tick("stamps"))
    timings = []
    for t in topics:
        info = reader.stream(t)
        h, g = scan.header[t], scan.log[t]
        valid = None if h is None else h != NO_STAMP
        gps = info.kind == "gnss" and bool(getattr(reader, "gps_time", lambda _t: False)(t))
        timings.append(StreamTiming(names[t], t, info.kind, h, g, valid, gps))
    clocks = choose_clocks(timings, given=given, rig=rig_clocks, estimate=opts.estimate)
    reference = opts.reference
    if reference is not None and reference in names:
        reference = names[reference]
    plan = plan_sync(
        timings,
        reference=reference,
        clocks=clocks,
        tolerance_ns=opts.tolerance_ns,
        start_ns=opts.start_ns,
        end_ns=opts.end_ns,
        window_relative=opts.window_relative,
    )
    notes = list(plan.notes)
    out_rig = _output_rig(reader, base_rig, names, clocks, notes)
    return LogPlan(topics, skipped, names, scan, clocks, plan, notes, out_rig, tick, pose_topics)


def frame_plan(plan: SyncPlan) -> FramePlan:
    """The plan's frames as the plain arrays a dataset writer takes."""
    return FramePlan(
        reference=plan.reference,
        kinds={n: s.kind for n, s in plan.streams.items()},
        topics={n: s.topic for n, s in plan.streams.items()},
        reference_index=plan.ref_index,
        reference_stamp_ns=plan.ref_time_ns,
        partners={n: np.where(a.missing, -1, a.index) for n, a in plan.associations.items()},
    )


def run_sync(log: str | Path, out: str | Path, opts: SyncOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Synchronise ``log`` into ``out`` (see the module docstring); returns the summary (also in the report).

    Raises:
        SensorfuseError subclasses: unreadable log, unknown topic or reference, no stream, unwritable output.
    """
    if opts.deskew not in DESKEW:
        raise ValidationError(f"--deskew {opts.deskew!r}; expected one of {', '.join(DESKEW)}")
    if opts.imu_propagate not in IMU_PROPAGATE:
        raise ValidationError(f"--imu-propagate {opts.imu_propagate!r}; expected one of {', '.join(IMU_PROPAGATE)}")
    if opts.format not in ("sensorfuse", "kitti"):
        raise ValidationError(f"--format {opts.format!r}; expected sensorfuse or kitti")
    t0 = time.perf_counter()
    base_rig = load_rig(opts.rig) if opts.rig else None
    with open_log(log) as reader:
        lp = plan_log(reader, opts, base_rig, progress)
        skipped, names, clocks, plan, notes, out_rig = lp.skipped, lp.names, lp.clocks, lp.plan, lp.notes, lp.rig
        scan, tick = lp.scan, lp.tick
        desk = _deskewer(opts, reader, plan, scan.messages, names, clocks, notes)
        del scan  # the decoded pose messages: the trajectory has what pass 2 needs
        # the record-time window of the frames (+1 s) when --start/--end cut the log
        lo = hi = None
        if opts.start_ns is not None or opts.end_ns is not None:
            lo, hi = int(plan.ref_time_ns.min()) - 10**9, int(plan.ref_time_ns.max()) + 10**9
        if opts.format == "kitti":
            from sensorfuse.io.kitti.synced_writer import KittiSyncWriter

            writer: DatasetWriter = KittiSyncWriter(out, frame_plan(plan), out_rig, overwrite=opts.overwrite)
        else:
            writer = SyncedWriter(out, overwrite=opts.overwrite)
        try:
            counts = _stream(reader, writer, plan, names, desk, lo, hi, tick("data"))
            writer.flush()  # the deskew counts are final once the pool is done
            report = plan.report()
            report.update(
                {
                    "log": str(Path(log)),
                    "log_format": reader.format,
                    "output": str(Path(out)),
                    "output_format": opts.format,
                    "written": counts,
                    "skipped_topics": skipped | getattr(writer, "skipped_report", {}),
                    "reader_report": reader.report.to_dict(),
                    "deskew": {
                        "mode": desk.mode,
                        "pose_source": desk.source,
                        **desk.counts,
                        "reasons": desk.reasons,
                        "max_shift_m": round(desk.max_shift_m, 4),
                        "imu_propagation": desk.propagation or None,
                    },
                    "notes": notes,
                    "wall_time_s": round(time.perf_counter() - t0, 3),
                }
            )
            writer.finish(out_rig, plan.frame_columns(), report)
        except BaseException:
            writer.abort()
            raise
    return report


def _stream(
    reader: LogReader,
    writer: Any,
    plan: SyncPlan,
    names: dict[str, str],
    desk: _Deskewer,
    lo: int | None,
    hi: int | None,
    step: Callable[[int], None] | None,
) -> dict[str, int]:
    """Pass 2: every message of the selected topics, deskewed where asked, handed to the writer."""
    counts: dict[str, int] = {}
    for name in names.values():
        kind = plan.streams[name].kind
        writer.add_stream(name, kind, deskewed=kind == "lidar" and desk.stream_reason(name) is None)
    for k, m in enumerate(reader.read(list(names), lo, hi)):
        name = names[m.topic]
        st = plan.streams[name]
        if m.index >= st.count or not st.ok[m.index]:
            continue
        header = int(st.stamps_ns[m.index])
        stamp = int(plan.reference_ns[name][m.index])
        log_ns = int(st.log_ns[m.index]) if st.log_ns is not None else None
        prepare, extra = None, {}
        if isinstance(m.data, PointCloud) and st.kind == "lidar":
            why = desk.stream_reason(name)
            if why is None:
                prepare = functools.partial(desk.apply, name, m.index, shift_ns=stamp - header)
            else:
                extra = desk.skip(name, why)
        writer.write(name, m.index, m.data, (header, stamp, log_ns), prepare=prepare, **extra)
        counts[name] = counts.get(name, 0) + 1
        if step is not None and k % 64 == 0:
            step(k)
    return counts
