"""LiDAR -> LiDAR extrinsic by registering one sensor's cloud onto the other's from an initial guess.

small_gicp's GICP (point-to-distribution, robust to the different beam patterns of two LiDARs) run coarse to fine:
each scale downsamples both clouds to a voxel size and accepts correspondences within a few voxels, starting from the
previous scale's result (the first from the initial guess). Reported with the result:

- *overlap*: the share of the source's downsampled points inside the target LiDAR's reach (the 95th percentile of
  its ranges) with a target point within 3 voxels of the finest scale, before (at the initial guess) and after: how
  much of the two clouds sees the same structure;
- *RMSE* of those inlier distances, before and after;
- per-axis standard deviation of the 6 parameters from GICP's Gauss-Newton Hessian (``inv(H)`` scaled by the
  residual per degree of freedom: a linearised figure, optimistic where the residuals are correlated, so it is a
  lower bound), its condition number, and the weakest direction: a cloud pair that is a corridor or a flat ground
  leaves translation along it undetermined;
- how far the result moved from the initial guess.

Refused (:class:`~sensorfuse.errors.CalibrationError`) when the clouds barely overlap at the result (< 10 %), when a
component is less certain than the limits (``max_rotation_std_deg``, ``max_translation_std_m``: named), or when a
scale fails to converge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from sensorfuse.errors import CalibrationError
from sensorfuse.geometry.transforms import check_transform, transform_difference

__all__ = ["DEFAULT_SCALES", "LidarLidarResult", "register_lidar_lidar"]

#: (voxel size, max correspondence distance) in metres, coarse to fine
DEFAULT_SCALES = ((1.0, 3.0), (0.5, 1.5), (0.25, 0.75), (0.1, 0.3))

AXES = ("roll (x)", "pitch (y)", "yaw (z)", "x", "y", "z")


@dataclass(frozen=True)
class LidarLidarResult:
    """``T_target_source`` and its quality figures (see the module docstring)."""

    T_target_source: np.ndarray
    T_init: np.ndarray
    overlap_before: float
    overlap_after: float
    rmse_before_m: float
    rmse_after_m: float
    rotation_std_deg: np.ndarray  # (3,) about the target frame's x, y, z
    translation_std_m: np.ndarray  # (3,)
    condition_number: float
    weakest: str
    scales: list[dict[str, Any]]

    @property
    def moved(self) -> tuple[float, float]:
        """(degrees, metres) between the initial guess and the result."""
        return transform_difference(self.T_init, self.T_target_source)

    def to_dict(self) -> dict[str, Any]:
        deg, m = self.moved
        return {
            "T_target_source": np.round(self.T_target_source, 9).tolist(),
            "moved_from_init": {"rotation_deg": round(deg, 4), "translation_m": round(m, 4)},
            "overlap": {"before": round(self.overlap_before, 4), "after": round(self.overlap_after, 4)},
            "rmse_m": {"before": round(self.rmse_before_m, 4), "after": round(self.rmse_after_m, 4)},
            "rotation_std_deg": [round(float(v), 5) for v in self.rotation_std_deg],
            "translation_std_m": [round(float(v), 5) for v in self.translation_std_m],
            "condition_number": round(self.condition_number, 2),
            "weakest": self.weakest,
            "scales": self.scales,
        }


def _fit(src: np.ndarray, tree: cKDTree, reach: float, T: np.ndarray, radius: float) -> tuple[float, float]:
    p = src @ T[:3, :3].T + T[:3, 3]
    p = p[np.einsum("ij,ij->i", p, p) <= reach**2]  # only where the target LiDAR sees at all
    d, _ = tree.query(p, distance_upper_bound=radius)
    ok = np.isfinite(d)
    return float(ok.mean()) if d.size else 0.0, float(np.sqrt(np.mean(d[ok] ** 2))) if ok.any() else float("inf")


def register_lidar_lidar(
    target_xyz: object,
    source_xyz: object,
    T_init: object,
    *,
    scales: tuple[tuple[float, float], ...] = DEFAULT_SCALES,
    min_overlap: float = 0.10,
    max_rotation_std_deg: float = 0.5,
    max_translation_std_m: float = 0.05,
    num_threads: int = 2,
) -> LidarLidarResult:
    """Register ``source_xyz`` onto ``target_xyz`` (each (N, 3) in its own sensor frame) from ``T_init``
    (``T_target_source``).

    Raises:
        CalibrationError: too few points, a scale that does not converge, overlap under ``min_overlap``, or a
            component less certain than the limits (named, with the weakest direction).
    """
    import small_gicp

    tgt = np.ascontiguousarray(np.asarray(target_xyz, np.float64)[:, :3])
    src = np.ascontiguousarray(np.asarray(source_xyz, np.float64)[:, :3])
    T0 = check_transform(T_init, "T_init")
    for name, a in (("target", tgt), ("source", src)):
        if a.shape[0] < 100 or not np.all(np.isfinite(a)):
            raise CalibrationError(f"LiDAR-LiDAR: the {name} cloud has {a.shape[0]} points (at least 100 finite)")
    T = T0.copy()
    figures = []
    res = None
    for voxel, dist in scales:
        t_pc, t_tree = small_gicp.preprocess_points(tgt, downsampling_resolution=voxel, num_neighbors=20)
        s_pc, _ = small_gicp.preprocess_points(src, downsampling_resolution=voxel, num_neighbors=20)
        res = small_gicp.align(t_pc, s_pc, t_tree, T, registration_type="GICP", max_correspondence_distance=dist,
                               num_threads=num_threads, max_iterations=64)  # fmt: skip
        if not res.converged:
            raise CalibrationError(
                f"LiDAR-LiDAR: GICP at {voxel} m voxels did not converge in 64 iterations (the initial guess is "
                "too far off or the clouds do not overlap): give a closer --init"
            )
        T = np.asarray(res.T_target_source)
        figures.append({"voxel_m": voxel, "max_correspondence_m": dist, "inliers": int(res.num_inliers),
                        "points": int(s_pc.size()), "iterations": int(res.iterations)})  # fmt: skip
    assert res is not None
    # fit figures at the finest scale, before and after
    voxel = scales[-1][0]
    s_fine = np.asarray(small_gicp.voxelgrid_sampling(src, voxel).points())[:, :3]
    tree = cKDTree(np.asarray(small_gicp.voxelgrid_sampling(tgt, voxel).points())[:, :3])
    reach = float(np.percentile(np.linalg.norm(tgt, axis=1), 95))
    radius = 3 * voxel
    ov0, rm0 = _fit(s_fine, tree, reach, T0, radius)
    ov1, rm1 = _fit(s_fine, tree, reach, T, radius)
    if ov1 < min_overlap:
        raise CalibrationError(
            f"LiDAR-LiDAR: only {ov1:.0%} of the source's points within the target's reach ({reach:.0f} m) have a "
            f"target point within {radius:g} m at the "
            f"result (at least {min_overlap:.0%}): the two LiDARs see too little of the same scene, or --init is off"
        )
    # small_gicp's Hessian is over (rotation, translation) of a right perturbation of T_target_source
    H = np.asarray(res.H, np.float64)
    dof = max(int(res.num_inliers) - 6, 1)
    try:
        cov = np.linalg.inv(H) * (2.0 * float(res.error) / dof)  # error = 0.5 * sum of squared Mahalanobis residuals
    except np.linalg.LinAlgError:
        raise CalibrationError(
            "LiDAR-LiDAR: the registration's Hessian is singular: the clouds are degenerate"
        ) from None
    # into the target frame: rotation perturbations rotate with R; translation ones too
    Rm = T[:3, :3]
    J = np.zeros((6, 6))
    J[:3, :3] = Rm
    J[3:, 3:] = Rm
    cov_t = J @ cov @ J.T
    std = np.sqrt(np.clip(np.diag(cov_t), 0, None))
    w, v = np.linalg.eigh(H)
    cond = float(w[-1] / max(w[0], 1e-300))
    k = int(np.argmax(np.abs(v[:, 0])))
    weakest = AXES[k] + (" rotation" if k < 3 else " translation")
    rot_std, tr_std = np.degrees(std[:3]), std[3:]
    bad = [
        f"rotation about {AXES[i]} (std {rot_std[i]:.3f} deg)" for i in range(3) if rot_std[i] > max_rotation_std_deg
    ]
    bad += [f"translation along {AXES[3 + i]} (std {tr_std[i] * 100:.1f} cm)" for i in range(3)
            if tr_std[i] > max_translation_std_m]  # fmt: skip
    if bad:
        raise CalibrationError(
            f"LiDAR-LiDAR: {'; '.join(bad)} not determined by these clouds (weakest direction: {weakest}, condition "
            f"number {cond:.0f}): add pairs with structure across that direction (walls, poles) or hold it to --init"
        )
    return LidarLidarResult(T, T0, ov0, ov1, rm0, rm1, rot_std, tr_std, cond, weakest, figures)
