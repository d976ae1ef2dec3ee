"""KITTI raw drive folders (``2011_09_26_drive_0001_sync`` / ``_extract``): the reader, its timestamp files and the
OXTS pose conversion.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.io.dataset import DatasetReader, read_image_file
from sensorfuse.io.messages import Odometry
from sensorfuse.io.reader import StreamInfo
from sensorfuse.types import GnssFix

__all__ = ["KittiRawReader", "oxts_poses", "parse_kitti_timestamps"]


_EARTH_RADIUS_M = 6378137.0


def parse_kitti_timestamps(path: Path) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS.fffffffff`` lines -> int64 ns (read as UTC; KITTI does not state the zone)."""
    out = []
    for k, line in enumerate(path.read_text().splitlines()):
        line = line.strip()
        if not line:
            continue
        try:
            day, frac = line.split(".") if "." in line else (line, "0")
            base = datetime.strptime(day, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            ns = int((frac + "000000000")[:9])
        except ValueError:
            raise FormatError(f"{path}: line {k + 1} {line!r} is not 'YYYY-MM-DD HH:MM:SS.fffffffff'") from None
        out.append(int(base.timestamp()) * 1_000_000_000 + ns)
    return np.array(out, np.int64)


def oxts_poses(values: np.ndarray, *, scale_lat_deg: float | None = None) -> np.ndarray:
    """KITTI's OXTS -> pose conversion (devkit ``convertOxtsToPose`` / pykitti): Mercator x (east), y (north) with
    the scale of the first latitude, z = altitude, rotation Rz(yaw) Ry(pitch) Rx(roll); translations relative to the
    first packet. ``values (N, >= 6)``: lat, lon, alt, roll, pitch, yaw. Returns ``T_world_imu (N, 4, 4)`` float64."""
    from scipy.spatial.transform import Rotation

    v = np.asarray(values, np.float64)
    lat, lon, alt = v[:, 0], v[:, 1], v[:, 2]
    scale = np.cos(np.deg2rad(lat[0] if scale_lat_deg is None else scale_lat_deg))
    tx = scale * np.deg2rad(lon) * _EARTH_RADIUS_M
    ty = scale * _EARTH_RADIUS_M * np.log(np.tan(np.deg2rad(90.0 + lat) / 2.0))
    t = np.stack([tx, ty, alt], axis=1)
    T = np.tile(np.eye(4), (v.shape[0], 1, 1))
    T[:, :3, :3] = Rotation.from_euler("ZYX", v[:, [5, 4, 3]]).as_matrix()
    T[:, :3, 3] = t - t[0]
    return T


class KittiRawReader(DatasetReader):
    """A KITTI raw drive folder (``2011_09_26_drive_0001_sync`` or ``_extract``, or one written by sensorfuse):
    ``velodyne_points`` (PointCloud, per-point time from azimuth between ``timestamps_start``/``_end``),
    ``image_00``..``image_03`` (Image), ``oxts/pose`` (Odometry, Mercator) and ``oxts/fix`` (GnssFix, UTC).
    Calibration from ``calib_*.txt`` in the drive folder or its parent (or a sensorfuse ``rig.yaml`` beside them)."""

    format = "kitti-raw"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        from sensorfuse.io.kitti.calib import read_kitti_raw_calib, rig_from_kitti_raw_calib
        from sensorfuse.io.kitti.velodyne import read_velodyne_bin
        from sensorfuse.io.rigfile import load_rig

        d = self.path
        for folder in (d, d.parent):
            if (folder / "rig.yaml").is_file():
                self.rig = load_rig(folder / "rig.yaml")
                break
            if (folder / "calib_cam_to_cam.txt").is_file():
                self.rig = rig_from_kitti_raw_calib(read_kitti_raw_calib(folder), source=str(folder))
                break
        if self.rig is None:
            self.report.warn(
                f"{d}: no calib_cam_to_cam.txt / calib_velo_to_cam.txt / calib_imu_to_velo.txt in the drive folder "
                "or its parent: streams are read without calibration (no transforms, no camera models)"
            )
        frames = {s.name: s.frame_id for s in self.rig.sensors} if self.rig else {}
        velo = d / "velodyne_points"
        if (velo / "timestamps.txt").is_file():
            stamps = parse_kitti_timestamps(velo / "timestamps.txt")
            start = end = None
            if (velo / "timestamps_start.txt").is_file() and (velo / "timestamps_end.txt").is_file():
                start = parse_kitti_timestamps(velo / "timestamps_start.txt")
                end = parse_kitti_timestamps(velo / "timestamps_end.txt")
            frame = frames.get("velodyne", "velodyne")
            info = StreamInfo("velodyne_points", "kitti/velodyne_bin", "lidar", frame)
            info.point_time = (
                "derived from azimuth between timestamps_start and timestamps_end (KITTI has no per-point time)"
                if start is not None
                else "none (no timestamps_start/end.txt)"
            )
            self._note_files(info, velo / "data", "*.bin", stamps.size)

            def load_velo(i: int, _s=stamps, _a=start, _b=end, _f=frame) -> object:
                from sensorfuse.io.ros.pointcloud2 import point_time_from_azimuth

                c = read_velodyne_bin(velo / "data" / f"{i:010d}.bin", stamp_ns=int(_s[i]), frame_id=_f)
                if _a is None:
                    return c
                t = point_time_from_azimuth(c.xyz, int(_a[i]), int(_b[i])) - int(_s[i])
                return type(c)(c.xyz, c.stamp_ns, c.frame_id, intensity=c.intensity, t_offset_ns=t)

            self._add_stream(info, stamps, load_velo)
        for cam_dir in sorted(d.glob("image_0[0-9]")):
            if not (cam_dir / "timestamps.txt").is_file():
                continue
            stamps = parse_kitti_timestamps(cam_dir / "timestamps.txt")
            name = f"cam{cam_dir.name[-2:]}"
            frame = frames.get(name, name)
            info = StreamInfo(cam_dir.name, "kitti/png", "camera", frame)
            self._note_files(info, cam_dir / "data", "*.png", stamps.size)
            self._add_stream(
                info,
                stamps,
                lambda i, _d=cam_dir, _s=stamps, _f=frame: read_image_file(
                    _d / "data" / f"{i:010d}.png", int(_s[i]), _f
                ),
            )
        oxts = d / "oxts"
        if (oxts / "timestamps.txt").is_file():
            stamps = parse_kitti_timestamps(oxts / "timestamps.txt")
            frame = frames.get("imu", "imu")
            self._oxts_dir, self._oxts_cache = oxts, None
            for topic, kind in (("oxts/pose", "pose"), ("oxts/fix", "gnss")):
                info = StreamInfo(topic, "kitti/oxts", kind, frame)
                self._note_files(info, oxts / "data", "*.txt", stamps.size)
                if kind == "pose":
                    info.notes.append("Mercator poses relative to the first packet (KITTI devkit convention)")
                self._add_stream(info, stamps, lambda i, _k=kind, _s=stamps, _f=frame: self._oxts(i, _k, _s, _f))
        if not self._streams:
            raise FormatError(
                f"{d}: no velodyne_points/, image_0X/ or oxts/ with a timestamps.txt: not a KITTI raw drive"
            )

    def _note_files(self, info: StreamInfo, folder: Path, pattern: str, n: int) -> None:
        have = len(list(folder.glob(pattern))) if folder.is_dir() else 0
        if have != n:
            info.notes.append(f"{have} of {n} data files present ({folder})")

    def _packets(self) -> np.ndarray:
        """All OXTS packets present (N, 30), NaN rows for missing files (read once, for the Mercator origin)."""
        if self._oxts_cache is None:
            n = self._times["oxts/pose"].size
            vals = np.full((n, 30), np.nan)
            for i in range(n):
                f = self._oxts_dir / "data" / f"{i:010d}.txt"
                if f.is_file():
                    row = np.array(f.read_text().split(), np.float64)
                    if row.size < 6:
                        raise FormatError(f"{f}: {row.size} values; an OXTS packet has 30")
                    vals[i, : min(30, row.size)] = row[:30]
            self._oxts_cache = vals
        return self._oxts_cache

    def _oxts(self, i: int, kind: str, stamps: np.ndarray, frame: str) -> object:
        vals = self._packets()
        if np.isnan(vals[i, 0]):
            raise FormatError(f"{self._oxts_dir / 'data' / f'{i:010d}.txt'}: missing")
        if kind == "gnss":
            lat, lon, alt = vals[i, :3]
            return GnssFix(int(stamps[i]), lat, lon, alt, frame, "utc")
        first = int(np.flatnonzero(~np.isnan(vals[:, 0]))[0])
        T = oxts_poses(vals[[first, i]])[1]
        lin = vals[i, [8, 9, 10]]  # vf, vl, vu: velocity in the vehicle frame
        ang = vals[i, [20, 21, 22]]  # wf, wl, wu
        return Odometry(int(stamps[i]), "world", frame, T, lin, ang)
