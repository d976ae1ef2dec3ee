"""The synchronisation plan of a whole log, from stamps alone: which clock each stream runs on, the reference frames,
every other stream's partner (or why it has none), and the health of each stream.

Input is one :class:`StreamTiming` per stream (header stamps and record times aligned with the message index); the
output :class:`SyncPlan` is what ``fuse-sync`` writes as ``frames.csv`` and ``sync_report.json``. No file format is
known here.

Clock of each stream, in this order of precedence (the source is stated in the report):

1. ``given`` — an offset from the caller (``--offset NAME=3ms``);
2. ``rig`` — the rig file's ``clock`` of the sensor;
3. ``gps`` — GNSS stamps in GPS time: the leap-second offset to UTC (exact, not estimated);
4. ``estimated`` — a header clock unrelated to the record clock (time since boot, another epoch): a constant offset
   from the lower envelope of record - header time (accurate to the stream's transport latency, stated);
   with ``estimate="all"`` every stream's offset and drift are estimated and applied;
5. ``identity`` — a header clock that runs with the record clock is trusted as it is; the estimate is still reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorfuse.errors import SyncError, TopicNotFound, ValidationError
from sensorfuse.fusion.associate import MISSING_REASONS, Association, associate
from sensorfuse.fusion.clock import ClockEstimate, clock_relation, estimate_clock, gps_clock
from sensorfuse.health import StreamStats, stream_stats, time_bases
from sensorfuse.rig import ClockModel

__all__ = ["ESTIMATE", "INTERPOLATED_KINDS", "ClockChoice", "StreamTiming", "SyncPlan", "choose_clocks", "plan_sync"]

ESTIMATE = ("unrelated", "all", "none")
#: kinds whose values are continuous in time: associated by bracketing (interpolate), not by the nearest message
INTERPOLATED_KINDS = ("imu", "pose", "gnss")
#: preferred reference kinds, in order, when none is named
REFERENCE_KINDS = ("lidar", "camera", "radar")


@dataclass(frozen=True, eq=False)
class StreamTiming:
    """Stamps of one stream, aligned with its message index.

    Attributes:
        name: the stream's name in the output (sensor name).
        topic: the log topic.
        kind: lidar, camera, radar, imu, gnss, pose, ...
        header_ns: (N,) header stamps (None for a stream without headers).
        log_ns: (N,) record times (None for a dataset without a record clock).
        valid: (N,) False where the message's stamp could not be read (never paired; counted in the report).
        gps_time: header stamps are GPS time.
        latency_ns: known fixed stamp-to-record delay (for offset estimation).
    """

    name: str
    topic: str
    kind: str
    header_ns: np.ndarray | None
    log_ns: np.ndarray | None
    valid: np.ndarray | None = None
    gps_time: bool = False
    latency_ns: int = 0

    @property
    def stamps_ns(self) -> np.ndarray:
        """The stream's own stamps: header stamps where it has them, else record times."""
        s = self.header_ns if self.header_ns is not None else self.log_ns
        return np.zeros(0, np.int64) if s is None else s

    @property
    def ok(self) -> np.ndarray:
        return np.ones(self.stamps_ns.shape, bool) if self.valid is None else self.valid

    @property
    def count(self) -> int:
        return int(self.stamps_ns.shape[0])


@dataclass(frozen=True)
class ClockChoice:
    """The clock applied to a stream and where it came from (see the module docstring)."""

    clock: ClockModel
    source: str
    estimate: ClockEstimate | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        c = self.clock
        return {
            "offset_ns": c.offset_ns,
            "drift_ppm": c.drift_ppm,
            "epoch_ns": c.epoch_ns,
            "source": self.source,
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "note": self.note,
        }


def choose_clocks(
    streams: list[StreamTiming],
    *,
    given: dict[str, ClockModel] | None = None,
    rig: dict[str, ClockModel] | None = None,
    estimate: str = "unrelated",
) -> dict[str, ClockChoice]:
    """The clock of every stream (see the module docstring for the precedence)."""
    if estimate not in ESTIMATE:
        raise ValidationError(f"estimate {estimate!r}; expected one of {', '.join(ESTIMATE)}")
    given, rig = given or {}, rig or {}
    out: dict[str, ClockChoice] = {}
    for s in streams:
        est = None
        h, g = s.header_ns, s.log_ns
        gps = gps_clock(h[s.ok]) if s.gps_time and h is not None else None
        unrelated = h is not None and g is not None and clock_relation(h[s.ok], g[s.ok]) == "unrelated"
        if h is not None and g is not None and s.ok.sum() >= 2:
            hh, gg = h[s.ok], g[s.ok]
            if gps is not None:
                hh = gps.to_reference(hh)
            est = estimate_clock(hh, gg, latency_ns=s.latency_ns, what=s.name)
        if s.name in given:
            out[s.name] = ClockChoice(given[s.name], "given", est)
        elif s.name in rig and not rig[s.name].is_identity:
            out[s.name] = ClockChoice(rig[s.name], "rig", est)
        elif gps is not None:
            out[s.name] = ClockChoice(gps, "gps", est, "GPS time -> UTC by the leap-second table")
        elif est is not None and (estimate == "all" or (estimate == "unrelated" and unrelated)):
            note = (
                "header clock unrelated to the record clock: offset estimated from record time "
                f"(transport delay median {est.delay_median_ns / 1e6:.2f} ms above the envelope)"
                if unrelated
                else "offset and drift estimated from record time"
            )
            if est.latency_ns == 0:
                note += "; includes the unknown fixed latency"
            clk = est.clock if estimate == "all" else ClockModel(est.offset_ns)
            out[s.name] = ClockChoice(clk, "estimated", est, note)
        else:
            note = "" if h is not None else "no header stamps: record time used"
            out[s.name] = ClockChoice(ClockModel(), "identity", est, note)
    return out


@dataclass(eq=False)
class SyncPlan:
    """The synchronised frames of a log (see the module docstring).

    Attributes:
        reference: name of the reference stream.
        ref_index: (M,) message index of each frame's reference message.
        ref_stamp_ns: (M,) its original stamp; ``ref_time_ns`` the same on the reference clock.
        reference_ns: stream name -> (N,) every message's stamp on the reference clock (its clock applied;
            meaningless where the stream's ``ok`` is False).
        associations: stream name -> :class:`~sensorfuse.fusion.associate.Association` over the frames.
        clocks: stream name -> :class:`ClockChoice`.
        health: stream name -> :class:`~sensorfuse.health.StreamStats`.
        notes: everything worth saying (duplicates, unreadable stamps, reference gaps).
    """

    reference: str
    streams: dict[str, StreamTiming]
    ref_index: np.ndarray
    ref_stamp_ns: np.ndarray
    ref_time_ns: np.ndarray
    reference_ns: dict[str, np.ndarray]
    associations: dict[str, Association]
    clocks: dict[str, ClockChoice]
    health: dict[str, StreamStats]
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> np.ndarray:
        """(M,) True where every stream has a partner."""
        ok = np.ones(self.ref_index.shape, bool)
        for a in self.associations.values():
            ok &= ~a.missing
        return ok

    def frame_columns(self) -> dict[str, np.ndarray]:
        """``frames.csv`` columns: ``frame``, ``reference_stamp_ns``, ``reference_index``, then per stream
        ``<name>_stamp_ns`` (the chosen message's stamp; for interpolated streams the lower bracket), ``<name>_index``
        and ``<name>_dt_ns`` (its time error); missing = -1 index and masked.

        Every stamp here is on the reference clock (the one time scale of the dataset: each stream's clock offset,
        drift and GPS->UTC applied), so stamps of different streams compare directly and ``dt = stamp - reference``
        for the nearest-message streams. Each stream's own header stamps are in its ``index.csv``."""
        cols: dict[str, np.ndarray] = {
            "frame": np.arange(self.ref_index.size, dtype=np.int64),
            "reference_stamp_ns": self.ref_time_ns,
            "reference_index": self.ref_index,
        }
        for name, a in self.associations.items():
            st = self.reference_ns[name]
            stamp = np.where(a.missing, 0, st[np.maximum(a.index, 0)]) if st.size else np.zeros_like(a.index)
            cols[f"{name}_stamp_ns"] = np.ma.masked_array(stamp, a.missing)
            cols[f"{name}_index"] = a.index
            cols[f"{name}_dt_ns"] = np.ma.masked_array(a.dt_ns, a.missing)
        return cols

    def report(self) -> dict[str, Any]:
        """The plan as plain data for ``sync_report.json``."""
        complete = self.complete
        streams = {}
        for name, s in self.streams.items():
            a = self.associations.get(name)
            entry: dict[str, Any] = {
                "topic": s.topic,
                "kind": s.kind,
                "messages": s.count,
                "unreadable_stamps": int((~s.ok).sum()),
                "clock": self.clocks[name].to_dict(),
                "health": self.health[name].to_dict(),
            }
            if a is not None:
                ok = ~a.missing
                dt = np.abs(a.dt_ns[ok])
                entry["association"] = {
                    "mode": a.mode,
                    "tolerance_ns": a.tolerance_ns,
                    "counts": a.counts(),
                    "abs_dt_ns": {
                        "median": int(np.median(dt)) if dt.size else None,
                        "p95": int(np.quantile(dt, 0.95)) if dt.size else None,
                        "max": int(dt.max()) if dt.size else None,
                    },
                    "notes": a.notes,
                }
            else:
                entry["association"] = "reference"
            streams[name] = entry
        missing: dict[str, int] = {}  # reason -> reference frames without a partner, over all streams
        for entry in streams.values():
            a = entry.get("association")
            if isinstance(a, dict):
                for reason, n in a["counts"].items():
                    if reason != "ok" and n:
                        missing[reason] = missing.get(reason, 0) + int(n)
        return {
            "reference": self.reference,
            "frames": int(self.ref_index.size),
            "frames_complete": int(complete.sum()),
            "frames_incomplete": int((~complete).sum()),
            # only the reasons that occurred (each stream's association.counts has every reason, zeros included)
            "missing": {r: missing[r] for r in MISSING_REASONS if r in missing},
            "time_bases": time_bases(self.health.values()),
            "streams": streams,
            "notes": self.notes,
        }


def _default_reference(streams: list[StreamTiming]) -> StreamTiming:
    for kind in REFERENCE_KINDS:
        cands = [s for s in streams if s.kind == kind and s.count]
        if cands:
            return cands[0]
    cands = [s for s in streams if s.count]
    if not cands:
        raise SyncError("no stream has messages: nothing to synchronise")
    return cands[0]


def plan_sync(
    streams: list[StreamTiming],
    *,
    reference: str | None = None,
    clocks: dict[str, ClockChoice] | None = None,
    tolerance_ns: int | None = None,
    modes: dict[str, str] | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    window_relative: bool = False,
) -> SyncPlan:
    """Synchronise every stream with the reference stream.

    Args:
        streams: the streams (names unique).
        reference: name (or topic) of the reference stream; default: the first LiDAR, else camera, else radar.
        clocks: from :func:`choose_clocks` (default: chosen with its defaults).
        tolerance_ns: one tolerance for every nearest/previous association (default: half each stream's period;
            for interpolated streams the largest bracket, default 1.5 periods).
        modes: stream name -> ``nearest`` | ``previous`` | ``interpolate`` (default: interpolate IMU, poses and GNSS,
            nearest otherwise).
        start_ns, end_ns: keep reference frames with reference-clock time in ``[start_ns, end_ns)``; with
            ``window_relative`` both count from the first reference message.

    Raises:
        TopicNotFound: an unknown reference.
        SyncError: a reference stream without usable stamps.
    """
    by_name = {s.name: s for s in streams}
    if len(by_name) != len(streams):
        raise ValidationError("stream names must be unique")
    if reference is None:
        ref = _default_reference(streams)
    else:
        ref = by_name.get(reference) or next((s for s in streams if s.topic == reference), None)
        if ref is None:
            raise TopicNotFound(f"reference {reference!r} is not among the streams: {', '.join(by_name)}")
    clocks = clocks or choose_clocks(streams)
    notes: list[str] = []
    ok = ref.ok
    if not ok.any():
        raise SyncError(f"reference stream {ref.name} ({ref.topic}) has no usable stamps")
    idx = np.flatnonzero(ok)
    mapped = {st.name: clocks[st.name].clock.to_reference(np.where(st.ok, st.stamps_ns, 0)) for st in streams}
    t_ref = mapped[ref.name][idx]
    order = np.argsort(t_ref, kind="stable")
    idx, t_ref = idx[order], t_ref[order]
    first = np.r_[True, t_ref[1:] != t_ref[:-1]]
    if not first.all():
        notes.append(
            f"reference {ref.name}: {int((~first).sum())} message(s) repeat a stamp; the first of each is a frame"
        )
    idx, t_ref = idx[first], t_ref[first]
    if (~ok).any():
        notes.append(f"reference {ref.name}: {int((~ok).sum())} message(s) with an unreadable stamp are not frames")
    keep = np.ones(t_ref.shape, bool)
    if window_relative and t_ref.size:
        start_ns = None if start_ns is None else int(t_ref[0]) + start_ns
        end_ns = None if end_ns is None else int(t_ref[0]) + end_ns
    if start_ns is not None:
        keep &= t_ref >= start_ns
    if end_ns is not None:
        keep &= t_ref < end_ns
    idx, t_ref = idx[keep], t_ref[keep]
    if idx.size == 0:
        raise SyncError(f"reference stream {ref.name}: no message in the requested time range")
    health = {}
    for s in streams:
        h = s.header_ns[s.ok] if s.header_ns is not None else None
        g = s.log_ns[s.ok] if s.log_ns is not None else None
        health[s.name] = stream_stats(s.topic, h, g, gps_time=s.gps_time)
    rh = health[ref.name]
    if rh.dropped_estimate:
        notes.append(
            f"reference {ref.name}: about {rh.dropped_estimate} message(s) missing (largest gap "
            f"{(rh.max_gap_ns or 0) / 1e6:.1f} ms); no frames exist there"
        )
    modes = modes or {}
    assoc = {}
    for s in streams:
        if s.name == ref.name:
            continue
        mode = modes.get(s.name, "interpolate" if s.kind in INTERPOLATED_KINDS else "nearest")
        stamps = np.where(s.ok, mapped[s.name], np.iinfo(np.int64).max // 2)  # unreadable: never near anything
        tol = tolerance_ns if mode != "interpolate" else None
        if s.count < 2 and tol is None:
            tol = 0 if s.count == 0 else int(rh.period_median_ns or 0) // 2
        assoc[s.name] = associate(t_ref, stamps, mode=mode, tolerance_ns=tol, what=s.name)
    return SyncPlan(
        reference=ref.name,
        streams=by_name,
        ref_index=idx,
        ref_stamp_ns=ref.stamps_ns[idx],
        ref_time_ns=t_ref,
        reference_ns=mapped,
        associations=assoc,
        clocks=clocks,
        health=health,
        notes=notes,
    )
