"""Clocks, latency and message faults of simulated streams, planned before any data is generated.

For each message a sensor produces at true time ``true_ns`` (end of acquisition ``done_ns``):

- header stamp ``header_ns = clock.from_reference(true_ns) + jitter`` (the sensor's clock: constant offset and drift
  with ``t_reference = t_stream + offset_ns + drift``, as in the rig file), jitter ~ N(0, ``jitter_ns``);
- record time ``log_ns = done_ns + latency_ns + Exp(latency_jitter_ns) + burst``; a transport is first-in first-out,
  so record times of a stream never decrease, except for a reordered message, which is held back until just after
  its successor (``log = log_next + 100 us``);
- dropped messages are not written; a duplicated message is written twice (same header, recorded 1 us apart).

Every row of the plan is kept (dropped ones too) and written to the ground truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from sensorfuse.errors import ValidationError
from sensorfuse.rig import ClockModel

__all__ = ["DelayBurst", "StreamFaults", "StreamPlan", "merge_faults", "plan_stream", "realistic_faults"]

EVENTS = ("ok", "dropped", "duplicate", "reordered")


@dataclass(frozen=True)
class DelayBurst:
    """Between ``start_s`` and ``start_s + duration_s`` (log time, s since start) the transport adds ``extra_ns``."""

    start_s: float
    duration_s: float
    extra_ns: int


@dataclass(frozen=True)
class StreamFaults:
    """Timing faults of one stream (all zero = a perfect stream)."""

    offset_ns: int = 0
    drift_ppm: float = 0.0
    jitter_ns: int = 0
    latency_ns: int = 0
    latency_jitter_ns: int = 0
    drop_prob: float = 0.0
    duplicate_prob: float = 0.0
    reorder_prob: float = 0.0
    bursts: tuple[DelayBurst, ...] = ()

    def __post_init__(self) -> None:
        for name in ("drop_prob", "duplicate_prob", "reorder_prob"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ValidationError(f"{name} must be within [0, 1), got {p}")
        if self.latency_ns < 0 or self.latency_jitter_ns < 0 or self.jitter_ns < 0:
            raise ValidationError("latency and jitter must be non-negative")

    def clock(self, epoch_ns: int) -> ClockModel:
        return ClockModel(self.offset_ns, self.drift_ppm, epoch_ns if self.drift_ppm else None)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bursts"] = list(d["bursts"])  # YAML lists, not tuples
        return d


def merge_faults(base: StreamFaults, override: Mapping[str, object]) -> StreamFaults:
    """``base`` with the fields named in ``override`` replaced (bursts given as dicts or DelayBurst)."""
    known = {f.name for f in fields(StreamFaults)}
    unknown = set(override) - known
    if unknown:
        raise ValidationError(f"unknown fault field(s) {sorted(unknown)}; known: {sorted(known)}")
    kw = dict(override)
    if "bursts" in kw:
        kw["bursts"] = tuple(b if isinstance(b, DelayBurst) else DelayBurst(**b) for b in kw["bursts"])
    return replace(base, **kw)


def realistic_faults(kind: str, duration_s: float) -> dict:
    """The ``--faults realistic`` preset for a sensor kind: jitter, drops, duplicates, reorders and one delay burst."""
    return {
        "lidar": {"jitter_ns": 200_000, "drop_prob": 0.02, "duplicate_prob": 0.01, "latency_jitter_ns": 2_000_000},
        "camera": {
            "jitter_ns": 300_000,
            "drop_prob": 0.02,
            "duplicate_prob": 0.01,
            "reorder_prob": 0.01,
            "latency_jitter_ns": 3_000_000,
            "bursts": [DelayBurst(0.4 * duration_s, 0.3, 80_000_000)],
        },
        "imu": {"jitter_ns": 50_000, "drop_prob": 0.002, "duplicate_prob": 0.002, "reorder_prob": 0.002},
        "radar": {"jitter_ns": 500_000, "drop_prob": 0.02, "latency_jitter_ns": 5_000_000},
        "gnss": {"drop_prob": 0.02},
    }.get(kind, {})


@dataclass(frozen=True, eq=False)
class StreamPlan:
    """One row per produced message (and one per duplicate copy), in production order."""

    seq: np.ndarray  # (M,) int64 index of the produced message
    true_ns: np.ndarray  # (M,) int64 true acquisition time (reference clock)
    header_ns: np.ndarray  # (M,) int64 header stamp (sensor clock)
    log_ns: np.ndarray  # (M,) int64 record time (reference clock)
    event: np.ndarray  # (M,) str: ok | dropped | duplicate | reordered
    burst: np.ndarray  # (M,) bool: recorded during a delay burst

    def written(self) -> np.ndarray:
        return self.event != "dropped"


def plan_stream(
    true_ns: np.ndarray,
    done_ns: np.ndarray,
    faults: StreamFaults,
    start_ns: int,
    rng: np.random.Generator,
    header_ns: np.ndarray | None = None,
) -> StreamPlan:
    """Timing of every message of a stream (see the module docstring). ``header_ns`` overrides the clock model
    (used for GNSS, whose header is GPS time)."""
    true_ns = np.asarray(true_ns, np.int64)
    n = true_ns.size
    header = faults.clock(start_ns).from_reference(true_ns) if header_ns is None else np.asarray(header_ns, np.int64)
    if faults.jitter_ns:
        header = header + np.rint(rng.normal(0.0, faults.jitter_ns, n)).astype(np.int64)
    log = np.asarray(done_ns, np.int64) + np.int64(faults.latency_ns)
    if faults.latency_jitter_ns:
        log = log + np.rint(rng.exponential(faults.latency_jitter_ns, n)).astype(np.int64)
    burst = np.zeros(n, bool)
    for b in faults.bursts:
        lo = start_ns + round(b.start_s * 1e9)
        hi = lo + round(b.duration_s * 1e9)
        inb = (log >= lo) & (log < hi)
        burst |= inb
        log = np.where(inb, log + np.int64(b.extra_ns), log)
    log = np.maximum.accumulate(log)  # FIFO transport
    event = np.full(n, "ok", dtype=object)
    if faults.drop_prob:
        event[rng.random(n) < faults.drop_prob] = "dropped"
    if faults.reorder_prob:
        cand = np.flatnonzero(rng.random(n) < faults.reorder_prob)
        taken = np.zeros(n + 1, bool)
        for i in cand:
            j = i + 1
            if j >= n or taken[i] or taken[j] or event[i] != "ok" or event[j] != "ok":
                continue
            log[i] = log[j] + 100_000  # held back until after its successor
            event[i] = "reordered"
            taken[i] = taken[j] = True
    seq = np.arange(n, dtype=np.int64)
    rows = [seq]
    dup = np.flatnonzero((rng.random(n) < faults.duplicate_prob) & (event == "ok")) if faults.duplicate_prob else []
    if len(dup):
        rows.append(np.asarray(dup, np.int64))
    all_seq = np.concatenate(rows)
    is_dup = np.concatenate([np.zeros(n, bool), np.ones(len(dup), bool)])
    ev = np.concatenate([event, np.full(len(dup), "duplicate", dtype=object)])
    lg = np.concatenate([log, log[dup] + 1_000 if len(dup) else np.empty(0, np.int64)])
    order = np.lexsort((is_dup, all_seq))
    return StreamPlan(
        all_seq[order],
        true_ns[all_seq][order],
        header[all_seq][order],
        lg[order],
        ev[order].astype(str),
        burst[all_seq][order],
    )
