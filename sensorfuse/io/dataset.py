"""Readers of dataset folders (one file per message, stamps in text files): the shared base and KITTI raw, EuRoC.

A dataset has no record clock: ``log_ns`` is None and ``times()`` gives the sensor stamps. Each stream is a sorted
stamp array plus a loader of message ``i``; ``read`` merges the streams by stamp. A listed message whose file is
missing is reported (``report.bad_records``) and skipped, the others are delivered.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.geometry.tf_tree import TransformTree
from sensorfuse.io.messages import LogMessage, Odometry
from sensorfuse.io.reader import LogReader, Progress, StreamInfo, StreamStats, mean_rate_hz, stream_stats
from sensorfuse.rig import Rig
from sensorfuse.types import GnssFix, Image, ImuSamples, PointCloud

__all__ = [
    "DatasetReader",
    "EurocReader",
    "KittiObjectReader",
    "KittiRawReader",
    "NuScenesReader",
    "oxts_poses",
    "read_image_file",
    "read_nuscenes_lidar_bin",
]


def read_image_file(path: Path, stamp_ns: int, frame_id: str) -> Image:
    """A PNG/JPEG file as an Image (grey -> mono8/mono16, colour -> bgr8)."""
    import cv2

    if not path.is_file():
        raise FormatError(f"{path}: missing")
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise FormatError(f"{path}: missing or not a readable image")
    grey = "mono16" if arr.dtype == np.uint16 else "mono8"
    return Image(arr, grey if arr.ndim == 2 else {3: "bgr8", 4: "bgra8"}[arr.shape[2]], stamp_ns, frame_id)


class DatasetReader(LogReader):
    """Base of the folder readers: ``self._add_stream(info, stamps, loader)`` per stream."""

    rig: Rig | None = None

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._times: dict[str, np.ndarray] = {}
        self._loaders: dict[str, Callable[[int], object]] = {}

    def _add_stream(self, info: StreamInfo, stamps: np.ndarray, loader: Callable[[int], object]) -> None:
        stamps = np.asarray(stamps, np.int64)
        if stamps.size > 1 and np.any(np.diff(stamps) < 0):
            n = int(np.count_nonzero(np.diff(stamps) < 0))
            self.report.warn(f"{self.path}: {info.topic}: {n} stamps out of order in the dataset's stamp list")
        info.count = int(stamps.size)
        if stamps.size:
            info.header_start_ns, info.header_end_ns = int(stamps.min()), int(stamps.max())
            info.rate_hz = mean_rate_hz(info.count, info.header_start_ns, info.header_end_ns)
        self._streams[info.topic] = info
        self._times[info.topic] = stamps
        self._loaders[info.topic] = loader

    def times(self, topic: str) -> np.ndarray:
        self.stream(topic)
        return self._times[topic]

    def get(self, topic: str, index: int) -> LogMessage:
        i = self._index(topic, index)
        return LogMessage(topic, i, None, self._loaders[topic](i))

    def read(
        self, topics: str | Iterable[str] | None = None, start_ns: int | None = None, end_ns: int | None = None
    ) -> Iterator[LogMessage]:
        heap: list[tuple[int, int, str, int, int]] = []
        for k, t in enumerate(self._check_topics(topics)):
            st = self._times[t]
            lo = 0 if start_ns is None else int(np.searchsorted(st, start_ns, side="left"))
            hi = st.size if end_ns is None else int(np.searchsorted(st, end_ns, side="left"))
            if lo < hi:
                heap.append((int(st[lo]), k, t, lo, hi))
        heapq.heapify(heap)
        while heap:
            _, k, t, i, hi = heapq.heappop(heap)
            if i + 1 < hi:
                heapq.heappush(heap, (int(self._times[t][i + 1]), k, t, i + 1, hi))
            try:
                data = self._loaders[t](i)
            except (FormatError, OSError) as exc:
                self.report.bad(t, exc, f"{self.path}: {t} message {i}")
                continue
            yield LogMessage(t, i, None, data)

    def stats(self, progress: Progress | None = None) -> dict[str, StreamStats]:
        return {t: stream_stats(t, self._times[t], None) for t in self._streams}

    def _add_dataset_transforms(self, tree: TransformTree) -> None:
        if self.rig is not None:
            add_rig_transforms(tree, self.rig)

    def cameras(self) -> dict:
        if self.rig is None:
            return {}
        return {s.topic or s.name: s.camera for s in self.rig.cameras()}


def add_rig_transforms(tree: TransformTree, rig: Rig) -> None:
    """Add a rig's extrinsics as static edges, oriented away from the base frame (breadth first), so that every
    frame has one parent as a transform tree requires."""
    adj: dict[str, list[str]] = {}
    for e in rig.extrinsics:
        adj.setdefault(e.target, []).append(e.source)
        adj.setdefault(e.source, []).append(e.target)
    seen: set[str] = set()
    roots = [rig.base_frame, *adj] if rig.base_frame in adj else list(adj)
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        todo = [root]
        while todo:
            parent = todo.pop(0)
            for child in adj.get(parent, ()):
                if child not in seen:
                    seen.add(child)
                    tree.add_static(parent, child, rig.transform(parent, child))
                    todo.append(child)


# -- KITTI raw ---------------------------------------------------------------------------------------------------

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
        from sensorfuse.io.kitti import read_kitti_raw_calib, read_velodyne_bin, rig_from_kitti_raw_calib
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
                from sensorfuse.io.pointcloud2 import point_time_from_azimuth

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


# -- EuRoC / ASL -------------------------------------------------------------------------------------------------


def _read_csv_rows(path: Path, ncols: int) -> np.ndarray:
    rows = []
    with path.open() as f:
        for k, row in enumerate(csv.reader(f)):
            if not row or row[0].lstrip().startswith("#"):
                continue
            if len(row) < ncols:
                raise FormatError(f"{path}: line {k + 1} has {len(row)} columns, expected {ncols}")
            rows.append(row[:ncols])
    return np.array(rows, dtype=object).reshape(-1, ncols)


class EurocReader(DatasetReader):
    """An EuRoC / ASL folder (``mav0/`` or its parent): ``cam0``/``cam1`` images (``data.csv`` + ``data/``), ``imu0``
    samples, and the ground-truth state (``state_groundtruth_estimate0/data.csv``) or a TUM trajectory file given
    as ``groundtruth=``. Calibration (intrinsics, ``T_BS``) from each ``sensor.yaml``."""

    format = "euroc"

    def __init__(self, path: str | Path, *, groundtruth: str | Path | None = None) -> None:
        super().__init__(path)
        from sensorfuse.io.kalibr import rig_from_euroc

        mav0 = self.path / "mav0" if (self.path / "mav0").is_dir() else self.path
        self.rig = rig_from_euroc(mav0)
        for sub in sorted(p for p in mav0.iterdir() if p.is_dir()):
            csv_path = sub / "data.csv"
            kind = next((s.kind for s in self.rig.sensors if s.name == sub.name), None)
            if kind == "camera":
                if not csv_path.is_file():
                    continue
                rows = _read_csv_rows(csv_path, 2)
                stamps = rows[:, 0].astype(np.int64)
                files = [str(x).strip() for x in rows[:, 1]]
                info = StreamInfo(sub.name, "euroc/png", "camera", sub.name)
                self._add_stream(
                    info,
                    stamps,
                    lambda i, _d=sub, _f=files, _s=stamps, _n=sub.name: read_image_file(
                        _d / "data" / _f[i], int(_s[i]), _n
                    ),
                )
            elif kind == "imu" and csv_path.is_file():
                rows = _read_csv_rows(csv_path, 7)
                stamps = rows[:, 0].astype(np.int64)
                vals = rows[:, 1:].astype(np.float64)
                self._imu_data = (sub.name, stamps, vals)
                info = StreamInfo(sub.name, "euroc/imu_csv", "imu", sub.name)
                self._add_stream(
                    info,
                    stamps,
                    lambda i, _s=stamps, _v=vals, _n=sub.name: ImuSamples(
                        _s[i : i + 1], _v[i : i + 1, :3], _v[i : i + 1, 3:], _n
                    ),
                )
            elif sub.name.startswith("state_groundtruth") and csv_path.is_file():
                rows = _read_csv_rows(csv_path, 8)
                self._add_poses(sub.name, rows[:, 0].astype(np.int64), rows[:, 1:8].astype(np.float64), wxyz=True)
        if groundtruth is not None:
            self.add_tum_trajectory(groundtruth)
        if not self._streams:
            self.report.warn(f"{mav0}: calibration only (no data.csv with messages)")

    def _add_poses(self, topic: str, stamps: np.ndarray, pq: np.ndarray, *, wxyz: bool) -> None:
        from sensorfuse.geometry.transforms import transform_from_quat_wxyz, transform_from_quat_xyzw

        conv = transform_from_quat_wxyz if wxyz else transform_from_quat_xyzw
        T = conv(pq[:, 3:7], pq[:, :3])  # batched; the quaternions are normalised inside
        info = StreamInfo(topic, "euroc/groundtruth", "pose", "body")
        self._add_stream(info, stamps, lambda i, _s=stamps, _T=T: Odometry(int(_s[i]), "world", "body", _T[i]))

    def add_tum_trajectory(self, path: str | Path, topic: str = "groundtruth") -> None:
        """Add a TUM file (``t[s] tx ty tz qx qy qz qw``) as a pose stream (stamps rounded to the microsecond, as the
        file's float seconds carry no more)."""
        path = Path(path)
        rows = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        try:
            arr = np.array(rows, np.float64)
        except ValueError:
            raise FormatError(f"{path}: not a TUM trajectory (t tx ty tz qx qy qz qw per line)") from None
        if arr.ndim != 2 or arr.shape[1] != 8:
            raise FormatError(f"{path}: expected 8 columns (t tx ty tz qx qy qz qw), got shape {arr.shape}")
        stamps = np.rint(arr[:, 0] * 1e6).astype(np.int64) * 1000
        self._add_poses(topic, stamps, arr[:, 1:], wxyz=False)

    def imu(self, topic: str) -> ImuSamples:
        name, stamps, vals = getattr(self, "_imu_data", (None, None, None))
        if topic != name:
            return super().imu(topic)
        return ImuSamples(stamps, vals[:, :3], vals[:, 3:], name)


# -- KITTI object --------------------------------------------------------------------------------------------------


class KittiObjectReader(DatasetReader):
    """A KITTI object folder (``training/`` and/or ``testing/``, or one split): per frame ``velodyne`` (PointCloud),
    ``image_2`` (Image) and ``label_2`` (list of Box3D in the rectified camera frame ``cam0``).

    KITTI object frames are unrelated snapshots with no time: a frame's "stamp" is its position in the split
    (0, 1, 2 ... ns), stated in the stream notes. Calibration is per frame (``frame(i)`` gives its rig); the
    reader's ``tf_tree``/``cameras`` use the first frame's.
    """

    format = "kitti-object"

    def __init__(self, path: str | Path, *, split: str | None = None) -> None:
        super().__init__(path)
        from sensorfuse.io.kitti import read_kitti_object_calib, read_velodyne_bin
        from sensorfuse.io.labels import read_kitti_labels

        root = self.path
        if split is None:
            split = next((s for s in ("training", "testing") if (root / s / "calib").is_dir()), None)
        self.split_dir = root / split if split else root
        if not (self.split_dir / "calib").is_dir():
            raise FormatError(f"{self.split_dir}: no calib/ folder; not a KITTI object split")
        self.frames = sorted(p.stem for p in (self.split_dir / "calib").glob("*.txt"))
        stamps = np.arange(len(self.frames), dtype=np.int64)
        self._calib = lambda i: read_kitti_object_calib(self.split_dir / "calib" / f"{self.frames[i]}.txt")
        note = "no timestamps in KITTI object: stamp = frame position in the split"
        sd = self.split_dir
        for folder, kind, ext, load in (
            ("velodyne", "lidar", "bin", lambda f, i: read_velodyne_bin(f, stamp_ns=i, frame_id="velodyne")),
            ("image_2", "camera", "png", lambda f, i: read_image_file(f, i, "cam2")),
            ("label_2", "labels", "txt", lambda f, i: read_kitti_labels(f, stamp_ns=i)),
        ):
            if not (sd / folder).is_dir():
                continue
            info = StreamInfo(
                folder,
                f"kitti/{ext}",
                kind,
                "cam0" if folder == "label_2" else ("velodyne" if kind == "lidar" else "cam2"),
            )
            info.notes.append(note)
            have = sum((sd / folder / f"{f}.{ext}").is_file() for f in self.frames)
            if have != len(self.frames):
                info.notes.append(f"{have} of {len(self.frames)} frames have a file")
            self._add_stream(
                info, stamps, lambda i, _d=sd / folder, _e=ext, _l=load: _l(_d / f"{self.frames[i]}.{_e}", i)
            )
        for info in self._streams.values():
            info.rate_hz = None  # snapshots, not a stream in time
        if self.frames:
            self.rig = self.rig_for(0)

    def rig_for(self, index: int) -> Rig:
        """The rig of frame ``index`` (its calib file; image size from its image_2 PNG, else 1242x375)."""
        from sensorfuse.io.images import read_image_size
        from sensorfuse.io.kitti import rig_from_kitti_object_calib

        png = self.split_dir / "image_2" / f"{self.frames[index]}.png"
        size = read_image_size(png) if png.is_file() else (1242, 375)
        calib_file = self.split_dir / "calib" / f"{self.frames[index]}.txt"
        return rig_from_kitti_object_calib(self._calib(index), size, source=str(calib_file))


# -- nuScenes tables -----------------------------------------------------------------------------------------------


def read_nuscenes_lidar_bin(path: str | Path, *, stamp_ns: int = 0, frame_id: str = "LIDAR_TOP") -> PointCloud:
    """A nuScenes ``LIDAR_TOP`` ``.pcd.bin``: float32 N x 5 (x, y, z, intensity, ring index)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: missing")
    raw = np.fromfile(path, "<f4")
    if raw.size % 5:
        raise FormatError(f"{path}: {raw.size * 4} bytes is not a whole number of 20-byte points (x y z i ring)")
    p = raw.reshape(-1, 5)
    if not np.isfinite(p).all():
        raise FormatError(f"{path}: holds NaN/inf values")
    return PointCloud(p[:, :3], stamp_ns, frame_id, intensity=p[:, 3], ring=p[:, 4].astype(np.uint16))


class NuScenesReader(DatasetReader):
    """The official nuScenes table layout (``<root>/<version>/*.json`` + ``samples/`` / ``sweeps/``), without the
    devkit: one stream per channel (``LIDAR_TOP`` N x 5 ``.pcd.bin`` -> PointCloud with ring, ``RADAR_*`` ``.pcd`` ->
    RadarScan, ``CAM_*`` JPEG -> CompressedImage as recorded), ``ego_pose`` (Odometry of ``ego`` in ``global``),
    the rig from ``calibrated_sensor`` (per channel; a log with several calibrations of one channel keeps the
    first and says so) and ``boxes(sample_token)`` from ``sample_annotation``. Stamps: the tables' microseconds
    x 1000. Every sample_data record is listed; one whose file is missing is reported when read.
    """

    format = "nuscenes"

    def __init__(self, path: str | Path, *, version: str | None = None, scene: str | None = None) -> None:
        super().__init__(path)

        from sensorfuse.io.nuscenes import nuscenes_annotations, nuscenes_tables

        root = self.path
        tables, self.dataroot, table = nuscenes_tables(root, version=version)

        sensor = {r["token"]: r for r in table("sensor")}
        calib = {r["token"]: r for r in table("calibrated_sensor")}
        self._ego = {r["token"]: r for r in table("ego_pose")}
        samples = {r["token"]: r for r in table("sample")}
        if scene is not None:
            scenes = {r["name"]: r["token"] for r in table("scene")}
            if scene not in scenes:
                raise FormatError(f"{root}: no scene {scene!r}; scenes: {', '.join(sorted(scenes))}")
            samples = {k: v for k, v in samples.items() if v["scene_token"] == scenes[scene]}
        self._annotations: dict[str, list[dict]] = {}
        for a in nuscenes_annotations(table):
            self._annotations.setdefault(a["sample_token"], []).append(a)
        self._sample_time = {k: int(v["timestamp"]) * 1000 for k, v in samples.items()}
        by_channel: dict[str, list[dict]] = {}
        calib_of: dict[str, dict] = {}
        for sd in table("sample_data"):
            if sd["sample_token"] not in samples:
                continue
            cs = calib[sd["calibrated_sensor_token"]]
            channel = sensor[cs["sensor_token"]]["channel"]
            by_channel.setdefault(channel, []).append(sd)
            if channel in calib_of and calib_of[channel]["token"] != cs["token"]:
                self.report.warn(f"{root}: {channel} has more than one calibrated_sensor; the rig keeps the first")
            calib_of.setdefault(channel, cs)
        from sensorfuse.io.nuscenes import rig_from_nuscenes_calibrated_sensors

        if calib_of:
            self.rig = rig_from_nuscenes_calibrated_sensors(calib_of, source=str(tables))
        ego_records: dict[int, dict] = {}
        for channel, rows in sorted(by_channel.items()):
            rows.sort(key=lambda r: r["timestamp"])
            stamps = np.array([int(r["timestamp"]) * 1000 for r in rows], np.int64)
            modality = sensor[calib_of[channel]["sensor_token"]]["modality"]
            kind = {"lidar": "lidar", "radar": "radar", "camera": "camera"}.get(modality, "other")
            info = StreamInfo(channel, f"nuscenes/{modality}", kind, channel)
            if kind == "lidar":
                info.point_time = "none (nuScenes .pcd.bin has no per-point time)"
            self._add_stream(info, stamps, lambda i, _r=rows, _k=kind, _c=channel: self._load(_r[i], _k, _c))
            for r in rows:
                ego_records[int(r["timestamp"]) * 1000] = self._ego[r["ego_pose_token"]]
        if ego_records:
            stamps = np.array(sorted(ego_records), np.int64)
            poses = [ego_records[int(t)] for t in stamps]
            from sensorfuse.io.nuscenes import transform_from_nuscenes_record

            info = StreamInfo("ego_pose", "nuscenes/ego_pose", "pose", "ego")
            self._add_stream(
                info,
                stamps,
                lambda i, _s=stamps, _p=poses: Odometry(
                    int(_s[i]), "global", "ego", transform_from_nuscenes_record(_p[i], what="ego_pose")
                ),
            )
        self.samples = sorted(samples, key=lambda k: self._sample_time[k])

    def _load(self, rec: dict, kind: str, channel: str) -> object:
        from sensorfuse.io.opencalib import read_pcd
        from sensorfuse.types import CompressedImage, RadarScan

        f = self.dataroot / rec["filename"]
        stamp = int(rec["timestamp"]) * 1000
        if not f.is_file():
            raise FormatError(f"{f}: missing")
        if kind == "camera":
            return CompressedImage(
                f.read_bytes(), "jpeg" if f.suffix.lower() in (".jpg", ".jpeg") else "png", stamp, channel
            )
        if kind == "lidar":
            return read_nuscenes_lidar_bin(f, stamp_ns=stamp, frame_id=channel)
        if kind == "radar":
            c, _, _ = read_pcd(f, stamp_ns=stamp, frame_id=channel)
            vx, vy = c.fields.get("vx_comp"), c.fields.get("vy_comp")
            vel = None if vx is None else np.stack([vx, vy], 1).astype(np.float32)
            raw_v = np.stack([c.fields["vx"], c.fields["vy"]], 1) if "vx" in c.fields else None
            r = np.linalg.norm(c.xyz[:, :2], axis=1)
            dop = (
                np.zeros(len(c), np.float32) if raw_v is None else np.sum(c.xyz[:, :2] * raw_v, 1) / np.maximum(r, 1e-9)
            )
            rcs = c.fields.get("rcs", np.full(len(c), np.nan, np.float32))
            return RadarScan(c.xyz, dop.astype(np.float32), rcs, stamp, channel, velocity=vel)
        raise FormatError(f"{f}: modality of {channel} is not read")

    def boxes(self, sample_token: str) -> list:
        """The sample's annotations as Box3D in the ``global`` frame (stamp: the sample's)."""
        from sensorfuse.io.labels import box_from_nuscenes_record

        if sample_token not in self._sample_time:
            raise FormatError(f"{self.path}: no sample {sample_token!r}")
        t = self._sample_time[sample_token]
        return [box_from_nuscenes_record(a, stamp_ns=t) for a in self._annotations.get(sample_token, [])]

    def _add_dataset_transforms(self, tree: TransformTree) -> None:
        super()._add_dataset_transforms(tree)
        if "ego_pose" in self._times:
            s = self._times["ego_pose"]
            T = np.array([self._loaders["ego_pose"](i).T for i in range(s.size)])
            tree.add_dynamic("global", "ego", s, T)
