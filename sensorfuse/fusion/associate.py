"""Association of a reference stream's stamps with another stream's, on the reference clock.

Three modes, all vectorised over int64 ns arrays:

- ``nearest``: the message nearest in time, if within ``tolerance_ns`` (default half the stream's median period);
- ``previous``: the latest message at or before the reference time (causal), if within ``tolerance_ns`` (default one
  period);
- ``interpolate``: the two messages bracketing the reference time, if they are at most ``max_gap_ns`` apart (default
  1.5 periods, so one dropped message breaks the bracket rather than being bridged silently); the caller
  interpolates the data with ``frac``.

Every reference time gets an entry: a chosen message (its index in the stream and the time error ``dt_ns`` = chosen
stamp - reference time, both on the reference clock) or ``missing`` with the reason. Nothing is paired outside the
tolerance and nothing is dropped silently.

Stream stamps are mapped to the reference clock first with the stream's :class:`~sensorfuse.rig.ClockModel`
(``t_reference = t_stream + offset + drift``), given by the caller (from the rig file, the command line or an
estimate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensorfuse._checks import sort_unique
from sensorfuse.errors import SyncError, ValidationError
from sensorfuse.rig import ClockModel

__all__ = ["MODES", "Association", "associate", "median_period_ns"]

MODES = ("nearest", "previous", "interpolate")

#: reasons a reference time has no partner
MISSING_REASONS = ("ok", "outside_tolerance", "before_first", "after_last", "gap_too_large", "empty_stream")


def median_period_ns(stamps_ns: np.ndarray) -> int | None:
    """Median positive step of sorted stamps (None for fewer than two distinct stamps)."""
    s = np.sort(np.asarray(stamps_ns, np.int64))
    d = np.diff(s)
    d = d[d > 0]
    return int(np.median(d)) if d.size else None


@dataclass(frozen=True, eq=False)
class Association:
    """The partners of every reference time in one stream.

    Attributes:
        mode: ``nearest``, ``previous`` or ``interpolate``.
        index: (M,) int64 index of the chosen message in the stream's stamp array (the lower bracket for
            ``interpolate``); -1 where missing.
        index_hi: (M,) int64 upper bracket (``interpolate`` only, else equal to ``index``); -1 where missing.
        frac: (M,) float64 interpolation weight of ``index_hi`` (0 for the other modes).
        dt_ns: (M,) int64 chosen stamp - reference time on the reference clock (for ``interpolate`` the distance to
            the farther bracket, signed by side); 0 where missing.
        reason: (M,) int8 code into :data:`MISSING_REASONS` (0 = ok).
        tolerance_ns: the tolerance (or, for ``interpolate``, the largest bracket) used.
    """

    mode: str
    index: np.ndarray
    index_hi: np.ndarray
    frac: np.ndarray
    dt_ns: np.ndarray
    reason: np.ndarray
    tolerance_ns: int
    notes: list[str] = field(default_factory=list)

    @property
    def missing(self) -> np.ndarray:
        return self.reason != 0

    def counts(self) -> dict[str, int]:
        """How many reference times ended how (``ok`` and each missing reason)."""
        return {name: int(np.count_nonzero(self.reason == k)) for k, name in enumerate(MISSING_REASONS)}


def associate(
    reference_ns: object,
    stream_ns: object,
    *,
    mode: str = "nearest",
    tolerance_ns: int | None = None,
    clock: ClockModel | None = None,
    what: str = "stream",
) -> Association:
    """Pair every reference time with messages of a stream (see the module docstring).

    Args:
        reference_ns: (M,) int64 reference times (any order).
        stream_ns: (N,) int64 stamps of the stream in its own clock, in message order (need not be sorted:
            reordered and duplicated messages are handled, the chosen index refers to this array).
        mode: ``nearest``, ``previous`` or ``interpolate``.
        tolerance_ns: see the module docstring for the defaults.
        clock: maps the stream's stamps to the reference clock (identity if None).
        what: the stream's name for messages.

    Raises:
        ValidationError: unknown mode, negative tolerance.
        SyncError: a stream with one message and no tolerance to judge it by.
    """
    if mode not in MODES:
        raise ValidationError(f"{what}: mode {mode!r}; expected one of {', '.join(MODES)}")
    ref = np.atleast_1d(np.asarray(reference_ns, np.int64))
    raw = np.atleast_1d(np.asarray(stream_ns, np.int64))
    stamps = raw if clock is None or clock.is_identity else np.asarray(clock.to_reference(raw), np.int64)
    m = ref.shape[0]
    idx = np.full(m, -1, np.int64)
    hi_idx = np.full(m, -1, np.int64)
    frac = np.zeros(m)
    dt = np.zeros(m, np.int64)
    reason = np.zeros(m, np.int8)
    notes: list[str] = []
    if stamps.size == 0:
        reason[:] = MISSING_REASONS.index("empty_stream")
        return Association(mode, idx, hi_idx, frac, dt, reason, int(tolerance_ns or 0), [f"{what} has no messages"])
    period = median_period_ns(stamps)
    if tolerance_ns is None:
        if period is None:
            raise SyncError(f"{what}: one distinct stamp and no tolerance given; pass tolerance_ns")
        tolerance_ns = {"nearest": period // 2, "previous": period, "interpolate": (3 * period) // 2}[mode]
    if tolerance_ns < 0:
        raise ValidationError(f"{what}: tolerance_ns must be >= 0, got {tolerance_ns}")
    # sort once (stable: of duplicated stamps the first recorded wins); answers refer to the original indices
    order = sort_unique(stamps, keep="first")
    if order.size < stamps.size:
        notes.append(f"{what}: {stamps.size - order.size} duplicated stamp(s); the first recorded of each is used")
    s = stamps[order]
    pos = np.searchsorted(s, ref, side="right")  # s[pos-1] <= ref < s[pos]
    has_lo = pos > 0
    has_hi = pos < s.size
    lo = np.clip(pos - 1, 0, s.size - 1)
    hi = np.clip(pos, 0, s.size - 1)
    d_lo = np.where(has_lo, ref - s[lo], np.iinfo(np.int64).max)
    d_hi = np.where(has_hi, s[hi] - ref, np.iinfo(np.int64).max)
    if mode == "nearest":
        take_hi = d_hi < d_lo  # a tie goes to the earlier message
        j = np.where(take_hi, hi, lo)
        d = np.minimum(d_lo, d_hi)
        ok = d <= tolerance_ns
        idx[ok] = order[j[ok]]
        hi_idx[ok] = idx[ok]
        dt[ok] = s[j[ok]] - ref[ok]
        reason[~ok] = MISSING_REASONS.index("outside_tolerance")
    elif mode == "previous":
        ok = has_lo & (d_lo <= tolerance_ns)
        idx[ok] = order[lo[ok]]
        hi_idx[ok] = idx[ok]
        dt[ok] = s[lo[ok]] - ref[ok]
        reason[~has_lo] = MISSING_REASONS.index("before_first")
        reason[has_lo & ~ok] = MISSING_REASONS.index("outside_tolerance")
    else:
        exact = has_lo & (d_lo == 0)
        bracket = has_lo & has_hi & ~exact
        span = np.where(bracket, s[hi] - s[lo], 0)
        ok = exact | (bracket & (span <= tolerance_ns))
        idx[ok] = order[lo[ok]]
        hi_idx[exact] = order[lo[exact]]
        b = ok & ~exact
        hi_idx[b] = order[hi[b]]
        frac[b] = (ref[b] - s[lo[b]]) / span[b]
        far = np.where(d_lo >= d_hi, -d_lo, d_hi)
        dt[b] = far[b]
        reason[~has_lo] = MISSING_REASONS.index("before_first")
        reason[has_lo & ~has_hi & ~exact] = MISSING_REASONS.index("after_last")
        reason[bracket & ~ok] = MISSING_REASONS.index("gap_too_large")
    return Association(mode, idx, hi_idx, frac, dt, reason, int(tolerance_ns), notes)
