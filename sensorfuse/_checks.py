"""Input validation shared by the public API (the ``check_*`` helpers convert and validate, once, at the edge).

Every helper returns a converted array (or value) and raises :class:`~sensorfuse.errors.ValidationError` with a
sentence naming the argument, the expected and the actual shape/dtype. Internal code calls public functions'
private twins and skips these checks on hot paths.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from sensorfuse.errors import ValidationError

__all__ = [
    "ROTATION_ATOL",
    "check_array",
    "check_finite",
    "check_rotation",
    "check_stamp",
    "check_stamps",
    "check_transform",
    "sort_unique",
]

_DTYPE_KIND_NAMES = {"f": "floating point", "i": "signed integer", "u": "unsigned integer", "b": "boolean"}


def _shape_str(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_array(
    value: object,
    name: str,
    *,
    shape: Sequence[int | None] | None = None,
    ndim: int | tuple[int, ...] | None = None,
    dtype: np.dtype | type | None = None,
    kinds: str = "fiub",
    finite: bool = False,
    copy: bool = False,
) -> np.ndarray:
    """Convert ``value`` to a numpy array and validate it.

    Args:
        value: anything ``np.asarray`` accepts.
        name: the argument's name, used in the error message.
        shape: expected shape; ``None`` entries match any length (e.g. ``(None, 3)`` for N x 3).
        ndim: allowed number of dimensions (an int or a tuple of ints), checked when ``shape`` is not given.
        dtype: the dtype to convert to (only a same-kind or safe numeric conversion; a string array never converts).
        kinds: allowed dtype kinds of the input (``f`` float, ``i`` int, ``u`` unsigned, ``b`` bool).
        finite: reject NaN and inf.
        copy: always return a copy.

    Returns:
        The converted, C-contiguous array.

    Raises:
        ValidationError: naming ``name``, the expectation and what was given.
    """
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists, objects numpy refuses
        raise ValidationError(f"{name}: cannot be read as an array ({exc})") from None
    if arr.dtype.kind not in kinds:
        allowed = ", ".join(_DTYPE_KIND_NAMES[k] for k in kinds)
        raise ValidationError(f"{name}: expected a numeric array ({allowed}), got dtype {arr.dtype}")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape, strict=True)):
            raise ValidationError(f"{name}: expected shape {_shape_str(shape)}, got {arr.shape}")
    elif ndim is not None:
        allowed_ndim = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed_ndim:
            raise ValidationError(f"{name}: expected {' or '.join(map(str, allowed_ndim))} dimensions, got {arr.shape}")
    if dtype is not None:
        target = np.dtype(dtype)
        if target.kind in "iu" and arr.dtype.kind == "f":
            raise ValidationError(f"{name}: expected integers ({target}), got floating point values ({arr.dtype})")
        arr = np.ascontiguousarray(arr, dtype=target)
    else:
        arr = np.ascontiguousarray(arr)
    if finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValidationError(f"{name}: contains {bad} NaN or infinite value(s); remove or mask them first")
    if copy and isinstance(value, np.ndarray) and np.shares_memory(arr, value):
        arr = arr.copy()
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise if ``arr`` holds NaN or inf."""
    if not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValidationError(f"{name}: contains {bad} NaN or infinite value(s); remove or mask them first")


def check_stamp(value: object, name: str = "stamp_ns") -> int:
    """Validate one timestamp in integer nanoseconds and return it as a Python int.

    Floats are refused: the API is int64 nanoseconds everywhere (convert seconds with
    :func:`sensorfuse.units.ns_from_seconds` on purpose, where the precision loss is understood).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(
            f"{name}: expected an integer number of nanoseconds, got {type(value).__name__} {value!r}"
            " (timestamps are int64 ns; convert seconds with sensorfuse.units.ns_from_seconds)"
        )
    v = int(value)
    if not -(2**63) <= v < 2**63:
        raise ValidationError(f"{name}: {v} does not fit in int64 nanoseconds")
    return v


def check_stamps(value: object, name: str = "stamp_ns", *, strictly: bool = False) -> np.ndarray:
    """Validate a 1-D array of int64 nanosecond stamps sorted ascending.

    Args:
        value: the stamps.
        name: argument name for messages.
        strictly: require strictly increasing stamps (no duplicates).

    Raises:
        ValidationError: not 1-D, not integers, or not sorted (the message gives the first offending index).
    """
    if (isinstance(value, np.ndarray) and value.dtype.kind == "f") or (
        isinstance(value, (list, tuple)) and any(isinstance(v, float) for v in value)
    ):
        raise ValidationError(
            f"{name}: expected integer nanoseconds (int64), got floating point values; convert seconds on purpose "
            "with sensorfuse.units.ns_from_seconds"
        )
    arr = check_array(value, name, ndim=1, kinds="iu")
    if arr.dtype.kind == "u" and arr.size and arr.max() >= 2**63:
        raise ValidationError(f"{name}: values exceed the int64 nanosecond range")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.size > 1:
        d = np.diff(arr)
        bad = np.flatnonzero(d <= 0) if strictly else np.flatnonzero(d < 0)
        if bad.size:
            i = int(bad[0])
            what = "strictly increasing" if strictly else "sorted ascending"
            raise ValidationError(
                f"{name}: must be {what}; element {i + 1} ({arr[i + 1]}) follows {arr[i]}"
                f" ({bad.size} place(s) in all). Sort the data or report the reorder explicitly."
            )
    return arr


def sort_unique(stamps: np.ndarray, *, keep: str) -> np.ndarray:
    """Indices that put ``stamps`` in ascending order with every repeated stamp once: ``stamps[idx]`` is strictly
    increasing. The policy for a repeated stamp is named, never implied: ``keep="first"`` keeps the one given first
    (a reader's first recorded message), ``keep="last"`` the one given last (a later transform overrides)."""
    s = np.asarray(stamps)
    if keep == "first":
        order = np.argsort(s, kind="stable")
        st = s[order]
        return order[np.r_[True, st[1:] != st[:-1]]] if st.size else order
    if keep == "last":
        order = np.argsort(s[::-1], kind="stable")
        order = s.size - 1 - order  # stable on the reversed array: the last given comes first among equals
        st = s[order]
        return order[np.r_[True, st[1:] != st[:-1]]] if st.size else order
    raise ValidationError(f"sort_unique: keep must be 'first' or 'last', got {keep!r}")


# -- rotations and rigid transforms (here, below geometry, so that types can check them) ----------

#: Tolerance on ``R.T @ R - I`` and ``det(R) - 1`` for a matrix to count as a rotation.
#: Calibration files print 7 significant digits, so 1e-5 accepts them and refuses anything that is not a rotation.
ROTATION_ATOL = 1e-5
_EYE3 = np.eye(3)
_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0])


def check_rotation(R: object, name: str = "R", *, atol: float = ROTATION_ATOL) -> np.ndarray:
    """Validate a rotation matrix or a stack of them (``(..., 3, 3)``) and return it as float64.

    Raises:
        ValidationError: wrong shape, non-finite values, not orthonormal or a reflection (det -1).
    """
    R = check_array(R, name, dtype=np.float64, kinds="fiu", finite=True)
    if R.ndim < 2 or R.shape[-2:] != (3, 3):
        raise ValidationError(f"{name}: expected a 3x3 rotation matrix (or a stack (..., 3, 3)), got shape {R.shape}")
    if R.shape == (3, 3):  # one matrix (the common case, per call in hot loops): no stacked linear algebra
        (a, b, c), (d, e, f), (g, h, i) = R.tolist()
        err = float(np.abs(R.T @ R - _EYE3).max())
        det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
        if err <= atol and abs(det - 1.0) <= atol:
            return R
    else:
        err = np.abs(np.swapaxes(R, -1, -2) @ R - np.eye(3)).max(axis=(-2, -1))
        det = np.linalg.det(R)
    bad = (err > atol) | (np.abs(det - 1.0) > atol)
    if np.any(bad):
        idx = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
        where = f" at index {tuple(int(i) for i in idx)}" if idx else ""
        e, d = np.asarray(err)[idx], np.asarray(det)[idx]
        kind = "a reflection (det -1)" if d < 0 else "not orthonormal"
        raise ValidationError(
            f"{name}{where} is {kind}: max |R^T R - I| = {e:.3g}, det = {d:.6f} (tolerance {atol:g}). "
            "Re-orthonormalise it (e.g. Rotation.from_matrix(R).as_matrix()) if it is a rounded rotation."
        )
    return R


def check_transform(T: object, name: str = "T", *, atol: float = ROTATION_ATOL) -> np.ndarray:
    """Validate a rigid transform (4x4) or a stack (``(..., 4, 4)``) and return it as float64.

    Raises:
        ValidationError: wrong shape, NaN/inf, rotation block not a rotation, or last row not ``[0, 0, 0, 1]``.
    """
    T = check_array(T, name, dtype=np.float64, kinds="fiu", finite=True)
    if T.ndim < 2 or T.shape[-2:] != (4, 4):
        raise ValidationError(f"{name}: expected a 4x4 rigid transform (or a stack (..., 4, 4)), got shape {T.shape}")
    last = T[..., 3, :]
    if T.shape == (4, 4):
        ok = last.tolist() == [0.0, 0.0, 0.0, 1.0] or bool(np.abs(last - _LAST_ROW).max() <= 1e-12)
    else:
        ok = bool(np.allclose(last, _LAST_ROW, atol=1e-12, rtol=0))
    if not ok:
        raise ValidationError(f"{name}: the last row of a rigid transform must be [0, 0, 0, 1], got {T[..., 3, :]}")
    check_rotation(T[..., :3, :3], f"{name} (rotation block)", atol=atol)
    return T
