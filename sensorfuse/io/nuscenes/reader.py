"""nuScenes folders as a log: keyframes and sweeps of every sensor from the ``v1.0-*`` tables, LiDAR ``.pcd.bin``
files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.geometry.tf_tree import TransformTree
from sensorfuse.io.dataset import DatasetReader
from sensorfuse.io.messages import Odometry
from sensorfuse.io.reader import StreamInfo
from sensorfuse.types import PointCloud

__all__ = ["NuScenesReader", "read_nuscenes_lidar_bin"]


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

        from sensorfuse.io.nuscenes.tables import nuscenes_annotations, nuscenes_tables

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
        from sensorfuse.io.nuscenes.calib import rig_from_nuscenes_calibrated_sensors

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
            from sensorfuse.io.nuscenes.calib import transform_from_nuscenes_record

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
        from sensorfuse.io.pcd import read_pcd
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
        from sensorfuse.io.nuscenes.labels import box_from_nuscenes_record

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
