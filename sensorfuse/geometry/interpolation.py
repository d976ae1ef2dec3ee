"""Interpolation at int64 nanosecond times: poses (SLERP + linear translation) and vector signals (linear).

Query times and sample times are int64 ns; the interpolation fraction is computed from int64 differences, so
precision does not depend on the epoch (a float64 of Unix-epoch nanoseconds only resolves ~256 ns).

Extrapolation is a decision, not a default: ``extrapolation="raise"`` (default) raises
:class:`~sensorfuse.errors.ExtrapolationError`; ``"hold"`` repeats the end sample; ``"nan"`` returns NaN and a
``False`` in the validity mask. ``max_extrapolation_ns`` allows a stated margin beyond the ends (held constant).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.spatial.transform import Rotation

from sensorfuse._checks import check_array, check_stamps
from sensorfuse.errors import ExtrapolationError, ValidationError
from sensorfuse.geometry.transforms import _transform_from, check_transform

__all__ = ["Extrapolation", "bracket", "interpolate_linear", "interpolate_poses"]

Extrapolation = Literal["raise", "hold", "nan"]
_POLICIES = ("raise", "hold", "nan")


def bracket(
    stamps_ns: np.ndarray,
    query_ns: np.ndarray,
    *,
    extrapolation: Extrapolation = "raise",
    max_extrapolation_ns: int = 0,
    what: str = "data",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Locate each query between two samples.

    Args:
        stamps_ns: sample times, int64, strictly increasing (validated by the callers' public functions).
        query_ns: query times, int64.
        extrapolation: policy outside ``[stamps[0] - max_extrapolation_ns, stamps[-1] + max_extrapolation_ns]``.
        max_extrapolation_ns: margin beyond either end inside which the end sample is held.
        what: name of the data for error messages.

    Returns:
        ``(i0, frac, valid)``: interpolate as ``x[i0] + frac * (x[i0 + 1] - x[i0])``; ``i0`` is clipped so that
        ``i0 + 1`` is valid; ``frac`` is 0 or 1 for held ends; ``valid`` is False for queries outside the allowed
        range under the ``"nan"`` policy.
    """
    if extrapolation not in _POLICIES:
        raise ValidationError(f"extrapolation: expected one of {_POLICIES}, got {extrapolation!r}")
    n = stamps_ns.shape[0]
    if n == 0:
        raise ValidationError(f"{what}: cannot interpolate with no samples")
    t0, t1 = int(stamps_ns[0]), int(stamps_ns[-1])
    far = (query_ns < t0 - max_extrapolation_ns) | (query_ns > t1 + max_extrapolation_ns)
    if extrapolation == "raise" and np.any(far):
        q = int(query_ns[far][0])
        where = f"{(t0 - q) / 1e6:.3f} ms before the start" if q < t0 else f"{(q - t1) / 1e6:.3f} ms after the end"
        raise ExtrapolationError(
            f"{what}: {int(far.sum())} query time(s) outside the data range [{t0}, {t1}] ns "
            f"(+/- {max_extrapolation_ns} ns allowed), e.g. {q} ({where}). "
            "Pass extrapolation='hold' or 'nan', or a max_extrapolation_ns margin, if that is intended."
        )
    if n == 1:
        i0 = np.zeros(query_ns.shape, dtype=np.intp)
        frac = np.zeros(query_ns.shape)
        valid = ~far if extrapolation == "nan" else np.ones(query_ns.shape, dtype=bool)
        return i0, frac, valid
    i0 = np.clip(np.searchsorted(stamps_ns, query_ns, side="right") - 1, 0, n - 2)
    ta, tb = stamps_ns[i0], stamps_ns[i0 + 1]
    # int64 differences first, then float: exact fraction independent of the epoch
    frac = (query_ns - ta).astype(np.float64) / (tb - ta).astype(np.float64)
    frac = np.clip(frac, 0.0, 1.0)  # held ends
    valid = ~far if extrapolation == "nan" else np.ones(query_ns.shape, dtype=bool)
    return i0, frac, valid


def interpolate_linear(
    stamps_ns: object,
    values: object,
    query_ns: object,
    *,
    extrapolation: Extrapolation = "raise",
    max_extrapolation_ns: int = 0,
    what: str = "values",
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of a vector signal ``values (N, ...)`` sampled at ``stamps_ns`` (strictly increasing).

    Returns:
        ``(values_at_query (M, ...) float64, valid (M,) bool)``.
    """
    stamps = check_stamps(stamps_ns, "stamps_ns", strictly=True)
    vals = check_array(values, "values", dtype=np.float64, kinds="fiu")
    if vals.ndim == 0 or vals.shape[0] != stamps.shape[0]:
        raise ValidationError(f"values: expected {stamps.shape[0]} rows (one per stamp), got shape {vals.shape}")
    q = check_array(query_ns, "query_ns", ndim=1, dtype=np.int64, kinds="iu")
    i0, frac, valid = bracket(
        stamps, q, extrapolation=extrapolation, max_extrapolation_ns=max_extrapolation_ns, what=what
    )
    i1 = np.minimum(i0 + 1, stamps.shape[0] - 1)
    f = frac.reshape((-1,) + (1,) * (vals.ndim - 1))
    out = vals[i0] + f * (vals[i1] - vals[i0])
    exact = frac == 0.0
    out[exact] = vals[i0[exact]]  # exact at the samples
    out[~valid] = np.nan
    return out, valid


def interpolate_poses(
    stamps_ns: object,
    T_world_body: object,
    query_ns: object,
    *,
    extrapolation: Extrapolation = "raise",
    max_extrapolation_ns: int = 0,
    what: str = "poses",
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate rigid poses: SLERP on rotation (constant angular rate), linear on translation.

    Args:
        stamps_ns: (N,) int64 ns, strictly increasing.
        T_world_body: (N, 4, 4) poses.
        query_ns: (M,) int64 ns.
        extrapolation, max_extrapolation_ns: see the module docstring.

    Returns:
        ``(T (M, 4, 4), valid (M,))``; at a query equal to a sample time the input pose is returned unchanged.

    Raises:
        ExtrapolationError: a query outside the range under the ``"raise"`` policy.
        ValidationError: bad shapes, unsorted stamps, non-rigid poses.
    """
    stamps = check_stamps(stamps_ns, "stamps_ns", strictly=True)
    T = check_transform(T_world_body, "T_world_body")
    if T.ndim != 3 or T.shape[0] != stamps.shape[0]:
        raise ValidationError(f"T_world_body: expected ({stamps.shape[0]}, 4, 4), got {T.shape}")
    q = check_array(query_ns, "query_ns", ndim=1, dtype=np.int64, kinds="iu")
    return _interpolate_poses(stamps, T, q, extrapolation, max_extrapolation_ns, what)


def _interpolate_poses(
    stamps: np.ndarray,
    T: np.ndarray,
    q: np.ndarray,
    extrapolation: Extrapolation,
    max_extrapolation_ns: int,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    i0, frac, valid = bracket(
        stamps, q, extrapolation=extrapolation, max_extrapolation_ns=max_extrapolation_ns, what=what
    )
    n = stamps.shape[0]
    if n == 1:
        out = np.repeat(T[:1], q.shape[0], axis=0)
    else:
        i1 = i0 + 1
        R0 = Rotation.from_matrix(T[i0, :3, :3])
        R1 = Rotation.from_matrix(T[i1, :3, :3])
        delta = (R0.inv() * R1).as_rotvec()  # shortest arc: as_rotvec angle is in [0, pi]
        R = R0 * Rotation.from_rotvec(delta * frac[:, None])
        t = T[i0, :3, 3] + frac[:, None] * (T[i1, :3, 3] - T[i0, :3, 3])
        out = _transform_from(R.as_matrix(), t)
        at0, at1 = frac == 0.0, frac == 1.0
        out[at0] = T[i0[at0]]  # exact at the samples
        out[at1] = T[i1[at1]]
    out[~valid] = np.nan
    return out, valid
