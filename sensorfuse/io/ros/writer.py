"""Writing drive logs: ROS1 ``.bag``, ROS2 ``.mcap`` and ROS2 ``.db3`` through rosbags, with standard message types.

These are the project's only log writers (the simulator and exporters use them). Messages are given as sensorfuse
types and converted here; every message carries its header stamp (``stamp_ns``, sensor clock) and is recorded at
``log_ns`` (the recorder's clock), which may differ.

Message types written: ``sensor_msgs/PointCloud2`` (LiDAR with a per-point ``t`` uint32 ns field relative to the
header; radar with ``doppler`` and ``rcs`` float32 fields), ``sensor_msgs/CompressedImage`` / ``Image``,
``sensor_msgs/CameraInfo``, ``sensor_msgs/Imu``, ``sensor_msgs/NavSatFix``, ``nav_msgs/Odometry`` and
``tf2_msgs/TFMessage`` (``/tf_static``).

Example::

    with LogWriter("out/log.bag") as log:
        log.write(topic="/lidar/points", log_ns=t, message=cloud)
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.transforms import quat_xyzw_from_matrix
from sensorfuse.io.messages import CameraInfo, Odometry, TFMessage, TransformStamped
from sensorfuse.io.ros.camera_info import camera_info_distortion_model
from sensorfuse.io.ros.pointcloud2 import cloud_columns
from sensorfuse.types import CompressedImage, GnssFix, Image, ImuSamples, PointCloud, RadarScan

__all__ = ["LOG_FORMATS", "CameraInfo", "LogWriter", "Odometry", "TFMessage", "TransformStamped", "log_path"]

#: format name -> (description, file or directory name given a stem)
LOG_FORMATS = {"bag": "ROS1 .bag", "mcap": "ROS2 .mcap (rosbag2 directory)", "db3": "ROS2 .db3 (rosbag2 directory)"}

# PointField datatypes
_PF = {np.dtype(np.int8): 1, np.dtype(np.uint8): 2, np.dtype(np.int16): 3, np.dtype(np.uint16): 4}
_PF |= {np.dtype(np.int32): 5, np.dtype(np.uint32): 6, np.dtype(np.float32): 7, np.dtype(np.float64): 8}


def log_path(out_dir: str | Path, fmt: str, stem: str = "log") -> Path:
    """Where a log of format ``fmt`` goes in ``out_dir``: ``log.bag``, or the rosbag2 directory ``log/``."""
    if fmt not in LOG_FORMATS:
        raise ValidationError(f"log format {fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
    return Path(out_dir) / (f"{stem}.bag" if fmt == "bag" else stem)


class LogWriter:
    """Write a ROS1 bag (``*.bag``) or a rosbag2 directory (``fmt="mcap"`` or ``"db3"``), topic types inferred from
    the first message of each topic. Use as a context manager."""

    def __init__(self, path: str | Path, fmt: str | None = None) -> None:
        self.path = Path(path)
        self.fmt = fmt or ("bag" if self.path.suffix == ".bag" else "mcap")
        if self.fmt not in LOG_FORMATS:
            raise ValidationError(f"log format {self.fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
        from rosbags.typesys import Stores, get_typestore

        self.ros1 = self.fmt == "bag"
        self.typestore = get_typestore(Stores.ROS1_NOETIC if self.ros1 else Stores.ROS2_HUMBLE)
        if "tf2_msgs/msg/TFMessage" not in self.typestore.types:  # rosbags' noetic store lacks tf2_msgs
            from rosbags.typesys import get_types_from_msg

            self.typestore.register(
                get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage")
            )
        self._writer = None
        self._connections: dict[str, object] = {}
        self._types: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    # -- context ---------------------------------------------------------------------------------------------------
    def __enter__(self) -> LogWriter:
        if self.path.exists():
            raise FormatError(f"{self.path}: already exists; remove it or choose another output")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.ros1:
            from rosbags.rosbag1 import Writer

            self._writer = Writer(self.path)
            self._writer.set_compression(Writer.CompressionFormat.LZ4)
        else:
            from rosbags.rosbag2 import StoragePlugin, Writer

            plugin = StoragePlugin.MCAP if self.fmt == "mcap" else StoragePlugin.SQLITE3
            self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        self._writer.open()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # -- messages ----------------------------------------------------------------------------------------------------
    def _t(self, name: str) -> type:
        return self.typestore.types[name]

    def _header(self, stamp_ns: int, frame_id: str) -> object:
        stamp = self._t("builtin_interfaces/msg/Time")(
            sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000)
        )
        if self.ros1:
            return self._t("std_msgs/msg/Header")(seq=0, stamp=stamp, frame_id=frame_id)
        return self._t("std_msgs/msg/Header")(stamp=stamp, frame_id=frame_id)

    def _cloud(self, stamp_ns: int, frame_id: str, columns: dict[str, np.ndarray]) -> object:
        n = len(next(iter(columns.values())))
        dtype = np.dtype([(k, v.dtype) for k, v in columns.items()])
        arr = np.empty(n, dtype=dtype)
        for k, v in columns.items():
            arr[k] = v
        pf = self._t("sensor_msgs/msg/PointField")
        fields = [pf(name=k, offset=dtype.fields[k][1], datatype=_PF[v.dtype], count=1) for k, v in columns.items()]
        return self._t("sensor_msgs/msg/PointCloud2")(
            header=self._header(stamp_ns, frame_id),
            height=1,
            width=n,
            fields=fields,
            is_bigendian=False,
            point_step=dtype.itemsize,
            row_step=dtype.itemsize * n,
            data=arr.view(np.uint8).ravel(),
            is_dense=True,
        )

    def _vec3(self, v: np.ndarray) -> object:
        return self._t("geometry_msgs/msg/Vector3")(x=float(v[0]), y=float(v[1]), z=float(v[2]))

    def _quat(self, R: np.ndarray) -> object:
        x, y, z, w = quat_xyzw_from_matrix(R)
        return self._t("geometry_msgs/msg/Quaternion")(x=float(x), y=float(y), z=float(z), w=float(w))

    def _to_ros(self, message: object) -> tuple[str, object]:
        t = self._t
        if isinstance(message, PointCloud):
            cols = cloud_columns(message, what=f"{self.path}: PointCloud")
            return "sensor_msgs/msg/PointCloud2", self._cloud(message.stamp_ns, message.frame_id, cols)
        if isinstance(message, RadarScan):
            cols = {"x": message.xyz[:, 0], "y": message.xyz[:, 1], "z": message.xyz[:, 2]}
            cols |= {"doppler": message.doppler, "rcs": message.rcs}
            return "sensor_msgs/msg/PointCloud2", self._cloud(message.stamp_ns, message.frame_id, cols)
        if isinstance(message, CompressedImage):
            msg = t("sensor_msgs/msg/CompressedImage")(
                header=self._header(message.stamp_ns, message.frame_id),
                format=message.format,
                data=np.frombuffer(message.data, np.uint8),
            )
            return "sensor_msgs/msg/CompressedImage", msg
        if isinstance(message, Image):
            data = np.ascontiguousarray(message.data)
            h, w = data.shape[:2]
            msg = t("sensor_msgs/msg/Image")(
                header=self._header(message.stamp_ns, message.frame_id),
                height=h,
                width=w,
                encoding=message.encoding,
                is_bigendian=0,
                step=data.strides[0],
                data=data.view(np.uint8).ravel(),
            )
            return "sensor_msgs/msg/Image", msg
        if isinstance(message, CameraInfo):
            cam = message.camera
            K = cam.K.ravel().astype(np.float64)
            P = (np.hstack([cam.K, np.zeros((3, 1))]) if message.P is None else np.asarray(message.P)).ravel()
            names = ("D", "K", "R", "P") if self.ros1 else ("d", "k", "r", "p")
            roi = t("sensor_msgs/msg/RegionOfInterest")(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
            kw = dict(
                zip(names, (cam.dist.astype(np.float64), K, np.asarray(message.R, np.float64).ravel(), P), strict=True)
            )
            msg = t("sensor_msgs/msg/CameraInfo")(
                header=self._header(message.stamp_ns, message.frame_id),
                height=cam.height,
                width=cam.width,
                distortion_model=camera_info_distortion_model(cam),
                binning_x=0,
                binning_y=0,
                roi=roi,
                **kw,
            )
            return "sensor_msgs/msg/CameraInfo", msg
        if isinstance(message, ImuSamples):
            if len(message) != 1:
                raise ValidationError("an Imu message holds one sample; write ImuSamples of length 1")
            cov_unknown = np.zeros(9)
            cov_unknown[0] = -1.0  # REP 145: no orientation estimate
            msg = t("sensor_msgs/msg/Imu")(
                header=self._header(int(message.stamp_ns[0]), message.frame_id),
                orientation=t("geometry_msgs/msg/Quaternion")(x=0.0, y=0.0, z=0.0, w=1.0),
                orientation_covariance=cov_unknown,
                angular_velocity=self._vec3(message.gyro[0]),
                angular_velocity_covariance=np.zeros(9),
                linear_acceleration=self._vec3(message.accel[0]),
                linear_acceleration_covariance=np.zeros(9),
            )
            return "sensor_msgs/msg/Imu", msg
        if isinstance(message, GnssFix):
            status = t("sensor_msgs/msg/NavSatStatus")(status=int(message.status), service=1)
            cov = message.covariance_m2 if message.covariance_m2 is not None else np.zeros((3, 3))
            msg = t("sensor_msgs/msg/NavSatFix")(
                header=self._header(message.stamp_ns, message.frame_id),
                status=status,
                latitude=message.latitude_deg,
                longitude=message.longitude_deg,
                altitude=message.altitude_m,
                position_covariance=np.asarray(cov, np.float64).ravel(),
                position_covariance_type=2 if message.covariance_m2 is not None else 0,
            )
            return "sensor_msgs/msg/NavSatFix", msg
        if isinstance(message, Odometry):
            pose = t("geometry_msgs/msg/Pose")(
                position=t("geometry_msgs/msg/Point")(
                    x=float(message.T[0, 3]), y=float(message.T[1, 3]), z=float(message.T[2, 3])
                ),
                orientation=self._quat(message.T[:3, :3]),
            )
            zero = np.zeros(3)
            lin = zero if message.linear_body is None else message.linear_body
            ang = zero if message.angular_body is None else message.angular_body
            twist = t("geometry_msgs/msg/Twist")(linear=self._vec3(lin), angular=self._vec3(ang))
            msg = t("nav_msgs/msg/Odometry")(
                header=self._header(message.stamp_ns, message.frame_id),
                child_frame_id=message.child_frame_id,
                pose=t("geometry_msgs/msg/PoseWithCovariance")(pose=pose, covariance=np.zeros(36)),
                twist=t("geometry_msgs/msg/TwistWithCovariance")(twist=twist, covariance=np.zeros(36)),
            )
            return "nav_msgs/msg/Odometry", msg
        if isinstance(message, TFMessage):
            message = message.transforms
        if isinstance(message, (list, tuple)) and all(isinstance(m, TransformStamped) for m in message):
            tfs = [
                t("geometry_msgs/msg/TransformStamped")(
                    header=self._header(m.stamp_ns, m.parent),
                    child_frame_id=m.child,
                    transform=t("geometry_msgs/msg/Transform")(
                        translation=self._vec3(m.T[:3, 3]), rotation=self._quat(m.T[:3, :3])
                    ),
                )
                for m in message
            ]
            return "tf2_msgs/msg/TFMessage", t("tf2_msgs/msg/TFMessage")(transforms=tfs)
        raise ValidationError(f"cannot write a {type(message).__name__} to a ROS log")

    def write(self, topic: str, log_ns: int, message: object) -> None:
        """Record ``message`` on ``topic`` at record time ``log_ns``."""
        if self._writer is None:
            raise FormatError(f"{self.path}: the writer is not open (use it as a context manager)")
        msgtype, msg = self._to_ros(message)
        self.write_ros(topic, log_ns, msgtype, msg)

    def write_ros(self, topic: str, log_ns: int, msgtype: str, msg: object) -> None:
        """Record an already-built ROS message (a rosbags dataclass of ``self.typestore``), e.g. a PointCloud2 with a
        layout of one's own (padding, big-endian, extra fields) or a type registered in ``self.typestore``."""
        if self._writer is None:
            raise FormatError(f"{self.path}: the writer is not open (use it as a context manager)")
        if topic not in self._connections:
            kw = {}
            if self.ros1 and topic == "/tf_static":
                kw["latching"] = 1
            self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore, **kw)
            self._types[topic] = msgtype
        elif self._types[topic] != msgtype:
            raise ValidationError(f"topic {topic}: got a {msgtype} after {self._types[topic]} messages")
        data = self.typestore.serialize_ros1(msg, msgtype) if self.ros1 else self.typestore.serialize_cdr(msg, msgtype)
        self._writer.write(self._connections[topic], int(log_ns), data)
        self.counts[topic] = self.counts.get(topic, 0) + 1
