"""The reader interface every log and dataset reader implements, with its stream description and report.

A reader lists its streams (:class:`StreamInfo`), yields :class:`~sensorfuse.io.messages.LogMessage` in record order
(``read``), seeks by message index or time (``get``, ``at``), builds the transform tree and the camera models, and
keeps a :class:`ReadReport` of everything it had to skip. ``stats()`` makes one pass over the stamps for
``fuse-info`` (rate, jitter, gaps, drops, reordering, time bases).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from sensorfuse.errors import MessageIndexError, TopicNotFound
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.tf_tree import TransformTree
from sensorfuse.health import StreamStats, stream_stats, time_bases
from sensorfuse.io.messages import CameraInfo, LogMessage, Odometry, TFMessage, odometry_trajectory
from sensorfuse.types import ImuSamples, PoseTrajectory

__all__ = [
    "NO_STAMP",
    "LogReader",
    "ReadReport",
    "StampScan",
    "StreamInfo",
    "StreamStats",
    "stream_stats",
    "time_bases",
]

#: header stamp of a message whose header could not be read (kept so arrays stay aligned with message indices)
NO_STAMP = np.iinfo(np.int64).min


Progress = Callable[[int], None]


@dataclass
class StreamInfo:
    """One stream (topic) of a log.

    ``log_*`` are record times (the container's clock; None for datasets without one), ``header_*`` the messages'
    own stamps (filled by ``stats()`` or where the index has them). ``decodable`` is False for a type the reader has
    no definition for; ``notes`` say what was derived or skipped (per-point time from azimuth, dropped NaN points...).
    """

    topic: str
    msgtype: str
    kind: str
    frame_id: str = ""
    count: int = 0
    log_start_ns: int | None = None
    log_end_ns: int | None = None
    header_start_ns: int | None = None
    header_end_ns: int | None = None
    rate_hz: float | None = None
    decodable: bool = True
    point_time: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_rate_hz(count: int, start_ns: int | None, end_ns: int | None) -> float | None:
    """Mean rate of ``count`` messages spread over ``[start_ns, end_ns]`` (None when it cannot be told), to 6
    significant digits (30.0, not 30.000000300000004: a 1 ns rounding of the span is not a rate)."""
    if count < 2 or start_ns is None or end_ns is None or end_ns <= start_ns:
        return None
    return float(f"{(count - 1) * 1e9 / (end_ns - start_ns):.6g}")


@dataclass
class ReadReport:
    """What a reader skipped: per topic the number of unreadable records and the first error, plus warnings."""

    bad_records: dict[str, int] = field(default_factory=dict)
    first_error: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def bad(self, topic: str, error: BaseException | str, where: str, count: int = 1) -> None:
        """Count ``count`` unreadable records of ``topic``; the first error of a topic is kept and warned once."""
        self.bad_records[topic] = self.bad_records.get(topic, 0) + count
        if topic not in self.first_error:
            text = f"{where}: {error}"
            self.first_error[topic] = text
            warnings.warn(f"{text} (further bad records of {topic} are counted in the reader's report)", stacklevel=3)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
            warnings.warn(text, stacklevel=3)

    @property
    def total_bad(self) -> int:
        return sum(self.bad_records.values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StampScan:
    """One pass over a log's stamps (``LogReader.scan``): per topic, aligned with the message index, the header
    stamps (None for types without a header, :data:`NO_STAMP` where a header was unreadable) and the record times
    (None for datasets without a record clock), plus the fully decoded messages of the topics asked for."""

    header: dict[str, np.ndarray | None]
    log: dict[str, np.ndarray | None]
    messages: dict[str, list[LogMessage]]


class LogReader(ABC):
    """Base class of every reader. Use as a context manager (or call ``close()``)."""

    #: format name, e.g. "ros1-bag", "ros2-db3", "mcap-ros1", "mcap-ros2", "kitti-raw"
    format: str = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.report = ReadReport()
        self._streams: dict[str, StreamInfo] = {}
        self._tree: TransformTree | None = None

    # -- context ---------------------------------------------------------------------------------------------------
    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files (no-op for readers that hold none)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self._streams)} streams)"

    # -- streams ---------------------------------------------------------------------------------------------------
    @property
    def streams(self) -> dict[str, StreamInfo]:
        """Topic -> StreamInfo, in topic order."""
        return dict(sorted(self._streams.items()))

    def stream(self, topic: str) -> StreamInfo:
        """The StreamInfo of ``topic``; raises TopicNotFound listing the topics."""
        try:
            return self._streams[topic]
        except KeyError:
            raise TopicNotFound(
                f"{self.path}: no topic {topic!r}; topics: {', '.join(sorted(self._streams)) or '(none)'}"
            ) from None

    def topics(self, kind: str | None = None) -> list[str]:
        """Topics, optionally only of one sensor kind (lidar, camera, camera_info, imu, gnss, radar, pose, tf, other)."""
        return [t for t, s in sorted(self._streams.items()) if kind is None or s.kind == kind]

    def _check_topics(self, topics: str | Iterable[str] | None) -> list[str]:
        if topics is None:
            return [t for t, s in sorted(self._streams.items()) if s.decodable]
        if isinstance(topics, str):
            topics = [topics]
        out = list(topics)
        for t in out:
            self.stream(t)
        return out

    # -- reading ---------------------------------------------------------------------------------------------------
    @abstractmethod
    def read(
        self, topics: str | Iterable[str] | None = None, start_ns: int | None = None, end_ns: int | None = None
    ) -> Iterator[LogMessage]:
        """Yield messages of ``topics`` (default: every decodable one) in record order, with record time in
        ``[start_ns, end_ns)`` (datasets without a record clock use the sensor stamps)."""

    @abstractmethod
    def times(self, topic: str) -> np.ndarray:
        """Record time (int64 ns) of each message of ``topic`` in index order, from the log's index where it has
        one."""

    @abstractmethod
    def get(self, topic: str, index: int) -> LogMessage:
        """Message number ``index`` (0-based, negative from the end) of ``topic``, read without reading the log
        from the start."""

    def at(self, topic: str, stamp_ns: int) -> LogMessage:
        """The message of ``topic`` whose record time is nearest to ``stamp_ns``."""
        t = self.times(topic)
        if t.size == 0:
            raise TopicNotFound(f"{self.path}: topic {topic!r} has no messages")
        i = int(np.searchsorted(t, stamp_ns))
        if i == t.size or (i > 0 and stamp_ns - t[i - 1] <= t[i] - stamp_ns):
            i -= 1
        return self.get(topic, i)

    def _index(self, topic: str, index: int) -> int:
        n = self.stream(topic).count
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise MessageIndexError(f"{self.path}: topic {topic!r} has {n} messages; index {index} is out of range")
        return i

    # -- derived ---------------------------------------------------------------------------------------------------
    def tf_tree(self) -> TransformTree:
        """The transform tree from the log's ``/tf_static`` and ``/tf`` (and dataset calibration), built once."""
        if self._tree is None:
            tree = TransformTree()
            self._add_dataset_transforms(tree)
            tf_topics = [t for t, s in self._streams.items() if s.kind == "tf" and s.decodable]
            dyn: dict[tuple[str, str], tuple[list[int], list[np.ndarray]]] = {}
            for m in self.read(tf_topics) if tf_topics else ():
                msg = m.data
                if not isinstance(msg, TFMessage):
                    continue
                for tf in msg.transforms:
                    try:
                        if msg.static:
                            tree.add_static(tf.parent, tf.child, tf.T)
                        else:
                            s, T = dyn.setdefault((tf.parent, tf.child), ([], []))
                            s.append(tf.stamp_ns)
                            T.append(tf.T)
                    except Exception as exc:  # a conflicting edge: keep the tree, report it
                        self.report.warn(f"{self.path}: {m.topic}: transform {tf.parent} -> {tf.child} ignored: {exc}")
            for (p, c), (s, T) in dyn.items():
                try:
                    tree.add_dynamic(p, c, np.array(s, np.int64), np.array(T))
                except Exception as exc:
                    self.report.warn(f"{self.path}: /tf transform {p} -> {c} ignored: {exc}")
            self._tree = tree
        return self._tree

    def _add_dataset_transforms(self, tree: TransformTree) -> None:  # noqa: B027 - hook
        """Datasets add their calibration here."""

    def cameras(self) -> dict[str, CameraModel]:
        """Camera models by camera topic (the first CameraInfo of each ``.../camera_info`` topic, or the dataset's
        calibration), keyed by the image topic where one sits beside it."""
        out: dict[str, CameraModel] = {}
        for topic in self.topics("camera_info"):
            if self.stream(topic).count == 0:
                continue
            msg = self.get(topic, 0).data
            if isinstance(msg, CameraInfo):
                out[topic] = msg.camera
        return out

    def _by_stamp(self, stamps: np.ndarray, topic: str, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Stable sort order of ``stamps`` and the positions (into the sorted order) of the first message of each
        stamp; repeated stamps are reported as dropped."""
        order = np.argsort(stamps, kind="stable")
        s = stamps[order]
        keep = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        if keep.size < s.size:
            self.report.warn(f"{self.path}: {topic}: {s.size - keep.size} {what} with a repeated stamp dropped")
        return order, keep

    def trajectory(self, topic: str) -> PoseTrajectory:
        """All poses of an Odometry/PoseStamped/TransformStamped topic as a PoseTrajectory (by header stamp)."""
        odom = [m.data for m in self.read(topic) if isinstance(m.data, Odometry)]
        if not odom:
            raise TopicNotFound(f"{self.path}: topic {topic!r} has no pose messages")
        traj, repeats = odometry_trajectory(odom)
        if repeats:
            self.report.warn(f"{self.path}: {topic}: {repeats} poses with a repeated stamp dropped")
        return traj

    def imu(self, topic: str) -> ImuSamples:
        """All samples of an IMU topic as one ImuSamples (sorted by stamp; repeated stamps reported and dropped)."""
        parts = [m.data for m in self.read(topic) if isinstance(m.data, ImuSamples)]
        if not parts:
            raise TopicNotFound(f"{self.path}: topic {topic!r} has no IMU messages")
        s = np.concatenate([p.stamp_ns for p in parts])
        order, keep = self._by_stamp(s, topic, "IMU samples")
        if s.size > 1 and np.any(np.diff(s) < 0):
            self.report.warn(f"{self.path}: {topic}: IMU stamps out of order in the log; sorted by stamp")
        sel = order[keep]
        gyro = np.concatenate([p.gyro for p in parts])[sel]
        accel = np.concatenate([p.accel for p in parts])[sel]
        return ImuSamples(s[sel], gyro, accel, parts[0].frame_id)

    def scan(
        self,
        topics: str | Iterable[str] | None = None,
        decode: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> StampScan:
        """Header stamps and record times of ``topics`` (default: all) in one pass, decoding only the ``decode``
        topics (small streams: poses, IMU, GNSS) — what synchronisation needs before it touches the big payloads.
        This default serves datasets, whose stamp lists are their headers."""
        wanted = list(self._streams) if topics is None else self._check_topics(topics)
        dec = [t for t in decode if t in wanted]
        msgs: dict[str, list[LogMessage]] = {t: [] for t in dec}
        for k, m in enumerate(self.read(dec) if dec else ()):
            msgs[m.topic].append(m)
            if progress is not None and k % 256 == 0:
                progress(k)
        return StampScan({t: np.asarray(self.times(t), np.int64) for t in wanted}, dict.fromkeys(wanted), msgs)

    @abstractmethod
    def stats(self, progress: Progress | None = None) -> dict[str, StreamStats]:
        """One pass over every stream's stamps (no payload decoding where the format allows)."""
