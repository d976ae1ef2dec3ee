"""Message types that exist only in logs (not sensor data): camera info, odometry/poses, transforms, and the
envelope a log reader yields.

Sensor data itself uses the types of :mod:`sensorfuse.types` (PointCloud, Image, CompressedImage, ImuSamples,
RadarScan, GnssFix). These classes are frozen like them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sensorfuse._checks import sort_unique
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.types import PoseTrajectory

__all__ = [
    "CameraInfo",
    "LogMessage",
    "Odometry",
    "RosMessage",
    "TFMessage",
    "TransformStamped",
    "odometry_trajectory",
]


@dataclass(frozen=True, eq=False)
class CameraInfo:
    """A ``sensor_msgs/CameraInfo``: intrinsics of ``frame_id`` at ``stamp_ns``.

    ``R`` (rectification rotation) and ``P`` (3x4 projection) are kept as recorded; ``camera`` holds K, the
    distortion model and the image size.
    """

    camera: CameraModel
    stamp_ns: int
    frame_id: str
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    P: np.ndarray | None = None
    log_ns: int | None = None


@dataclass(frozen=True, eq=False)
class Odometry:
    """A pose ``T = T_frame_child`` of ``child_frame_id`` in ``frame_id`` (``nav_msgs/Odometry``; also what
    ``PoseStamped``, ``PoseWithCovarianceStamped`` and ``TransformStamped`` messages become, without twist).

    ``linear_body`` / ``angular_body`` are the twist in the child frame (m/s, rad/s), or None.
    """

    stamp_ns: int
    frame_id: str
    child_frame_id: str
    T: np.ndarray
    linear_body: np.ndarray | None = None
    angular_body: np.ndarray | None = None
    log_ns: int | None = None


@dataclass(frozen=True, eq=False)
class TransformStamped:
    """One ``T_parent_child`` of a TFMessage."""

    stamp_ns: int
    parent: str
    child: str
    T: np.ndarray


@dataclass(frozen=True, eq=False)
class TFMessage:
    """A ``tf2_msgs/TFMessage`` (``/tf`` or ``/tf_static``)."""

    transforms: tuple[TransformStamped, ...]
    static: bool = False
    log_ns: int | None = None

    @property
    def stamp_ns(self) -> int:
        return self.transforms[0].stamp_ns if self.transforms else (self.log_ns or 0)


@dataclass(frozen=True, eq=False)
class RosMessage:
    """A message of a type sensorfuse does not convert (driver packets, custom types): the deserialised ROS object
    (rosbags dataclass) with its type name, so nothing readable is withheld."""

    msgtype: str
    msg: object
    stamp_ns: int | None = None
    frame_id: str = ""


@dataclass(frozen=True)
class LogMessage:
    """What a log reader yields: one message of ``topic``, its index in that topic (0-based, record order), its
    record time ``log_ns`` (None where the format has none) and ``data``, a sensorfuse type or a RosMessage."""

    topic: str
    index: int
    log_ns: int | None
    data: object

    @property
    def stamp_ns(self) -> int | None:
        """The message's own (header) time, where it has one (the first sample's for ImuSamples)."""
        stamp = getattr(self.data, "stamp_ns", None)
        if isinstance(stamp, np.ndarray):
            return int(stamp[0]) if stamp.size else None
        return stamp


def odometry_trajectory(odometry: list[Odometry], stamps_ns: np.ndarray | None = None) -> tuple[PoseTrajectory, int]:
    """The poses of Odometry messages as one trajectory, sorted by stamp, a repeated stamp kept once (the first
    given) -> ``(trajectory, repeats dropped)``. ``stamps_ns`` replaces the header stamps (e.g. on the reference
    clock); the frames are the first message's. The one conversion of odometry to a trajectory (readers, jobs)."""
    s = np.array([m.stamp_ns for m in odometry], np.int64) if stamps_ns is None else np.asarray(stamps_ns, np.int64)
    keep = sort_unique(s, keep="first")
    first = odometry[0]
    T = np.array([odometry[i].T for i in keep])
    world, body = first.frame_id or "world", first.child_frame_id or "base_link"
    return PoseTrajectory(s[keep], T, world_frame=world, body_frame=body), int(s.size - keep.size)
