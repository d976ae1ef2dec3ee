"""Deserialised ROS messages (rosbags dataclasses, ROS1 or ROS2) -> sensorfuse types.

One :class:`TopicConverter` per topic keeps what it learned from the first message (the point layout, how the
per-point time is encoded, whether a PointCloud2 is radar) and counts what it had to drop, so the reader can report
it. Types sensorfuse does not convert come back as :class:`~sensorfuse.io.messages.RosMessage`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.io.messages import CameraInfo, Odometry, RosMessage, TFMessage, TransformStamped
from sensorfuse.io.ros.pointcloud2 import (
    POINTFIELD_TYPES,
    CloudLayout,
    PointFieldSpec,
    decode_cloud,
    layout_from_fields,
)
from sensorfuse.types import IMAGE_ENCODINGS, CompressedImage, GnssFix, Image, ImuSamples, RadarScan
from sensorfuse.units import gps_ns_from_utc_ns

__all__ = ["KINDS", "TopicConverter", "header_from_raw", "kind_of", "stamp_ns_of"]

#: ROS message type -> sensor kind reported in stream info
KINDS = {
    "sensor_msgs/msg/PointCloud2": "lidar",
    "sensor_msgs/msg/Image": "camera",
    "sensor_msgs/msg/CompressedImage": "camera",
    "sensor_msgs/msg/CameraInfo": "camera_info",
    "sensor_msgs/msg/Imu": "imu",
    "sensor_msgs/msg/NavSatFix": "gnss",
    "nav_msgs/msg/Odometry": "pose",
    "geometry_msgs/msg/PoseStamped": "pose",
    "geometry_msgs/msg/PoseWithCovarianceStamped": "pose",
    "geometry_msgs/msg/TransformStamped": "pose",
    "tf2_msgs/msg/TFMessage": "tf",
    "radar_msgs/msg/RadarScan": "radar",
}

#: radar_msgs (ROS 2) definitions, registered when a log carries none
RADAR_MSGS = {
    "radar_msgs/msg/RadarReturn": "float32 range\nfloat32 azimuth\nfloat32 elevation\nfloat32 doppler_velocity\n"
    "float32 amplitude",
    "radar_msgs/msg/RadarScan": "std_msgs/Header header\nradar_msgs/RadarReturn[] returns",
}

_DOPPLER_NAMES = ("doppler", "radial_velocity", "v_r", "vr", "range_rate", "velocity")
_RCS_NAMES = ("rcs", "RCS", "amplitude", "power")


def kind_of(msgtype: str) -> str:
    return KINDS.get(msgtype, "other")


def stamp_ns_of(t: object) -> int:
    """A ROS time (``builtin_interfaces/Time``; rosbags gives ROS1 times the same ``sec``/``nanosec``) in ns."""
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def header_from_raw(raw: bytes | memoryview, ros1: bool) -> tuple[int, str]:
    """(stamp_ns, frame_id) of a serialised message whose first field is a ``std_msgs/Header``, read from the bytes
    without deserialising the rest (ROS1: seq, sec, nsec, frame_id; CDR: 4-byte encapsulation, sec, nanosec,
    frame_id). Raises FormatError on a short or malformed record."""
    try:
        if ros1:
            _seq, sec, nsec, n = struct.unpack_from("<IIII", raw, 0)
            frame = bytes(raw[16 : 16 + n]).decode("utf-8", "replace")
        else:
            endian = "<" if raw[1] & 1 else ">"
            sec, nsec, n = struct.unpack_from(endian + "iII", raw, 4)
            frame = bytes(raw[16 : 16 + max(n - 1, 0)]).decode("utf-8", "replace")
    except (struct.error, IndexError) as exc:
        raise FormatError(f"record too short for a header ({len(raw)} bytes): {exc}") from None
    return sec * 1_000_000_000 + nsec, frame


def _vec(v: object) -> np.ndarray:
    return np.array([v.x, v.y, v.z], np.float64)


def _pose_T(position: object, orientation: object) -> np.ndarray:
    """4x4 pose from a ROS position and (normalised here) x y z w quaternion; scalar arithmetic, as this runs once
    per odometry and /tf message (a SciPy Rotation per message costs 20x more)."""
    x, y, z, w = float(orientation.x), float(orientation.y), float(orientation.z), float(orientation.w)
    n2 = x * x + y * y + z * z + w * w
    if not math.isfinite(n2) or n2 < 1e-18:
        raise FormatError(f"invalid orientation quaternion {[x, y, z, w]}")
    s = 2.0 / n2
    return np.array(
        [
            [1.0 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w), float(position.x)],
            [s * (x * y + z * w), 1.0 - s * (x * x + z * z), s * (y * z - x * w), float(position.y)],
            [s * (x * z - y * w), s * (y * z + x * w), 1.0 - s * (x * x + y * y), float(position.z)],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def camera_from_camera_info(msg: object) -> tuple[CameraModel, np.ndarray, np.ndarray]:
    """(CameraModel, R 3x3, P 3x4) of a ``sensor_msgs/CameraInfo`` (ROS1 D/K/R/P or ROS2 d/k/r/p).

    Distortion models: ``plumb_bob`` (k1 k2 p1 p2 k3) and ``rational_polynomial`` (k1..k6) -> ``brown_conrady``,
    ``equidistant`` (k1..k4) -> ``kannala_brandt``; none or all-zero coefficients -> ``pinhole``.
    """
    get = lambda a, b: np.asarray(getattr(msg, a) if hasattr(msg, a) else getattr(msg, b), np.float64)  # noqa: E731
    K = get("k", "K").reshape(3, 3)
    D = get("d", "D").ravel()
    R = get("r", "R").reshape(3, 3)
    P = get("p", "P").reshape(3, 4)
    model = str(msg.distortion_model).strip().lower()
    if not np.any(D):
        name, dist = "pinhole", np.zeros(0)
    elif model in ("plumb_bob", "rational_polynomial"):
        name, dist = "brown_conrady", D
    elif model in ("equidistant", "fisheye", "kannala_brandt"):
        name, dist = "kannala_brandt", D[:4]
    else:
        raise FormatError(f"CameraInfo distortion model {msg.distortion_model!r} is not supported")
    if not np.any(R):
        R = np.eye(3)
    cam = CameraModel(K=K, dist=dist, model=name, width=int(msg.width), height=int(msg.height))
    return cam, R, P


@dataclass
class TopicConverter:
    """Converts the messages of one topic; keeps the layout and counts (dropped points, unsupported encodings)."""

    topic: str
    msgtype: str
    kind: str = ""
    layout: CloudLayout | None = None
    _layout_key: tuple | None = None
    point_time: str = ""
    dropped_points: int = 0
    notes: list[str] = field(default_factory=list)
    gnss_time_base: str | None = None

    def __post_init__(self) -> None:
        self.kind = self.kind or kind_of(self.msgtype)

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def convert(self, msg: object, log_ns: int | None) -> object:
        t = self.msgtype
        if t == "sensor_msgs/msg/PointCloud2":
            return self._cloud(msg, log_ns)
        if t == "sensor_msgs/msg/Image":
            return self._image(msg, log_ns)
        if t == "sensor_msgs/msg/CompressedImage":
            h = msg.header
            fmt = str(msg.format)
            if "jpeg" not in fmt.lower() and "jpg" not in fmt.lower() and "png" not in fmt.lower():
                self._note(f"compressed format {fmt!r} is not jpeg/png: messages passed as RosMessage")
                return RosMessage(t, msg, stamp_ns_of(h.stamp), h.frame_id)
            return CompressedImage(bytes(msg.data), fmt, stamp_ns_of(h.stamp), h.frame_id, log_ns=log_ns)
        if t == "sensor_msgs/msg/CameraInfo":
            cam, R, P = camera_from_camera_info(msg)
            return CameraInfo(cam, stamp_ns_of(msg.header.stamp), msg.header.frame_id, R=R, P=P, log_ns=log_ns)
        if t == "sensor_msgs/msg/Imu":
            return self._imu(msg)
        if t == "sensor_msgs/msg/NavSatFix":
            return self._gnss(msg, log_ns)
        if t == "nav_msgs/msg/Odometry":
            p, tw = msg.pose.pose, msg.twist.twist
            T = _pose_T(p.position, p.orientation)
            h = msg.header
            stamp = stamp_ns_of(h.stamp)
            return Odometry(stamp, h.frame_id, msg.child_frame_id, T, _vec(tw.linear), _vec(tw.angular), log_ns)
        if t in ("geometry_msgs/msg/PoseStamped", "geometry_msgs/msg/PoseWithCovarianceStamped"):
            p = msg.pose if t.endswith("PoseStamped") else msg.pose.pose
            h = msg.header
            return Odometry(stamp_ns_of(h.stamp), h.frame_id, "", _pose_T(p.position, p.orientation), log_ns=log_ns)
        if t == "geometry_msgs/msg/TransformStamped":
            tf = self._tf(msg)
            return Odometry(tf.stamp_ns, tf.parent, tf.child, tf.T, log_ns=log_ns)
        if t == "tf2_msgs/msg/TFMessage":
            tfs = tuple(self._tf(m) for m in msg.transforms)
            return TFMessage(tfs, static=self.topic.rstrip("/").endswith("tf_static"), log_ns=log_ns)
        if t == "radar_msgs/msg/RadarScan":
            return self._radar_scan(msg, log_ns)
        h = getattr(msg, "header", None)
        if h is not None and hasattr(h, "stamp"):
            return RosMessage(t, msg, stamp_ns_of(h.stamp), str(h.frame_id))
        return RosMessage(t, msg)

    # -- types ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _tf(m: object) -> TransformStamped:
        tr = m.transform
        T = _pose_T(tr.translation, tr.rotation)
        return TransformStamped(
            stamp_ns_of(m.header.stamp), m.header.frame_id.lstrip("/"), m.child_frame_id.lstrip("/"), T
        )

    def _cloud(self, msg: object, log_ns: int | None) -> object:
        key = (tuple((f.name, f.offset, f.datatype, f.count) for f in msg.fields), msg.point_step, msg.is_bigendian)
        where = f"topic {self.topic}"
        if key != self._layout_key:
            specs = []
            for f in msg.fields:
                if f.datatype not in POINTFIELD_TYPES:
                    raise FormatError(f"{where}: PointField {f.name!r} has unknown datatype {f.datatype}")
                specs.append(PointFieldSpec(f.name, int(f.offset), POINTFIELD_TYPES[f.datatype], int(f.count)))
            self.layout = layout_from_fields(specs, int(msg.point_step), big_endian=bool(msg.is_bigendian), where=where)
            self._layout_key = key
            names = {n.lower() for n in self.layout.field_names}
            if any(d.lower() in names for d in _DOPPLER_NAMES):
                self.kind = "radar"
        h = msg.header
        stamp = stamp_ns_of(h.stamp)
        cloud, dropped, tdesc = decode_cloud(
            self.layout,
            msg.data,
            width=int(msg.width),
            height=int(msg.height),
            row_step=int(msg.row_step),
            stamp_ns=stamp,
            frame_id=h.frame_id,
            log_ns=log_ns,
            where=where,
            dense=bool(msg.is_dense),
        )
        self.dropped_points += dropped
        if tdesc and not self.point_time:
            self.point_time = tdesc
        if self.kind != "radar":
            return cloud
        lower = {k.lower(): k for k in cloud.fields}
        dkey = next(lower[d] for d in _DOPPLER_NAMES if d in lower)
        rkey = next((lower[r.lower()] for r in _RCS_NAMES if r.lower() in lower), None)
        rcs = cloud.fields[rkey] if rkey else np.full(len(cloud), np.nan, np.float32)
        if rkey is None:
            self._note("no rcs/amplitude field: rcs is NaN")
        return RadarScan(
            cloud.xyz,
            cloud.fields[dkey].astype(np.float32),
            np.asarray(rcs, np.float32),
            stamp,
            h.frame_id,
            log_ns=log_ns,
        )

    def _image(self, msg: object, log_ns: int | None) -> object:
        enc = str(msg.encoding)
        h = msg.header
        if enc not in IMAGE_ENCODINGS:
            self._note(f"image encoding {enc!r} is not converted: messages passed as RosMessage")
            return RosMessage(self.msgtype, msg, stamp_ns_of(h.stamp), h.frame_id)
        ch, dtype = IMAGE_ENCODINGS[enc]
        dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
        height, width, step = int(msg.height), int(msg.width), int(msg.step)
        row = width * ch * dtype.itemsize
        buf = np.asarray(msg.data, np.uint8).reshape(-1)
        if step < row or buf.size < step * height:
            raise FormatError(
                f"topic {self.topic}: {enc} image {width}x{height} needs {row} bytes per row and {step * height} in "
                f"total; message has step {step} and {buf.size} bytes (truncated or corrupt)"
            )
        rows = buf[: step * height].reshape(height, step)[:, :row]
        arr = np.ascontiguousarray(rows).view(dtype).reshape((height, width) if ch == 1 else (height, width, ch))
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return Image(arr, enc, stamp_ns_of(h.stamp), h.frame_id, log_ns=log_ns)

    @staticmethod
    def _imu(msg: object) -> ImuSamples:
        h = msg.header
        q = None
        if float(msg.orientation_covariance[0]) != -1.0:
            o = msg.orientation
            qq = np.array([[o.x, o.y, o.z, o.w]], np.float64)
            if np.isfinite(qq).all() and abs(np.linalg.norm(qq) - 1.0) < 1e-3:
                q = qq
        stamp = np.array([stamp_ns_of(h.stamp)], np.int64)
        gyro, accel = _vec(msg.angular_velocity)[None], _vec(msg.linear_acceleration)[None]
        return ImuSamples(stamp, gyro, accel, h.frame_id, orientation_xyzw=q)

    def _gnss(self, msg: object, log_ns: int | None) -> GnssFix:
        h = msg.header
        stamp = stamp_ns_of(h.stamp)
        if self.gnss_time_base is None and log_ns is not None:
            # ROS stamps are UTC-based; the simulator (and some drivers) stamp GPS time. The record clock tells which.
            as_utc = abs(log_ns - stamp)
            as_gps = abs(gps_ns_from_utc_ns(log_ns) - stamp)
            self.gnss_time_base = "gps" if as_gps < as_utc else "utc"
            self._note(
                f"NavSatFix header stamps read as {self.gnss_time_base.upper()} time (compared with record time)"
            )
        cov = None
        if int(msg.position_covariance_type) > 0:
            cov = np.asarray(msg.position_covariance, np.float64).reshape(3, 3)
        lat, lon, alt = float(msg.latitude), float(msg.longitude), float(msg.altitude)
        return GnssFix(
            stamp,
            lat,
            lon,
            alt if np.isfinite(alt) else 0.0,
            h.frame_id.lstrip("/"),
            self.gnss_time_base or "utc",
            covariance_m2=cov,
            status=int(msg.status.status),
            log_ns=log_ns,
        )

    def _radar_scan(self, msg: object, log_ns: int | None) -> RadarScan:
        h = msg.header
        r = np.array([x.range for x in msg.returns], np.float64)
        az = np.array([x.azimuth for x in msg.returns], np.float64)
        el = np.array([x.elevation for x in msg.returns], np.float64)
        xyz = np.stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], axis=1)
        dop = np.array([x.doppler_velocity for x in msg.returns], np.float32)
        amp = np.array([x.amplitude for x in msg.returns], np.float32)
        return RadarScan(
            xyz.astype(np.float32).reshape(-1, 3), dop, amp, stamp_ns_of(h.stamp), h.frame_id, log_ns=log_ns
        )
