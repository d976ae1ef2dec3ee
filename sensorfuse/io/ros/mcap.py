"""MCAP logs of either profile through the ``mcap`` package, deserialised by rosbags.

- ``ros2`` profile (CDR messages, ``ros2msg`` / ``ros2idl`` schemas) and ``ros1`` profile (ROS1 messages, ``ros1msg``
  schemas, as written by the Go ``mcap`` CLI converting a ``.bag``): message types are registered from the schemas
  embedded in the file, so custom driver types (``ouster_ros/PacketMsg``) decode too; a schema that cannot be
  parsed marks only its own topics undecodable.
- Chunks are read one at a time, CRC-checked; a corrupt chunk is reported (with how many messages of which topics
  it held, from the chunk's message index) and skipped, every other message is still delivered.
- Random access by message number uses the per-chunk message indexes (no payload is read to build it).
- A file without a summary (truncated, or written without one) is scanned linearly once; what could be read
  before the damage is delivered and the truncation is reported.
"""

from __future__ import annotations

import contextlib
import heapq
import mmap
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.io.messages import LogMessage
from sensorfuse.io.reader import Progress, StampScan, StreamInfo
from sensorfuse.io.ros.convert import kind_of
from sensorfuse.io.ros.log import (
    RosLogReader,
    TypeDefinitions,
    base_typestore,
    normalise_msgtype,
    parse_type_definitions,
)

__all__ = ["McapReader", "SplitMcapReader"]


def _register_schema(typestore: object, schema: object) -> None:
    from rosbags.typesys import get_types_from_idl, get_types_from_msg

    text = schema.data.decode("utf-8")
    name = normalise_msgtype(schema.name)
    if schema.encoding in ("ros1msg", "ros2msg"):
        typs = get_types_from_msg(text, name)
    elif schema.encoding == "ros2idl":
        typs = {}
        sep = "=" * 80 + "\n"
        parts = text.split(sep)[1:] if text.startswith(f"{sep}IDL: ") else [text]
        for part in parts:
            typs.update(get_types_from_idl(part.split("\n", 1)[1] if part.startswith("IDL: ") else part))
    else:
        raise FormatError(f"schema encoding {schema.encoding!r} of {schema.name} is not a ROS message definition")
    new = {k: v for k, v in typs.items() if k not in typestore.fielddefs or typestore.fielddefs[k] != v}
    if new:
        typestore.register(new)


_MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux value; Python < 3.13 does not name it
_FAULT_AROUND = 65536  # Linux's default fault_around_bytes
_CHUNK_HEAD = struct.Struct("<QQQQI")  # record length, message start, end, uncompressed size, crc
_MSG_HEAD = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time


def _parse_chunk(mm: mmap.mmap, offset: int) -> list[tuple[int, int, memoryview]]:
    """The messages of the Chunk record at ``offset``; FormatError on any inconsistency."""
    size = len(mm)
    if offset + 1 + _CHUNK_HEAD.size + 4 > size or mm[offset] != 0x06:
        raise FormatError(f"no chunk record at byte {offset}")
    rec_len, _t0, _t1, usize, crc = _CHUNK_HEAD.unpack_from(mm, offset + 1)
    end = offset + 9 + rec_len
    p = offset + 1 + _CHUNK_HEAD.size
    (n,) = struct.unpack_from("<I", mm, p)
    comp = bytes(mm[p + 4 : p + 4 + n]).decode("ascii", "replace")
    p += 4 + n
    (rlen,) = struct.unpack_from("<Q", mm, p)
    p += 8
    if end > size or p + rlen > end:
        raise FormatError(f"chunk at byte {offset}: records run past the chunk ({rlen} bytes)")
    view = memoryview(mm)[p : p + rlen]
    if comp == "":
        data = view
    else:
        if comp == "zstd":
            import zstandard

            raw = zstandard.ZstdDecompressor().decompress(view, max_output_size=usize)
        elif comp == "lz4":
            import lz4.frame

            raw = lz4.frame.decompress(view)
        else:
            raise FormatError(f"chunk at byte {offset}: unknown compression {comp!r}")
        if len(raw) != usize:
            raise FormatError(f"chunk at byte {offset}: {len(raw)} bytes after decompression, header says {usize}")
        if crc and zlib.crc32(raw) != crc:
            raise FormatError(f"chunk at byte {offset}: CRC mismatch")
        data = memoryview(raw)
    out = []
    q, n_data = 0, len(data)
    while q < n_data:
        if q + 9 > n_data:
            raise FormatError(f"chunk at byte {offset}: record header cut at {q}")
        op = data[q]
        (length,) = struct.unpack_from("<Q", data, q + 1)
        body = q + 9
        q = body + length
        if q > n_data:
            raise FormatError(f"chunk at byte {offset}: record of {length} bytes runs past the chunk")
        if op == 0x05:
            if length < _MSG_HEAD.size:
                raise FormatError(f"chunk at byte {offset}: message record too short")
            cid, _seq, log_time, _pub = _MSG_HEAD.unpack_from(data, body)
            out.append((cid, log_time, data[body + _MSG_HEAD.size : q]))
        elif op not in (0x03, 0x04):  # schemas and channels may sit in chunks
            raise FormatError(f"chunk at byte {offset}: unexpected record opcode {op:#x}")
    return out


def _message_indexes(data: bytes) -> Iterator[tuple[int, np.ndarray]]:
    """(channel id, (n, 2) uint64 [log_time, offset]) of each MessageIndex record (opcode 0x07) in ``data``."""
    pos = 0
    while pos + 9 <= len(data):
        op = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 9], "little")
        body = data[pos + 9 : pos + 9 + length]
        if len(body) != length:
            raise FormatError(f"message index record cut short at byte {pos}")
        if op == 0x07:
            cid = int.from_bytes(body[0:2], "little")
            n = int.from_bytes(body[2:6], "little")
            recs = np.frombuffer(body, "<u8", count=n // 8, offset=6).reshape(-1, 2)
            yield cid, recs
        pos += 9 + length


class McapReader(RosLogReader):
    """Reader of an ``.mcap`` file (or a rosbag2 directory of them), ROS1 or ROS2 profile."""

    def __init__(self, path: str | Path, *, files: list[Path] | None = None, types: TypeDefinitions = None) -> None:
        super().__init__(path)
        from mcap.reader import make_reader

        files = files or [self.path]
        if len(files) != 1:
            raise FormatError(f"{self.path}: McapReader reads one file; use open() or SplitMcapReader for {len(files)}")
        self.file = files[0]
        try:
            self._f = open(self.file, "rb")  # noqa: SIM115 - closed in close()
            self._mcap = make_reader(self._f)
            header = self._mcap.get_header()
        except Exception as exc:
            raise FormatError(f"{self.file}: not a readable MCAP file ({exc})") from None
        summary = None
        try:
            summary = self._mcap.get_summary()
        except Exception as exc:
            self.report.warn(f"{self.file}: no readable summary ({exc}); the file is truncated or damaged, scanning it")
        self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)
        self.profile = header.profile
        self._summary = summary if summary is not None and summary.chunk_indexes else None
        self._chunk_cache: tuple[int, list] | None = None
        self._chunk_ends: list[int] | None = None
        self._sparse = False  # True while scanning: pages are faulted in on touch, not populated per chunk
        if self._summary is None:
            schemas, channels = self._scan()
        else:
            schemas, channels = self._summary.schemas, self._summary.channels
        encodings = {c.message_encoding for c in channels.values()}
        self.ros1 = header.profile == "ros1" or encodings == {"ros1"}
        self.format = "mcap-ros1" if self.ros1 else "mcap-ros2"
        self.typestore = base_typestore(self.ros1, parse_type_definitions(types))
        self._channels = channels
        self._topic_cids: dict[str, list[int]] = {}
        bad_schema: dict[int, str] = {}
        for sid, schema in schemas.items():
            try:
                _register_schema(self.typestore, schema)
            except Exception as exc:
                bad_schema[sid] = f"schema {schema.name} ({schema.encoding}) not usable: {exc}"
        for cid, ch in sorted(channels.items()):
            self._topic_cids.setdefault(ch.topic, []).append(cid)
        for topic, cids in self._topic_cids.items():
            sch = [schemas.get(channels[c].schema_id) for c in cids]
            msgtype = normalise_msgtype(sch[0].name) if sch[0] is not None else "(no schema)"
            info = StreamInfo(topic, msgtype, kind_of(msgtype))
            enc = {channels[c].message_encoding for c in cids}
            if enc - {"ros1", "cdr"}:
                info.decodable = False
                info.notes.append(f"message encoding {sorted(enc)} is not ROS; not decoded")
            elif any(s is None for s in sch):
                info.decodable = msgtype in self.typestore.types
                if not info.decodable:
                    info.notes.append("channel has no schema and the type is unknown")
            elif any(channels[c].schema_id in bad_schema for c in cids):
                info.decodable = False
                info.notes.append(
                    next(bad_schema[channels[c].schema_id] for c in cids if channels[c].schema_id in bad_schema)
                )
            elif msgtype not in self.typestore.types:
                info.decodable = False
                info.notes.append(f"no definition of {msgtype}")
            self._streams[topic] = info
        self._idx: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._chunks = []
        if self._summary is not None:
            self._chunks = sorted(
                self._summary.chunk_indexes, key=lambda c: (c.message_start_time, c.chunk_start_offset)
            )
        counts = self._summary.statistics.channel_message_counts if self._summary and self._summary.statistics else None
        for topic, info in self._streams.items():
            if counts is not None and all(c in counts for c in self._topic_cids[topic]):
                # the summary's counts and the first/last chunk's message index: no full index at open
                info.count = sum(counts[c] for c in self._topic_cids[topic])
                if info.count:
                    info.log_start_ns, info.log_end_ns = self._first_last(topic)
            else:
                t = self.times(topic)
                info.count = int(t.size)
                if t.size:
                    info.log_start_ns, info.log_end_ns = int(t[0]), int(t[-1])
        self._rate_from_times()
        self._describe_first()
        self._release_all()

    def close(self) -> None:
        self._chunk_cache = None
        mm = getattr(self, "_mm", None)
        if mm is not None:
            with contextlib.suppress(BufferError):  # messages still reference the mapping; it goes with them
                mm.close()
        f = getattr(self, "_f", None)
        if f is not None and not f.closed:
            f.close()

    # -- index -----------------------------------------------------------------------------------------------------
    def _scan(self) -> tuple[dict, dict]:
        """Linear scan of a file without summary: schemas, channels and every message's (channel, time, bytes
        position) up to the first damage."""
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader

        self._f.seek(0)
        schemas, channels = {}, {}
        self._scan_msgs: list[tuple[int, int, int]] = []  # (log_time, seq, channel)
        n = 0
        try:
            for rec in StreamReader(self._f, skip_magic=False).records:
                if isinstance(rec, Schema):
                    schemas[rec.id] = rec
                elif isinstance(rec, Channel):
                    channels[rec.id] = rec
                elif isinstance(rec, Message):
                    self._scan_msgs.append((rec.log_time, n, rec.channel_id))
                    n += 1
        except Exception as exc:
            self.report.warn(f"{self.file}: damaged after {n} messages ({type(exc).__name__}: {exc}); read up to there")
        self._scan_count = n
        return schemas, channels

    def _chunk_index_records(self, k: int) -> dict[int, np.ndarray]:
        """{channel id: (n, 2) [log_time, offset]} from chunk ``k``'s message index records."""
        ci = self._chunks[k]
        self._f.seek(ci.chunk_start_offset + ci.chunk_length)
        return dict(_message_indexes(self._f.read(ci.message_index_length)))

    def _first_last(self, topic: str) -> tuple[int, int]:
        """Exact first and last record time of ``topic`` from the message indexes of the few chunks that can hold
        them (chunks are ordered by their time ranges)."""
        cids = set(self._topic_cids[topic])
        have = [k for k, ci in enumerate(self._chunks) if cids & set(ci.message_index_offsets)]
        first, last = None, None
        for k in have:  # ascending start time: stop once a chunk starts after the best first time
            if first is not None and self._chunks[k].message_start_time > first:
                break
            for cid, recs in self._chunk_index_records(k).items():
                if cid in cids and recs.size:
                    first = int(recs[:, 0].min()) if first is None else min(first, int(recs[:, 0].min()))
        for k in sorted(have, key=lambda k: self._chunks[k].message_end_time, reverse=True):
            if last is not None and self._chunks[k].message_end_time < last:
                break
            for cid, recs in self._chunk_index_records(k).items():
                if cid in cids and recs.size:
                    last = int(recs[:, 0].max()) if last is None else max(last, int(recs[:, 0].max()))
        if first is None or last is None:
            raise FormatError(f"{self.file}: {topic}: the message indexes list none of its messages")
        return first, last

    def _first_message(self, topic: str) -> LogMessage:
        if self._idx is not None or self._summary is None:
            return self.get(topic, 0)
        first, _ = self._first_last(topic)
        cids = set(self._topic_cids[topic])
        for k, ci in enumerate(self._chunks):
            if ci.message_start_time <= first <= ci.message_end_time and cids & set(ci.message_index_offsets):
                for cid, log_time, data in self._chunk_messages(k):
                    if cid in cids and log_time == first:
                        return LogMessage(topic, 0, log_time, self._decode(topic, log_time, data))
        raise FormatError(f"{self.file}: {topic}: first message (record time {first}) not found")

    def _index_table(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self._idx is None:
            self._build_index()
        return self._idx

    def _build_index(self) -> None:
        """Per topic: record times, chunk number and offset of every message, from the chunks' message indexes
        (built on the first random access; streaming does not need it)."""
        self._idx = {}
        cid_topic = {c: t for t, cids in self._topic_cids.items() for c in cids}
        per: dict[str, list[tuple[int, int, int]]] = {t: [] for t in self._topic_cids}
        if self._summary is None:
            for log_time, seq, cid in self._scan_msgs:
                per[cid_topic[cid]].append((log_time, -1, seq))
        else:
            for k, ci in enumerate(self._chunks):
                if not ci.message_index_offsets:
                    continue
                try:
                    for cid, recs in self._chunk_index_records(k).items():
                        if cid in cid_topic:
                            lst = per[cid_topic[cid]]
                            lst.extend((int(t), k, int(off)) for t, off in recs)
                except Exception as exc:
                    self.report.warn(
                        f"{self.file}: message index of chunk {k} unreadable ({exc}); its messages not indexed"
                    )
        for topic, lst in per.items():
            arr = np.array(sorted(lst), np.int64).reshape(-1, 3)
            self._idx[topic] = (arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy())
        self._release_all()  # the index records read through the mapping (a few pages per chunk)

    def _release_all(self) -> None:
        """Drop every mapped page of the file from this process (the index and first messages read at open)."""
        if hasattr(mmap, "MADV_DONTNEED") and len(self._mm):
            with contextlib.suppress(OSError, ValueError):
                self._mm.madvise(mmap.MADV_DONTNEED)
            self._chunk_cache = None

    def times(self, topic: str) -> np.ndarray:
        self.stream(topic)
        return self._index_table()[topic][0]

    # -- raw access ------------------------------------------------------------------------------------------------
    def _chunk_messages(self, k: int) -> list[tuple[int, int, memoryview]]:
        """(channel id, log time, data) of every message of chunk ``k``, parsed from the memory-mapped file:
        zero-copy for uncompressed chunks, one decompression otherwise (CRC checked for compressed chunks)."""
        if self._chunk_cache is not None and self._chunk_cache[0] == k:
            return self._chunk_cache[1]
        if self._chunk_cache is not None:
            self._release(self._chunk_cache[0])
        msgs = self._load_chunk(k)
        self._chunk_cache = (k, msgs)
        return msgs

    def _load_chunk(self, k: int) -> list[tuple[int, int, memoryview]]:
        if not self._sparse:
            self._populate(k)
        return _parse_chunk(self._mm, self._chunks[k].chunk_start_offset)

    def scan(
        self,
        topics: str | Iterable[str] | None = None,
        decode: Iterable[str] = (),
        progress: Progress | None = None,
    ) -> StampScan:
        """As :meth:`RosLogReader.scan`, without mapping whole chunks in: the scan reads a few bytes of most
        messages (record and header fields), so only the pages holding those are faulted in."""
        self._sparse = True
        try:
            return super().scan(topics, decode, progress)
        finally:
            self._sparse = False

    def _chunk_end(self, k: int) -> int:
        """File offset where chunk ``k``'s records end: the next chunk's start (the message indexes lie between)."""
        if self._chunk_ends is None:
            starts = sorted(c.chunk_start_offset for c in self._chunks)
            nxt = dict(zip(starts, [*starts[1:], len(self._mm)], strict=True))
            self._chunk_ends = [max(nxt[c.chunk_start_offset], c.chunk_start_offset + c.chunk_length + 9)
                                for c in self._chunks]  # fmt: skip
        return self._chunk_ends[k]

    def _populate(self, k: int) -> None:
        """Map chunk ``k``'s pages in one call (Linux >= 5.14 MADV_POPULATE_READ), instead of one page fault per
        4 KiB on first touch; a no-op where unsupported."""
        ci = self._chunks[k]
        page = mmap.PAGESIZE
        start = ci.chunk_start_offset // page * page
        stop = min(len(self._mm), ci.chunk_start_offset + ci.chunk_length + 9)
        with contextlib.suppress(OSError, ValueError):
            self._mm.madvise(_MADV_POPULATE_READ, start, stop - start)

    def _release(self, k: int) -> None:
        """Drop chunk ``k``'s pages from this process (the page cache keeps them; a later access faults them back
        in from the file), so that reading a long log does not grow the RSS by the file size. The range runs to the
        next chunk, taking the chunk's message-index records (read through the same mapping) with it."""
        if not hasattr(mmap, "MADV_DONTNEED"):
            return
        ci = self._chunks[k]
        # the kernel maps up to 64 KiB around a faulting page ("fault-around"), so touching a chunk's edge maps pages
        # of its neighbours; take those too (a neighbour still in use just faults them back)
        start = max(ci.chunk_start_offset - _FAULT_AROUND, 0) // mmap.PAGESIZE * mmap.PAGESIZE
        stop = min(len(self._mm), self._chunk_end(k) + _FAULT_AROUND)
        with contextlib.suppress(OSError, ValueError):
            self._mm.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def _lost_in_chunk(self, k: int, topics: list[str]) -> dict[str, int]:
        out = {}
        for t in topics:
            _, ck, _ = self._index_table()[t]
            n = int(np.count_nonzero(ck == k))
            if n:
                out[t] = n
        return out

    def _raw(self, topics: list[str], start: int | None, stop: int | None) -> Iterator[tuple[str, int, bytes]]:
        """Messages of ``topics`` in record order, merged across chunks (which may overlap in time). A chunk's pages
        are dropped from the process (:meth:`_release`) once its last message has been handed out and the caller
        has asked for the next one, so the RSS stays a few chunks however long the log; a caller that keeps a
        message's bytes beyond that should copy them (touching released pages maps them back in)."""
        cids = {c: t for t in topics for c in self._topic_cids[t]}
        if self._summary is None:
            yield from self._raw_scan(cids, start, stop)
            return
        lo = -(2**63) if start is None else start
        hi = 2**63 - 1 if stop is None else stop
        heap: list[tuple[int, int, int, str, bytes]] = []
        left: dict[int, int] = {}  # chunk -> its messages still in the heap
        seq = 0

        def handed_out(k: int) -> None:
            left[k] -= 1
            if not left[k]:
                del left[k]
                self._release(k)

        for k, ci in enumerate(self._chunks):
            if ci.message_end_time < lo or ci.message_start_time >= hi:
                continue
            if not any(c in ci.message_index_offsets for c in cids):
                continue
            while heap and heap[0][0] < ci.message_start_time:
                t, kk, _, topic, data = heapq.heappop(heap)
                yield topic, t, data
                handed_out(kk)
            try:
                msgs = self._load_chunk(k)
            except Exception as exc:
                self._release(k)
                for topic, n in self._lost_in_chunk(k, topics).items():
                    self.report.bad(topic, exc, f"{self.file}: chunk {k} at byte {ci.chunk_start_offset}", count=n)
                continue
            n = 0
            for cid, log_time, data in msgs:
                topic = cids.get(cid)
                if topic is not None and lo <= log_time < hi:
                    heapq.heappush(heap, (log_time, k, seq, topic, data))
                    seq += 1
                    n += 1
            if n:
                left[k] = n
            else:
                self._release(k)
        while heap:
            t, kk, _, topic, data = heapq.heappop(heap)
            yield topic, t, data
            handed_out(kk)

    def _raw_scan(self, cids: dict[int, str], start: int | None, stop: int | None) -> Iterator[tuple[str, int, bytes]]:
        from mcap.records import Message
        from mcap.stream_reader import StreamReader

        self._f.seek(0)
        n = 0
        try:
            for rec in StreamReader(self._f, skip_magic=False).records:
                if not isinstance(rec, Message):
                    continue
                n += 1
                if n > self._scan_count:
                    break
                topic = cids.get(rec.channel_id)
                if topic is None or (start is not None and rec.log_time < start):
                    continue
                if stop is not None and rec.log_time >= stop:
                    continue
                yield topic, rec.log_time, rec.data
        except Exception:  # the damage found by _scan, already reported
            return

    def _raw_get(self, topic: str, index: int) -> tuple[int, bytes]:
        if self._summary is None:  # no chunk index: the generic lookup by time
            return super()._raw_get(topic, index)
        _t, ck, _off = self._index_table()[topic]
        k = int(ck[index])
        same = np.flatnonzero(ck == k)
        j = int(np.searchsorted(same, index))
        cids = set(self._topic_cids[topic])
        try:
            msgs = [m for m in self._chunk_messages(k) if m[0] in cids]
        except Exception as exc:
            raise FormatError(
                f"{self.file}: {topic} message {index} is in chunk {k}, which is corrupt: {exc}"
            ) from None
        msgs.sort(key=lambda m: m[1])
        return int(msgs[j][1]), msgs[j][2]


class SplitMcapReader(RosLogReader):
    """A log split over several MCAP files (rosbag2 ``--max-bag-size`` / ``--max-bag-duration``): one McapReader per
    file, merged in record order. Message numbers run over the files in record order."""

    def __init__(self, path: str | Path, *, files: list[Path], types: TypeDefinitions = None) -> None:
        super().__init__(path)
        self.parts = [McapReader(f, files=[f], types=types) for f in files]
        self.parts.sort(key=lambda r: min((s.log_start_ns or 0) for s in r._streams.values()) if r._streams else 0)
        first = self.parts[0]
        self.ros1, self.format, self.typestore = first.ros1, first.format, first.typestore
        for part in self.parts[1:]:
            if part.ros1 != self.ros1:
                raise FormatError(f"{self.path}: files of different profiles ({first.file}, {part.file})")
            new = {k: v for k, v in part.typestore.fielddefs.items() if k not in self.typestore.fielddefs}
            if new:
                self.typestore.register(new)
        for part in self.parts:
            self.report.warnings.extend(w for w in part.report.warnings if w not in self.report.warnings)
            for topic, info in part._streams.items():
                mine = self._streams.get(topic)
                if mine is None:
                    self._streams[topic] = StreamInfo(**{**info.to_dict(), "notes": list(info.notes)})
                    continue
                if mine.msgtype != info.msgtype:
                    mine.decodable = False
                    mine.notes.append(f"type {info.msgtype} in {part.file} differs from {mine.msgtype}; not read")
                mine.count += info.count
                if info.log_start_ns is not None:
                    mine.log_start_ns = min(x for x in (mine.log_start_ns, info.log_start_ns) if x is not None)
                    mine.log_end_ns = max(x for x in (mine.log_end_ns, info.log_end_ns) if x is not None)
                mine.frame_id = mine.frame_id or info.frame_id
                mine.point_time = mine.point_time or info.point_time
        self._rate_from_times()

    def close(self) -> None:
        for part in getattr(self, "parts", []):
            part.close()

    def _raw(self, topics: list[str], start: int | None, stop: int | None) -> Iterator[tuple[str, int, bytes]]:
        iters = [p._raw([t for t in topics if t in p._streams], start, stop) for p in self.parts]
        yield from heapq.merge(*iters, key=lambda m: m[1])
        for part in self.parts:
            for topic, n in part.report.bad_records.items():
                more = n - self.report.bad_records.get(topic, 0)
                if more > 0:
                    self.report.bad(topic, part.report.first_error.get(topic, ""), str(part.file), count=more)

    def times(self, topic: str) -> np.ndarray:
        self.stream(topic)
        parts = [p.times(topic) for p in self.parts if topic in p._streams]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
