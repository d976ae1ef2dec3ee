"""Radar ego-velocity from the Doppler of static detections, and the radar's mounting yaw and time offset from it.

A static target seen along the unit direction ``d`` (radar frame) has the radial velocity ``doppler = -d . v``, with
``v`` the radar's own velocity in its frame (positive Doppler = moving away, as :class:`~sensorfuse.types.RadarScan`
states). :func:`ego_velocity` fits ``v`` per scan by RANSAC over the detections (moving targets and clutter are the
outliers, counted; a consensus is scored by how wide a field of view it covers, so a large moving car cannot win) and then least squares on the inliers, with its covariance from the inlier residuals. A radar
whose detections span little elevation (a "2D" radar, or the ±2° of a 3D one at long range) cannot give the vertical
component: it is fitted in the plane (``vz`` held at 0) and named undetermined.

:func:`radar_mounting` compares those velocities with the vehicle's: ``v_radar = R_radar_base (v_base + w x p)``. In
the plane it gives the mounting yaw and, with the lever arm ``p`` known, a consistency check; the time offset comes
from the speed profile (``|v|`` is frame-free) by cross-correlation and a parabola, refined jointly with the yaw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorfuse.errors import CalibrationError

__all__ = [
    "EgoVelocities",
    "EgoVelocity",
    "RadarLidarResult",
    "RadarMounting",
    "ego_velocities",
    "ego_velocity",
    "radar_mounting",
    "refine_radar_lidar",
]


@dataclass(frozen=True)
class EgoVelocity:
    """The radar's velocity in its own frame at one scan."""

    stamp_ns: int
    velocity: np.ndarray  # (3,) m/s; vz = 0 where ``planar``
    covariance: np.ndarray  # (3, 3)
    inliers: np.ndarray  # (N,) bool: static detections
    planar: bool  # vz not determined (held at 0)
    residual_rms: float  # m/s, of the inliers
    coverage_bins: int  # 2 deg azimuth bins the inliers cover (how wide a view of the static world they are)

    @property
    def n_static(self) -> int:
        return int(self.inliers.sum())

    @property
    def n_moving(self) -> int:
        return int(self.inliers.size - self.inliers.sum())


def _directions(xyz: np.ndarray) -> np.ndarray:
    r = np.linalg.norm(xyz, axis=1)
    return xyz / np.maximum(r, 1e-9)[:, None]


def _azimuth_bins(d: np.ndarray) -> np.ndarray:
    """The 2 deg azimuth bin of each unit direction."""
    return np.floor(np.degrees(np.arctan2(d[:, 1], d[:, 0])) / 2.0).astype(np.int64)


def ego_velocity(
    xyz: object,
    doppler: object,
    stamp_ns: int = 0,
    *,
    threshold_mps: float = 0.25,
    min_static: int = 8,
    min_elevation_span_deg: float = 10.0,
    iterations: int = 100,
    seed: int = 0,
    prior: np.ndarray | None = None,
    gate_mps: float = np.inf,
) -> EgoVelocity:
    """The radar's velocity from one scan's detections (radar frame) and Doppler (m/s); with ``prior``, only
    velocities within ``gate_mps`` of it are considered (the motion of the neighbouring scans).

    Raises:
        CalibrationError: fewer than ``min_static`` detections agree on one velocity (an empty scan, a scene of
            moving targets), or their azimuths span too little to fix the velocity's direction.
    """
    p = np.asarray(xyz, np.float64)
    dop = np.asarray(doppler, np.float64)
    n = p.shape[0]
    if n < min_static:
        raise CalibrationError(f"radar scan at {stamp_ns}: {n} detections, at least {min_static} are needed")
    d = _directions(p)
    el = np.degrees(np.arcsin(np.clip(d[:, 2], -1, 1)))
    planar = bool(np.ptp(el) < min_elevation_span_deg)
    A = -(d[:, :2] if planar else d)
    k = A.shape[1]
    rng = np.random.default_rng(seed)
    best = np.zeros(n, bool)
    best_score = (0, 0)
    # a consensus is scored by the azimuth bins (2 deg) its detections cover, then by its count: the static world
    # surrounds the radar, a moving car fills a narrow sector (a lead car at close range out-numbers the scene in a
    # third of the simulator's scans when counts alone decide)
    az_bin = _azimuth_bins(d)
    for _ in range(iterations):
        idx = rng.choice(n, k, replace=False)
        try:
            v = np.linalg.solve(A[idx], dop[idx])
        except np.linalg.LinAlgError:
            continue
        if prior is not None and np.linalg.norm(v - np.asarray(prior, np.float64)[:k]) > gate_mps:
            continue
        inl = np.abs(A @ v - dop) < threshold_mps
        score = (int(np.unique(az_bin[inl]).size), int(inl.sum()))
        if score > best_score:
            best, best_score = inl, score
    if best.sum() < min_static:
        raise CalibrationError(
            f"radar scan at {stamp_ns}: only {int(best.sum())} of {n} detections agree on one ego-velocity"
            + ("" if prior is None else f" within {gate_mps:.2f} m/s of the neighbouring scans'")
            + f" (at least {min_static}): too few static targets in view"
        )
    for _ in range(2):  # least squares on the consensus, then the consensus of that fit
        v, *_ = np.linalg.lstsq(A[best], dop[best], rcond=None)
        best = np.abs(A @ v - dop) < threshold_mps
    v, *_ = np.linalg.lstsq(A[best], dop[best], rcond=None)
    res = A[best] @ v - dop[best]
    dof = max(int(best.sum()) - k, 1)
    s2 = float(res @ res) / dof
    N = A[best].T @ A[best]
    if np.linalg.cond(N) > 1e6:
        raise CalibrationError(
            f"radar scan at {stamp_ns}: the static detections span too narrow a field of view to fix the velocity"
        )
    cov_k = np.linalg.inv(N) * s2
    vel = np.zeros(3)
    cov = np.zeros((3, 3))
    vel[:k] = v
    cov[:k, :k] = cov_k
    cover = int(np.unique(az_bin[best]).size)
    return EgoVelocity(int(stamp_ns), vel, cov, best, planar, float(np.sqrt(s2)), cover)


@dataclass(frozen=True)
class EgoVelocities:
    """Per-scan ego-velocities of a radar stream and the scans left out (with why)."""

    stamps_ns: np.ndarray
    velocity: np.ndarray  # (M, 3)
    std: np.ndarray  # (M, 3)
    n_static: np.ndarray
    n_moving: np.ndarray
    planar: bool
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "scans": int(self.stamps_ns.size),
            "skipped": len(self.skipped),
            "planar": self.planar,
            "median_std_mps": [round(float(v), 4) for v in np.median(self.std, axis=0)],
            "static_detections": int(self.n_static.sum()),
            "moving_or_clutter": int(self.n_moving.sum()),
        }


def ego_velocities(
    scans: Iterable[Any],
    *,
    max_accel_mps2: float = 4.0,
    gate_mps: float = 0.5,
    max_gap_s: float = 0.5,
    min_seed_fov_deg: float = 40.0,
    **kwargs: Any,
) -> EgoVelocities:
    """:func:`ego_velocity` over a stream of :class:`~sensorfuse.types.RadarScan`, tracked through time.

    A single scan cannot tell the static world from a large car moving with the ego (its detections agree on one
    "velocity" too, near zero): in the simulator's drive that happened in a quarter of the scans, up to 2.4 s in a
    row, when only a close car was in view. So the scans are tracked from the one whose consensus covers the widest
    field of view, forwards and backwards: each scan's velocity must lie within ``gate_mps`` + ``max_accel_mps2`` x
    the time since the last accepted scan of that scan's velocity; a track that loses lock for ``max_gap_s`` stops and
    the next seed (the widest-covering scan left, covering at least ``min_seed_fov_deg`` and consistent with the
    nearest tracked scan under the same bound) takes the rest. Scans that cannot give one are listed in
    ``skipped`` with the reason (never dropped silently).

    Raises:
        CalibrationError: no scan gave a velocity.
    """
    data = [(int(s.stamp_ns), np.asarray(s.xyz), np.asarray(s.doppler)) for s in scans]
    free: list[EgoVelocity | None] = []
    cover = []
    for st, xyz, dop in data:
        try:
            e = ego_velocity(xyz, dop, st, **kwargs)
            cover.append(e.coverage_bins)
            free.append(e)
        except CalibrationError:
            free.append(None)
            cover.append(-1)
    if not data or max(cover) < 0:
        raise CalibrationError("radar ego-velocity: no scan gave one (too few static targets in any scan)")
    result: dict[int, EgoVelocity] = {}
    skipped: dict[int, str] = {}
    # seeds: the widest-covering scan not yet tracked; each track stops where it lost lock for max_gap_s
    while True:
        open_ = [
            i
            for i in range(len(data))
            if i not in result and i not in skipped and free[i] is not None and cover[i] * 2 >= min_seed_fov_deg
        ]
        if not open_:
            break
        start = max(open_, key=lambda i: cover[i])
        seed = free[start]
        assert seed is not None
        near = min(result.values(), key=lambda e: abs(e.stamp_ns - seed.stamp_ns), default=None)
        if near is not None:
            reach = gate_mps + max_accel_mps2 * abs(near.stamp_ns - seed.stamp_ns) * 1e-9
            if np.linalg.norm(seed.velocity - near.velocity) > reach:
                skipped[start] = (
                    f"radar scan at {seed.stamp_ns}: its consensus ({seed.n_static} detections) disagrees with the "
                    f"ego-velocity {abs(near.stamp_ns - seed.stamp_ns) * 1e-9:.2f} s away: a moving object, not the "
                    "static world"
                )
                continue
        result[start] = seed
        for order in (range(start + 1, len(data)), range(start - 1, -1, -1)):
            last = result[start]
            for i in order:
                if i in result:
                    break
                st, xyz, dop = data[i]
                dt = abs(st - last.stamp_ns) * 1e-9
                if dt > max_gap_s:
                    break  # lost lock: a later seed takes it from here
                gate = gate_mps + max_accel_mps2 * dt
                e = free[i]
                if e is None or np.linalg.norm(e.velocity - last.velocity) > gate:
                    try:
                        e = ego_velocity(xyz, dop, st, prior=last.velocity, gate_mps=gate, **kwargs)
                    except CalibrationError as exc:
                        skipped[i] = str(exc)
                        continue
                skipped.pop(i, None)
                result[i] = e
                last = e
    for i in range(len(data)):
        if i not in result and i not in skipped:
            skipped[i] = f"radar scan at {data[i][0]}: too few static targets in view"
    out = [result[i] for i in sorted(result)]
    return EgoVelocities(
        np.array([e.stamp_ns for e in out], np.int64),
        np.array([e.velocity for e in out]),
        np.sqrt(np.array([np.diag(e.covariance) for e in out])),
        np.array([e.n_static for e in out]),
        np.array([e.n_moving for e in out]),
        all(e.planar for e in out),
        [(data[i][0], skipped[i]) for i in sorted(skipped)],
    )


@dataclass(frozen=True)
class RadarMounting:
    """The radar's mounting against the vehicle from Doppler ego-velocities: ``R_base_radar`` (yaw estimated; roll
    and pitch estimated only for a radar with elevation) and its clock offset (``t_base = t_radar + offset_ns``)."""

    R_base_radar: np.ndarray
    yaw_deg: float  # of R_base_radar about the base's z (ZYX)
    yaw_std_deg: float
    offset_ns: int
    offset_std_ns: int
    residual_rms_mps: float
    scans: int
    undetermined: list[str]
    coarse_offset_ns: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "R_base_radar": np.round(self.R_base_radar, 9).tolist(),
            "yaw_deg": round(self.yaw_deg, 4),
            "yaw_std_deg": round(self.yaw_std_deg, 4),
            "offset_ns": self.offset_ns,
            "offset_ms": round(self.offset_ns / 1e6, 4),
            "offset_std_ms": round(self.offset_std_ns / 1e6, 4),
            "convention": "t_base = t_radar + offset_ns",
            "residual_rms_mps": round(self.residual_rms_mps, 4),
            "scans": self.scans,
            "coarse_offset_ms": round(self.coarse_offset_ns / 1e6, 3),
            "undetermined": self.undetermined,
        }


def _body_velocity(stamps_ns: np.ndarray, T_world_base: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Velocity of the point ``p`` (base frame) in the base frame at the poses' mid-times, by central differences."""
    from scipy.spatial.transform import Rotation

    t = stamps_ns.astype(np.float64) * 1e-9
    R = T_world_base[:, :3, :3]
    x = T_world_base[:, :3, 3] + np.einsum("nij,j->ni", R, p)
    dt = np.diff(t)
    v_w = np.diff(x, axis=0) / dt[:, None]
    # the base's orientation at the mid-times, and the world velocity expressed in it
    rot = Rotation.from_matrix(R)
    mid = rot[:-1] * Rotation.from_rotvec(0.5 * (rot[:-1].inv() * rot[1:]).as_rotvec())
    return 0.5 * (t[1:] + t[:-1]), mid.inv().apply(v_w)


def radar_mounting(
    ev: EgoVelocities,
    base_stamps_ns: object,
    T_world_base: object,
    T_base_radar_init: object,
    *,
    max_offset_s: float = 0.25,
    min_scans: int = 50,
    min_speed_mps: float = 1.0,
) -> RadarMounting:
    """Yaw (and, with elevation, roll and pitch) of the radar and its time offset against a pose stream.

    ``T_base_radar_init`` gives the lever arm (kept: not observable from velocities without large rotation rates)
    and the starting rotation; ``T_world_base`` the vehicle's poses (odometry, GNSS-INS) on the base clock.

    Raises:
        CalibrationError: too few scans while moving, or an offset the speed profile does not decide.
    """
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    st = np.asarray(base_stamps_ns, np.int64)
    T = np.asarray(T_world_base, np.float64)
    T0 = np.asarray(T_base_radar_init, np.float64)
    tb, vb = _body_velocity(st, T, T0[:3, 3])
    t0 = float(tb[0])
    tb = tb - t0
    tr = ev.stamps_ns.astype(np.float64) * 1e-9 - t0
    vr = ev.velocity
    moving = np.linalg.norm(vr[:, :2], axis=1) >= min_speed_mps
    if int(moving.sum()) < min_scans:
        raise CalibrationError(
            f"radar mounting: {int(moving.sum())} scans while moving faster than {min_speed_mps:g} m/s (at least "
            f"{min_scans}): drive longer"
        )
    tr, vr = tr[moving], vr[moving]
    k = 2 if ev.planar else 3

    def predict(dt: float) -> tuple[np.ndarray, np.ndarray]:
        q = tr + dt
        ok = (q >= tb[0]) & (q <= tb[-1])
        v = np.stack([np.interp(q, tb, vb[:, i]) for i in range(3)], axis=1)
        return v, ok

    # coarse offset: the speed profile (frame-free) on a 1 ms grid
    grid = np.arange(-max_offset_s, max_offset_s + 1e-9, 0.001)
    cost = []
    for dt in grid:
        v, ok = predict(dt)
        sp_r = np.linalg.norm(vr[ok, :k], axis=1)
        sp_b = np.linalg.norm(v[ok, :k] if k == 3 else v[ok, :2], axis=1)
        cost.append(np.median(np.abs(sp_r - sp_b)) if ok.sum() >= min_scans else np.inf)
    j = int(np.argmin(cost))
    coarse = float(grid[j])
    R0 = Rotation.from_matrix(T0[:3, :3])

    def residual(x: np.ndarray) -> np.ndarray:
        dR = Rotation.from_rotvec(x[:3]) if k == 3 else Rotation.from_rotvec([0.0, 0.0, x[0]])
        dt = x[-1]
        v, ok = predict(dt)
        R_br = dR * R0
        pred = R_br.inv().apply(v)  # base-frame velocity of the radar's origin, in the radar frame
        r = pred[:, :k] - vr[:, :k]
        r[~ok] = 0.0
        return r.ravel()

    x0 = np.r_[np.zeros(3 if k == 3 else 1), coarse]
    fit = least_squares(residual, x0, loss="soft_l1", f_scale=0.1, x_scale=np.r_[np.full(x0.size - 1, 1e-3), 1e-3])
    res = residual(fit.x)
    dof = max(res.size - fit.x.size, 1)
    s2 = float(res @ res) / dof
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * s2
    except np.linalg.LinAlgError:
        raise CalibrationError("radar mounting: the fit is singular (no turns, no speed changes)") from None
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    off_std = float(std[-1])
    if off_std > 0.005:
        raise CalibrationError(
            f"radar mounting: the offset is not decided (std {off_std * 1e3:.1f} ms): the speed hardly changes; "
            "accelerate and brake during the recording"
        )
    dR = Rotation.from_rotvec(fit.x[:3]) if k == 3 else Rotation.from_rotvec([0.0, 0.0, fit.x[0]])
    R_br = (dR * R0).as_matrix()
    yaw = float(np.degrees(np.arctan2(R_br[1, 0], R_br[0, 0])))
    undetermined = (
        ["roll and pitch (a radar without elevation spread sees the horizontal velocity only): held to the initial",
         "vertical velocity: not determined (held at 0)"]
        if k == 2 else []
    )  # fmt: skip
    undetermined.append("lever arm: kept from the initial (not observable from the velocities alone)")
    return RadarMounting(
        R_br, yaw, float(np.degrees(std[2] if k == 3 else std[0])), round(fit.x[-1] * 1e9), round(off_std * 1e9),
        float(np.sqrt(np.mean(res**2))), int(tr.size), undetermined, round(coarse * 1e9),
    )  # fmt: skip


@dataclass(frozen=True)
class RadarLidarResult:
    """A planar radar's extrinsic to a LiDAR refined in the ground plane (yaw, x, y; roll, pitch and z kept)."""

    T_lidar_radar: np.ndarray
    T_init: np.ndarray
    matched: int  # detections within the LiDAR's reach matched at the end
    within_reach: int
    median_before_m: float
    median_after_m: float
    yaw_change_deg: float
    xy_change_m: np.ndarray
    std: np.ndarray  # (yaw deg, x m, y m)
    undetermined: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "T_lidar_radar": np.round(self.T_lidar_radar, 9).tolist(),
            "matched": self.matched,
            "within_reach": self.within_reach,
            "median_distance_m": {"before": round(self.median_before_m, 4), "after": round(self.median_after_m, 4)},
            "change": {
                "yaw_deg": round(self.yaw_change_deg, 4),
                "xy_m": [round(float(v), 4) for v in self.xy_change_m],
            },
            "std": {
                "yaw_deg": round(float(self.std[0]), 4),
                "x_m": round(float(self.std[1]), 4),
                "y_m": round(float(self.std[2]), 4),
            },
            "undetermined": self.undetermined,
        }


def refine_radar_lidar(
    radar_xyz: object,
    lidar_xyz: object,
    T_lidar_radar_init: object,
    *,
    z_band_m: tuple[float, float] = (-1.5, 1.5),
    reach_m: float = 60.0,
    max_match_m: float = 2.0,
    min_matched: int = 20,
) -> RadarLidarResult:
    """Refine a planar radar's ``T_lidar_radar`` in the ground plane against LiDAR structure.

    The radar's detections (any number of scans, radar frame, no elevation) are moved into the LiDAR frame and
    matched in bird's-eye view to the LiDAR points of ``z_band_m`` (LiDAR frame: above the ground, below the roofs)
    within ``reach_m``; yaw and the (x, y) translation are refitted (soft-L1 on the 2D distances, correspondences
    renewed 10 times). Roll, pitch and z are not observable from planar detections and are kept (named).

    A radar reports objects (cars, poles, guard rails) rather than surfaces, and OpenCalib's samples are not
    time-synchronised with the LiDAR: moving objects bias the result, so the change is reported beside the
    distances, never applied silently.

    Raises:
        CalibrationError: fewer than ``min_matched`` detections have a LiDAR point within ``max_match_m``.
    """
    from scipy.optimize import least_squares
    from scipy.spatial import cKDTree

    p = np.asarray(radar_xyz, np.float64)[:, :2]
    L = np.asarray(lidar_xyz, np.float64)
    T0 = np.asarray(T_lidar_radar_init, np.float64)
    band = L[(L[:, 2] >= z_band_m[0]) & (L[:, 2] <= z_band_m[1])]
    tree = cKDTree(band[:, :2])
    yaw0 = float(np.arctan2(T0[1, 0], T0[0, 0]))

    def moved(x: np.ndarray) -> np.ndarray:
        c, s = np.cos(yaw0 + x[0]), np.sin(yaw0 + x[0])
        # in the ground plane: the initial's yaw plus the change, then its (x, y) plus the change (the initial's roll
        # and pitch, zero in OpenCalib's planar extrinsics, do not enter the bird's-eye match)
        return p @ np.array([[c, s], [-s, c]]) + (T0[:2, 3] + x[1:3])

    q0 = moved(np.zeros(3))
    near = np.linalg.norm(q0, axis=1) <= reach_m
    if int(near.sum()) < min_matched:
        raise CalibrationError(
            f"radar-LiDAR: {int(near.sum())} radar detections within {reach_m:g} m of the LiDAR (at least {min_matched})"
        )
    d0, _ = tree.query(q0[near])
    x = np.zeros(3)
    for _ in range(10):
        d, j = tree.query(moved(x)[near])
        use = d <= max_match_m
        if int(use.sum()) < min_matched:
            raise CalibrationError(
                f"radar-LiDAR: only {int(use.sum())} radar detections have a LiDAR point within {max_match_m:g} m "
                f"(at least {min_matched}): the initial extrinsic is off or the two do not see the same scene"
            )
        target = band[j[use], :2]
        pts = np.flatnonzero(near)[use]

        def residual(xx: np.ndarray, pts: np.ndarray = pts, target: np.ndarray = target) -> np.ndarray:
            return (moved(xx)[pts] - target).ravel()

        fit = least_squares(residual, x, loss="soft_l1", f_scale=0.5)
        if np.allclose(fit.x, x, atol=1e-7):
            break
        x = fit.x
    d1, _ = tree.query(moved(x)[near])
    r = residual(x)
    s2 = float(r @ r) / max(r.size - 3, 1)
    try:
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * s2
    except np.linalg.LinAlgError:
        raise CalibrationError("radar-LiDAR: the fit is singular (detections on one line)") from None
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    c, s = np.cos(x[0]), np.sin(x[0])
    T = T0.copy()
    T[:3, :3] = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ T0[:3, :3]
    T[:2, 3] = T0[:2, 3] + x[1:3]
    return RadarLidarResult(
        T, T0, int((d1 <= max_match_m).sum()), int(near.sum()), float(np.median(d0)), float(np.median(d1)),
        float(np.degrees(x[0])), x[1:3].copy(), np.r_[np.degrees(std[0]), std[1:3]],
        ["roll, pitch and z of the radar (planar detections): kept from the initial"],
    )  # fmt: skip
