"""The numba kernel behind :func:`sensorfuse.fusion.deskew_points` (linear pose interpolation).

For each point at time ``t_i`` the kernel interpolates ``T_world_base(t_i)`` between the two bracketing poses (SLERP
on the rotation, linear on the translation: the same interpolant as
:func:`~sensorfuse.geometry.interpolate_poses`) and maps the point through
``inv(T_world_sensor(t*)) @ T_world_base(t_i) @ T_base_sensor``. The 3x4 transform is built once per distinct point
time (points of one firing share a time and come together in a sweep) and applied to each point: a sweep of 130,000
points takes about a millisecond, with no (N, 3, 3) temporaries. It releases the GIL so a writer thread can deskew
while the reader decodes.

The caller checks coverage (out of range, gaps) before calling; here ends are held (``frac`` clipped to [0, 1]).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["deskew_kernel", "pose_kernel"]


@nb.njit(cache=True, nogil=True)
def _slerp_matrix(q0: np.ndarray, q1: np.ndarray, f: float, R: np.ndarray) -> None:
    """R = rotation matrix of slerp(q0, q1, f) along the shorter arc; quaternions (x, y, z, w), unit."""
    x0, y0, z0, w0 = q0[0], q0[1], q0[2], q0[3]
    x1, y1, z1, w1 = q1[0], q1[1], q1[2], q1[3]
    # relative rotation d = conj(q0) * q1
    dw = w0 * w1 + x0 * x1 + y0 * y1 + z0 * z1
    dx = w0 * x1 - x0 * w1 - y0 * z1 + z0 * y1
    dy = w0 * y1 + x0 * z1 - y0 * w1 - z0 * x1
    dz = w0 * z1 - x0 * y1 + y0 * x1 - z0 * w1
    if dw < 0.0:  # shortest arc
        dw, dx, dy, dz = -dw, -dx, -dy, -dz
    s = math.sqrt(dx * dx + dy * dy + dz * dz)  # sin(theta / 2)
    if s < 1e-15:
        ew, ex, ey, ez = 1.0, 0.0, 0.0, 0.0
    else:
        half = math.atan2(s, dw)  # theta / 2 in [0, pi / 2]
        k = math.sin(f * half) / s
        ew, ex, ey, ez = math.cos(f * half), dx * k, dy * k, dz * k
    # q = q0 * e
    w = w0 * ew - x0 * ex - y0 * ey - z0 * ez
    x = w0 * ex + x0 * ew + y0 * ez - z0 * ey
    y = w0 * ey - x0 * ez + y0 * ew + z0 * ex
    z = w0 * ez + x0 * ey - y0 * ex + z0 * ew
    n = 1.0 / math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w * n, x * n, y * n, z * n
    R[0, 0] = 1.0 - 2.0 * (y * y + z * z)
    R[0, 1] = 2.0 * (x * y - z * w)
    R[0, 2] = 2.0 * (x * z + y * w)
    R[1, 0] = 2.0 * (x * y + z * w)
    R[1, 1] = 1.0 - 2.0 * (x * x + z * z)
    R[1, 2] = 2.0 * (y * z - x * w)
    R[2, 0] = 2.0 * (x * z - y * w)
    R[2, 1] = 2.0 * (y * z + x * w)
    R[2, 2] = 1.0 - 2.0 * (x * x + y * y)


@nb.njit(cache=True, nogil=True)
def _bracket(stamps: np.ndarray, ti: np.int64, j: int) -> tuple[int, float]:
    """(j, frac): stamps[j] <= ti < stamps[j + 1] with j clipped to [0, K - 2] and frac to [0, 1] (held ends);
    ``j`` is the previous answer, kept when it still brackets ``ti`` (points come in time order)."""
    k = stamps.shape[0]
    if k == 1:
        return 0, 0.0
    if ti < stamps[j] or (j + 1 < k and ti >= stamps[j + 1]):
        lo, hi = 0, k - 1
        while lo < hi:  # last index with stamps[idx] <= ti
            mid = (lo + hi + 1) // 2
            if stamps[mid] <= ti:
                lo = mid
            else:
                hi = mid - 1
        j = lo
    if j > k - 2:
        j = k - 2
    f = (ti - stamps[j]) / (stamps[j + 1] - stamps[j])
    return j, min(max(f, 0.0), 1.0)


@nb.njit(cache=True, nogil=True)
def _pose_at(
    stamps: np.ndarray, quat: np.ndarray, trans: np.ndarray, ti: np.int64, j: int, R: np.ndarray, t: np.ndarray
) -> int:
    """``T_world_base`` at ``ti`` into ``R`` (3, 3) and ``t`` (3,): SLERP + linear between the bracketing poses
    (ends held); ``j`` is the previous bracket (see :func:`_bracket`), the new one is returned."""
    j, f = _bracket(stamps, ti, j)
    j1 = j + 1 if stamps.shape[0] > 1 else j
    _slerp_matrix(quat[j], quat[j1], f, R)
    for r in range(3):
        t[r] = trans[j, r] + f * (trans[j1, r] - trans[j, r])
    return j


@nb.njit(cache=True, nogil=True)
def pose_kernel(stamps: np.ndarray, quat: np.ndarray, trans: np.ndarray, ti: np.int64) -> np.ndarray:
    """``T_world_base`` (4, 4) at ``ti``: SLERP + linear between the bracketing poses (ends held)."""
    T = np.eye(4)
    R = np.empty((3, 3))
    t = np.empty(3)
    _pose_at(stamps, quat, trans, ti, 0, R, t)
    for r in range(3):
        for c in range(3):
            T[r, c] = R[r, c]
        T[r, 3] = t[r]
    return T


@nb.njit(cache=True, nogil=True)
def deskew_kernel(
    xyz: np.ndarray,
    t: np.ndarray,
    stamps: np.ndarray,
    quat: np.ndarray,
    trans: np.ndarray,
    T_base_sensor: np.ndarray,
    T_target_world: np.ndarray,
    out: np.ndarray,
) -> tuple[float, int]:
    """Deskew ``xyz`` (N, 3) measured at ``t`` (N,) int64 into ``out`` (N, 3) float64; returns the largest shift.

    ``stamps`` (K,) int64 strictly increasing with ``quat`` (K, 4) xyzw and ``trans`` (K, 3) = ``T_world_base``;
    ``T_target_world`` = inverse of ``T_world_sensor`` at the target time. ``out`` may be float32 (rounded on
    store). Returns ``(largest shift, transforms built)``.
    """
    n = xyz.shape[0]
    R = np.empty((3, 3))
    tw = np.empty(3)
    M = np.empty((3, 4))  # sensor@target <- sensor@t
    A = np.empty((3, 4))  # world <- sensor@t
    last = np.int64(0)
    have = False
    j = 0
    shift2 = 0.0
    runs = 0
    for i in range(n):
        ti = t[i]
        if not have or ti != last:
            j = _pose_at(stamps, quat, trans, ti, j, R, tw)
            for r in range(3):
                for c in range(4):
                    v = R[r, 0] * T_base_sensor[0, c] + R[r, 1] * T_base_sensor[1, c] + R[r, 2] * T_base_sensor[2, c]
                    A[r, c] = v + (tw[r] if c == 3 else 0.0)
            for r in range(3):
                for c in range(4):
                    v = T_target_world[r, 0] * A[0, c] + T_target_world[r, 1] * A[1, c] + T_target_world[r, 2] * A[2, c]
                    M[r, c] = v + (T_target_world[r, 3] if c == 3 else 0.0)
            last = ti
            have = True
            runs += 1
        px, py, pz = float(xyz[i, 0]), float(xyz[i, 1]), float(xyz[i, 2])
        d2 = 0.0
        for r in range(3):
            v = M[r, 0] * px + M[r, 1] * py + M[r, 2] * pz + M[r, 3]
            out[i, r] = v
            p = px if r == 0 else (py if r == 1 else pz)
            d2 += (v - p) * (v - p)
        if d2 > shift2:
            shift2 = d2
    return math.sqrt(shift2), runs
