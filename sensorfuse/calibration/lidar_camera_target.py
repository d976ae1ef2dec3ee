"""LiDAR -> camera extrinsics from a planar board seen by both sensors.

The camera gives the board's pose at each image (corners -> PnP through the full camera model). The LiDAR gives
points on the board. A board that moves (held by a person, or the vehicle driving) is at a different place for each
LiDAR point: every point is paired with the board pose *at that point's own time*, interpolated (SLERP + linear)
between the two images around it, so the sweep's rolling acquisition and the camera's frame timing do not bias the
result. Poses are only interpolated across gaps of at most ``max_gap_ns`` (a missed detection is not bridged).

The extrinsic ``T_cam_lidar`` minimises, over all points of all board poses jointly, the distance of each point to
its board plane, with a robust (soft L1) loss; points are selected on the board with tolerances that shrink as the
solution improves (0.5 m -> 0.15 m -> 5 sigma of the range noise), so an initial guess a few degrees and decimetres
off still finds the board. With ``border_m`` given (the board's edge around the corner grid), points outside the
board outline are pulled in too (a one-sided in-plane residual), which helps when the board normals span little.

Quality figures: residual RMS, points and poses used, per-pose mean residual (a pose with a wrong detection shows),
the parameter standard deviations from the Gauss-Newton covariance (deg, m) and the spread of the board normals.
Refused with :class:`~sensorfuse.errors.CalibrationError`: fewer than 3 usable board poses, board normals spread
less than ``min_normal_spread_deg`` (translation along the common normal is then unobservable), no LiDAR returns on
the board (the initial extrinsic or the clocks are far off), or a result whose standard deviation exceeds what the
data should give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorfuse._checks import sort_unique
from sensorfuse.calibration.board import BoardPose
from sensorfuse.errors import CalibrationError, ValidationError
from sensorfuse.geometry.interpolation import bracket, interpolate_poses
from sensorfuse.geometry.transforms import se3_exp, transform_difference

__all__ = ["TargetResult", "calibrate_lidar_camera_target"]


#: point-to-board selection tolerances (plane distance, outline margin) per round, m; the last round uses 5 sigma
TOLERANCES_M = (0.5, 0.15)


MIN_POSES = 3


MIN_POINTS_PER_POSE = 10


@dataclass
class TargetResult:
    """A target-based LiDAR -> camera calibration.

    Attributes:
        T_cam_lidar: the result.
        rms_m: RMS point-to-board distance of the points used.
        std_deg, std_m: one-sigma rotation / translation uncertainty (largest axis) from the covariance.
        std_axes: per-parameter standard deviations (rx, ry, rz in deg; tx, ty, tz in m).
        poses: board poses (images) used; points: LiDAR points used; sweeps: sweeps with board points.
        normal_spread_deg: largest angle between two board normals used.
        per_pose_mm: mean signed point-to-board residual per sweep, mm (an outlier pose shows here).
        change_deg, change_m: from the initial extrinsic.
    """

    T_cam_lidar: np.ndarray
    rms_m: float
    std_deg: float
    std_m: float
    std_axes: np.ndarray
    poses: int
    points: int
    sweeps: int
    normal_spread_deg: float
    per_pose_mm: np.ndarray
    change_deg: float
    change_m: float
    notes: list[str] = field(default_factory=list)

    def quality(self) -> dict[str, Any]:
        return {
            "method": "target (board planes)",
            "rms_mm": round(self.rms_m * 1e3, 3),
            "std_deg": round(self.std_deg, 4),
            "std_mm": round(self.std_m * 1e3, 3),
            "poses": self.poses,
            "sweeps": self.sweeps,
            "points": self.points,
            "normal_spread_deg": round(self.normal_spread_deg, 2),
            "worst_sweep_mean_mm": round(float(np.max(np.abs(self.per_pose_mm))), 3) if self.per_pose_mm.size else None,
            "change_deg": round(self.change_deg, 4),
            "change_m": round(self.change_m, 4),
        }


@dataclass
class _Points:
    """Points paired with their board pose: ``p`` (N, 3) LiDAR frame; ``R_bc``/``t_bc`` (N, 3, 3)/(N, 3) the
    camera -> board transform at each point's time; ``sweep`` (N,) index."""

    p: np.ndarray
    R_bc: np.ndarray
    t_bc: np.ndarray
    sweep: np.ndarray

    def board_coords(self, T_cam_lidar: np.ndarray) -> np.ndarray:
        Pc = self.p @ T_cam_lidar[:3, :3].T + T_cam_lidar[:3, 3]
        return np.einsum("nij,nj->ni", self.R_bc, Pc) + self.t_bc

    def take(self, m: np.ndarray) -> _Points:
        return _Points(self.p[m], self.R_bc[m], self.t_bc[m], self.sweep[m])


def _pair_points(
    sweeps: list[tuple[np.ndarray, np.ndarray]],
    poses: list[BoardPose],
    T_init: np.ndarray,
    max_gap_ns: int,
    centre: np.ndarray,
    reach_m: float,
) -> _Points:
    """Every LiDAR point whose time lies between two board poses at most ``max_gap_ns`` apart, and near the board
    under ``T_init`` (within ``reach_m`` of ``centre``, in board coordinates), with its interpolated camera -> board
    transform."""
    stamps = np.array([b.stamp_ns for b in poses], np.int64)
    T_cb = np.array([b.T_cam_board for b in poses])
    keep = sort_unique(stamps, keep="first")
    stamps, T_cb = stamps[keep], T_cb[keep]
    centres = T_cb[:, :3, :3] @ centre + T_cb[:, :3, 3]  # the board centre in the camera frame at each image
    out_p, out_R, out_t, out_s = [], [], [], []
    for k, (xyz, t_ns) in enumerate(sweeps):
        if stamps.size < 2:
            break
        inside = (t_ns >= stamps[0]) & (t_ns <= stamps[-1])
        if not inside.any():
            continue
        idx = np.flatnonzero(inside)
        i0 = bracket(stamps, t_ns[idx], extrapolation="hold")[0]
        bridged = (stamps[i0 + 1] - stamps[i0]) <= max_gap_ns
        idx, i0 = idx[bridged], i0[bridged]
        # rough gate, before any interpolation: within reach of the board centre at the earlier bracketing pose
        # under the initial extrinsic (the board moves a few cm between images; the reach allows for it)
        p = np.asarray(xyz[idx], np.float64)
        Pc = p @ T_init[:3, :3].T + T_init[:3, 3]
        near = np.linalg.norm(Pc - centres[i0], axis=1) < reach_m
        if not near.any():
            continue
        T, _ = interpolate_poses(stamps, T_cb, t_ns[idx[near]], extrapolation="hold")
        R_bc = np.transpose(T[:, :3, :3], (0, 2, 1))
        out_p.append(p[near])
        out_R.append(R_bc)
        out_t.append(-np.einsum("nij,nj->ni", R_bc, T[:, :3, 3]))
        out_s.append(np.full(int(near.sum()), k))
    if not out_p:
        return _Points(np.empty((0, 3)), np.empty((0, 3, 3)), np.empty((0, 3)), np.empty(0, np.int64))
    return _Points(np.concatenate(out_p), np.concatenate(out_R), np.concatenate(out_t), np.concatenate(out_s))


def _thin(sweep: np.ndarray, cap: int) -> np.ndarray:
    """Mask keeping at most ``cap`` points per sweep, evenly spaced in each sweep's order."""
    keep = np.ones(sweep.shape, bool)
    _, start, counts = np.unique(sweep, return_index=True, return_counts=True)
    for s0, n in zip(start, counts, strict=True):
        if n > cap:
            m = np.zeros(n, bool)
            m[np.linspace(0, n - 1, cap).round().astype(np.int64)] = True
            keep[s0 : s0 + n] = m
    return keep


def _outline_excess(q: np.ndarray, outline: tuple[float, float, float, float]) -> np.ndarray:
    """How far (m) each board-plane point lies outside the outline ``(x0, x1, y0, y1)`` (0 inside)."""
    x0, x1, y0, y1 = outline
    dx = np.maximum(np.maximum(x0 - q[:, 0], q[:, 0] - x1), 0.0)
    dy = np.maximum(np.maximum(y0 - q[:, 1], q[:, 1] - y1), 0.0)
    return np.hypot(dx, dy)


def calibrate_lidar_camera_target(
    sweeps: list[tuple[np.ndarray, np.ndarray]],
    poses: list[BoardPose],
    T_init: np.ndarray,
    *,
    board_extent: tuple[float, float, float, float],
    border_m: float | None = None,
    range_std_m: float = 0.01,
    max_gap_ns: int = 70_000_000,
    min_normal_spread_deg: float = 15.0,
    max_std_deg: float = 0.1,
    max_std_m: float = 0.005,
    max_points_per_sweep: int = 250,
) -> TargetResult:
    """Solve ``T_cam_lidar`` from LiDAR sweeps and camera board poses.

    Args:
        sweeps: per LiDAR sweep ``(xyz (N, 3) in the LiDAR frame, t_ns (N,) int64 absolute time of each point)``,
            in the camera's clock (apply clock offsets first).
        poses: board poses from :func:`board_pose`, any order.
        T_init: initial ``T_cam_lidar`` (e.g. /tf_static): must put the board within about 0.5 m.
        board_extent: the corner grid's bounding box on the board, ``(x0, x1, y0, y1)`` m in board coordinates.
        border_m: the board's edge beyond the corner grid, m (``None``: unknown; an eighth of the grid's width is
            assumed for the selection only, and there is no outline residual).
        range_std_m: LiDAR range noise; the final selection keeps points within 5 sigma of the plane.
        max_gap_ns: board poses further apart than this are not interpolated between.
        min_normal_spread_deg: refuse when the board normals span less.
        max_std_deg, max_std_m: refuse a result less certain than this (one sigma).
        max_points_per_sweep: points of one sweep beyond this are thinned evenly (they add time, little
            information: the pose's plane error dominates).

    Raises:
        CalibrationError: too few board poses or returns on the board, too little tilt variety, an uncertain result.
    """
    from scipy.optimize import least_squares

    T_init = np.asarray(T_init, np.float64)
    if T_init.shape != (4, 4):
        raise ValidationError(f"T_init: expected a 4x4 transform, got shape {T_init.shape}")
    if len(poses) < MIN_POSES:
        raise CalibrationError(
            f"{len(poses)} board pose(s) found in the images; need >= {MIN_POSES} (more, and tilted differently, is "
            "better): record the board in more positions, or check the --board spec"
        )
    x0, x1, y0, y1 = board_extent
    assumed = border_m is None
    border = (x1 - x0) / 8 if assumed else float(border_m)
    outline = (x0 - border, x1 + border, y0 - border, y1 + border)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2, 0.0])
    half_diag = float(np.hypot(outline[1] - outline[0], outline[3] - outline[2]) / 2)
    pts = _pair_points(sweeps, poses, T_init, max_gap_ns, centre, half_diag + TOLERANCES_M[0] + 0.5)
    if pts.p.shape[0] == 0:
        raise CalibrationError(
            "no LiDAR point lies near the board at any image time: check the initial extrinsic (must be within "
            "~0.5 m / a few degrees), the LiDAR and camera clocks, and that the LiDAR sees the board"
        )
    notes: list[str] = []
    p = np.zeros(6)
    tols = (*TOLERANCES_M, 5.0 * range_std_m)
    sel = pts
    res = None
    for tol in tols:
        T = se3_exp(p) @ T_init
        q = pts.board_coords(T)
        m = (np.abs(q[:, 2]) < tol) & (_outline_excess(q, outline) < tol)
        sel = pts.take(m)
        counts = np.bincount(sel.sweep, minlength=len(sweeps))
        good = counts >= MIN_POINTS_PER_POSE
        sel = sel.take(good[sel.sweep] & _thin(sel.sweep, max_points_per_sweep))
        if good.sum() < MIN_POSES:
            raise CalibrationError(
                f"only {int(good.sum())} sweep(s) have >= {MIN_POINTS_PER_POSE} LiDAR points on the board (tolerance "
                f"{tol * 100:.0f} cm); need >= {MIN_POSES}: check the initial extrinsic and the clocks, or record the "
                "board nearer the LiDAR"
            )

        def residuals(x: np.ndarray, s: _Points = sel) -> np.ndarray:
            qq = s.board_coords(se3_exp(x) @ T_init)
            if assumed:  # no outline residual without the border
                return qq[:, 2]
            return np.r_[qq[:, 2], _outline_excess(qq, outline)]

        scale = max(tol / 5, range_std_m)
        res = least_squares(residuals, p, loss="soft_l1", f_scale=2 * scale, x_scale=np.r_[[0.01] * 3, [0.05] * 3])
        p = res.x
    assert res is not None
    T = se3_exp(p) @ T_init
    q = sel.board_coords(T)
    r = q[:, 2]
    # normals spread: board z axes in the camera frame at the used sweeps
    normals = sel.R_bc[:, 2, :]
    _, first = np.unique(sel.sweep, return_index=True)
    nrm = normals[first]
    spread = float(np.degrees(np.arccos(np.clip(np.min(nrm @ nrm.T * np.sign(nrm @ nrm.T)), -1, 1))))
    if spread < min_normal_spread_deg:
        raise CalibrationError(
            f"the board normals span only {spread:.1f} deg (need >= {min_normal_spread_deg:.0f}): the translation "
            "along them cannot be told from a board offset. Tilt and turn the board more between poses"
        )
    # covariance: (J^T J)^-1 * sigma^2 from the plane residuals at the result
    J = res.jac[: r.size]
    sigma2 = float(np.sum(r**2) / max(r.size - 6, 1))
    try:
        cov = np.linalg.inv(J.T @ J) * sigma2
    except np.linalg.LinAlgError:
        raise CalibrationError("the board poses do not constrain all six extrinsic parameters") from None
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    std_axes = np.r_[np.degrees(std[:3]), std[3:]]
    std_deg, std_m = float(np.max(std_axes[:3])), float(np.max(std_axes[3:]))
    per_sweep = np.array([r[sel.sweep == k].mean() * 1e3 for k in np.unique(sel.sweep)])
    rms = float(np.sqrt(np.mean(r**2)))
    t_lo, t_hi = min(b.stamp_ns for b in poses), max(b.stamp_ns for b in poses)
    during = sum(1 for _, t in sweeps if t.size and t.max() >= t_lo and t.min() <= t_hi)
    if assumed:
        notes.append("board border unknown: no outline residual (plane residuals only)")
    if std_deg > max_std_deg or std_m > max_std_m:
        raise CalibrationError(
            f"the result is uncertain: one sigma {std_deg:.3f} deg / {std_m * 1e3:.1f} mm (allowed {max_std_deg} deg / "
            f"{max_std_m * 1e3:.0f} mm) from {len(per_sweep)} of {during} sweeps taken while the board was seen, "
            f"{r.size} points, residual RMS {rms * 1e3:.1f} mm: record more board poses (nearer, tilted in all "
            "directions), or check the initial extrinsic and the clocks (few sweeps with board points, or a large "
            "residual, mean the board was looked for in the wrong place)"
        )
    change_deg, change_m = transform_difference(T, T_init)
    return TargetResult(
        T_cam_lidar=T,
        rms_m=rms,
        std_deg=std_deg,
        std_m=std_m,
        std_axes=std_axes,
        poses=len(poses),
        points=int(r.size),
        sweeps=len(per_sweep),
        normal_spread_deg=spread,
        per_pose_mm=per_sweep,
        change_deg=change_deg,
        change_m=change_m,
        notes=notes,
    )
