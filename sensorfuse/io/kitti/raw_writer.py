"""Writing a KITTI-raw-style drive folder (the layout of ``2011_09_26_drive_0001_extract``).

::

    OUT/calib_cam_to_cam.txt, calib_velo_to_cam.txt, calib_imu_to_velo.txt, rig.yaml
    OUT/velodyne_points/{data/NNNNNNNNNN.bin, timestamps.txt, timestamps_start.txt, timestamps_end.txt}
    OUT/image_0K/{data/NNNNNNNNNN.png, timestamps.txt}      one folder per camera, in rig order
    OUT/oxts/{data/NNNNNNNNNN.txt, dataformat.txt, timestamps.txt}

What KITTI cannot hold is stated, not dropped silently: the format has no record time (files carry header stamps),
no per-point time (``timestamps_start/end`` per sweep instead), no radar, IMU or CameraInfo stream (OXTS packets
carry the INS solution), and its calibration files only express Brown-Conrady cameras — ``rig.yaml`` beside them
holds the full truth (fisheye cameras included). ``SKIPPED.txt`` lists the topics and message counts not written.
Images are written as PNG (a JPEG input is decoded first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.io._files import write_text_atomic
from sensorfuse.io.kitti.calib import KittiRawCalib, KittiRawCamera, write_kitti_raw_calib
from sensorfuse.io.kitti.velodyne import write_velodyne_bin
from sensorfuse.io.rigfile import save_rig
from sensorfuse.rig import Rig
from sensorfuse.types import CompressedImage, Image, PointCloud

__all__ = ["OXTS_FIELDS", "KittiRawWriter", "OxtsPacket", "kitti_timestamp"]

OXTS_FIELDS = [
    "lat",
    "lon",
    "alt",
    "roll",
    "pitch",
    "yaw",
    "vn",
    "ve",
    "vf",
    "vl",
    "vu",
    "ax",
    "ay",
    "az",
    "af",
    "al",
    "au",
    "wx",
    "wy",
    "wz",
    "wf",
    "wl",
    "wu",
    "pos_accuracy",
    "vel_accuracy",
    "navstat",
    "numsats",
    "posmode",
    "velmode",
    "orimode",
]


@dataclass(frozen=True)
class OxtsPacket:
    """One OXTS record (KITTI's ``dataformat.txt``): ``values`` in the order of :data:`OXTS_FIELDS`."""

    stamp_ns: int
    values: tuple[float, ...]


def kitti_timestamp(stamp_ns: int) -> str:
    """``2011-09-26 13:02:25.964389445`` (UTC, 9 fractional digits, as KITTI's timestamps.txt)."""
    s, ns = divmod(int(stamp_ns), 1_000_000_000)
    return datetime.fromtimestamp(s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + f".{ns:09d}"


class KittiRawWriter:
    """Write messages into a KITTI-raw-style folder. Same interface as :class:`~sensorfuse.io.ros.writer.LogWriter`
    (``write(topic, log_ns, message)``); ``lidar`` names the rig sensor written as ``velodyne_points``."""

    def __init__(self, path: str | Path, rig: Rig, *, lidar: str, start_ns: int) -> None:
        self.path = Path(path)
        self.rig = rig
        self.lidar = rig.sensor(lidar)
        self.cameras = rig.cameras()
        self._cam_dir = {c.topic: f"image_{i:02d}" for i, c in enumerate(self.cameras)}
        self._stamps: dict[str, list[str]] = {}
        self._index: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.start_ns = start_ns

    def __enter__(self) -> KittiRawWriter:
        if self.path.exists():
            raise FormatError(f"{self.path}: already exists; remove it or choose another output")
        self.path.mkdir(parents=True)
        return self

    def _next(self, folder: str, stamp_ns: int) -> Path:
        i = self._index.get(folder, 0)
        self._index[folder] = i + 1
        self._stamps.setdefault(folder, []).append(kitti_timestamp(stamp_ns))
        d = self.path / folder / "data"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{i:010d}"

    def write(self, topic: str, log_ns: int, message: object) -> None:
        if isinstance(message, PointCloud) and topic == self.lidar.topic:
            f = self._next("velodyne_points", message.stamp_ns)
            write_velodyne_bin(message, f.with_suffix(".bin"))
            off = message.t_offset_ns if message.t_offset_ns is not None and len(message) else np.zeros(1, np.int64)
            self._stamps.setdefault("velodyne_points/start", []).append(
                kitti_timestamp(message.stamp_ns + int(off.min()))
            )
            self._stamps.setdefault("velodyne_points/end", []).append(
                kitti_timestamp(message.stamp_ns + int(off.max()))
            )
        elif isinstance(message, (CompressedImage, Image)) and topic in self._cam_dir:
            import cv2

            img = message.decode() if isinstance(message, CompressedImage) else message
            data = img.data[..., ::-1] if img.encoding == "rgb8" else img.data
            f = self._next(self._cam_dir[topic], message.stamp_ns)
            cv2.imwrite(str(f.with_suffix(".png")), np.ascontiguousarray(data))
        elif isinstance(message, OxtsPacket):
            f = self._next("oxts", message.stamp_ns)
            vals = [f"{v:.12g}" if i < len(OXTS_FIELDS) - 5 else str(round(v)) for i, v in enumerate(message.values)]
            write_text_atomic(f.with_suffix(".txt"), " ".join(vals) + "\n")
        else:
            self.skipped[topic] = self.skipped.get(topic, 0) + 1
            return
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for key, lines in self._stamps.items():
            folder, _, which = key.partition("/")
            name = f"timestamps_{which}.txt" if which else "timestamps.txt"
            write_text_atomic(self.path / folder / name, "\n".join(lines) + "\n")
        if "oxts" in self._index:
            write_text_atomic(
                self.path / "oxts" / "dataformat.txt", "\n".join(f"{k}: see KITTI devkit" for k in OXTS_FIELDS) + "\n"
            )
        save_rig(self.rig, self.path / "rig.yaml")
        self.write_calib()
        lines = [f"{t}: {n} messages not representable in KITTI raw" for t, n in sorted(self.skipped.items())]
        write_text_atomic(self.path / "SKIPPED.txt", "\n".join(lines) + "\n")

    def write_calib(self) -> None:
        """calib_cam_to_cam.txt, calib_velo_to_cam.txt, calib_imu_to_velo.txt for the Brown-Conrady cameras."""
        bc = [c for c in self.cameras if c.camera.model in ("brown_conrady", "pinhole")]
        if not bc:
            return
        cam00 = bc[0]
        cams = []
        for c in bc:
            m = c.camera
            D = np.zeros(5)
            D[: min(5, m.dist.size)] = m.dist[:5]
            T = self.rig.transform(c.frame_id, cam00.frame_id)
            P = np.hstack([m.K, np.zeros((3, 1))])
            size = np.array([m.width, m.height], float)
            cams.append(KittiRawCamera(size, m.K, D, T[:3, :3], T[:3, 3], size, np.eye(3), P))
        imu = [s for s in self.rig.sensors if s.kind == "imu"]
        T_velo_imu = self.rig.transform(self.lidar.frame_id, imu[0].frame_id) if imu else np.eye(4)
        calib = KittiRawCalib(
            tuple(cams),
            self.rig.transform(cam00.frame_id, self.lidar.frame_id),
            T_velo_imu,
            calib_time={"calib_cam_to_cam.txt": kitti_timestamp(self.start_ns)},
        )
        write_kitti_raw_calib(calib, self.path)
