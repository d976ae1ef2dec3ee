"""Sensor data types: small frozen dataclasses holding numpy arrays (CONVENTIONS.md, "Sensor data types").

Every type validates at construction (shapes, dtypes, finite values, sorted stamps) and converts to the documented
dtype where that is lossless or the documented representation (``xyz`` to float32); anything else raises
:class:`~sensorfuse.errors.ValidationError` naming the field. Timestamps are int64 nanoseconds.

Equality is identity (``eq=False``): compare arrays explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from sensorfuse._checks import check_array, check_rotation, check_stamp, check_stamps, check_transform
from sensorfuse.errors import ValidationError

__all__ = [
    "IMAGE_ENCODINGS",
    "Box2D",
    "Box3D",
    "CompressedImage",
    "GnssFix",
    "Image",
    "ImuSamples",
    "PointCloud",
    "PoseTrajectory",
    "RadarScan",
]


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _check_frame(value: object, name: str = "frame_id") -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name}: expected a frame name (str), got {type(value).__name__} {value!r}")
    return value


def _check_per_point(obj: object, name: str, n: int, dtype: np.dtype | type, *, ndim1: bool = True) -> None:
    value = getattr(obj, name)
    if value is None:
        return
    arr = check_array(value, name, dtype=dtype, ndim=1 if ndim1 else (1, 2))
    if arr.shape[0] != n:
        raise ValidationError(f"{name}: expected {n} values (one per point), got {arr.shape[0]}")
    _set(obj, name, arr)


@dataclass(frozen=True, eq=False)
class PointCloud:
    """A LiDAR sweep (or any point cloud) in its sensor frame.

    Attributes:
        xyz: (N, 3) float32, metres, sensor frame (x forward, y left, z up for a LiDAR). Must be finite: readers
            drop invalid (NaN) returns and report how many.
        stamp_ns: header time of the sweep, int ns.
        frame_id: sensor frame name.
        intensity: optional (N,) float32.
        t_offset_ns: optional (N,) int64 per-point time relative to ``stamp_ns`` (may be negative when the driver
            stamps the sweep end).
        ring: optional (N,) uint16 laser index.
        fields: extra per-point fields by name, each (N,) or (N, k).
        log_ns: record (container) time, if the log has one.

    Arrays built by the constructor are C-contiguous copies or views; clouds from the log readers may hold strided
    zero-copy views into the message buffer (``np.ascontiguousarray`` them where a kernel needs contiguous memory —
    the geometry functions do).
    """

    xyz: np.ndarray
    stamp_ns: int
    frame_id: str
    intensity: np.ndarray | None = None
    t_offset_ns: np.ndarray | None = None
    ring: np.ndarray | None = None
    fields: Mapping[str, np.ndarray] = field(default_factory=dict)
    log_ns: int | None = None

    def __post_init__(self) -> None:
        xyz = check_array(self.xyz, "xyz", shape=(None, 3), dtype=np.float32, kinds="f", finite=True)
        _set(self, "xyz", xyz)
        _set(self, "stamp_ns", check_stamp(self.stamp_ns))
        _set(self, "frame_id", _check_frame(self.frame_id))
        n = xyz.shape[0]
        _check_per_point(self, "intensity", n, np.float32)
        _check_per_point(self, "t_offset_ns", n, np.int64)
        _check_per_point(self, "ring", n, np.uint16)
        extra = {}
        for k, v in dict(self.fields).items():
            arr = check_array(v, f"fields[{k!r}]")
            if arr.ndim == 0 or arr.shape[0] != n:
                raise ValidationError(f"fields[{k!r}]: expected {n} rows (one per point), got shape {arr.shape}")
            extra[str(k)] = arr
        _set(self, "fields", MappingProxyType(extra))
        if self.log_ns is not None:
            _set(self, "log_ns", check_stamp(self.log_ns, "log_ns"))

    def __len__(self) -> int:
        return int(self.xyz.shape[0])

    @classmethod
    def _from_checked(
        cls,
        xyz: np.ndarray,
        stamp_ns: int,
        frame_id: str,
        *,
        intensity: np.ndarray | None,
        t_offset_ns: np.ndarray | None,
        ring: np.ndarray | None,
        fields: Mapping[str, np.ndarray],
        log_ns: int | None,
    ) -> PointCloud:
        """A cloud from arrays the caller has already validated (reader use only): ``xyz (N, 3) float32`` finite,
        ``intensity`` float32, ``t_offset_ns`` int64, ``ring`` uint16, fields with N rows. Nothing is copied, so
        strided views of a message buffer stay views."""
        obj = object.__new__(cls)
        values = {"xyz": xyz, "stamp_ns": check_stamp(stamp_ns), "frame_id": _check_frame(frame_id)}
        values |= {"intensity": intensity, "t_offset_ns": t_offset_ns, "ring": ring, "log_ns": log_ns}
        values["fields"] = MappingProxyType(dict(fields))
        for k, v in values.items():
            _set(obj, k, v)
        return obj

    @property
    def point_stamps_ns(self) -> np.ndarray:
        """Absolute per-point times (int64 ns); raises if the cloud has no per-point time."""
        if self.t_offset_ns is None:
            raise ValidationError(f"cloud in frame {self.frame_id!r} at {self.stamp_ns} has no per-point time")
        return self.stamp_ns + self.t_offset_ns

    def __repr__(self) -> str:
        extra = [k for k in ("intensity", "t_offset_ns", "ring") if getattr(self, k) is not None]
        extra += list(self.fields)
        return f"PointCloud({len(self)} points, frame_id={self.frame_id!r}, stamp_ns={self.stamp_ns}, fields={extra})"


#: Known raw image encodings: name -> (channels, dtype). Bayer patterns are single-channel raw mosaics.
IMAGE_ENCODINGS: Mapping[str, tuple[int, np.dtype]] = MappingProxyType(
    {
        "rgb8": (3, np.dtype(np.uint8)),
        "bgr8": (3, np.dtype(np.uint8)),
        "rgba8": (4, np.dtype(np.uint8)),
        "bgra8": (4, np.dtype(np.uint8)),
        "rgb16": (3, np.dtype(np.uint16)),
        "bgr16": (3, np.dtype(np.uint16)),
        "mono8": (1, np.dtype(np.uint8)),
        "mono16": (1, np.dtype(np.uint16)),
        "8UC1": (1, np.dtype(np.uint8)),
        "8UC3": (3, np.dtype(np.uint8)),
        "16UC1": (1, np.dtype(np.uint16)),
        "32FC1": (1, np.dtype(np.float32)),
        **{f"bayer_{p}8": (1, np.dtype(np.uint8)) for p in ("rggb", "bggr", "gbrg", "grbg")},
        **{f"bayer_{p}16": (1, np.dtype(np.uint16)) for p in ("rggb", "bggr", "gbrg", "grbg")},
    }
)


@dataclass(frozen=True, eq=False)
class Image:
    """A raw image.

    Attributes:
        data: (H, W) or (H, W, C) array; dtype and channels must match ``encoding`` (see ``IMAGE_ENCODINGS``).
        encoding: ROS encoding name (``rgb8``, ``bgr8``, ``mono8``, ``mono16``, ``16UC1``, ``32FC1``, ``bayer_*``).
        stamp_ns, frame_id, log_ns: as for :class:`PointCloud`.
    """

    data: np.ndarray
    encoding: str
    stamp_ns: int
    frame_id: str
    log_ns: int | None = None

    def __post_init__(self) -> None:
        if self.encoding not in IMAGE_ENCODINGS:
            raise ValidationError(f"encoding {self.encoding!r} is not supported; known: {', '.join(IMAGE_ENCODINGS)}")
        channels, dtype = IMAGE_ENCODINGS[self.encoding]
        data = check_array(self.data, "data", ndim=(2, 3))
        if data.dtype != dtype:
            raise ValidationError(f"data: encoding {self.encoding!r} needs dtype {dtype}, got {data.dtype}")
        got = 1 if data.ndim == 2 else data.shape[2]
        if got != channels or (channels > 1 and data.ndim != 3):
            raise ValidationError(
                f"data: encoding {self.encoding!r} needs {channels} channel(s), got shape {data.shape}"
            )
        if data.shape[0] == 0 or data.shape[1] == 0:
            raise ValidationError(f"data: empty image of shape {data.shape}")
        _set(self, "data", data)
        _set(self, "stamp_ns", check_stamp(self.stamp_ns))
        _set(self, "frame_id", _check_frame(self.frame_id))
        if self.log_ns is not None:
            _set(self, "log_ns", check_stamp(self.log_ns, "log_ns"))

    @property
    def height(self) -> int:
        return int(self.data.shape[0])

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    def __repr__(self) -> str:
        return (
            f"Image({self.width}x{self.height} {self.encoding}, frame_id={self.frame_id!r}, stamp_ns={self.stamp_ns})"
        )


@dataclass(frozen=True, eq=False)
class CompressedImage:
    """An image as recorded (JPEG or PNG bytes): kept as is, decoded only on demand.

    Attributes:
        data: the encoded bytes.
        format: ``"jpeg"`` or ``"png"`` (ROS strings such as ``"bgr8; jpeg compressed bgr8"`` are normalised).
    """

    data: bytes
    format: str
    stamp_ns: int
    frame_id: str
    log_ns: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.data, (bytearray, memoryview, np.ndarray)):
            _set(self, "data", bytes(self.data))
        if not isinstance(self.data, bytes):
            raise ValidationError(f"data: expected bytes, got {type(self.data).__name__}")
        if not self.data:
            raise ValidationError("data: empty compressed image")
        fmt = str(self.format).lower()
        if "jpeg" in fmt or "jpg" in fmt:
            fmt = "jpeg"
        elif "png" in fmt:
            fmt = "png"
        else:
            raise ValidationError(f"format {self.format!r}: expected jpeg or png")
        _set(self, "format", fmt)
        _set(self, "stamp_ns", check_stamp(self.stamp_ns))
        _set(self, "frame_id", _check_frame(self.frame_id))
        if self.log_ns is not None:
            _set(self, "log_ns", check_stamp(self.log_ns, "log_ns"))

    def decode(self) -> Image:
        """Decode with OpenCV: colour as ``bgr8``, grey as ``mono8``/``mono16``.

        Raises:
            FormatError: the bytes are not a decodable image.
        """
        import cv2  # heavy import kept local

        from sensorfuse.errors import FormatError

        arr = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise FormatError(
                f"compressed image ({self.format}, {len(self.data)} bytes, frame {self.frame_id!r}, "
                f"stamp {self.stamp_ns}) could not be decoded: corrupt or truncated data"
            )
        if arr.ndim == 2:
            enc = "mono16" if arr.dtype == np.uint16 else "mono8"
        elif arr.shape[2] == 4:
            enc = "bgra8"
        else:
            enc = "bgr8" if arr.dtype == np.uint8 else "bgr16"
        return Image(arr, enc, self.stamp_ns, self.frame_id, self.log_ns)

    def __repr__(self) -> str:
        return (
            f"CompressedImage({self.format}, {len(self.data)} bytes, frame_id={self.frame_id!r}, "
            f"stamp_ns={self.stamp_ns})"
        )


@dataclass(frozen=True, eq=False)
class ImuSamples:
    """A block of IMU samples (a single message is a block of one).

    Attributes:
        stamp_ns: (N,) int64, sorted ascending.
        gyro: (N, 3) rad/s, sensor frame.
        accel: (N, 3) m/s^2 (specific force), sensor frame.
        frame_id: sensor frame.
        orientation_xyzw: optional (N, 4) unit quaternions (x, y, z, w) of the sensor in its reference frame.
    """

    stamp_ns: np.ndarray
    gyro: np.ndarray
    accel: np.ndarray
    frame_id: str
    orientation_xyzw: np.ndarray | None = None

    def __post_init__(self) -> None:
        stamps = check_stamps(self.stamp_ns, "stamp_ns")
        n = stamps.shape[0]
        _set(self, "stamp_ns", stamps)
        for name in ("gyro", "accel"):
            arr = check_array(getattr(self, name), name, shape=(n, 3), dtype=np.float64, finite=True)
            _set(self, name, arr)
        if self.orientation_xyzw is not None:
            q = check_array(self.orientation_xyzw, "orientation_xyzw", shape=(n, 4), dtype=np.float64, finite=True)
            if np.any(np.abs(np.linalg.norm(q, axis=1) - 1.0) > 1e-3):
                raise ValidationError("orientation_xyzw: quaternions must have unit norm (x, y, z, w order)")
            _set(self, "orientation_xyzw", q)
        _set(self, "frame_id", _check_frame(self.frame_id))

    def __len__(self) -> int:
        return int(self.stamp_ns.shape[0])

    def __repr__(self) -> str:
        return f"ImuSamples({len(self)} samples, frame_id={self.frame_id!r})"


@dataclass(frozen=True, eq=False)
class RadarScan:
    """Radar detections of one scan.

    Attributes:
        xyz: (N, 3) float32 positions in the radar frame (m).
        doppler: (N,) float32 radial velocity, m/s (positive = moving away).
        rcs: (N,) float32 radar cross-section, dBsm; NaN where the sensor or format gives none (e.g. Delphi ESR
            exports), never a made-up value.
        velocity: optional (N, 2) or (N, 3) float32 velocity (ego-motion compensated if the sensor says so).
    """

    xyz: np.ndarray
    doppler: np.ndarray
    rcs: np.ndarray
    stamp_ns: int
    frame_id: str
    velocity: np.ndarray | None = None
    log_ns: int | None = None

    def __post_init__(self) -> None:
        xyz = check_array(self.xyz, "xyz", shape=(None, 3), dtype=np.float32, kinds="f", finite=True)
        n = xyz.shape[0]
        _set(self, "xyz", xyz)
        _set(self, "doppler", check_array(self.doppler, "doppler", shape=(n,), dtype=np.float32, finite=True))
        rcs = check_array(self.rcs, "rcs", shape=(n,), dtype=np.float32)
        if np.isinf(rcs).any():
            raise ValidationError("rcs: contains infinite values (use NaN for 'not measured')")
        _set(self, "rcs", rcs)
        if self.velocity is not None:
            v = check_array(self.velocity, "velocity", ndim=2, dtype=np.float32, finite=True)
            if v.shape[0] != n or v.shape[1] not in (2, 3):
                raise ValidationError(f"velocity: expected ({n}, 2) or ({n}, 3), got {v.shape}")
            _set(self, "velocity", v)
        _set(self, "stamp_ns", check_stamp(self.stamp_ns))
        _set(self, "frame_id", _check_frame(self.frame_id))
        if self.log_ns is not None:
            _set(self, "log_ns", check_stamp(self.log_ns, "log_ns"))

    def __len__(self) -> int:
        return int(self.xyz.shape[0])


@dataclass(frozen=True, eq=False)
class GnssFix:
    """One GNSS fix.

    Attributes:
        stamp_ns: fix time in ns in the clock named by ``time_base`` (``"gps"``: since the GPS epoch;
            ``"utc"``: Unix time). Convert with :mod:`sensorfuse.units`.
        latitude_deg, longitude_deg: WGS84 degrees.
        altitude_m: metres above the WGS84 ellipsoid.
        covariance_m2: optional (3, 3) ENU position covariance.
        status: fix status (-1 no fix, 0 fix, 1 SBAS, 2 GBAS/RTK), as in ``sensor_msgs/NavSatStatus``.
    """

    stamp_ns: int
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    frame_id: str
    time_base: str = "gps"
    covariance_m2: np.ndarray | None = None
    status: int = 0
    log_ns: int | None = None

    def __post_init__(self) -> None:
        _set(self, "stamp_ns", check_stamp(self.stamp_ns))
        if self.time_base not in ("gps", "utc"):
            raise ValidationError(f"time_base: expected 'gps' or 'utc', got {self.time_base!r}")
        lat, lon, alt = (float(self.latitude_deg), float(self.longitude_deg), float(self.altitude_m))
        if not (np.isfinite([lat, lon, alt]).all() and -90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValidationError(f"GNSS fix out of range: lat={lat}, lon={lon}, alt={alt}")
        _set(self, "latitude_deg", lat)
        _set(self, "longitude_deg", lon)
        _set(self, "altitude_m", alt)
        if self.covariance_m2 is not None:
            _set(
                self, "covariance_m2", check_array(self.covariance_m2, "covariance_m2", shape=(3, 3), dtype=np.float64)
            )
        _set(self, "frame_id", _check_frame(self.frame_id))
        if self.log_ns is not None:
            _set(self, "log_ns", check_stamp(self.log_ns, "log_ns"))


@dataclass(frozen=True, eq=False)
class PoseTrajectory:
    """Poses of a body frame in a world frame over time.

    Attributes:
        stamp_ns: (N,) int64, strictly increasing.
        T_world_body: (N, 4, 4) rigid transforms (validated).
        world_frame, body_frame: frame names.
    """

    stamp_ns: np.ndarray
    T_world_body: np.ndarray
    world_frame: str = "world"
    body_frame: str = "base_link"

    def __post_init__(self) -> None:
        stamps = check_stamps(self.stamp_ns, "stamp_ns", strictly=True)
        if stamps.size == 0:
            raise ValidationError("stamp_ns: a trajectory needs at least one pose")
        T = check_transform(self.T_world_body, "T_world_body")
        if T.ndim != 3 or T.shape[0] != stamps.shape[0]:
            raise ValidationError(f"T_world_body: expected ({stamps.shape[0]}, 4, 4), got {T.shape}")
        _set(self, "stamp_ns", stamps)
        _set(self, "T_world_body", T)
        _set(self, "world_frame", _check_frame(self.world_frame, "world_frame"))
        _set(self, "body_frame", _check_frame(self.body_frame, "body_frame"))

    def __len__(self) -> int:
        return int(self.stamp_ns.shape[0])

    def interpolate(
        self, query_ns: object, *, extrapolation: str = "raise", max_extrapolation_ns: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Poses at ``query_ns`` (SLERP + linear; exact at the samples). See
        :func:`sensorfuse.geometry.interpolate_poses` for the extrapolation policy.

        Returns:
            ``(T_world_body (M, 4, 4), valid (M,))``.
        """
        # called, not owned: the interpolation lives in geometry (this module imports nothing above it at load)
        from sensorfuse.geometry.interpolation import _interpolate_poses

        q = check_array(query_ns, "query_ns", ndim=1, dtype=np.int64, kinds="iu")
        return _interpolate_poses(
            self.stamp_ns,
            self.T_world_body,
            q,
            extrapolation,
            max_extrapolation_ns,
            f"trajectory {self.world_frame}<-{self.body_frame}",
        )

    def __repr__(self) -> str:
        span = (int(self.stamp_ns[-1]) - int(self.stamp_ns[0])) / 1e9
        return f"PoseTrajectory({len(self)} poses over {span:.3f} s, T_{self.world_frame}_{self.body_frame})"


def _opt_int(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValidationError(f"{name}: expected an integer or None, got {value!r}")
    return int(value)


def _opt_float(value: object, name: str, lo: float = -np.inf, hi: float = np.inf) -> float | None:
    if value is None:
        return None
    v = float(value)  # type: ignore[arg-type]
    if not (np.isfinite(v) and lo <= v <= hi):
        raise ValidationError(f"{name}: expected a finite value in [{lo}, {hi}], got {value!r}")
    return v


def _check_label_fields(obj: Box3D | Box2D) -> None:
    """Validate and normalise the fields Box3D and Box2D share (frame, time, class, occlusion, ...)."""
    _set(obj, "frame_id", _check_frame(obj.frame_id))
    _set(obj, "stamp_ns", check_stamp(obj.stamp_ns))
    if not isinstance(obj.label, str):
        raise ValidationError(f"label: expected a class name (str), got {obj.label!r}")
    _set(obj, "occlusion", _opt_float(obj.occlusion, "occlusion", 0.0))
    _set(obj, "truncation", _opt_float(obj.truncation, "truncation", 0.0, 1.0))
    _set(obj, "score", _opt_float(obj.score, "score"))
    _set(obj, "attributes", MappingProxyType(dict(obj.attributes)))


@dataclass(frozen=True, eq=False)
class Box3D:
    """An oriented 3D box (a label or a detection).

    Attributes:
        center: (3,) geometric centre, in ``frame_id``.
        size: (3,) ``(l, w, h)``: extent along the box's own x (forward), y (left), z (up), metres.
        rotation: (3, 3) rotation of the box frame in ``frame_id`` (``Box3D.from_yaw`` for the usual yaw-only case).
        frame_id, stamp_ns: where and when.
        label: class name.
        track_id: optional object identity across frames.
        occlusion: optional occlusion level (dataset-specific scale, e.g. KITTI 0..3) or fraction.
        truncation: optional fraction in [0, 1] outside the image.
        score: optional detection confidence.
        attributes: free-form extra attributes.
    """

    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray
    frame_id: str
    stamp_ns: int
    label: str
    track_id: str | int | None = None
    occlusion: float | None = None
    truncation: float | None = None
    score: float | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _set(self, "center", check_array(self.center, "center", shape=(3,), dtype=np.float64, finite=True))
        size = check_array(self.size, "size", shape=(3,), dtype=np.float64, finite=True)
        if np.any(size < 0):
            raise ValidationError(f"size: (l, w, h) must be non-negative, got {size.tolist()}")
        _set(self, "size", size)
        _set(self, "rotation", check_rotation(self.rotation, "rotation"))
        _check_label_fields(self)

    @classmethod
    def from_yaw(cls, center: object, size: object, yaw: float, **kwargs: Any) -> Box3D:
        """Box rotated by ``yaw`` (rad) about the frame's z axis (up in a LiDAR/vehicle frame)."""
        c, s = np.cos(yaw), np.sin(yaw)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        return cls(center=center, size=size, rotation=R, **kwargs)

    @property
    def yaw(self) -> float:
        """Heading about the frame's z axis: angle of the box's x axis in the frame's xy plane (rad)."""
        return float(np.arctan2(self.rotation[1, 0], self.rotation[0, 0]))

    @property
    def T_frame_box(self) -> np.ndarray:
        """4x4 pose of the box frame (origin at the centre) in ``frame_id``."""
        T = np.eye(4)
        T[:3, :3] = self.rotation
        T[:3, 3] = self.center
        return T

    def corners(self) -> np.ndarray:
        """(8, 3) corners in ``frame_id``: bottom face first (counter-clockwise from front-left, seen from above),
        then the top face in the same order; "bottom" is -z of the box frame."""
        hl, hw, hh = self.size / 2.0
        x = np.array([hl, -hl, -hl, hl, hl, -hl, -hl, hl])
        y = np.array([hw, hw, -hw, -hw, hw, hw, -hw, -hw])
        z = np.array([-hh, -hh, -hh, -hh, hh, hh, hh, hh])
        return np.stack([x, y, z], axis=1) @ self.rotation.T + self.center

    def __repr__(self) -> str:
        return (
            f"Box3D({self.label!r}, center={np.round(self.center, 3).tolist()}, size={np.round(self.size, 3).tolist()}, "
            f"frame_id={self.frame_id!r}, track_id={self.track_id!r})"
        )


@dataclass(frozen=True, eq=False)
class Box2D:
    """An axis-aligned 2D box in pixel coordinates of one camera image.

    Attributes:
        xmin, ymin, xmax, ymax: pixel coordinates (xmin <= xmax, ymin <= ymax).
        frame_id, stamp_ns: the camera and the image time.
        label, track_id, occlusion, truncation, score, attributes: as for :class:`Box3D`.
    """

    xmin: float
    ymin: float
    xmax: float
    ymax: float
    frame_id: str
    stamp_ns: int
    label: str
    track_id: str | int | None = None
    occlusion: float | None = None
    truncation: float | None = None
    score: float | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        vals = []
        for name in ("xmin", "ymin", "xmax", "ymax"):
            v = _opt_float(getattr(self, name), name)
            if v is None:
                raise ValidationError(f"{name}: required")
            vals.append(v)
            _set(self, name, v)
        if vals[0] > vals[2] or vals[1] > vals[3]:
            raise ValidationError(
                f"box corners out of order: xmin={vals[0]}, xmax={vals[2]}, ymin={vals[1]}, ymax={vals[3]}"
            )
        _check_label_fields(self)

    @property
    def xyxy(self) -> np.ndarray:
        return np.array([self.xmin, self.ymin, self.xmax, self.ymax])

    @property
    def area(self) -> float:
        return (self.xmax - self.xmin) * (self.ymax - self.ymin)

    def iou(self, other: Box2D) -> float:
        """Intersection over union with another box (0 when disjoint)."""
        ix = max(0.0, min(self.xmax, other.xmax) - max(self.xmin, other.xmin))
        iy = max(0.0, min(self.ymax, other.ymax) - max(self.ymin, other.ymin))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0
