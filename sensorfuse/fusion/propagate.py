"""IMU-propagated poses: the rotation between two poses of a sparse pose source (10 Hz GNSS-INS, LiDAR odometry)
follows the gyro instead of a constant-rate SLERP.

Between poses ``k`` and ``k+1`` the body rate (gyro rotated into the body frame by ``T_base_imu``) is integrated with
the trapezoid rule at every IMU sample inside the interval::

    R^(t) = R_k * Exp(integral of w dt from s_k to t)

and, since the integral drifts (bias, noise, a clock error), the mismatch at the end ``r = Log(R^(s_k+1)^-1 R_k+1)``
is spread linearly over the interval, ``R(t) = R^(t) * Exp(a(t) r)`` with ``a`` going 0 -> 1, so the result passes
exactly through both poses. The translation stays linear between the poses (without a velocity state the
accelerometer would add drift, not information, at these gaps). ``|r|`` per interval is reported: it is the gyro's
disagreement with the pose source, a quality figure for both (and for the extrinsic and the clock offset).

Intervals without IMU coverage (a gap in the IMU stream, the ends of the log) keep plain SLERP and are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from sensorfuse.errors import ValidationError
from sensorfuse.fusion.interpolate import default_max_gap_ns, signal_at
from sensorfuse.geometry.transforms import check_transform
from sensorfuse.types import ImuSamples, PoseTrajectory

__all__ = ["Propagated", "propagate_poses"]


@dataclass(frozen=True, eq=False)
class Propagated:
    """A denser trajectory and how it was made.

    Attributes:
        trajectory: the input poses plus one pose per IMU sample inside each propagated interval.
        intervals: pose intervals in the input; ``propagated`` of them had IMU coverage.
        residual_deg: (propagated,) end mismatch of the integrated gyro per propagated interval, degrees.
        max_gap_ns: the gap limit to interpolate the dense trajectory with: three median intervals of the *input*
            poses (the dense one's median is the IMU period, which would flag every interval left as SLERP a gap).
    """

    trajectory: PoseTrajectory
    intervals: int
    propagated: int
    residual_deg: np.ndarray
    max_gap_ns: int

    def summary(self) -> dict[str, float | int]:
        r = self.residual_deg
        return {
            "intervals": self.intervals,
            "propagated": self.propagated,
            "poses": len(self.trajectory),
            "gyro_residual_deg_median": round(float(np.median(r)), 5) if r.size else None,
            "gyro_residual_deg_max": round(float(r.max()), 5) if r.size else None,
        }


def propagate_poses(
    poses: PoseTrajectory,
    imu: ImuSamples,
    T_base_imu: object,
    *,
    max_gap_ns: int | None = None,
) -> Propagated:
    """Densify ``poses`` (``T_world_base``) with the rotation integrated from ``imu`` (see the module docstring).

    Args:
        poses: the pose source, stamps on the reference clock.
        imu: gyro samples, stamps on the same clock (apply the IMU's clock model first), strictly increasing.
        T_base_imu: (4, 4) extrinsic of the IMU on the body the poses describe (only its rotation is used).
        max_gap_ns: IMU samples further apart than this (default three median periods) end the coverage: the
            intervals they touch keep SLERP.

    Raises:
        ValidationError: shapes, unsorted IMU stamps.
    """
    R_bi = check_transform(T_base_imu, "T_base_imu")[:3, :3]
    s = poses.stamp_ns
    pose_gap = default_max_gap_ns(s)
    if len(imu) < 2 or s.size < 2:
        return Propagated(poses, max(s.size - 1, 0), 0, np.zeros(0), pose_gap)
    ti = imu.stamp_ns
    if np.any(np.diff(ti) <= 0):
        raise ValidationError(f"IMU {imu.frame_id}: stamps must be strictly increasing to integrate the gyro")
    w_b = imu.gyro.astype(np.float64) @ R_bi.T  # body-frame rate at each sample
    # the rate at the pose times (ends of each interval): interpolated, with coverage status
    at_pose = signal_at(ti, w_b, s, max_gap_ns=max_gap_ns)
    if max_gap_ns is None:
        max_gap_ns = default_max_gap_ns(ti)
    T = poses.T_world_body
    R_w = Rotation.from_matrix(T[:, :3, :3])
    out_t: list[np.ndarray] = []
    out_T: list[np.ndarray] = []
    residual = []
    first = np.searchsorted(ti, s, side="right")  # first IMU sample after each pose time
    for k in range(s.size - 1):
        out_t.append(s[k : k + 1])
        out_T.append(T[k : k + 1])
        a, b = int(first[k]), int(np.searchsorted(ti, s[k + 1], side="left"))
        if at_pose.status[k] != 0 or at_pose.status[k + 1] != 0:
            continue  # no gyro at one end of the interval
        g = np.r_[s[k], ti[a:b], s[k + 1]]
        if np.diff(g).max() > max_gap_ns:
            continue  # a hole in the IMU stream inside the interval
        w = np.vstack([at_pose.value[k], w_b[a:b], at_pose.value[k + 1]])
        dt = np.diff(g).astype(np.float64) * 1e-9
        steps = Rotation.from_rotvec(0.5 * (w[:-1] + w[1:]) * dt[:, None])  # trapezoid increments
        R_hat = [R_w[k]]
        for j in range(len(steps)):  # a product of rotations: sequential by nature (tens per interval)
            R_hat.append(R_hat[-1] * steps[j])
        R_hat = Rotation.concatenate(R_hat)
        r = (R_hat[-1].inv() * R_w[k + 1]).as_rotvec()
        residual.append(np.rad2deg(np.linalg.norm(r)))
        alpha = ((g - s[k]) / float(s[k + 1] - s[k]))[1:-1]
        R_mid = R_hat[1:-1] * Rotation.from_rotvec(alpha[:, None] * r)
        Tm = np.tile(np.eye(4), (alpha.size, 1, 1))
        Tm[:, :3, :3] = R_mid.as_matrix()
        Tm[:, :3, 3] = T[k, :3, 3] + alpha[:, None] * (T[k + 1, :3, 3] - T[k, :3, 3])
        out_t.append(g[1:-1])
        out_T.append(Tm)
    out_t.append(s[-1:])
    out_T.append(T[-1:])
    dense = PoseTrajectory(np.concatenate(out_t), np.concatenate(out_T), poses.world_frame, poses.body_frame)
    return Propagated(dense, s.size - 1, len(residual), np.asarray(residual), pose_gap)
