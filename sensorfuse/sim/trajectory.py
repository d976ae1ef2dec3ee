"""Ground-truth motion of the simulator: the ego vehicle and the moving objects, as functions of time.

Everything here is analytic so the truth is exact at any time, not only at samples:

- the ego path ``(x(t), y(t))`` is a quintic B-spline (C4) fitted once to a designed speed / yaw-rate profile, and
  its velocity, acceleration and jerk are the spline's own derivatives;
- yaw follows the velocity direction, ``psi = atan2(y', x')``, so ``psi' = (x'y'' - y'x'') / (x'^2 + y'^2)``;
- roll, pitch and heave are sums of sines (suspension excitation, so calibration is observable);
- ``R_world_base = Rz(psi) Ry(theta) Rx(phi)`` and the body angular rate follows from the ZYX Euler rates.

Time arguments are float seconds since the start of the log (``t = (stamp_ns - start_ns) * 1e-9``): float64 is
exact to ~1e-15 s over a log, far below anything a test can see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline, make_interp_spline

from sensorfuse.errors import ValidationError

__all__ = [
    "MOTIONS",
    "EgoTrajectory",
    "HeldBoard",
    "PathFollower",
    "StraightWalker",
    "point_velocity_fd",
    "rotation_zyx",
]

#: Excitation profiles of :meth:`EgoTrajectory.design`.
MOTIONS = ("drive", "planar", "figure8")

# Derivative step for quantities that are differentiated once more numerically (angular acceleration, object point
# velocities). Central differences with this step on smooth functions of O(100 m) are exact to ~1e-8.
_FD_STEP_S = 1e-5


def rotation_zyx(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """``Rz(yaw) @ Ry(pitch) @ Rx(roll)`` for arrays of angles -> (N, 3, 3)."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    R = np.empty((*np.shape(yaw), 3, 3))
    R[..., 0, 0] = cy * cp
    R[..., 0, 1] = cy * sp * sr - sy * cr
    R[..., 0, 2] = cy * sp * cr + sy * sr
    R[..., 1, 0] = sy * cp
    R[..., 1, 1] = sy * sp * sr + cy * cr
    R[..., 1, 2] = sy * sp * cr - cy * sr
    R[..., 2, 0] = -sp
    R[..., 2, 1] = cp * sr
    R[..., 2, 2] = cp * cr
    return R


def _sines(t: np.ndarray, terms: tuple[tuple[float, float, float], ...], order: int) -> np.ndarray:
    """Sum of ``a * sin(w t + p)`` and its ``order``-th derivative."""
    out = np.zeros_like(t)
    for a, w, p in terms:
        out += a * w**order * np.sin(w * t + p + order * np.pi / 2)
    return out


@dataclass(frozen=True, eq=False)
class EgoTrajectory:
    """The ego vehicle's pose ``T_world_base(t)`` (world = local ENU, base = rear axle on the ground, x forward).

    Build with :meth:`design`; evaluate with :meth:`pose`, :meth:`velocity_world`, :meth:`accel_world`,
    :meth:`omega_body` and :meth:`omega_dot_body` (all vectorised over ``t``).
    """

    spline: BSpline  # (x, y) of the path, C4
    roll_terms: tuple[tuple[float, float, float], ...]
    pitch_terms: tuple[tuple[float, float, float], ...]
    heave_terms: tuple[tuple[float, float, float], ...]
    t_end: float

    @classmethod
    def design(
        cls, duration_s: float, speed_mps: float, rng: np.random.Generator, motion: str = "drive"
    ) -> EgoTrajectory:
        """A seeded excitation profile (``motion``):

        - ``drive``: speed between 0.6x and 1x ``speed_mps`` (accelerating and braking), two superposed turn
          frequencies (lateral acceleration up to ~3 m/s^2), roll +-2 deg, pitch +-1.5 deg, heave +-3 cm;
        - ``planar``: the same path on a flat road, no roll, pitch or heave (rotation about the vertical only: what
          rates alone cannot calibrate fully);
        - ``figure8``: a lemniscate of Gerono (one loop about every 20 s at ``speed_mps``) with roll +-8 deg and
          pitch +-6 deg (a test drive over uneven ground, meant to excite every rotation axis).
        """
        if motion not in MOTIONS:
            raise ValidationError(f"motion {motion!r}: expected one of {', '.join(MOTIONS)}")
        if not (0.5 <= speed_mps <= 40.0):
            raise ValidationError(f"speed_mps must be within 0.5..40 m/s, got {speed_mps}")
        if not duration_s > 0:
            raise ValidationError(f"duration must be positive, got {duration_s} s")
        margin = 3.0  # the path extends beyond the log so objects ahead/behind have somewhere to be
        t0, t1 = -margin, duration_s + margin
        dt = 1e-3
        t = np.arange(t0, t1 + dt / 2, dt)
        ph = rng.uniform(0, 2 * np.pi, 4)
        speed = speed_mps * (0.8 + 0.2 * np.sin(2 * np.pi * t / 7.0 + ph[0]))
        lat_acc = min(3.0, 0.3 * speed_mps)  # m/s^2 peak lateral acceleration of the first turn term
        yaw_rate = (lat_acc / speed_mps) * np.sin(2 * np.pi * t / 9.0 + ph[1]) + 0.4 * (lat_acc / speed_mps) * np.sin(
            2 * np.pi * t / 3.7 + ph[2]
        )
        yaw0 = rng.uniform(-np.pi, np.pi)
        # trapezoidal integration of the designed profile (only shapes the path; the spline below is the truth)
        yaw = yaw0 + np.concatenate([[0.0], np.cumsum(0.5 * (yaw_rate[1:] + yaw_rate[:-1]) * dt)])
        vx, vy = speed * np.cos(yaw), speed * np.sin(yaw)
        x = np.concatenate([[0.0], np.cumsum(0.5 * (vx[1:] + vx[:-1]) * dt)])
        y = np.concatenate([[0.0], np.cumsum(0.5 * (vy[1:] + vy[:-1]) * dt)])
        i0 = round(-t0 / dt)  # the vehicle is at the world origin at t = 0
        x, y = x - x[i0], y - y[i0]
        if motion == "figure8":
            # x = A sin(W t), y = (A / 2) sin(2 W t): mean speed ~ 1.2 A W, so A from the requested speed
            W = 2 * np.pi / 20.0
            A = speed_mps / (1.2 * W)
            x, y = A * np.sin(W * (t - t0) + ph[3]), 0.5 * A * np.sin(2 * (W * (t - t0) + ph[3]))
            x, y = x - x[i0], y - y[i0]
        knots = slice(None, None, 100)  # fit through samples every 0.1 s
        spline = make_interp_spline(t[knots], np.stack([x[knots], y[knots]], axis=1), k=5)
        r = rng.uniform(0, 2 * np.pi, 6)
        gain = 4.0 if motion == "figure8" else 1.0
        roll_terms = ((np.deg2rad(1.2 * gain), 2 * np.pi / 2.3, r[0]), (np.deg2rad(0.8 * gain), 2 * np.pi / 0.9, r[1]))
        pitch_terms = ((np.deg2rad(0.9 * gain), 2 * np.pi / 1.7, r[2]), (np.deg2rad(0.6 * gain), 2 * np.pi / 0.7, r[3]))
        heave_terms = ((0.02, 2 * np.pi / 1.3, r[4]), (0.01, 2 * np.pi / 0.5, r[5]))
        if motion == "planar":
            roll_terms = pitch_terms = heave_terms = ()
        return cls(spline, roll_terms, pitch_terms, heave_terms, float(duration_s))

    # -- path quantities ------------------------------------------------------------------------------------------
    def _xy(self, t: np.ndarray, order: int) -> np.ndarray:
        return self.spline(t, nu=order) if order else self.spline(t)

    def yaw(self, t: np.ndarray) -> np.ndarray:
        v = self._xy(t, 1)
        return np.arctan2(v[..., 1], v[..., 0])

    def yaw_rate(self, t: np.ndarray) -> np.ndarray:
        v, a = self._xy(t, 1), self._xy(t, 2)
        return (v[..., 0] * a[..., 1] - v[..., 1] * a[..., 0]) / (v[..., 0] ** 2 + v[..., 1] ** 2)

    def yaw_accel(self, t: np.ndarray) -> np.ndarray:
        v, a, j = self._xy(t, 1), self._xy(t, 2), self._xy(t, 3)
        num = v[..., 0] * a[..., 1] - v[..., 1] * a[..., 0]
        den = v[..., 0] ** 2 + v[..., 1] ** 2
        dnum = v[..., 0] * j[..., 1] - v[..., 1] * j[..., 0]
        dden = 2 * (v[..., 0] * a[..., 0] + v[..., 1] * a[..., 1])
        return (dnum * den - num * dden) / den**2

    def euler(self, t: object, order: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(yaw, pitch, roll) or their ``order``-th derivatives (order 0..2)."""
        t = np.asarray(t, dtype=np.float64)
        yaw = (self.yaw, self.yaw_rate, self.yaw_accel)[order](t)
        return yaw, _sines(t, self.pitch_terms, order), _sines(t, self.roll_terms, order)

    # -- public API -------------------------------------------------------------------------------------------------
    def position(self, t: object) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        xy = self._xy(t, 0)
        return np.concatenate([xy, _sines(t, self.heave_terms, 0)[..., None]], axis=-1)

    def velocity_world(self, t: object) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return np.concatenate([self._xy(t, 1), _sines(t, self.heave_terms, 1)[..., None]], axis=-1)

    def accel_world(self, t: object) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return np.concatenate([self._xy(t, 2), _sines(t, self.heave_terms, 2)[..., None]], axis=-1)

    def rotation(self, t: object) -> np.ndarray:
        yaw, pitch, roll = self.euler(t)
        return rotation_zyx(yaw, pitch, roll)

    def pose(self, t: object) -> np.ndarray:
        """``T_world_base`` at ``t`` (s) -> (..., 4, 4)."""
        t = np.asarray(t, dtype=np.float64)
        T = np.zeros((*t.shape, 4, 4))
        T[..., :3, :3] = self.rotation(t)
        T[..., :3, 3] = self.position(t)
        T[..., 3, 3] = 1.0
        return T

    def omega_body(self, t: object) -> np.ndarray:
        """Angular velocity of base in the base frame (rad/s), from the ZYX Euler rates."""
        _yaw, pitch, roll = self.euler(t)
        dyaw, dpitch, droll = self.euler(t, 1)
        sp, cp, sr, cr = np.sin(pitch), np.cos(pitch), np.sin(roll), np.cos(roll)
        return np.stack(
            [droll - dyaw * sp, dpitch * cr + dyaw * sr * cp, -dpitch * sr + dyaw * cr * cp],
            axis=-1,
        )

    def omega_dot_body(self, t: object) -> np.ndarray:
        """Angular acceleration in the base frame (central difference of the analytic rate)."""
        t = np.asarray(t, dtype=np.float64)
        return (self.omega_body(t + _FD_STEP_S) - self.omega_body(t - _FD_STEP_S)) / (2 * _FD_STEP_S)

    def point_velocity_world(self, t: object, p_base: np.ndarray) -> np.ndarray:
        """World velocity of a point fixed in the base frame: ``v + R (omega x p)``."""
        R = self.rotation(t)
        w = self.omega_body(t)
        return self.velocity_world(t) + np.einsum("...ij,...j->...i", R, np.cross(w, p_base))


@dataclass(frozen=True, eq=False)
class PathFollower:
    """An object driving along the ego path: at time ``t`` it is where the ego path is at ``tau = tau0 + rate * t``,
    shifted ``lateral_m`` to the left of the path; ``rate < 0`` drives the path backwards (oncoming traffic)."""

    ego: EgoTrajectory
    tau0: float
    rate: float
    lateral_m: float

    def pose(self, t: object) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        tau = self.tau0 + self.rate * t
        yaw = self.ego.yaw(tau) + (np.pi if self.rate < 0 else 0.0)
        xy = self.ego._xy(tau, 0)
        n = np.stack([-np.sin(self.ego.yaw(tau)), np.cos(self.ego.yaw(tau))], axis=-1)
        T = np.zeros((*t.shape, 4, 4))
        T[..., :3, :3] = rotation_zyx(yaw, np.zeros_like(yaw), np.zeros_like(yaw))
        T[..., :2, 3] = xy + self.lateral_m * n
        T[..., 3, 3] = 1.0
        return T


@dataclass(frozen=True, eq=False)
class StraightWalker:
    """An object moving in a straight line at constant velocity, facing its direction of motion."""

    start_xy: tuple[float, float]
    velocity_xy: tuple[float, float]

    def pose(self, t: object) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        v = np.asarray(self.velocity_xy)
        yaw = np.full(t.shape, np.arctan2(v[1], v[0]))
        T = np.zeros((*t.shape, 4, 4))
        T[..., :3, :3] = rotation_zyx(yaw, np.zeros_like(yaw), np.zeros_like(yaw))
        T[..., :2, 3] = np.asarray(self.start_xy) + t[..., None] * v
        T[..., 3, 3] = 1.0
        return T


def point_velocity_fd(pose_fn, t: np.ndarray, p_local: np.ndarray) -> np.ndarray:
    """World velocity of points fixed in a moving frame, by central differences of its pose function.

    ``t`` (N,) and ``p_local`` (N, 3): each point at its own time. Exact to ~1e-8 m/s for the smooth motions here.
    """
    Tp, Tm = pose_fn(t + _FD_STEP_S), pose_fn(t - _FD_STEP_S)
    pp = np.einsum("nij,nj->ni", Tp[:, :3, :3], p_local) + Tp[:, :3, 3]
    pm = np.einsum("nij,nj->ni", Tm[:, :3, :3], p_local) + Tm[:, :3, 3]
    return (pp - pm) / (2 * _FD_STEP_S)


@dataclass(frozen=True, eq=False)
class HeldBoard:
    """A calibration board held in front of the ego vehicle and swung through many poses (like a person walking a
    target in front of a parked rig, but while driving). ``T_world_board = T_world_base(t) @ T_base_board(t)``.

    Board frame: a box whose front face (the pattern) is at local ``x = +thickness/2`` facing +x; at rest the face
    looks back at the vehicle from ``distance_m`` ahead.
    """

    ego: EgoTrajectory
    distance_m: float
    height_m: float
    phases: tuple[float, ...]

    def relative_pose(self, t: object) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        p = self.phases
        x = self.distance_m + 1.2 * np.sin(2 * np.pi * t / 3.1 + p[0])
        y = 1.0 * np.sin(2 * np.pi * t / 4.3 + p[1])
        z = self.height_m + 0.3 * np.sin(2 * np.pi * t / 2.3 + p[2])
        yaw = np.pi + np.deg2rad(35.0) * np.sin(2 * np.pi * t / 2.9 + p[3])
        pitch = np.deg2rad(25.0) * np.sin(2 * np.pi * t / 2.1 + p[4])
        roll = np.deg2rad(20.0) * np.sin(2 * np.pi * t / 3.7 + p[5])
        T = np.zeros((*t.shape, 4, 4))
        T[..., :3, :3] = rotation_zyx(yaw, pitch, roll)
        T[..., :3, 3] = np.stack([x, y, z], axis=-1)
        T[..., 3, 3] = 1.0
        return T

    def pose(self, t: object) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        return self.ego.pose(t) @ self.relative_pose(t)
