"""Motion-only streams of the simulator: an IMU and a pose sensor on one rig, with exact ground truth.

For the motion-based calibrations (rotation, time offset, gyro bias), which need the rig's motion as each sensor
measures it but no rendering (the gyro only: the accelerometer is not modelled here): the ego trajectory of :class:`~sensorfuse.sim.trajectory.EgoTrajectory` (any
``motion`` profile), the IMU of the ``small`` rig with its documented noise (white noise, initial bias, bias random
walk: :class:`~sensorfuse.sim.simulate._ImuNoise`, the same model the logs use), and a second sensor's orientations
(a LiDAR odometry or camera pose stream, exact or with a rotation noise) on its own clock.

Clock convention (the rig file's): the IMU's clock is the reference; the pose sensor's stamps read
``t_sensor = t_true - offset_ns``, so ``t_imu = t_sensor + offset_ns``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from sensorfuse.sim.rigs import preset_rig
from sensorfuse.sim.trajectory import EgoTrajectory

__all__ = ["MotionTruth", "motion_streams"]

_START_NS = 1_700_000_000_000_000_000


@dataclass(frozen=True)
class MotionTruth:
    imu_stamps_ns: np.ndarray  # (N,) on the IMU clock (= true time)
    gyro: np.ndarray  # (N, 3) rad/s, measured (noise and bias)
    gyro_bias0: np.ndarray  # (3,) the initial gyro bias drawn
    pose_stamps_ns: np.ndarray  # (M,) on the pose sensor's clock
    R_world_sensor: np.ndarray  # (M, 3, 3) the pose sensor's orientation (with ``rotation_noise_deg``)
    R_imu_sensor: np.ndarray  # the true rotation between them
    offset_ns: int  # t_imu = t_sensor + offset_ns


def motion_streams(
    duration_s: float = 60.0,
    *,
    seed: int = 0,
    motion: str = "drive",
    speed_mps: float = 10.0,
    pose_rate_hz: float = 10.0,
    offset_ns: int = 17_000_000,
    R_imu_sensor: np.ndarray | None = None,
    rotation_noise_deg: float = 0.02,
    imu_noise: bool = True,
    gyro_clip: float | None = None,
) -> MotionTruth:
    """IMU samples (the ``small`` rig's IMU, 200 Hz) and a pose sensor's orientations (``pose_rate_hz``), seeded.

    ``R_imu_sensor`` defaults to a seeded rotation of tens of degrees; ``rotation_noise_deg`` is the per-pose
    orientation noise of the pose sensor (as from scan registration); ``gyro_clip`` clips the gyro (saturation).
    """
    from sensorfuse.sim.simulate import _ImuNoise

    rng = np.random.default_rng([seed, zlib.crc32(b"motion")])
    ego = EgoTrajectory.design(duration_s, speed_mps, rng, motion=motion)
    rig = preset_rig("small")
    R_bi = rig.T_base("imu")[:3, :3]
    if R_imu_sensor is None:
        R_imu_sensor = Rotation.from_rotvec(rng.normal(0, 1, 3) / np.sqrt(3) * np.radians(40)).as_matrix()
    rate = rig.imu_rate_hz
    st = _START_NS + np.arange(0, round(duration_s * rate)) * round(1e9 / rate)
    t = (st - _START_NS) * 1e-9
    w_body = ego.omega_body(t)
    gyro_true = w_body @ R_bi  # rows: R_bi^T w
    noise_model = _ImuNoise(rig.rig.sensor("imu").noise if imu_noise else {}, rate, rng)
    gyro, _ = noise_model.apply(gyro_true, np.zeros_like(gyro_true))  # the accelerometer is not modelled here
    bias0 = noise_model.bias0["gyro"]
    if gyro_clip is not None:
        gyro = np.clip(gyro, -gyro_clip, gyro_clip)
    # the pose sensor: sampled at true times, stamped on its own clock
    t_true_ns = (
        _START_NS + 50_000_000 + np.arange(0, round((duration_s - 0.1) * pose_rate_hz)) * round(1e9 / pose_rate_hz)
    )
    tp = (t_true_ns - _START_NS) * 1e-9
    R_w_imu = ego.rotation(tp) @ R_bi
    R_ws = R_w_imu @ R_imu_sensor
    if rotation_noise_deg:
        prng = np.random.default_rng([seed, zlib.crc32(b"motion-pose-noise")])
        R_ws = R_ws @ Rotation.from_rotvec(prng.normal(0, np.radians(rotation_noise_deg), (tp.size, 3))).as_matrix()
    return MotionTruth(st, gyro, bias0, t_true_ns - offset_ns, R_ws, R_imu_sensor, int(offset_ns))
