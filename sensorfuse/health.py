"""Stream health from stamp arrays alone: rate, jitter, gaps, drops, duplicates, reordering, lag, clock jumps, and
the grouping of a log's clocks into time bases.

Written once, used by the readers' ``stats()`` (``fuse-info``) and by synchronisation (``fuse-sync``). Pure numpy
on int64 nanosecond arrays; knows no file format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sensorfuse.units import utc_ns_from_gps_ns

__all__ = ["StreamStats", "stream_stats", "time_bases"]


@dataclass
class StreamStats:
    """Timing of one stream from all its stamps (``fuse-info``). Periods and gaps in ns, in the header clock where
    the stream has one, otherwise the record clock."""

    topic: str
    count: int
    clock: str  # "header" or "log"
    start_ns: int | None
    end_ns: int | None
    log_start_ns: int | None
    log_end_ns: int | None
    rate_hz: float | None
    period_median_ns: int | None
    jitter_ns: float | None  # std of the periods around the median, robust (1.4826 MAD)
    max_gap_ns: int | None
    dropped_estimate: int
    out_of_order: int
    duplicate_stamps: int
    latency_median_ns: int | None  # median(log - header), where both exist
    gps_time: bool = False  # header stamps are GPS time (ns since 1980-01-06), not Unix time
    clock_jumps: int = 0  # steps longer than 10 min: stamps from more than one clock in the stream

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_CLOCK_JUMP_NS = 600 * 10**9


def stream_stats(
    topic: str, header_ns: np.ndarray | None, log_ns: np.ndarray | None, *, gps_time: bool = False
) -> StreamStats:
    """Rate, jitter, largest gap, dropped-message estimate (gaps longer than 1.5 median periods, each counted as
    round(gap / period) - 1 missing messages), out-of-order and duplicate stamps of one stream. Steps longer than
    10 min (and 1000 periods) are clock jumps (a stream mixing clocks, e.g. /rosout of nodes on different clocks),
    counted apart and left out of the gap and drop figures.

    ``gps_time``: the header stamps are GPS time; the lag (record - header) is then taken against the UTC instants
    they are (GPS -> UTC by the leap-second table), not across the two epochs. Start/end stay in GPS time."""
    use_header = header_ns is not None and len(header_ns) > 0
    t = np.asarray(header_ns if use_header else log_ns, np.int64) if (use_header or log_ns is not None) else None
    n = 0 if t is None else int(t.shape[0])
    lg = None if log_ns is None or len(log_ns) == 0 else np.asarray(log_ns, np.int64)
    out_of_order = int(np.count_nonzero(np.diff(t) < 0)) if n > 1 else 0
    dup = int(np.count_nonzero(np.diff(t) == 0)) if n > 1 else 0
    rate = period = jitter = gap = None
    dropped = clock_jumps = 0
    if n > 1:
        ts = np.sort(t)
        d = np.diff(ts)
        d = d[d > 0]
        if d.size:
            period = int(np.median(d))
            rate = 1e9 / period if period > 0 else None
            jitter = float(1.4826 * np.median(np.abs(d - period)))
            jumps = d > max(_CLOCK_JUMP_NS, 1000 * period)
            clock_jumps = int(np.count_nonzero(jumps))
            d = d[~jumps]
            gap = int(d.max()) if d.size else None
            if period > 0:
                big = d[d > 1.5 * period]
                dropped = int(np.sum(np.rint(big / period) - 1))
    latency = None
    if use_header and lg is not None and lg.shape[0] == n:
        # GPS time -> UTC: the leap-second count is constant over a log (but at a leap second)
        shift = utc_ns_from_gps_ns(int(t[0])) - int(t[0]) if gps_time and n else 0
        latency = int(np.median(lg - (t + shift)))
    return StreamStats(
        topic=topic,
        count=n,
        clock="header" if use_header else "log",
        start_ns=int(t.min()) if n else None,
        end_ns=int(t.max()) if n else None,
        log_start_ns=int(lg.min()) if lg is not None else None,
        log_end_ns=int(lg.max()) if lg is not None else None,
        rate_hz=rate,
        period_median_ns=period,
        jitter_ns=jitter,
        max_gap_ns=gap,
        dropped_estimate=dropped,
        out_of_order=out_of_order,
        duplicate_stamps=dup,
        latency_median_ns=latency,
        gps_time=gps_time,
        clock_jumps=clock_jumps,
    )


def time_bases(stats: Iterable[StreamStats], *, tolerance_ns: int = 600 * 10**9) -> list[dict[str, Any]]:
    """Group the clocks of a log (its record clock and each stream's header clock) into time bases: clocks whose
    start times lie within ``tolerance_ns`` (10 min) of each other share a base. More than one base means some
    stamps cannot be compared without an offset (e.g. a sensor stamping time since power-on)."""
    clocks: list[tuple[str, int]] = []
    log_starts = []
    for s in stats:
        if s.log_start_ns is not None:
            log_starts.append(s.log_start_ns)
        if s.clock == "header" and s.start_ns is not None:
            if s.gps_time:  # compare GPS-time stamps as the UTC instants they are
                clocks.append((f"header {s.topic} (GPS time)", utc_ns_from_gps_ns(s.start_ns)))
            else:
                clocks.append((f"header {s.topic}", s.start_ns))
    if log_starts:
        clocks.append(("record time", min(log_starts)))
    clocks.sort(key=lambda c: c[1])
    bases: list[dict[str, Any]] = []
    for name, start in clocks:
        if bases and start - bases[-1]["start_ns"] <= tolerance_ns:
            bases[-1]["clocks"].append(name)
        else:
            bases.append({"start_ns": start, "clocks": [name]})
    return bases
