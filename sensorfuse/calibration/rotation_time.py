"""Rotation and time offset between two sensors that observe the same rotational motion.

Any sensor whose orientation changes with the rig's can be aligned with any other: a gyro (angular rate), a pose
stream (LiDAR odometry, camera poses from a board, motion capture, GNSS-INS, another device's tracking). Two rigidly
joined sensors A (the reference) and B feel the same angular velocity, each in its own frame, so

    omega_A(t_A) = R_A_B @ omega_B(t_B) (+ a gyro's bias),    t_A = t_B + offset_ns

(the rig file's clock convention: ``t_reference = t_stream + offset_ns``). Two steps:

1. **Coarse offset**: the magnitude ``|omega|`` does not depend on the frame, so the offset is the lag that maximises
   the normalised cross-correlation of the two magnitudes (FFT, any lag with enough overlap, or within
   ``max_offset_s`` of a ``prior_offset_ns``), to a fraction of the grid step by a parabola through the peak.
2. **Joint refinement**: rotation, offset and the gyro's bias by robust least squares (SciPy ``least_squares``,
   soft-L1) on the *mean* angular rate over intervals of the slower stream (a pose stream's increments are means
   over their interval, so the faster stream is averaged over the same shifted interval: no differentiation noise
   is amplified and no rate is interpolated across an interval).

Every stream becomes a cumulative integral of its angular rate (a gyro: trapezoids; orientations: the rotation
vector of each increment ``R_i^T R_(i+1)``, which is the integral of the body rate to second order in the
increment), so the mean over any interval is a difference of two interpolated values.

Quality and observability (``RotationTimeResult``): the peak correlation and how far it stands above the next
peak; the residual RMS; per-parameter standard deviations from the Jacobian and from a block bootstrap over time windows
(windows drawn with replacement, the whole problem refitted on each draw), the larger of the two reported;
the excitation per principal rotation axis and the condition number; the windows that carried the information. A
rotation about an axis the motion never turns away from (a car that only yaws: rotation about the vertical is
undetermined by rates alone) is named, and refused unless the caller gives a prior for it; no motion, too short a
recording, a saturated gyro or an ambiguous correlation raise a :class:`~sensorfuse.errors.CalibrationError` with
advice. The lever arm is not estimated here (angular rates do not see it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import correlate
from scipy.spatial.transform import Rotation

from sensorfuse._checks import check_array, check_rotation, check_stamps, sort_unique
from sensorfuse.errors import CalibrationError, ValidationError

__all__ = ["MotionStream", "RotationTimeResult", "align_rotation_and_time", "coarse_time_offset"]

_NS = 1e-9

#: Rates whose second principal axis carries less than this share of the first turn about one axis only.
ONE_AXIS_RATIO = 0.1

#: Below this RMS angular rate (rad/s) a stream is standing still (a MEMS gyro's noise over a second is ~0.005 rad/s).
STILL_RATE = 0.02


@dataclass(frozen=True, eq=False)
class MotionStream:
    """One sensor's rotational motion: gyro samples or orientations, on the sensor's own clock.

    Build with :meth:`from_gyro` or :meth:`from_orientations` (or :meth:`from_poses`). Repeated stamps are dropped
    (first kept) and counted in ``dropped_repeats``; stamps must otherwise be ascending.
    """

    name: str
    stamps_ns: np.ndarray  # int64 (N,), strictly increasing
    cumulative: np.ndarray  # (N, 3): integral of the body angular rate from the first sample (rad)
    kind: str  # "gyro" | "orientation"
    dropped_repeats: int = 0
    saturated: np.ndarray | None = None  # (N,) bool: a gyro sample at its clipping plateau

    @classmethod
    def from_gyro(cls, stamps_ns: object, omega: object, name: str = "gyro") -> MotionStream:
        """Angular rate samples (N, 3) in rad/s in the sensor frame."""
        st = check_stamps(stamps_ns, f"{name}: stamps_ns")
        w = check_array(omega, f"{name}: omega", shape=(st.size, 3), dtype=np.float64, finite=True)
        keep = sort_unique(st, keep="first")
        repeats = int(st.size - keep.size)
        st, w = st[keep], w[keep]
        _need_samples(st, name)
        dt = np.diff(st) * _NS
        cum = np.vstack([np.zeros(3), np.cumsum(0.5 * (w[1:] + w[:-1]) * dt[:, None], axis=0)])
        return cls(name, st, cum, "gyro", repeats, _saturated(w))

    @classmethod
    def from_orientations(cls, stamps_ns: object, R_world_sensor: object, name: str = "poses") -> MotionStream:
        """Orientations ``R_world_sensor`` (N, 3, 3), a :class:`scipy.spatial.transform.Rotation` of N, or
        quaternions (N, 4) in SciPy's (x, y, z, w) order. NaN rows (a tracking dropout) are dropped."""
        st = check_stamps(stamps_ns, f"{name}: stamps_ns")
        if isinstance(R_world_sensor, Rotation):
            q = R_world_sensor.as_quat()
        else:
            arr = np.asarray(R_world_sensor, dtype=np.float64)
            if arr.shape == (st.size, 4):
                q = arr
            elif arr.shape == (st.size, 3, 3):
                ok = np.isfinite(arr).all(axis=(1, 2))
                q = np.full((st.size, 4), np.nan)
                q[ok] = Rotation.from_matrix(check_rotation(arr[ok], f"{name}: R_world_sensor")).as_quat()
            else:
                raise ValidationError(
                    f"{name}: expected orientations of shape ({st.size}, 3, 3) or quaternions ({st.size}, 4), "
                    f"got {arr.shape}"
                )
        ok = np.isfinite(q).all(axis=1)
        st, q = st[ok], q[ok]
        keep = sort_unique(st, keep="first")
        repeats = int(st.size - keep.size)
        st, q = st[keep], q[keep]
        _need_samples(st, name)
        R = Rotation.from_quat(q)
        inc = (R[:-1].inv() * R[1:]).as_rotvec()  # body-frame increments
        cum = np.vstack([np.zeros(3), np.cumsum(inc, axis=0)])
        return cls(name, st, cum, "orientation", repeats)

    @classmethod
    def from_poses(cls, stamps_ns: object, T_world_sensor: object, name: str = "poses") -> MotionStream:
        """Rigid poses ``T_world_sensor`` (N, 4, 4); only their rotation is used."""
        T = check_array(T_world_sensor, f"{name}: T_world_sensor", ndim=3, dtype=np.float64)
        if T.shape[1:] != (4, 4):
            raise ValidationError(f"{name}: expected poses of shape (N, 4, 4), got {T.shape}")
        return cls.from_orientations(stamps_ns, T[:, :3, :3], name)

    # -- what the estimator uses ------------------------------------------------------------------------------
    @property
    def median_dt_s(self) -> float:
        return float(np.median(np.diff(self.stamps_ns))) * _NS

    @property
    def span_ns(self) -> tuple[int, int]:
        return int(self.stamps_ns[0]), int(self.stamps_ns[-1])

    def integral(self, t_s: np.ndarray, t0_ns: int) -> np.ndarray:
        """The cumulative integral at ``t_s`` (float seconds after ``t0_ns`` on this stream's clock), (M, 3)."""
        x = (self.stamps_ns - t0_ns) * _NS
        return np.stack([np.interp(t_s, x, self.cumulative[:, k]) for k in range(3)], axis=1)

    def mean_rate(self, t1_s: np.ndarray, t2_s: np.ndarray, t0_ns: int) -> np.ndarray:
        """Mean angular rate (M, 3) over the intervals ``[t1, t2]`` (float seconds after ``t0_ns``)."""
        return (self.integral(t2_s, t0_ns) - self.integral(t1_s, t0_ns)) / (t2_s - t1_s)[:, None]


def _need_samples(st: np.ndarray, name: str) -> None:
    if st.size < 10:
        raise CalibrationError(f"{name}: {st.size} samples; a motion stream needs at least 10 (record longer)")


def _saturated(w: np.ndarray) -> np.ndarray | None:
    """Samples at a gyro's clipping plateau: an axis at its extreme value (to 1e-9 relative) for more than 0.2 % of
    the samples and at least 5 of them (a real rate does not repeat its maximum exactly)."""
    out = np.zeros(w.shape[0], bool)
    for k in range(3):
        a = np.abs(w[:, k])
        m = a.max()
        if m == 0:
            continue
        at = a >= m * (1 - 1e-9)
        if at.sum() >= max(5, 0.002 * w.shape[0]):
            out |= at
    return out if out.any() else None


# -- coarse offset ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoarseOffset:
    offset_ns: int
    correlation: float  # Pearson correlation of |omega| at the peak
    runner_up: float  # the best correlation outside the main lobe and more than ``exclusion_s`` from the best
    grid_s: float
    overlap_s: float


def _grid_norm(s: MotionStream, h: float) -> tuple[int, np.ndarray]:
    t0, t1 = s.span_ns
    n = int((t1 - t0) * _NS / h)
    edges = np.arange(n + 1) * h
    c = s.integral(edges, t0)
    return t0, np.linalg.norm(np.diff(c, axis=0), axis=1) / h


def coarse_time_offset(
    reference: MotionStream,
    stream: MotionStream,
    *,
    grid_s: float = 0.005,
    prior_offset_ns: int = 0,
    max_offset_s: float | None = None,
    min_overlap_s: float = 10.0,
    exclusion_s: float = 0.5,
) -> CoarseOffset:
    """The offset (``t_reference = t_stream + offset_ns``) maximising the correlation of the angular-rate
    magnitudes on a ``grid_s`` grid: over every lag with ``min_overlap_s`` of overlap, or within ``max_offset_s``
    of ``prior_offset_ns``. Raises CalibrationError when no lag has enough overlap."""
    h = max(grid_s, 0.5 * min(reference.median_dt_s, stream.median_dt_s))
    ta0, x = _grid_norm(reference, h)
    tb0, y = _grid_norm(stream, h)
    ones_x, ones_y = np.ones_like(x), np.ones_like(y)

    def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # sums over k of a[k] * b[k + m], for every lag m, as 'full' correlation of b with a
        return correlate(b, a, mode="full", method="fft")

    n = corr(ones_x, ones_y)
    sxy, sx, sy = corr(x, y), corr(x, ones_y), corr(ones_x, y)
    sxx, syy = corr(x * x, ones_y), corr(ones_x, y * y)
    m = np.arange(-(x.size - 1), y.size)  # lag index: x[k] pairs with y[k + m]
    offsets_s = (ta0 - tb0) * _NS - m * h  # t_A - t_B of the pairing
    with np.errstate(invalid="ignore", divide="ignore"):
        num = n * sxy - sx * sy
        den = np.sqrt(np.maximum(n * sxx - sx * sx, 0) * np.maximum(n * syy - sy * sy, 0))
        r = np.where(den > 0, num / den, -1.0)
    # at least half the shorter recording overlaps (a few seconds at an extreme lag can match by chance)
    shorter = min(x.size, y.size) * h
    valid = n * h >= max(min(min_overlap_s, shorter), 0.5 * shorter)
    if max_offset_s is not None:
        valid &= np.abs(offsets_s - prior_offset_ns * _NS) <= max_offset_s
    if not valid.any():
        raise CalibrationError(
            f"{reference.name} / {stream.name}: the recordings do not overlap by {min_overlap_s:g} s at any offset"
            + (f" within {max_offset_s:g} s of the prior" if max_offset_s is not None else "")
            + "; record them over the same time or give a prior offset (rig file clock) that makes them overlap"
        )
    r = np.where(valid, r, -1.0)
    i = int(np.argmax(r))
    frac = 0.0
    if 0 < i < r.size - 1 and valid[i - 1] and valid[i + 1]:
        d = r[i - 1] - 2 * r[i] + r[i + 1]
        if d < 0:
            frac = float(np.clip(0.5 * (r[i - 1] - r[i + 1]) / d, -0.5, 0.5))
    off_s = float(offsets_s[i]) - frac * h
    # the runner-up: the best correlation outside the main lobe (the lags around the best where the correlation
    # stays above halfway down to its median) and more than ``exclusion_s`` away; a smooth signal's correlation
    # falls slowly beside its peak, which is no ambiguity
    half = 0.5 * (r[i] + float(np.median(r[valid])))
    below = np.flatnonzero(r < half)
    left = below[below < i].max() if (below < i).any() else -1
    right = below[below > i].min() if (below > i).any() else r.size
    far = valid & (np.abs(offsets_s - offsets_s[i]) > exclusion_s)
    far[left + 1 : right] = False
    runner = float(r[far].max()) if far.any() else -1.0
    return CoarseOffset(round(off_s * 1e9), float(r[i]), runner, h, float(n[i] * h))


# -- joint refinement ---------------------------------------------------------------------------------------------


@dataclass
class RotationTimeResult:
    """Rotation ``R_reference_stream`` and offset (``t_reference = t_stream + offset_ns``) with their quality."""

    reference: str
    stream: str
    offset_ns: int
    offset_std_ns: int
    R_reference_stream: np.ndarray
    rotation_std_deg: np.ndarray  # (3,): about the reference frame's principal excitation axes (see ``excitation``)
    gyro_bias: np.ndarray | None  # rad/s, of ``bias_of`` in its own frame
    bias_of: str | None
    residual_rms: float  # rad/s, of the mean-rate residuals
    coarse: CoarseOffset
    n_intervals: int
    interval_s: float
    excitation: dict[str, Any]
    condition_number: float
    windows: list[dict[str, Any]]
    undetermined: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: for plots, per interval (on the reference clock, s after its first sample): mid time, |rate| of the
    #: reference, of the stream as stamped (offset 0) and as aligned, and the residual's norm (rad/s)
    series: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def rotation_deg(self) -> float:
        return float(np.degrees(np.linalg.norm(Rotation.from_matrix(self.R_reference_stream).as_rotvec())))

    def to_dict(self) -> dict[str, Any]:
        q = Rotation.from_matrix(self.R_reference_stream).as_quat()
        return {
            "reference": self.reference,
            "stream": self.stream,
            "offset_ns": self.offset_ns,
            "offset_ms": round(self.offset_ns * 1e-6, 4),
            "offset_std_ms": round(self.offset_std_ns * 1e-6, 4),
            "convention": "t_reference = t_stream + offset_ns",
            "R_reference_stream": np.round(self.R_reference_stream, 9).tolist(),
            "quaternion_xyzw": np.round(q, 9).tolist(),
            "rotation_deg": round(self.rotation_deg, 4),
            "rotation_std_deg": np.round(self.rotation_std_deg, 4).tolist(),
            "gyro_bias": None if self.gyro_bias is None else np.round(self.gyro_bias, 6).tolist(),
            "bias_of": self.bias_of,
            "residual_rms_rad_s": round(self.residual_rms, 6),
            "coarse": {
                "offset_ms": round(self.coarse.offset_ns * 1e-6, 3),
                "correlation": round(self.coarse.correlation, 4),
                "runner_up": round(self.coarse.runner_up, 4),
                "grid_ms": round(self.coarse.grid_s * 1e3, 3),
                "overlap_s": round(self.coarse.overlap_s, 2),
            },
            "intervals": self.n_intervals,
            "interval_ms": round(self.interval_s * 1e3, 2),
            "excitation": self.excitation,
            "condition_number": round(self.condition_number, 2),
            "windows": self.windows,
            "undetermined": self.undetermined,
            "notes": self.notes,
        }


def _intervals(slow: MotionStream, min_interval_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) of the slow stream: consecutive, each at least ``min_interval_s`` long, none across a gap
    of more than 3 median steps."""
    st = slow.stamps_ns
    med = np.median(np.diff(st))
    step = max(1, int(np.ceil(min_interval_s * 1e9 / med - 1e-9)))
    i = np.arange(0, st.size - step, step)
    j = i + step
    gap = np.maximum.reduceat(np.r_[np.diff(st), 0], i)[: i.size] if i.size else np.empty(0)
    ok = gap <= 3 * med
    return i[ok], j[ok]


def _principal_axes(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RMS along, and directions of, the principal axes of the rate vectors (descending)."""
    _u, s, vt = np.linalg.svd(v, full_matrices=False)
    return s / np.sqrt(max(v.shape[0], 1)), vt


_AXIS_NAMES = ("x", "y", "z")


def _axis_name(d: np.ndarray) -> str:
    k = int(np.argmax(np.abs(d)))
    return f"~{'-' if d[k] < 0 else '+'}{_AXIS_NAMES[k]} ({', '.join(f'{c:.2f}' for c in d)})"


def align_rotation_and_time(
    reference: MotionStream,
    stream: MotionStream,
    *,
    prior_offset_ns: int = 0,
    max_offset_s: float | None = None,
    R_prior: np.ndarray | None = None,
    prior_sigma_deg: float | None = None,
    min_interval_s: float | None = None,
    windows: int = 8,
    bootstrap: int = 16,
    max_rotation_std_deg: float = 0.5,
    max_offset_std_ms: float = 5.0,
    min_duration_s: float = 10.0,
    need_rotation: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RotationTimeResult:
    """Estimate ``R_reference_stream``, the time offset and a gyro's bias (see the module docstring).

    Args:
        reference, stream: the two motion streams (``t_reference = t_stream + offset_ns``).
        prior_offset_ns, max_offset_s: search the offset only within ``max_offset_s`` of the prior (default: any
            offset with 10 s of overlap).
        R_prior, prior_sigma_deg: a prior rotation ``R_reference_stream`` and its standard deviation per axis;
            with it, rotation about an axis the motion cannot determine is held to the prior instead of refused.
        min_interval_s: length of the mean-rate intervals (default: the slower stream's step, at least 20 ms).
        windows: time windows: each is refitted alone for the report, and they are the blocks of the bootstrap.
        bootstrap: draws of the block bootstrap (windows with replacement, the whole problem refitted each time).
        max_rotation_std_deg, max_offset_std_ms: refuse a result less certain than this.
        min_duration_s: refuse an overlap shorter than this.
        need_rotation: False when only the offset is wanted: a rotation the motion does not determine is then
            named in ``undetermined`` (and its components' deviations are large) instead of refused.

    Raises:
        CalibrationError: standing still, too short, saturated, ambiguous correlation, or a component the motion
            does not determine (and no prior for it); the message says what to record instead.
    """
    notes: list[str] = []
    ticks = [0]

    def tick(total: int = bootstrap + 4) -> None:
        ticks[0] += 1
        if progress is not None:
            progress(ticks[0], total)

    pair = f"{reference.name} / {stream.name}"
    for s in (reference, stream):
        d = np.diff(s.cumulative, axis=0) / (np.diff(s.stamps_ns) * _NS)[:, None]
        rms = float(np.sqrt(np.mean(np.sum((d - np.median(d, axis=0)) ** 2, axis=1))))  # a gyro's bias is no motion
        if rms < STILL_RATE:
            raise CalibrationError(
                f"{pair}: {s.name} is standing still (RMS angular rate {rms:.4f} rad/s about its median): nothing "
                "to align; drive with turns (a figure-8) or move the rig by hand"
            )
    coarse = coarse_time_offset(reference, stream, prior_offset_ns=prior_offset_ns, max_offset_s=max_offset_s)
    tick()
    # intervals on the slower stream, the faster averaged over the same (shifted) interval
    slow_is_ref = reference.median_dt_s >= stream.median_dt_s
    slow, fast = (reference, stream) if slow_is_ref else (stream, reference)
    h = min_interval_s if min_interval_s is not None else max(slow.median_dt_s, 0.02)
    i, j = _intervals(slow, h)
    t0 = int(slow.stamps_ns[0])
    t1 = (slow.stamps_ns[i] - t0) * _NS
    t2 = (slow.stamps_ns[j] - t0) * _NS
    sign = -1.0 if slow_is_ref else 1.0  # fast-clock time of a slow-clock instant: t + sign * offset
    off0 = coarse.offset_ns * _NS
    f0, f1 = fast.span_ns
    lo, hi = (f0 - t0) * _NS, (f1 - t0) * _NS
    margin = 0.25 + 3 * coarse.grid_s
    inside = (t1 + sign * off0 - margin >= lo) & (t2 + sign * off0 + margin <= hi)
    # the faster stream's gaps (tracking dropouts, lost samples), on the slow clock: no interval may span one
    fs = fast.stamps_ns
    g = np.flatnonzero(np.diff(fs) > 3 * np.median(np.diff(fs)))
    if g.size:
        g_start = (fs[g] - t0) * _NS - sign * off0 - margin
        g_end = (fs[g + 1] - t0) * _NS - sign * off0 + margin
        across = np.searchsorted(g_end, t1, "right") < np.searchsorted(g_start, t2, "left")
        if across.any():
            notes.append(f"{int(across.sum())} intervals across {g.size} gaps of {fast.name} left out")
        inside &= ~across
    gyro = fast if fast.saturated is not None else slow  # the stream whose clipped samples are marked, if any
    if gyro.saturated is not None:
        sat_t = (gyro.stamps_ns[gyro.saturated] - t0) * _NS - (sign * off0 if gyro is fast else 0.0)
        hit = np.searchsorted(sat_t, t2) - np.searchsorted(sat_t, t1) > 0
        share = float(hit.mean()) if hit.size else 0.0
        if share > 0.2:
            raise CalibrationError(
                f"{pair}: the gyro is saturated in {share:.0%} of the intervals (clipped at its range); record with "
                "slower motion or set a larger gyro range"
            )
        if hit.any():
            notes.append(f"{int(hit.sum())} intervals with saturated gyro samples left out")
        inside &= ~hit
    t1, t2 = t1[inside], t2[inside]
    duration = float(t2[-1] - t1[0]) if t1.size else 0.0
    if t1.size < 20 or duration < min_duration_s:
        raise CalibrationError(
            f"{pair}: {duration:.1f} s of overlapping motion ({t1.size} intervals of {h * 1e3:.0f} ms); at "
            f"least {min_duration_s:g} s and 20 intervals are needed: record longer"
        )
    w_slow = slow.mean_rate(t1, t2, t0)
    rms_rate = float(np.sqrt(np.mean(np.sum(w_slow**2, axis=1))))
    if rms_rate < STILL_RATE:
        raise CalibrationError(
            f"{pair}: standing still (RMS angular rate {rms_rate:.4f} rad/s): nothing to align; "
            "drive with turns (a figure-8) or move the rig by hand"
        )
    if coarse.correlation < 0.5 or coarse.runner_up > coarse.correlation - 0.05:
        raise CalibrationError(
            f"{pair}: the time offset is ambiguous (rate-magnitude correlation {coarse.correlation:.3f} at the best "
            f"offset, {coarse.runner_up:.3f} elsewhere): turn more and more irregularly, or give a prior offset "
            "and --max-offset"
        )

    bias_on_fast = fast.kind == "gyro"
    bias_on_slow = (not bias_on_fast) and slow.kind == "gyro"
    bias_of = fast.name if bias_on_fast else (slow.name if bias_on_slow else None)

    R_prior_slow = None
    prior_sigma_rad = np.radians(prior_sigma_deg) if prior_sigma_deg else 1.0
    if R_prior is not None and prior_sigma_deg:
        Rp = check_rotation(R_prior, "R_prior")
        R_prior_slow = Rotation.from_matrix(Rp if slow_is_ref else Rp.T)
    scale = [1.0]  # the data residuals' noise level (rad/s), set before each fit

    def residual(p: np.ndarray, sel: np.ndarray) -> np.ndarray:
        R = Rotation.from_rotvec(p[:3])  # R_slow_fast
        off = p[3]
        b = p[4:7] if bias_of is not None else np.zeros(3)
        wf = fast.mean_rate(t1[sel] + sign * off, t2[sel] + sign * off, t0)
        if bias_on_fast:
            wf = wf - b
        ws = w_slow[sel] - (b if bias_on_slow else 0.0)
        r = (ws - R.apply(wf)).ravel()
        if R_prior_slow is not None:
            # the prior as one more measurement: its deviation in units of the prior's sigma, on the data's scale
            d = (R_prior_slow.inv() * R).as_rotvec() / prior_sigma_rad
            r = np.r_[r, d * scale[0]]
        return r

    # initial rotation from the coarse-aligned rates (Kabsch)
    wf0 = fast.mean_rate(t1 + sign * off0, t2 + sign * off0, t0)
    R0, _ = Rotation.align_vectors(w_slow, wf0)
    p0 = np.r_[R0.as_rotvec(), off0, np.zeros(3 if bias_of else 0)]
    allsel = np.ones(t1.size, bool)
    noise0 = float(np.median(np.abs(residual(p0, allsel)[: 3 * t1.size]))) / 0.6745 + 1e-6
    scale[0] = noise0
    x_scale = np.r_[np.full(3, 1e-3), 1e-3, np.full(3 if bias_of else 0, 1e-3)]
    fit = least_squares(
        residual, p0, args=(allsel,), loss="soft_l1", f_scale=3 * noise0, x_scale=x_scale, diff_step=1e-6
    )
    # a second pass around the solution, so the robust scale follows the converged residuals
    noise = float(np.median(np.abs(fit.fun[: 3 * t1.size]))) / 0.6745 + 1e-9
    scale[0] = noise
    fit = least_squares(
        residual, fit.x, args=(allsel,), loss="soft_l1", f_scale=3 * noise, x_scale=x_scale, diff_step=1e-7
    )
    tick()
    p = fit.x
    # covariance from the Jacobian (robust weights are near 1 for inliers)
    J = fit.jac
    dof = max(fit.fun.size - p.size, 1)
    s2 = float(np.sum(fit.fun**2)) / dof
    JtJ = J.T @ J
    cond = float(np.linalg.cond(JtJ[:3, :3]))
    try:
        cov = np.linalg.inv(JtJ) * s2
    except np.linalg.LinAlgError:
        cov = np.full((p.size, p.size), np.inf)

    # excitation: principal axes of the slow stream's rates in the reference frame
    R_rs = Rotation.from_rotvec(p[:3])  # R_slow_fast: maps the fast stream's rates into the slow one's frame
    w_ref = w_slow if slow_is_ref else R_rs.inv().apply(w_slow)
    sv, axes = _principal_axes(w_ref)
    # the parameters' covariance as a small rotation on the left of R_slow_fast (through the left Jacobian of the
    # rotation vector), then in the reference frame: R_slow_fast' = exp(d) R  <=>  R_fast_slow' = exp(-R^T d) R^T
    eps = 1e-7
    Jl = np.stack([(Rotation.from_rotvec(p[:3] + eps * e) * R_rs.inv()).as_rotvec() / eps for e in np.eye(3)], axis=1)
    rot_cov = Jl @ cov[:3, :3] @ Jl.T
    if not slow_is_ref:
        Rm = R_rs.as_matrix()
        rot_cov = Rm.T @ rot_cov @ Rm
    std_axes_jac = np.degrees(np.sqrt(np.maximum(np.einsum("ki,ij,kj->k", axes, rot_cov, axes), 0)))
    wdot = np.diff(w_ref, axis=0) / np.diff(0.5 * (t1 + t2))[:, None]
    excitation = {
        "rms_rate_rad_s_per_axis": np.round(sv, 5).tolist(),
        "principal_axes": np.round(axes, 4).tolist(),
        "rms_rate_rad_s_xyz": np.round(np.sqrt(np.mean(w_ref**2, axis=0)), 5).tolist(),
        "rms_angular_accel_rad_s2": round(float(np.sqrt(np.mean(np.sum(wdot**2, axis=1)))), 4),
    }

    # the windows that carried information: each refitted alone where it turns enough (offset; rotation and bias
    # held), as a report of where the offset comes from and whether it is steady over the recording
    edges = np.linspace(t1[0], t2[-1], windows + 1)
    win: list[dict[str, Any]] = []
    blocks = []
    for k in range(windows):
        sel = np.flatnonzero((t1 >= edges[k]) & (t2 <= edges[k + 1]))
        blocks.append(sel)
        entry: dict[str, Any] = {
            "start_s": round(float(edges[k]), 3),
            "end_s": round(float(edges[k + 1]), 3),
            "intervals": int(sel.size),
            "offset_ms": None,
        }
        if sel.size >= 10:
            wk = w_ref[sel]
            rms_k = float(np.sqrt(np.mean(np.sum(wk**2, axis=1))))
            entry["rms_rate_rad_s"] = round(rms_k, 4)
            entry["second_axis_rms_rad_s"] = round(float(_principal_axes(wk)[0][1]), 5)
            if rms_k >= 5 * STILL_RATE:

                def res_k(q: np.ndarray, sel: np.ndarray = sel) -> np.ndarray:
                    return residual(np.r_[p[:3], q, p[4:]], sel)

                fk = least_squares(
                    res_k, p[3:4], loss="soft_l1", f_scale=3 * noise, x_scale=x_scale[3:4], diff_step=1e-7
                )
                entry["offset_ms"] = round(float(fk.x[0]) * 1e3, 4)
        win.append(entry)
    tick()
    # block bootstrap: windows drawn with replacement, the whole problem refitted on each draw
    rng = np.random.default_rng(0)
    blocks = [b for b in blocks if b.size]
    estimates = []
    for _ in range(bootstrap):
        sel = np.concatenate([blocks[k] for k in rng.integers(0, len(blocks), len(blocks))])
        try:
            fb = least_squares(residual, p, args=(sel,), loss="soft_l1", f_scale=3 * noise, x_scale=x_scale,
                               diff_step=1e-7, max_nfev=50)  # fmt: skip
        except (ValueError, np.linalg.LinAlgError):  # a draw without enough motion: counts as no information
            continue
        estimates.append(fb.x[:4])
        tick()
    est = np.array(estimates) if estimates else np.empty((0, 4))
    if est.shape[0] >= 5:
        boot_off = float(np.std(est[:, 3], ddof=1))
        dR = (Rotation.from_rotvec(est[:, :3]) * R_rs.inv()).as_rotvec()  # left perturbations, slow frame
        if not slow_is_ref:
            dR = R_rs.inv().apply(dR)
        boot_rot = np.degrees(np.std(dR @ axes.T, axis=0, ddof=1))
    else:
        boot_off, boot_rot = np.inf, np.full(3, np.inf)
        notes.append("fewer than 5 bootstrap draws could be fitted: the spread is not available")
    off_std = max(float(np.sqrt(max(cov[3, 3], 0))), boot_off)
    rot_std = np.maximum(std_axes_jac, np.nan_to_num(boot_rot, nan=np.inf, posinf=np.inf))

    undetermined: list[str] = []
    has_prior = R_prior_slow is not None
    for k in range(3):
        if not rot_std[k] <= max_rotation_std_deg:
            what = f"rotation about {_axis_name(axes[k])} of {reference.name}'s frame"
            undetermined.append(what)
    if undetermined and not has_prior and need_rotation:
        figures = (
            f"std {', '.join(f'{s:.2f}' for s in rot_std)} deg about the principal axes, limit "
            f"{max_rotation_std_deg:g}; RMS rate per axis {', '.join(f'{s:.3f}' for s in sv)} rad/s"
        )
        if sv[1] < ONE_AXIS_RATIO * sv[0]:
            raise CalibrationError(
                f"{pair}: {'; '.join(undetermined)} is not determined ({figures}): the motion turns about one axis "
                "only. Drive a figure-8 over uneven ground or move the rig by hand through roll and pitch, or give a "
                "prior rotation (R_prior; no command takes one yet)"
            )
        raise CalibrationError(
            f"{pair}: {'; '.join(undetermined)} is not determined ({figures}; residual RMS {noise:.4f} rad/s): the "
            "motion turns about every axis, but the windows of the recording disagree: check that the sensors are "
            "rigidly joined, that the streams are the ones meant, and that the gyro's bias is steady"
        )
    if undetermined and has_prior:
        notes.append(f"held to the prior (sigma {prior_sigma_deg:g} deg): {'; '.join(undetermined)}")
    elif undetermined:
        notes.append(f"not determined (only the offset was asked for): {'; '.join(undetermined)}")
    if not off_std * 1e3 <= max_offset_std_ms:
        raise CalibrationError(
            f"{pair}: the time offset is not determined (std {off_std * 1e3:.2f} ms, limit {max_offset_std_ms:g} ms; "
            f"RMS angular acceleration {excitation['rms_angular_accel_rad_s2']:.3f} rad/s^2): turn more sharply and "
            "more often"
        )
    R_final = R_rs.as_matrix() if slow_is_ref else R_rs.inv().as_matrix()
    if coarse.correlation < 0.8:
        notes.append(
            f"low rate-magnitude correlation {coarse.correlation:.3f}: check that the sensors are rigidly joined"
        )
    tick()
    # the series for a report, on the reference clock (s after its first sample): |rate| of each stream on a 20 ms
    # grid (bias removed), the stream as stamped (offset 0) and as aligned, and the residual norm per interval
    t0r = int(reference.stamps_ns[0])
    g = np.arange((t0 - t0r) * _NS + t1[0], (t0 - t0r) * _NS + t2[-1] - 0.02, 0.02)
    # by role, not by name (two gyros may share a name)
    bias_on_ref = bias_on_slow if slow_is_ref else bias_on_fast
    bias_on_str = bias_on_fast if slow_is_ref else bias_on_slow
    b_ref = p[4:7] if bias_on_ref else 0.0
    b_str = p[4:7] if bias_on_str else 0.0
    off_s = float(p[3])
    res_norm = np.linalg.norm(fit.fun[: 3 * t1.size].reshape(-1, 3), axis=1)
    t_mid = 0.5 * (t1 + t2) + (t0 - t0r) * _NS + (0.0 if slow_is_ref else off_s)
    series = {
        "t_s": g + 0.01,
        "reference": np.linalg.norm(reference.mean_rate(g, g + 0.02, t0r) - b_ref, axis=1),
        "stream_as_stamped": np.linalg.norm(stream.mean_rate(g, g + 0.02, t0r) - b_str, axis=1),
        "stream_aligned": np.linalg.norm(stream.mean_rate(g - off_s, g + 0.02 - off_s, t0r) - b_str, axis=1),
        "residual_t_s": t_mid,
        "residual": res_norm,
    }
    return RotationTimeResult(
        reference=reference.name,
        stream=stream.name,
        offset_ns=round(p[3] * 1e9),
        offset_std_ns=round(off_std * 1e9),
        R_reference_stream=R_final,
        rotation_std_deg=rot_std,
        gyro_bias=p[4:7].copy() if bias_of else None,
        bias_of=bias_of,
        residual_rms=float(np.sqrt(np.mean(fit.fun[: 3 * t1.size] ** 2))),
        coarse=coarse,
        n_intervals=int(t1.size),
        interval_s=float(np.median(t2 - t1)),
        excitation=excitation,
        condition_number=cond,
        windows=win,
        undetermined=undetermined,
        notes=notes,
        series=series,
    )
