"""What every ROS log reader shares: deserialise (rosbags typestores), convert (``ros_convert``), index by message
number, count bad records and make the ``fuse-info`` statistics pass from the raw headers.

Subclasses (``RosbagReader`` for .bag / .db3, ``McapReader`` for .mcap of either profile) provide raw records:
``_raw(topics, start, stop)`` yielding ``(topic, log_ns, bytes)`` in record order, ``times(topic)`` and
``_raw_get(topic, index)``.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.io.messages import LogMessage
from sensorfuse.io.reader import NO_STAMP, LogReader, Progress, StampScan, StreamStats, mean_rate_hz, stream_stats
from sensorfuse.io.ros.convert import RADAR_MSGS, TopicConverter, header_from_raw

__all__ = ["RosLogReader", "TypeDefinitions", "normalise_msgtype", "parse_type_definitions"]

#: extra message definitions: a folder of ``pkg__Name.msg`` / ``pkg/msg/Name.msg`` files, or {type name: text}
TypeDefinitions = str | os.PathLike[str] | Mapping[str, str] | None


def normalise_msgtype(name: str) -> str:
    """``pkg/Type`` -> ``pkg/msg/Type`` (rosbags' naming)."""
    parts = name.strip().split("/")
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    return name.strip()


def parse_type_definitions(types: TypeDefinitions) -> dict[str, object]:
    """Field definitions (rosbags ``Typesdict``) from .msg text: a folder of ``pkg__Name.msg`` (or ``pkg/msg/Name.msg``
    below it) or a mapping type name -> definition text."""
    from rosbags.typesys import get_types_from_msg

    if types is None:
        return {}
    texts: dict[str, str] = {}
    if isinstance(types, Mapping):
        texts = {normalise_msgtype(k): v for k, v in types.items()}
    else:
        folder = Path(types)
        if not folder.is_dir():
            raise FormatError(f"{folder}: expected a folder of .msg files (pkg__Name.msg or pkg/msg/Name.msg)")
        for f in sorted(folder.rglob("*.msg")):
            if "__" in f.stem:
                pkg, name = f.stem.split("__", 1)
            elif f.parent.name == "msg":
                pkg, name = f.parent.parent.name, f.stem
            else:
                raise FormatError(f"{f}: cannot tell the package of this .msg file; name it pkg__Name.msg")
            texts[f"{pkg}/msg/{name}"] = f.read_text()
    out: dict[str, object] = {}
    for name, text in texts.items():
        try:
            out.update(get_types_from_msg(text, name))
        except Exception as exc:
            raise FormatError(f"message definition {name}: {exc}") from None
    return out


def base_typestore(ros1: bool, extra: Mapping[str, object] | None = None) -> object:
    """rosbags' Noetic or Humble typestore, plus tf2_msgs (Noetic lacks it), radar_msgs and ``extra``."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS1_NOETIC if ros1 else Stores.ROS2_HUMBLE)
    add: dict[str, object] = {}
    if "tf2_msgs/msg/TFMessage" not in ts.types:
        add.update(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"))
    for name, text in RADAR_MSGS.items():
        if name not in ts.types:
            add.update(get_types_from_msg(text, name))
    add.update(extra or {})
    if add:
        ts.register(add)
    return ts


class RosLogReader(LogReader):
    """Shared ROS reader logic; see the module docstring."""

    ros1: bool = False

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self.typestore: object = None
        self._conv: dict[str, TopicConverter] = {}

    # -- to implement ----------------------------------------------------------------------------------------------
    @abstractmethod
    def _raw(self, topics: list[str], start: int | None, stop: int | None) -> Iterator[tuple[str, int, bytes]]:
        """(topic, log_ns, raw bytes) in record order; corrupt parts reported and skipped."""

    def _raw_get(self, topic: str, index: int) -> tuple[int, bytes]:
        """(log_ns, raw) of message ``index`` (already range-checked) of ``topic``: its record time from
        ``times()``, then the k-th message at that time (formats with a finer index override this)."""
        times = self.times(topic)
        t = int(times[index])
        k = index - int(np.searchsorted(times, t, side="left"))
        for j, (_topic, log_ns, raw) in enumerate(self._raw([topic], t, t + 1)):
            if j == k:
                return log_ns, raw
        raise FormatError(f"{self.path}: {topic} message {index} (record time {t}) is listed in the index but missing")

    # -- decoding --------------------------------------------------------------------------------------------------
    def _deserialize(self, raw: bytes, msgtype: str) -> object:
        if self.ros1:
            return self.typestore.deserialize_ros1(raw, msgtype)
        return self.typestore.deserialize_cdr(raw, msgtype)

    def _converter(self, topic: str) -> TopicConverter:
        conv = self._conv.get(topic)
        if conv is None:
            info = self.stream(topic)
            conv = self._conv[topic] = TopicConverter(topic, info.msgtype, info.kind)
        return conv

    def _decode(self, topic: str, log_ns: int, raw: bytes) -> object:
        info = self.stream(topic)
        if not info.decodable:
            raise FormatError(f"{self.path}: topic {topic}: no definition of {info.msgtype}; {info.notes[-1]}")
        msg = self._deserialize(raw, info.msgtype)
        conv = self._converter(topic)
        out = conv.convert(msg, log_ns)
        info.kind = conv.kind
        if conv.point_time and not info.point_time:
            info.point_time = conv.point_time
        for note in conv.notes:
            if note not in info.notes:
                info.notes.append(note)
        return out

    def read(
        self, topics: str | Iterable[str] | None = None, start_ns: int | None = None, end_ns: int | None = None
    ) -> Iterator[LogMessage]:
        wanted = self._check_topics(topics)
        for t in wanted:
            info = self.stream(t)
            if not info.decodable:
                raise FormatError(f"{self.path}: topic {t} cannot be decoded: {info.notes[-1] if info.notes else ''}")
        counters: dict[str, int] = {}
        if start_ns is not None:
            counters = {t: int(np.searchsorted(self.times(t), start_ns, side="left")) for t in wanted}
        for topic, log_ns, raw in self._raw(wanted, start_ns, end_ns):
            i = counters.get(topic, 0)
            counters[topic] = i + 1
            try:
                data = self._decode(topic, log_ns, raw)
            except Exception as exc:
                self.report.bad(topic, exc, f"{self.path}: {topic} message {i} (record time {log_ns})")
                continue
            yield LogMessage(topic, i, log_ns, data)

    def get(self, topic: str, index: int) -> LogMessage:
        i = self._index(topic, index)
        log_ns, raw = self._raw_get(topic, i)
        try:
            return LogMessage(topic, i, log_ns, self._decode(topic, log_ns, raw))
        except FormatError:
            raise
        except Exception as exc:
            raise FormatError(f"{self.path}: {topic} message {i} (record time {log_ns}) cannot be read: {exc}") from exc

    def _first_message(self, topic: str) -> LogMessage:
        return self.get(topic, 0)

    def _describe_first(self) -> None:
        """Frame id, sensor kind and per-point time layout of each stream, from its first message."""
        for topic, info in self._streams.items():
            if not info.decodable or info.count == 0:
                continue
            try:
                m = self._first_message(topic)
            except Exception as exc:
                info.notes.append(f"first message unreadable: {exc}")
                continue
            frame = getattr(m.data, "frame_id", None)
            if frame is None and hasattr(m.data, "transforms") and m.data.transforms:
                frame = m.data.transforms[0].parent
            info.frame_id = str(frame or "")
            if info.kind == "lidar" and not info.point_time:
                info.point_time = "none (no per-point time field)"

    # -- statistics ------------------------------------------------------------------------------------------------
    def _has_header(self, msgtype: str) -> bool:
        fd = getattr(self.typestore, "fielddefs", {}).get(msgtype)
        return bool(fd and fd[1] and fd[1][0][1][1] == "std_msgs/msg/Header")

    def scan(
        self,
        topics: str | Iterable[str] | None = None,
        decode: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> StampScan:
        """One pass over the raw records: header stamps parsed from the raw bytes (no deserialisation), record
        times, and full decoding of the ``decode`` topics only."""
        wanted = list(self._streams) if topics is None else self._check_topics(topics)
        dec = {t for t in decode if t in wanted and self._streams[t].decodable}
        logs: dict[str, list[int]] = {t: [] for t in wanted}
        heads: dict[str, list[int]] = {t: [] for t in wanted}
        msgs: dict[str, list[LogMessage]] = {t: [] for t in dec}
        header_first = {t: self._streams[t].decodable and self._has_header(self._streams[t].msgtype) for t in wanted}
        for k, (topic, log_ns, raw) in enumerate(self._raw(wanted, None, None)):
            i = len(logs[topic])
            logs[topic].append(log_ns)
            if header_first[topic]:
                try:
                    heads[topic].append(header_from_raw(raw, self.ros1)[0])
                except FormatError as exc:
                    self.report.bad(topic, exc, f"{self.path}: {topic} message {i} (record time {log_ns})")
                    heads[topic].append(NO_STAMP)
            if topic in dec:
                try:
                    msgs[topic].append(LogMessage(topic, i, log_ns, self._decode(topic, log_ns, raw)))
                except Exception as exc:
                    self.report.bad(topic, exc, f"{self.path}: {topic} message {i} (record time {log_ns})")
            if progress is not None and k % 256 == 0:
                progress(k)
        header = {t: np.array(heads[t], np.int64) if header_first[t] else None for t in wanted}
        return StampScan(header, {t: np.array(logs[t], np.int64) for t in wanted}, msgs)

    def gps_time(self, topic: str) -> bool:
        """True if the topic's NavSatFix headers are GPS time (decided on its first decoded message)."""
        conv = self._conv.get(topic)
        if conv is None and self.stream(topic).kind == "gnss" and self.stream(topic).count:
            self.get(topic, 0)
            conv = self._conv.get(topic)
        return conv is not None and conv.gnss_time_base == "gps"

    def stats(self, progress: Progress | None = None) -> dict[str, StreamStats]:
        sc = self.scan(progress=progress)
        out = {}
        for t in sc.log:
            h0, lg = sc.header[t], sc.log[t]
            good = None if h0 is None else h0 != NO_STAMP
            h = None if h0 is None or not h0.size else h0[good]
            gps = self._streams[t].kind == "gnss" and self.gps_time(t)
            st = stream_stats(t, h, lg if good is None else lg[good], gps_time=gps)
            info = self._streams[t]
            if h is not None and h.size:
                info.header_start_ns, info.header_end_ns = int(h.min()), int(h.max())
            out[t] = st
        return out

    def _rate_from_times(self) -> None:
        for info in self._streams.values():
            info.rate_hz = mean_rate_hz(info.count, info.log_start_ns, info.log_end_ns)
