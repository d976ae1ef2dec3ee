"""The simulator's rigs: ``small`` (16-beam LiDAR, one 640x480 camera) and ``full`` (64-beam LiDAR, two 1280x720
cameras, one Brown-Conrady and one fisheye), both with IMU, radar and GNSS.

The true extrinsics are deliberately not round numbers (mounting errors of a fraction of a degree), so a
calibration that returns the nominal mounting is wrong. Noise parameters live in each sensor's ``noise`` mapping
(documented in docs/simulator.md); :func:`without_noise` zeroes them for exact tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial.transform import Rotation

from sensorfuse.errors import ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.rig import Extrinsic, Provenance, Rig, Sensor

__all__ = ["RIG_NAMES", "LidarSpec", "SimRig", "preset_rig", "without_noise"]

RIG_NAMES = ("small", "full")
BASE_FRAME = "base_link"

# base_link axes of an optical frame looking along base x: camera z = base x, camera x = -base y, camera y = -base z
_R_BASE_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class LidarSpec:
    """A spinning LiDAR: ``beams`` lasers at ``elevations_deg``, ``columns`` firings per revolution at ``rate_hz``,
    spinning clockwise seen from above (like Velodyne/Ouster), starting behind the sensor (azimuth +180 deg)."""

    beams: int
    columns: int
    rate_hz: float = 10.0
    min_range_m: float = 0.5
    max_range_m: float = 120.0

    @property
    def elevations_deg(self) -> np.ndarray:
        lo, hi = {16: (-15.0, 15.0), 32: (-25.0, 15.0), 64: (-24.8, 2.0)}[self.beams]
        return np.linspace(lo, hi, self.beams)

    @property
    def azimuths_rad(self) -> np.ndarray:
        """Azimuth of each column (x forward, y left, counter-clockwise positive): +pi, decreasing."""
        return np.pi - 2.0 * np.pi * np.arange(self.columns) / self.columns


@dataclass(frozen=True)
class SimRig:
    """A rig plus what the simulator needs beyond the rig file: LiDAR geometry, rates, exposure times."""

    rig: Rig
    lidar: LidarSpec
    camera_rate_hz: float = 30.0
    exposure_ns: int = 4_000_000
    imu_rate_hz: float = 200.0
    radar_rate_hz: float = 20.0
    gnss_rate_hz: float = 10.0
    odom_rate_hz: float = 100.0
    radar_fov_deg: float = 120.0

    @property
    def cameras(self) -> list[Sensor]:
        return self.rig.cameras()

    def T_base(self, sensor: str) -> np.ndarray:
        return self.rig.transform(BASE_FRAME, self.rig.sensor(sensor).frame_id)


def _mount(xyz: tuple[float, float, float], rpy_deg: tuple[float, float, float], optical: bool = False) -> np.ndarray:
    T = np.eye(4)
    R = Rotation.from_euler("ZYX", rpy_deg[::-1], degrees=True).as_matrix()
    T[:3, :3] = R @ _R_BASE_OPTICAL if optical else R
    T[:3, 3] = xyz
    return T


_NOISE = {
    "lidar": {"range_std_m": 0.01, "dropout_prob": 0.01, "intensity_std": 0.01},
    "camera": {"pixel_std": 2.0},
    "imu": {
        "gyro_noise_density": 1.7e-4,  # rad/s/sqrt(Hz)
        "accel_noise_density": 2.0e-3,  # m/s^2/sqrt(Hz)
        "gyro_random_walk": 2.0e-5,  # rad/s^2/sqrt(Hz)
        "accel_random_walk": 3.0e-4,  # m/s^3/sqrt(Hz)
        "gyro_bias_std": 1.0e-3,  # rad/s, initial bias
        "accel_bias_std": 0.03,  # m/s^2, initial bias
    },
    "radar": {
        "range_std_m": 0.1,
        "azimuth_std_deg": 0.5,
        "doppler_std_mps": 0.05,
        "rcs_std_db": 1.0,
        "miss_prob": 0.1,
        "clutter_per_scan": 5.0,
    },
    "gnss": {"horizontal_std_m": 0.02, "vertical_std_m": 0.04},
}


def preset_rig(name: str) -> SimRig:
    """The ``small`` or ``full`` rig with its true extrinsics, intrinsics and nominal noise."""
    if name not in RIG_NAMES:
        raise ValidationError(f"rig {name!r}: expected one of {', '.join(RIG_NAMES)}")
    prov = Provenance("simulator ground truth", data=f"sensorfuse.sim preset {name!r}")
    lidar = LidarSpec(beams=16, columns=1024, max_range_m=100.0) if name == "small" else LidarSpec(64, 2048)
    sensors = [
        Sensor("lidar", "lidar", "lidar", "/lidar/points", lidar.rate_hz, noise=_NOISE["lidar"], provenance=prov),
        Sensor("imu", "imu", "imu", "/imu/data", 200.0, noise=_NOISE["imu"], provenance=prov),
        Sensor("radar", "radar", "radar", "/radar/points", 20.0, noise=_NOISE["radar"], provenance=prov),
        Sensor("gnss", "gnss", "gnss", "/gnss/fix", 10.0, noise=_NOISE["gnss"], provenance=prov),
    ]
    mounts = {
        "lidar": _mount((1.30, 0.02, 1.95), (0.35, -0.6, 1.2)),
        "imu": _mount((0.20, -0.15, 0.45), (0.8, -1.1, 0.6)),
        "radar": _mount((3.70, 0.05, 0.55), (0.2, 1.0, -0.8)),
        "gnss": _mount((0.50, 0.0, 1.80), (0.0, 0.0, 0.0)),
    }
    if name == "small":
        cams = {
            "cam_front": (
                CameraModel(
                    np.array([[500.0, 0, 320.2], [0, 500.0, 239.6], [0, 0, 1]]),
                    np.array([-0.25, 0.07, 0.0005, -0.0003, 0.0]),
                    "brown_conrady",
                    640,
                    480,
                ),
                _mount((1.60, 0.10, 1.55), (-0.5, 0.8, -0.7), optical=True),
            )
        }
    else:
        cams = {
            "cam_front": (
                CameraModel(
                    np.array([[1000.0, 0, 640.5], [0, 1000.0, 359.3], [0, 0, 1]]),
                    np.array([-0.28, 0.09, 0.0008, -0.0005, -0.012]),
                    "brown_conrady",
                    1280,
                    720,
                ),
                _mount((1.60, 0.10, 1.55), (-0.5, 0.8, -0.7), optical=True),
            ),
            "cam_wide": (
                CameraModel(
                    np.array([[520.0, 0, 639.0], [0, 520.0, 361.0], [0, 0, 1]]),
                    np.array([0.02, -0.006, 0.001, -0.0002]),
                    "kannala_brandt",
                    1280,
                    720,
                ),
                _mount((1.55, 0.35, 1.50), (0.4, 2.0, 30.0), optical=True),
            ),
        }
    for cam_name, (model, T) in cams.items():
        sensors.append(
            Sensor(
                cam_name,
                "camera",
                cam_name,
                f"/{cam_name}/image_raw/compressed",
                30.0,
                camera=model,
                noise=_NOISE["camera"],
                provenance=prov,
            )
        )
        mounts[cam_name] = T
    extrinsics = [Extrinsic(BASE_FRAME, s, T, provenance=prov) for s, T in mounts.items()]
    rig = Rig(
        f"sensorfuse-sim-{name}",
        tuple(sensors),
        tuple(extrinsics),
        base_frame=BASE_FRAME,
        reference_clock=None,
        provenance=prov,
        metadata={"lidar_beams": lidar.beams, "lidar_columns": lidar.columns},
    )
    return SimRig(rig, lidar)


def without_noise(sim_rig: SimRig) -> SimRig:
    """The same rig with every noise parameter zero (no misses or clutter): for exact tests."""
    sensors = tuple(replace(s, noise=dict.fromkeys(s.noise, 0.0)) for s in sim_rig.rig.sensors)
    return replace(sim_rig, rig=replace(sim_rig.rig, sensors=sensors))
