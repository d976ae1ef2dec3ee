"""LiDAR ego-motion from scan registration, and the LiDAR↔IMU rotation and time offset it gives.

Odometry (:func:`lidar_odometry`): every sweep is deskewed, voxel-downsampled and registered to a local map
(small_gicp's voxelised GICP against a ``GaussianVoxelMap`` that the registered sweeps are inserted into: scan to map,
as KISS-ICP and small_gicp's own odometry example do). The pose of each sweep is the sensor's at the sweep's last
point time (its *end*), on the LiDAR's clock. Deskew is the hard part on a rig that shakes:

- ``constant velocity`` (no IMU): the previous sweep's motion, spread over the point times (KISS-ICP's model). On the
  simulator's figure-8 (roll/pitch wobble of ~3 rad/s^2) this leaves 0.35-1.6 deg of error per 0.1 s increment, and
  the poses lag: good enough for a coarse rotation (~0.3 deg) and offset (tens of ms), not for a calibration;
- ``gyro`` (:class:`GyroDeskew`): the rotation within the sweep from the integrated IMU gyro, through the current
  estimate of ``R_lidar_imu``, the time offset and the gyro bias; translation by constant velocity. With the true
  calibration the per-increment rotation error drops to 0.013-0.045 deg (64 / 16 beams).

:func:`lidar_imu_rotation_time` therefore alternates: odometry, then
:func:`~sensorfuse.calibration.rotation_time.align_rotation_and_time` between the gyro and the LiDAR's rotation rates,
then odometry again with the gyro deskew from that estimate, until the offset and rotation stop moving. The lever arm
(translation) and gravity need the accelerometer against the LiDAR's accelerations: :func:`lever_arm` does that by
linear least squares and is right on exact poses, but our odometry's translation is not good enough for it yet, so
the workflow does not estimate them (stated in every result's ``undetermined``).

Measured figures (docs/calibration.md): registration 35 ms (16 beams) to 60 ms (64 beams) per sweep on one core.
Why small_gicp and not KISS-ICP or Open3D: on a 64-beam simulator drive, small_gicp's scan-to-map VGICP took 57 ms
per sweep and KISS-ICP's pipeline 105 ms at a similar accuracy; small_gicp takes our deskewed points as they are
(KISS-ICP deskews internally with its own constant-velocity model, which the gyro deskew must replace), and Open3D's
GICP has no incremental voxel map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from sensorfuse._checks import sort_unique
from sensorfuse.errors import CalibrationError, ValidationError
from sensorfuse.geometry.transforms import angle_between_rotations_deg
from sensorfuse.types import PointCloud

__all__ = [
    "GyroDeskew",
    "LeverArm",
    "LidarImuResult",
    "LidarOdometry",
    "lever_arm",
    "lidar_imu_rotation_time",
    "lidar_odometry",
]


def _small_gicp() -> Any:
    try:
        import small_gicp
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise CalibrationError(
            "LiDAR odometry needs small_gicp (pip install small_gicp; it is a dependency of sensorfuse)"
        ) from exc
    return small_gicp


def _gyro_orientation(t_s: np.ndarray, w: np.ndarray) -> Slerp:
    """The IMU's orientation in a fixed frame from its rates (trapezoidal increments composed in order: SciPy has
    no cumulative compose, so a loop over the samples, ~5 us each), as a SLERP over ``t_s``."""
    inc = Rotation.from_rotvec(0.5 * (w[1:] + w[:-1]) * np.diff(t_s)[:, None])
    q = np.empty((t_s.size, 4))
    r = Rotation.identity()
    q[0] = r.as_quat()
    for i, step in enumerate(inc):
        r = r * step
        q[i + 1] = r.as_quat()
    return Slerp(t_s, Rotation.from_quat(q))


@dataclass(frozen=True)
class GyroDeskew:
    """The rotation of a LiDAR within a sweep, from an IMU's gyro and a LiDAR↔IMU estimate.

    ``R_lidar_imu`` maps IMU-frame vectors into the LiDAR frame; ``offset_ns`` is the IMU clock minus the LiDAR's
    (``t_imu = t_lidar + offset_ns``); ``bias`` (rad/s, IMU frame) is subtracted from the gyro.
    """

    stamps_ns: np.ndarray
    gyro: np.ndarray
    R_lidar_imu: np.ndarray
    offset_ns: int = 0
    bias: np.ndarray | None = None
    _slerp: Slerp = field(init=False, repr=False)

    def __post_init__(self) -> None:
        st = np.asarray(self.stamps_ns, np.int64)
        w = np.asarray(self.gyro, np.float64)
        if st.ndim != 1 or st.size < 2 or w.shape != (st.size, 3):
            raise ValidationError(f"gyro: expected stamps (N,) and rates (N, 3) with N >= 2, got {st.shape}, {w.shape}")
        if self.bias is not None:
            w = w - np.asarray(self.bias, np.float64)
        object.__setattr__(self, "_slerp", _gyro_orientation((st - st[0]) * 1e-9, w))

    def relative(self, t_ns: np.ndarray, t_end_ns: int) -> Rotation:
        """``R_lidar(t_end)^T R_lidar(t)`` at LiDAR times ``t_ns`` (clipped to the gyro's span)."""
        st = np.asarray(self.stamps_ns, np.int64)
        span = (st[-1] - st[0]) * 1e-9
        s = np.clip((np.asarray(t_ns, np.int64) + self.offset_ns - st[0]) * 1e-9, 0.0, span)
        e = np.clip((int(t_end_ns) + self.offset_ns - st[0]) * 1e-9, 0.0, span)
        R_li = Rotation.from_matrix(self.R_lidar_imu)
        return R_li * (self._slerp(e).inv() * self._slerp(s)) * R_li.inv()


@dataclass(frozen=True)
class LidarOdometry:
    """Poses of a LiDAR at each sweep's end (LiDAR clock) in the frame of the first sweep, with per-sweep figures."""

    stamps_ns: np.ndarray  # (M,) sweep end times
    T_odom_lidar: np.ndarray  # (M, 4, 4)
    inlier_share: np.ndarray  # (M,) share of the downsampled sweep matched in the map (1.0 for the first sweep)
    points: np.ndarray  # (M,) downsampled points registered
    deskew: str  # "constant velocity" | "gyro"
    seconds_per_sweep: float

    def motion_stream(self, name: str = "lidar") -> Any:
        from sensorfuse.calibration.rotation_time import MotionStream

        return MotionStream.from_poses(self.stamps_ns, self.T_odom_lidar, name)


def _deskew_cv(xyz: np.ndarray, t: np.ndarray, t_end: int, dT: np.ndarray | None, dt_ns: int) -> np.ndarray:
    if dT is None or dt_ns <= 0:
        return xyz
    f = (t - t_end) / float(dt_ns)  # <= 0: the fraction of one increment before the end
    rv = Rotation.from_matrix(dT[:3, :3]).as_rotvec()
    back = dT[:3, :3].T @ dT[:3, 3]  # the earlier pose's position seen from the later one is -back
    return Rotation.from_rotvec(f[:, None] * rv[None]).apply(xyz) + f[:, None] * back[None]


def _deskew_gyro(
    xyz: np.ndarray, t: np.ndarray, t_end: int, gyro: GyroDeskew, dT: np.ndarray | None, dt_ns: int
) -> np.ndarray:
    u, inv = np.unique(t, return_inverse=True)  # one rotation per firing, not per point
    out = gyro.relative(u, t_end)[inv].apply(xyz)
    if dT is not None and dt_ns > 0:
        f = (t - t_end) / float(dt_ns)
        out += f[:, None] * (dT[:3, :3].T @ dT[:3, 3])[None]
    return out


def _subsample(xyz: np.ndarray, t: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    if xyz.shape[0] <= max_points:
        return xyz, t
    step = int(np.ceil(xyz.shape[0] / max_points))
    return xyz[::step], t[::step]


def prepare_sweeps(
    clouds: Iterable[PointCloud], *, max_points: int = 30_000, min_range_m: float = 1.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(xyz float64, point times int64 on the LiDAR clock) per sweep, thinned to ``max_points`` (a regular stride,
    before any voxel grid: the registration downsamples to 0.3 m anyway) and without returns closer than
    ``min_range_m`` (the rig itself).

    Raises:
        ValidationError: a cloud without per-point times (it cannot be deskewed).
    """
    out = []
    for c in clouds:
        if c.t_offset_ns is None:
            raise ValidationError(
                f"cloud {c.frame_id} at {c.stamp_ns}: no per-point time; LiDAR odometry deskews every sweep and needs "
                "it (the reader names the stream's point-time layout)"
            )
        xyz, t = _subsample(np.asarray(c.xyz), np.asarray(c.point_stamps_ns, np.int64), max_points)
        keep = np.einsum("ij,ij->i", xyz, xyz, dtype=np.float64) >= min_range_m**2
        # copies of the kept points only: a view would hold every sweep's whole message buffer (1.8 GB per minute)
        out.append((xyz[keep].astype(np.float64), t[keep]))
    return out


def lidar_odometry(
    sweeps: list[tuple[np.ndarray, np.ndarray]],
    *,
    gyro: GyroDeskew | None = None,
    voxel_m: float = 0.3,
    map_voxel_m: float = 1.0,
    max_correspondence_m: float = 1.0,
    min_inlier_share: float = 0.3,
    progress: Callable[[int, int], None] | None = None,
) -> LidarOdometry:
    """Scan-to-map odometry over ``sweeps`` (from :func:`prepare_sweeps`), deskewed by ``gyro`` or by constant
    velocity.

    Raises:
        CalibrationError: fewer than 3 sweeps, or a sweep that does not register (under ``min_inlier_share`` of its
            points matched: a jump, an empty scene, a wrong deskew), named by index and time.
    """
    import time

    sg = _small_gicp()
    if len(sweeps) < 3:
        raise CalibrationError(
            f"LiDAR odometry: {len(sweeps)} sweep(s); at least 3 are needed (and for a calibration about 15 s of "
            "turning motion: record longer)"
        )
    vmap = sg.GaussianVoxelMap(map_voxel_m)
    poses, stamps, share, npts = [], [], [], []
    T_prev = T_prev2 = None
    t_prev = t_prev2 = 0
    start = time.perf_counter()
    for k, (xyz, t) in enumerate(sweeps):
        if t.size == 0:
            raise CalibrationError(f"LiDAR odometry: sweep {k} has no points beyond the minimum range")
        t_end = int(t.max())
        dT = None if T_prev2 is None else np.linalg.inv(T_prev2) @ T_prev
        dt_ns = t_prev - t_prev2
        d = _deskew_cv(xyz, t, t_end, dT, dt_ns) if gyro is None else _deskew_gyro(xyz, t, t_end, gyro, dT, dt_ns)
        pc, _ = sg.preprocess_points(d, downsampling_resolution=voxel_m, num_neighbors=10)
        if T_prev is None:
            T, inl = np.eye(4), 1.0
        else:
            guess = T_prev if dT is None else T_prev @ dT
            res = sg.align(vmap, pc, guess, max_correspondence_distance=max_correspondence_m, max_iterations=30)
            T, inl = np.asarray(res.T_target_source), res.num_inliers / max(pc.size(), 1)
            if inl < min_inlier_share:
                raise CalibrationError(
                    f"LiDAR odometry: sweep {k} (end {t_end} ns) registered only {inl:.0%} of its points to the map; "
                    "the motion between sweeps is too large, the scene too empty, or the deskew wrong"
                )
        vmap.insert(pc, T)
        T_prev2, t_prev2, T_prev, t_prev = T_prev, t_prev, T, t_end
        poses.append(T)
        stamps.append(t_end)
        share.append(inl)
        npts.append(pc.size())
        if progress is not None:
            progress(k + 1, len(sweeps))
    stamps_a = np.asarray(stamps, np.int64)
    if np.any(np.diff(stamps_a) <= 0):
        raise CalibrationError("LiDAR odometry: sweep end times are not increasing (sort or deduplicate the sweeps)")
    return LidarOdometry(
        stamps_a,
        np.asarray(poses),
        np.asarray(share),
        np.asarray(npts),
        "constant velocity" if gyro is None else "gyro",
        (time.perf_counter() - start) / len(sweeps),
    )


@dataclass(frozen=True)
class LidarImuResult:
    """The LiDAR↔IMU rotation and time offset (``t_imu = t_lidar + offset_ns``) and how they were reached."""

    rotation_time: Any  # RotationTimeResult: R_imu_lidar (reference = IMU), offset, bias, quality
    odometry: LidarOdometry  # of the last pass
    passes: list[dict[str, Any]]  # per pass: deskew, offset_ms, rotation change, registration figures
    undetermined: list[str]

    @property
    def R_imu_lidar(self) -> np.ndarray:
        return np.asarray(self.rotation_time.R_reference_stream)

    @property
    def offset_ns(self) -> int:
        return int(self.rotation_time.offset_ns)

    def to_dict(self) -> dict[str, Any]:
        d = self.rotation_time.to_dict()
        d.pop("windows", None)
        d["windows"] = [w for w in self.rotation_time.windows if w.get("offset_ms") is not None]
        d["passes"] = self.passes
        d["undetermined"] = sorted(set(d.get("undetermined", [])) | set(self.undetermined))
        d["odometry"] = {
            "sweeps": int(self.odometry.stamps_ns.size),
            "deskew": self.odometry.deskew,
            "median_inlier_share": float(np.median(self.odometry.inlier_share[1:])),
            "ms_per_sweep": round(self.odometry.seconds_per_sweep * 1e3, 1),
        }
        return d


LEVER_ARM_NOTE = (
    "translation (lever arm) and gravity: not estimated (they need the accelerometer against the LiDAR's "
    "accelerations, which is not built yet); the rig's translation is kept"
)


def lidar_imu_rotation_time(
    sweeps: list[tuple[np.ndarray, np.ndarray]],
    imu_stamps_ns: np.ndarray,
    gyro: np.ndarray,
    *,
    imu_name: str = "imu",
    lidar_name: str = "lidar",
    interval_s: float = 0.7,
    max_passes: int = 5,
    tol_offset_ns: int = 100_000,
    tol_rotation_deg: float = 0.01,
    prior_offset_ns: int = 0,
    max_offset_s: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LidarImuResult:
    """``R_imu_lidar``, the LiDAR's offset against the IMU and the gyro bias, by alternating odometry and alignment.

    Args:
        sweeps: from :func:`prepare_sweeps` (LiDAR clock).
        imu_stamps_ns, gyro: the IMU's samples (IMU clock, rad/s in its frame): the reference.
        interval_s: length of the mean-rate intervals compared. The odometry's rotation errors are largest at
            the wobble's frequencies; longer intervals average them out: on a 16-beam simulator figure-8 (seed 1)
            the rotation error was 0.25 / 0.23 / 0.06 deg with 0.3 / 0.5 / 0.7 s intervals.
        max_passes: gyro-deskewed passes after the constant-velocity one.
        tol_offset_ns, tol_rotation_deg: stop when a pass moves the estimate less than this.
        prior_offset_ns, max_offset_s: where to search the offset in the first pass.

    Raises:
        CalibrationError: from the odometry or the final alignment (no excitation, too short, a rotation the motion
            does not determine), with the reason.
    """
    from sensorfuse.calibration.rotation_time import MotionStream, align_rotation_and_time

    imu = MotionStream.from_gyro(imu_stamps_ns, gyro, imu_name)  # checks the stamps (raises on disorder)
    keep = sort_unique(np.asarray(imu_stamps_ns, np.int64), keep="first")  # the samples MotionStream kept
    st, w = imu.stamps_ns, np.asarray(gyro, np.float64)[keep]

    def step(stage: str) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda i, n: progress(stage, i, n))

    def align(odo: LidarOdometry, prior: int, window: float | None, final: bool) -> Any:
        loose = {} if final else {"bootstrap": 6, "need_rotation": False, "max_offset_std_ms": 50.0}
        return align_rotation_and_time(
            imu, odo.motion_stream(lidar_name), prior_offset_ns=prior, max_offset_s=window,
            min_interval_s=interval_s, **loose,
        )  # fmt: skip

    odo = lidar_odometry(sweeps, progress=step("odometry, constant-velocity deskew"))
    res = align(odo, prior_offset_ns, max_offset_s, final=False)
    passes = [_pass_figures(odo, res, None)]
    for k in range(max_passes):
        deskew = GyroDeskew(st, w, res.R_reference_stream.T, int(res.offset_ns), _bias(res))
        # (tried: deskewing the translation with each sweep's own motion from the previous pass instead of the sweep
        # before's: on the 16-beam figure-8 it halved the per-increment translation error, 5.8 -> 2.5 cm over two
        # passes, but moved the offset 0.17 ms further off and cost 20 % more time; not adopted)
        odo = lidar_odometry(sweeps, gyro=deskew, progress=step(f"odometry, gyro deskew (pass {k + 1})"))
        new = align(odo, int(res.offset_ns), 0.1, final=False)
        passes.append(_pass_figures(odo, new, res))
        converged = (
            abs(int(new.offset_ns) - int(res.offset_ns)) < tol_offset_ns
            and passes[-1]["rotation_change_deg"] < tol_rotation_deg
        )
        res = new
        if converged:
            break
    else:
        passes[-1]["note"] = f"not converged within {max_passes} gyro-deskewed passes"
    res = align(odo, int(res.offset_ns), 0.1, final=True)  # the full quality figures and refusals, on the last odometry
    return LidarImuResult(res, odo, passes, [LEVER_ARM_NOTE])


def _bias(res: Any) -> np.ndarray | None:
    return None if res.gyro_bias is None else np.asarray(res.gyro_bias)


def _pass_figures(odo: LidarOdometry, res: Any, prev: Any) -> dict[str, Any]:
    change = None
    if prev is not None:
        change = float(angle_between_rotations_deg(prev.R_reference_stream, res.R_reference_stream))
    return {
        "deskew": odo.deskew,
        "offset_ms": int(res.offset_ns) / 1e6,
        "rotation_change_deg": change,
        "residual_rms_rad_s": float(res.residual_rms),
        "median_inlier_share": float(np.median(odo.inlier_share[1:])),
        "ms_per_sweep": round(odo.seconds_per_sweep * 1e3, 1),
    }


@dataclass(frozen=True)
class LeverArm:
    """The IMU's position in the LiDAR frame (``T_lidar_imu``'s translation) with gravity and accelerometer bias."""

    p_lidar_imu: np.ndarray  # (3,) m
    std_m: np.ndarray  # (3,)
    gravity_mps2: float  # |g| as fitted (a check: 9.81)
    accel_bias: np.ndarray  # (3,) m/s^2, IMU frame
    residual_rms_m: float
    windows: int
    undetermined: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "p_lidar_imu_m": [round(float(v), 5) for v in self.p_lidar_imu],
            "std_m": [round(float(v), 5) for v in self.std_m],
            "gravity_mps2": round(self.gravity_mps2, 4),
            "accel_bias_mps2": [round(float(v), 5) for v in self.accel_bias],
            "residual_rms_m": round(self.residual_rms_m, 5),
            "windows": self.windows,
            "undetermined": self.undetermined,
        }


def _cumtrapz(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.integrate import cumulative_trapezoid

    return cumulative_trapezoid(y, t, axis=0, initial=0)


def lever_arm(
    odometry: LidarOdometry,
    imu_stamps_ns: np.ndarray,
    gyro: np.ndarray,
    accel: np.ndarray,
    R_imu_lidar: np.ndarray,
    offset_ns: int,
    gyro_bias: np.ndarray | None = None,
    *,
    window_s: float = 1.0,
    max_std_m: float = 0.02,
    estimate_bias: bool = False,
) -> LeverArm:
    """The lever arm from the accelerometer against the LiDAR odometry's positions, by one linear least squares.

    **Experimental, not used by fuse-calib lidar-imu.** The model is right: with the simulator's true LiDAR poses
    at 10 Hz and the log's noisy IMU (20 s figure-8) it recovers the lever arm within 1.3 mm with
    ``estimate_bias=True`` (|g| 9.808, tested) and within 3-11 mm without (the bias then goes into ``g``). With our
    LiDAR odometry it does not reach the 1 cm goal: on the 64-beam 60 s figure-8 it was (-10.8, +0.7, -5.1) cm off
    with stated deviations of 1.4-1.8 cm (the odometry's translation is 2.5-6 cm off per 0.1 s increment,
    deskew-limited, and the errors are correlated). The accelerometer bias is separable from gravity only when the
    rig tilts (the figure-8's +-8 deg); a car's drive does not, hence off by default.

    Over each window ``[t0, t0 + window_s]`` (IMU clock) the IMU's origin moves as
    ``p_I(t) - p_I(t0) = v0 dt + g dt^2 / 2 + double-integral of R_WI (f - b_a)``, with ``p_I = p_L + R_WL r``:
    linear in the lever arm ``r`` (LiDAR frame), gravity ``g`` (odometry frame), the accelerometer bias ``b_a``
    and one velocity ``v0`` per window. ``R_WI`` within a window is the LiDAR's orientation at its start carried
    on by the integrated gyro (bias removed). Per-axis standard deviations from the residuals; a component less
    certain than ``max_std_m`` (e.g. along the only rotation axis of a planar drive) is named in ``undetermined``.

    Raises:
        CalibrationError: fewer than 10 windows with LiDAR poses.
    """
    st = np.asarray(imu_stamps_ns, np.int64)
    keep = sort_unique(st, keep="first")  # repeated stamps once, as MotionStream does
    st = st[keep]
    w = np.asarray(gyro, np.float64)[keep] - (0.0 if gyro_bias is None else np.asarray(gyro_bias))
    f = np.asarray(accel, np.float64)[keep]
    R_li = np.asarray(R_imu_lidar, np.float64).T
    tl = odometry.stamps_ns.astype(np.int64) + int(offset_ns)  # LiDAR poses on the IMU clock
    T = odometry.T_odom_lidar
    t_imu = (st - st[0]) * 1e-9
    t_l = (tl - st[0]) * 1e-9
    gyro_R = _gyro_orientation(t_imu, w)  # one fixed frame: anchored per window below
    rows, rhs, win_of = [], [], []
    n_win = 0
    start = t_l[0]
    while start + window_s <= min(t_l[-1], t_imu[-1]):
        ks = np.flatnonzero((t_l >= start) & (t_l <= start + window_s))
        if ks.size < 3 or t_l[ks[0]] < t_imu[0]:
            start += window_s
            continue
        k0 = ks[0]
        t0 = t_l[k0]
        g_sel = (t_imu >= t0) & (t_imu <= t_l[ks[-1]])
        tt = np.r_[t0, t_imu[g_sel], t_l[ks[-1]]]
        R_WI0 = T[k0, :3, :3] @ R_li
        R_rel = (gyro_R(t0).inv() * gyro_R(tt)).as_matrix()  # R_I(t0)^T R_I(t)
        R_WI = R_WI0 @ R_rel  # (M, 3, 3)
        f_t = np.stack([np.interp(tt, t_imu, f[:, j]) for j in range(3)], axis=1)
        a_w = np.einsum("nij,nj->ni", R_WI, f_t)
        S = _cumtrapz(tt, _cumtrapz(tt, a_w))  # double integrals of R_WI f
        C = _cumtrapz(tt, _cumtrapz(tt, R_WI))  # of R_WI (the bias's coefficient)
        for k in ks[1:]:
            dt = t_l[k] - t0
            Sk = np.stack([np.interp(t_l[k], tt, S[:, j]) for j in range(3)])
            Ck = np.stack([[np.interp(t_l[k], tt, C[:, i, j]) for j in range(3)] for i in range(3)])
            # (R_WL(k) - R_WL(0)) r - g dt^2/2 + C_k b_a - v0 dt = S_k - (p_L(k) - p_L(0))
            rows.append((T[k, :3, :3] - T[k0, :3, :3], -0.5 * dt**2 * np.eye(3), Ck, -dt * np.eye(3)))
            rhs.append(Sk - (T[k, :3, 3] - T[k0, :3, 3]))
            win_of.append(n_win)
        n_win += 1
        start += window_s
    if n_win < 10:
        raise CalibrationError(
            f"lever arm: {n_win} windows of {window_s:g} s with LiDAR poses (at least 10): record longer"
        )
    m = len(rows)
    A = np.zeros((3 * m, 9 + 3 * n_win))
    for i, (Rr, G, Cb, V) in enumerate(rows):
        A[3 * i : 3 * i + 3, 0:3] = Rr
        A[3 * i : 3 * i + 3, 3:6] = G
        A[3 * i : 3 * i + 3, 6:9] = Cb
        wi = win_of[i]
        A[3 * i : 3 * i + 3, 9 + 3 * wi : 12 + 3 * wi] = V
    b = np.concatenate(rhs)
    if not estimate_bias:
        A[:, 6:9] = 0.0
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    res = A @ x - b
    dof = max(res.size - x.size, 1)
    s2 = float(res @ res) / dof
    cov = np.linalg.pinv(A.T @ A) * s2
    std = np.sqrt(np.clip(np.diag(cov)[:3], 0, None))
    names = ("x", "y", "z")
    undetermined = [f"lever arm along the LiDAR's {names[i]} (std {std[i] * 100:.1f} cm)" for i in range(3)
                    if std[i] > max_std_m]  # fmt: skip
    return LeverArm(x[:3].copy(), std, float(np.linalg.norm(x[3:6])), x[6:9].copy(), float(np.sqrt(np.mean(res**2))),
                    n_win, undetermined)  # fmt: skip
