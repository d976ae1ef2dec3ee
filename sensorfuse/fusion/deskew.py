"""Motion compensation ("deskew") of a LiDAR sweep: every point moved to where it would have been measured from the
sensor's pose at one chosen time.

A point ``p`` measured at time ``t_i`` in the sensor frame is, in the world, ``T_world_sensor(t_i) @ p``; seen from
the sensor at the target time ``t*``::

    p_sensor_t* = inv(T_world_sensor(t*)) @ T_world_sensor(t_i) @ p,    T_world_sensor(t) = T_world_base(t) @ T_base_sensor

with ``T_world_base`` interpolated from a stated pose source (odometry, GNSS-INS poses) by
:func:`~sensorfuse.fusion.interpolate.poses_at`. With the default linear interpolation (SLERP + linear) a numba kernel
(:mod:`sensorfuse.geometry.deskew_kernel`) builds one transform per run of equal point times (a firing: about 2,000
per sweep) from the dozen poses around the sweep and applies it to the points: ~1 ms for a 124,000-point sweep, no
(N, 3, 3) temporaries. The cubic method interpolates each distinct time with SciPy splines (vectorised, slower).

Static-scene points end up where a snapshot at ``t*`` would have seen them; moving objects keep their own motion
(that needs tracking, not ego-motion).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from sensorfuse.errors import ValidationError
from sensorfuse.fusion.interpolate import (
    Interpolated,
    default_max_gap_ns,
    interpolation_status,
    poses_at,
    require_ok,
)
from sensorfuse.geometry.transforms import check_transform, invert_transform
from sensorfuse.types import PointCloud, PoseTrajectory

__all__ = ["Deskewed", "deskew", "deskew_points"]


@dataclass(frozen=True, eq=False)
class Deskewed:
    """Points moved to ``target_ns`` (sensor frame at that time) and what was done.

    Attributes:
        xyz: (N, 3) points in the sensor frame at ``target_ns`` (float64, or the caller's ``out`` array).
        target_ns: the time the points now refer to (reference clock).
        max_shift_m: largest displacement applied to a point (how much skew there was).
        pose_times: poses interpolated (one per distinct point time; per run of equal times for ``linear``).
    """

    xyz: np.ndarray
    target_ns: int
    max_shift_m: float
    pose_times: int


def deskew_points(
    xyz: object,
    point_ns: object,
    poses: PoseTrajectory,
    T_base_sensor: object,
    target_ns: int,
    *,
    method: str = "linear",
    max_gap_ns: int | None = None,
    max_extrapolation_ns: int = 0,
    what: str = "cloud",
    out: np.ndarray | None = None,
) -> Deskewed:
    """Deskew points given their absolute times (see the module docstring).

    Args:
        xyz: (N, 3) points in the sensor frame, each measured at ``point_ns``.
        point_ns: (N,) int64 absolute point times on the poses' clock.
        poses: ``T_world_base`` over time (the pose source).
        T_base_sensor: (4, 4) extrinsic of the LiDAR on the body the poses describe.
        target_ns: the time to move every point to (sweep end, a camera's mid-exposure time, ...).
        method, max_gap_ns, max_extrapolation_ns: see :func:`~sensorfuse.fusion.interpolate.poses_at`.
        out: optional (N, 3) float32 or float64 array to write the result into (and return as ``xyz``), for callers
            that reuse buffers.

    Raises:
        ExtrapolationError: the poses do not cover the point times and the target (nothing is deskewed half way).
        ValidationError: shapes.
    """
    p = np.asarray(xyz)
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)
    t = np.ascontiguousarray(point_ns, np.int64).ravel()
    if p.ndim != 2 or p.shape[1] != 3 or p.shape[0] != t.shape[0]:
        raise ValidationError(f"{what}: expected xyz (N, 3) and point_ns (N,), got {p.shape} and {t.shape}")
    T_bs = check_transform(T_base_sensor, "T_base_sensor")
    if out is None:
        out = np.empty(p.shape, np.float64)
    elif out.shape != p.shape or out.dtype not in (np.float32, np.float64):
        raise ValidationError(
            f"{what}: out must be a float (N, 3) array like xyz {p.shape}, got {out.dtype} {out.shape}"
        )
    if p.shape[0] == 0:
        return Deskewed(out, int(target_ns), 0.0, 0)
    if method == "linear":
        return _deskew_linear(p, t, poses, T_bs, int(target_ns), max_gap_ns, max_extrapolation_ns, what, out)
    uniq, inv = np.unique(t, return_inverse=True)
    q = np.r_[uniq, np.int64(target_ns)]
    T_wb = require_ok(
        poses_at(poses, q, method=method, max_gap_ns=max_gap_ns, max_extrapolation_ns=max_extrapolation_ns),
        f"deskew {what}: poses {poses.world_frame} <- {poses.body_frame}",
    ).value
    T_ws = T_wb @ T_bs  # world <- sensor at each distinct time, then at the target
    T_target_i = invert_transform(T_ws[-1]) @ T_ws[:-1]  # sensor@target <- sensor@t_i
    R = T_target_i[:, :3, :3][inv]
    out[:] = np.einsum("nij,nj->ni", R, p) + T_target_i[:, :3, 3][inv]
    shift = float(np.sqrt(((out - p) ** 2).sum(axis=1)).max())
    return Deskewed(out, int(target_ns), shift, int(uniq.size))


def _deskew_linear(
    p: np.ndarray,
    t: np.ndarray,
    poses: PoseTrajectory,
    T_bs: np.ndarray,
    target_ns: int,
    max_gap_ns: int | None,
    max_extrapolation_ns: int,
    what: str,
    out: np.ndarray,
) -> Deskewed:
    """SLERP + linear poses through the numba kernel, on the few poses around the sweep (no per-point arrays of
    matrices). Coverage is checked first at the sweep's first and last point times, the target and one time inside
    each pose interval the sweep spans, so a gap or a missing end raises as it would per point."""
    from sensorfuse.geometry.deskew_kernel import deskew_kernel, pose_kernel

    stamps, quat, trans, default_gap = _kernel_table(poses)
    t_lo, t_hi = int(t.min()), int(t.max())
    lo, hi = min(t_lo, target_ns), max(t_hi, target_ns)
    a = max(int(np.searchsorted(stamps, lo, side="right")) - 1, 0)
    b = min(int(np.searchsorted(stamps, hi, side="left")) + 1, stamps.size)
    if max_gap_ns is None:
        max_gap_ns = default_gap
    s = stamps[a:b]
    mids = s[:-1] + (s[1:] - s[:-1]) // 2
    q = np.r_[np.int64(target_ns), t_lo, t_hi, mids[(mids > t_lo) & (mids < t_hi)]].astype(np.int64)
    status = interpolation_status(stamps, q, max_gap_ns, max_extrapolation_ns)
    require_ok(
        Interpolated(np.zeros(q.size), status, q), f"deskew {what}: poses {poses.world_frame} <- {poses.body_frame}"
    )
    T_target = pose_kernel(s, quat[a:b], trans[a:b], np.int64(target_ns))
    shift, runs = deskew_kernel(p, t, s, quat[a:b], trans[a:b], T_bs, invert_transform(T_target @ T_bs), out)
    return Deskewed(out, target_ns, float(shift), int(runs))


_TABLES: weakref.WeakKeyDictionary[PoseTrajectory, tuple[np.ndarray, np.ndarray, np.ndarray, int]] = (
    weakref.WeakKeyDictionary()
)
_TABLES_LOCK = threading.Lock()


def _kernel_table(poses: PoseTrajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(stamps, quaternions xyzw, translations, default gap limit) of a trajectory, computed once per trajectory (a
    sync run deskews hundreds of sweeps with the same one)."""
    with _TABLES_LOCK:
        table = _TABLES.get(poses)
        if table is None:
            from scipy.spatial.transform import Rotation

            T = poses.T_world_body
            s = poses.stamp_ns
            quat = Rotation.from_matrix(T[:, :3, :3]).as_quat()
            table = (s, quat, np.ascontiguousarray(T[:, :3, 3]), default_max_gap_ns(s))
            _TABLES[poses] = table
    return table


def deskew(
    cloud: PointCloud,
    poses: PoseTrajectory,
    T_base_sensor: object,
    target_ns: int | None = None,
    *,
    method: str = "linear",
    max_gap_ns: int | None = None,
    max_extrapolation_ns: int = 0,
) -> Deskewed:
    """Deskew a :class:`~sensorfuse.types.PointCloud` with per-point times (``t_offset_ns``) to ``target_ns``
    (default: the sweep end, the latest point time). The cloud's stamp must be on the poses' clock (apply the
    LiDAR's clock model first).

    Raises:
        ValidationError: the cloud has no per-point time.
    """
    if cloud.t_offset_ns is None:
        raise ValidationError(
            f"cloud {cloud.frame_id} at {cloud.stamp_ns}: no per-point time, cannot deskew "
            "(the reader states the stream's point-time layout; use --deskew none for such clouds)"
        )
    t = cloud.point_stamps_ns
    target = int(t.max()) if target_ns is None and t.size else int(target_ns if target_ns is not None else 0)
    return deskew_points(
        cloud.xyz,
        t,
        poses,
        T_base_sensor,
        target,
        method=method,
        max_gap_ns=max_gap_ns,
        max_extrapolation_ns=max_extrapolation_ns,
        what=f"cloud {cloud.frame_id} at {cloud.stamp_ns}",
    )
