"""ROS1 ``.bag`` and ROS2 sqlite3 (``.db3``) logs through rosbags' AnyReader, without ROS.

ROS1 bags carry their message definitions; ROS2 ``.db3`` bags of metadata version < 8 carry none, so the Humble
typestore is used and custom types (driver packets, radar object lists) must be given with ``types=`` (a folder of
``pkg__Name.msg`` files or a mapping). Topics whose type stays unknown are listed with ``decodable=False`` and do
not stop the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.io.reader import StreamInfo
from sensorfuse.io.ros.convert import kind_of
from sensorfuse.io.ros.log import RosLogReader, TypeDefinitions, base_typestore, parse_type_definitions

__all__ = ["RosbagReader"]


class RosbagReader(RosLogReader):
    """Reader of a ROS1 ``.bag`` file or a ROS2 ``.db3`` bag directory (see :func:`sensorfuse.io.open`)."""

    def __init__(self, path: str | Path, *, types: TypeDefinitions = None) -> None:
        super().__init__(path)
        from rosbags.highlevel import AnyReader

        self.ros1 = self.path.suffix == ".bag"
        self.format = "ros1-bag" if self.ros1 else "ros2-db3"
        extra = parse_type_definitions(types)
        try:
            self._reader = AnyReader([self.path], default_typestore=base_typestore(self.ros1, extra))
            self._reader.open()
        except Exception as exc:
            text = str(exc)
            hint = ""
            if self.ros1 and ("index" in text.lower() or "not indexed" in text.lower()):
                hint = (
                    " The bag is not indexed (truncated, or the recording was interrupted): run `rosbag reindex` on it."
                )
            elif not self.ros1:
                hint = " Is this a complete rosbag2 directory (metadata.yaml and its .db3 files)?"
            raise FormatError(f"{self.path}: cannot open the {self.format} log: {text}.{hint}") from None
        self.typestore = self._reader.typestore
        if extra:
            missing = {k: v for k, v in extra.items() if k not in self.typestore.types}
            if missing:
                self.typestore.register(missing)
        self._conns: dict[str, list[object]] = {}
        for c in self._reader.connections:
            self._conns.setdefault(c.topic, []).append(c)
        for topic, conns in self._conns.items():
            types = sorted({c.msgtype for c in conns})
            msgtype = types[0]
            info = StreamInfo(topic, msgtype, kind_of(msgtype), count=sum(c.msgcount for c in conns))
            if len(types) > 1:
                info.decodable = False
                info.notes.append(f"connections of different types {types}; not read")
            elif msgtype not in self.typestore.types:
                info.decodable = False
                info.notes.append(
                    f"no definition of {msgtype} in the log; give it with types= (a folder of pkg__Name.msg files)"
                )
            self._streams[topic] = info
        self._time_cache: dict[str, np.ndarray] = {}
        for topic, info in self._streams.items():
            t = self.times(topic)
            if t.size:
                info.log_start_ns, info.log_end_ns = int(t[0]), int(t[-1])
        self._rate_from_times()
        self._describe_first()

    def close(self) -> None:
        if getattr(self, "_reader", None) is not None and self._reader.stack is not None:
            self._reader.close()

    # -- raw access ------------------------------------------------------------------------------------------------
    def _raw(self, topics: list[str], start: int | None, stop: int | None) -> Iterator[tuple[str, int, bytes]]:
        conns = [c for t in topics for c in self._conns[t]]
        if not conns:
            return
        done = 0  # messages yielded so far, in record order
        while True:
            try:
                skip = done
                for conn, t, raw in self._reader.messages(connections=conns, start=start, stop=stop):
                    if skip:
                        skip -= 1
                        continue
                    done += 1
                    yield conn.topic, int(t), raw
                return
            except Exception as exc:
                if not self._drop_bad_chunk(conns, start, stop, done, exc):
                    self.report.bad(topics[0], exc, f"{self.path}: unreadable data after message {done}")
                    return

    def _drop_bad_chunk(
        self, conns: list[object], start: int | None, stop: int | None, done: int, exc: Exception
    ) -> bool:
        """A ROS1 chunk failed to decompress or parse: find it through the bag index (the message after the ``done``
        delivered ones), count its messages per topic in the report and take them out of the index, so reading
        can go on after it. False where the format has no such index (ROS2)."""
        readers = [r for r in getattr(self._reader, "readers", []) if hasattr(r, "indexes")]
        if not self.ros1 or not readers:
            return False
        lo, hi = -(2**63) if start is None else start, 2**63 - 1 if stop is None else stop
        entries = sorted(
            (e.time, e.chunk_pos, e.offset)
            for r in readers
            for c in conns
            for e in r.indexes.get(c.id, [])
            if lo <= e.time < hi
        )
        if done >= len(entries):
            return False
        bad_pos = entries[done][1]
        for r in readers:
            for c in self._reader.connections:
                idx = r.indexes.get(c.id)
                if not idx:
                    continue
                kept = [e for e in idx if e.chunk_pos != bad_pos]
                lost = len(idx) - len(kept)
                if lost:
                    info = self._streams[c.topic]
                    info.count -= lost  # message numbers now count the readable messages
                    info.notes.append(f"{lost} message(s) in a corrupt chunk at byte {bad_pos} skipped")
                if c in conns and lost:
                    self.report.bad(c.topic, exc, f"{self.path}: chunk at byte {bad_pos}", count=lost)
                r.indexes[c.id] = kept
        self._time_cache.clear()
        return True

    def _sqlite(self) -> object | None:
        """The open sqlite connection of a single-file .db3 bag (rosbags' storage), else None."""
        readers = getattr(self._reader, "readers", [])
        directory = getattr(readers[0], "storage", None) if len(readers) == 1 else None
        storages = getattr(directory, "storages", [])
        return getattr(storages[0], "dbconn", None) if len(storages) == 1 else None

    def times(self, topic: str) -> np.ndarray:
        self.stream(topic)
        if topic not in self._time_cache:
            conns = self._conns[topic]
            readers = getattr(self._reader, "readers", [])
            idx = [r.indexes for r in readers if hasattr(r, "indexes")]
            db = self._sqlite()
            if self.ros1 and idx:
                t = [e.time for c in conns for ix in idx for e in ix.get(c.id, [])]
            elif db is not None:  # the timestamps column only: no message data is read
                marks = ",".join("?" for _ in conns)
                query = f"SELECT timestamp FROM messages WHERE topic_id IN ({marks})"
                t = [row[0] for row in db.cursor().execute(query, tuple(c.id for c in conns))]
            else:
                t = [ts for _c, ts, _raw in self._reader.messages(connections=conns)]
            self._time_cache[topic] = np.sort(np.array(t, np.int64))
        return self._time_cache[topic]
