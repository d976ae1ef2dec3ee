"""Clock offsets and drift of a stream, estimated from its header stamps and record times.

A recorder stamps every message with its own clock (record time, ``log``); a sensor stamps its header with the
sensor's clock. With the rig-file convention ``t_reference = t_stream + offset_ns + drift_ppm * 1e-6 * (t_stream -
epoch_ns)`` and the recorder's clock as the reference clock::

    log - header = offset + drift * (header - epoch) + latency_floor + delay_jitter       (delay_jitter >= 0)

Transport delay is one-sided: a message is never recorded before it was stamped. So the *lower envelope* of
``log - header`` against ``header`` is a line whose slope is the drift and whose intercept is ``offset +
latency_floor`` (Moon, Skelly & Towsley, "Estimation and removal of clock skew from network delay measurements",
INFOCOM 1999). It is found by a linear programme (the highest line below every point at the mean time, SciPy's
HiGHS). Header-stamp jitter puts points *below* the envelope; for such streams ``method="quantile"`` fits a low
quantile instead (robust, slightly biased by that quantile of the delay).

The fixed part of the delay (``latency_ns``: e.g. a LiDAR stamped at sweep start is recorded a sweep later) cannot be
told apart from a clock offset by timing alone; pass it when it is known (the rig file's ``clock.latency_ns``),
otherwise the offset estimate includes it and says so. Fine temporal calibration from motion (calibration issues)
fills the same :class:`~sensorfuse.rig.ClockModel`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

from sensorfuse.errors import SyncError, ValidationError
from sensorfuse.rig import ClockModel
from sensorfuse.units import utc_ns_from_gps_ns

__all__ = [
    "UNRELATED_CLOCK_NS",
    "ClockEstimate",
    "clock_relation",
    "estimate_clock",
    "gps_clock",
]

#: a header clock further than this from the record clock counts as unrelated (time since boot, another epoch)
UNRELATED_CLOCK_NS = 10 * 10**9
#: below this span a drift cannot be told from jitter: only a constant offset is fitted
MIN_DRIFT_SPAN_NS = 5 * 10**9


@dataclass(frozen=True)
class ClockEstimate:
    """The relation of one stream's header clock to the record (reference) clock.

    Attributes:
        offset_ns, drift_ppm, epoch_ns: the fitted clock (``t_reference = t_stream + offset + drift``), with
            ``latency_ns`` taken out of the offset.
        latency_ns: the fixed stamp-to-record delay assumed (0 = unknown, then included in ``offset_ns``).
        delay_median_ns: median of the delay above the envelope (transport jitter), a quality figure.
        delay_p95_ns: its 95th percentile.
        count: messages used.
        span_ns: header time covered.
        method: ``envelope`` / ``quantile`` (offset and drift), with ``-offset`` when only a constant offset was fitted.
        notes: what the numbers mean and what to beware of.
    """

    offset_ns: int
    drift_ppm: float
    epoch_ns: int | None
    latency_ns: int
    delay_median_ns: int
    delay_p95_ns: int
    count: int
    span_ns: int
    method: str
    notes: list[str] = field(default_factory=list)

    @property
    def clock(self) -> ClockModel:
        """The estimate as a ClockModel (for :func:`~sensorfuse.fusion.associate` and the rig file)."""
        return ClockModel(self.offset_ns, self.drift_ppm, self.epoch_ns if self.drift_ppm else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clock_relation(header_ns: np.ndarray, log_ns: np.ndarray) -> str:
    """``same`` if a stream's header clock runs within :data:`UNRELATED_CLOCK_NS` of the record clock (median of
    ``log - header``), else ``unrelated`` (time since boot, GPS time not yet converted, another machine's epoch)."""
    h = np.asarray(header_ns, np.int64)
    g = np.asarray(log_ns, np.int64)
    if h.size == 0:
        return "same"
    return "same" if abs(int(np.median(g - h))) <= UNRELATED_CLOCK_NS else "unrelated"


def _envelope(x: np.ndarray, r: np.ndarray) -> tuple[float, float]:
    """Highest line ``a + b x`` below every point, judged at the mean of x (Moon et al.'s linear programme)."""
    res = linprog(
        c=[-1.0, -float(x.mean())],
        A_ub=np.column_stack([np.ones_like(x), x]),
        b_ub=r,
        bounds=[(None, None), (None, None)],
        method="highs",
    )
    if not res.success:  # pragma: no cover - feasible and bounded for >= 2 distinct x
        raise SyncError(f"clock envelope fit failed: {res.message}")
    return float(res.x[0]), float(res.x[1])


def _quantile_line(x: np.ndarray, r: np.ndarray, q: float) -> tuple[float, float]:
    """Linear quantile regression of ``r`` on ``x`` (pinball loss as a sparse linear programme, HiGHS)."""
    from scipy.sparse import csr_matrix, hstack, identity

    n = x.size
    eye = identity(n, format="csr")
    A = hstack([csr_matrix(np.column_stack([np.ones(n), x])), eye, -eye], format="csr")
    c = np.r_[0.0, 0.0, np.full(n, q), np.full(n, 1.0 - q)]
    bounds = [(None, None), (None, None)] + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A, b_eq=r, bounds=bounds, method="highs")
    if not res.success:  # pragma: no cover
        raise SyncError(f"clock quantile fit failed: {res.message}")
    return float(res.x[0]), float(res.x[1])


METHODS = ("envelope", "quantile")


def estimate_clock(
    header_ns: object,
    log_ns: object,
    *,
    latency_ns: int = 0,
    fit_drift: bool | None = None,
    method: str = "envelope",
    quantile: float = 0.05,
    what: str = "stream",
) -> ClockEstimate:
    """Estimate a stream's clock offset (and drift) against the record clock from ``log - header`` (see the module
    docstring).

    Args:
        header_ns: (N,) int64 header stamps (sensor clock), in message order.
        log_ns: (N,) int64 record times of the same messages (reference clock).
        latency_ns: known fixed stamp-to-record delay of the stream (taken out of the offset).
        fit_drift: fit a drift; default: when the stamps span at least 5 s.
        method: ``envelope`` (default: lower envelope, most precise when header stamps carry little jitter) or
            ``quantile`` (a low-quantile regression line, robust to header-stamp jitter that puts points below the
            envelope, at the cost of a bias of about that quantile of the transport delay).
        quantile: the quantile for ``method="quantile"``.
        what: the stream's name for messages.

    Returns:
        A :class:`ClockEstimate`; ``.clock`` maps header stamps to the reference clock.

    Raises:
        ValidationError: arrays of different length, negative latency, unknown method.
        SyncError: fewer than two messages.
    """
    h = np.asarray(header_ns, np.int64).ravel()
    g = np.asarray(log_ns, np.int64).ravel()
    if h.shape != g.shape:
        raise ValidationError(f"{what}: {h.size} header stamps but {g.size} record times; one of each per message")
    if latency_ns < 0:
        raise ValidationError(f"{what}: latency_ns must be >= 0, got {latency_ns}")
    if method not in METHODS:
        raise ValidationError(f"{what}: method {method!r}; expected one of {', '.join(METHODS)}")
    if h.size < 2:
        raise SyncError(f"{what}: {h.size} message(s); at least two are needed to estimate a clock offset")
    epoch = int(h[0])
    span = int(h.max() - h.min())
    if fit_drift is None:
        fit_drift = span >= MIN_DRIFT_SPAN_NS
    # relative to the first stamp and the median difference: float64 stays exact to far below 1 ns
    base = int(np.median(g - h))
    # scaled to s and ms for the linear programmes (HiGHS tolerances); exact to far below 1 ns in float64
    x = (h - epoch).astype(np.float64) * 1e-9
    r = ((g - h) - base).astype(np.float64) * 1e-6
    if not fit_drift:
        a, b = (float(r.min()) if method == "envelope" else float(np.quantile(r, quantile))), 0.0
    elif method == "envelope":
        a, b = _envelope(x, r)
    else:
        a, b = _quantile_line(x, r, quantile)
    a, b = a * 1e6, b * 1e-3  # back to ns and ns/ns
    delay = (r - (a * 1e-6 + b * 1e-3 * x)) * 1e6
    notes = []
    if latency_ns == 0:
        notes.append(
            "offset includes the stream's fixed stamp-to-record latency (unknown); give clock.latency_ns to separate them"
        )
    if not fit_drift:
        notes.append(f"span {span / 1e9:.1f} s: constant offset only (drift needs >= {MIN_DRIFT_SPAN_NS / 1e9:.0f} s)")
    return ClockEstimate(
        offset_ns=base + round(a) - int(latency_ns),
        drift_ppm=float(b * 1e6) if fit_drift else 0.0,
        epoch_ns=epoch if fit_drift else None,
        latency_ns=int(latency_ns),
        delay_median_ns=round(float(np.median(delay))),
        delay_p95_ns=round(float(np.quantile(delay, 0.95))),
        count=int(h.size),
        span_ns=span,
        method=f"{method}" if fit_drift else f"{method}-offset",
        notes=notes,
    )


def gps_clock(header_ns: object) -> ClockModel:
    """The clock of a stream stamped in GPS time (ns since 1980-01-06, no leap seconds): the constant offset to
    Unix UTC ns at its first stamp (the GPS-UTC leap-second count cannot change within a log but at a leap second)."""
    h = np.asarray(header_ns, np.int64)
    if h.size == 0:
        return ClockModel()
    t0 = int(h[0])
    return ClockModel(offset_ns=utc_ns_from_gps_ns(t0) - t0)
