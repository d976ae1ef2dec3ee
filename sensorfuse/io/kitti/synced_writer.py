"""``fuse-sync --format kitti``: the synchronised frames as a KITTI-raw "synced" drive folder, for tools that expect
one: ``velodyne_points/data/NNNNNNNNNN.bin`` and ``image_0K/data/NNNNNNNNNN.png`` share the frame number, with
``timestamps*.txt``, ``calib_*.txt`` and ``rig.yaml``.

KITTI holds only frames that have every camera: incomplete frames are left out (listed in the report), frame numbers
are contiguous, and ``frames.csv`` maps each KITTI frame to its reference message. Radar, IMU, GNSS and pose streams,
per-point time and record times have no place in the layout; the report (and ``SKIPPED.txt``) lists them. Clouds are
written deskewed when deskewing was asked for (x y z intensity only); images as PNG (JPEG decoded first).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, SyncError
from sensorfuse.io._files import PartialDir
from sensorfuse.io.kitti.raw_writer import KittiRawWriter, kitti_timestamp
from sensorfuse.io.kitti.velodyne import write_velodyne_bin
from sensorfuse.io.synced import FRAMES_CSV, RIG_YAML, FramePlan, write_csv, write_report
from sensorfuse.rig import Rig
from sensorfuse.types import CompressedImage, Image, PointCloud

__all__ = ["KittiSyncWriter"]


class KittiSyncWriter:
    """A :class:`~sensorfuse.io.synced.DatasetWriter` (add_stream, write, flush, finish, abort) of the frames of
    ``plan``: plain arrays of which message of each stream goes into which frame."""

    def __init__(self, out: str | os.PathLike[str], plan: FramePlan, rig: Rig, *, overwrite: bool = False) -> None:
        kind = plan.kinds[plan.reference]
        if kind != "lidar":
            raise SyncError(f"the KITTI layout needs a LiDAR reference (velodyne_points); {plan.reference} is a {kind}")
        self.plan, self.rig = plan, rig
        cams = [n for n, k in plan.kinds.items() if k == "camera"]
        keep = ~np.zeros(plan.reference_index.size, bool)
        for c in cams:
            keep &= plan.partners[c] >= 0
        self.frames = np.flatnonzero(keep)  # plan frame of each KITTI frame
        self.folder = {plan.reference: "velodyne_points"} | {c: f"image_{i:02d}" for i, c in enumerate(cams)}
        # message index -> KITTI frame numbers, per written stream
        self.targets: dict[str, dict[int, list[int]]] = {}
        for name in self.folder:
            idx = plan.reference_index if name == plan.reference else plan.partners[name]
            m: dict[int, list[int]] = {}
            for k, f in enumerate(self.frames):
                m.setdefault(int(idx[f]), []).append(k)
            self.targets[name] = m
        self.stamps: dict[str, dict[int, str]] = {f: {} for f in self.folder.values()}
        self.sweep: dict[str, dict[int, str]] = {"start": {}, "end": {}}
        self.skipped_report: dict[str, str] = {}
        self.dropped_frames = int(plan.reference_index.size - self.frames.size)
        self._dir = PartialDir(out, overwrite=overwrite)
        self.out, self.tmp = self._dir.out, self._dir.tmp
        self._writer = KittiRawWriter(self.tmp, rig, lidar=plan.reference, start_ns=int(plan.reference_stamp_ns[0]))

    def add_stream(self, name: str, kind: str, *, deskewed: bool = False) -> str:
        if name not in self.folder:
            self.skipped_report[self.plan.topics[name]] = f"{kind}: no place in KITTI raw (see sync_report)"
            return "skipped"
        (self.tmp / self.folder[name] / "data").mkdir(parents=True)
        return "folder"

    def write(
        self,
        name: str,
        index: int,
        data: object,
        times: tuple[int, int, int | None],
        *,
        prepare: Callable[..., dict[str, Any]] | None = None,
        **extra: Any,
    ) -> None:
        frames = self.targets.get(name, {}).get(index)
        if not frames:
            return
        if prepare is not None:
            extra.update(prepare(data))
        _, stamp, _ = times
        folder = self.tmp / self.folder[name]
        if isinstance(data, PointCloud):
            xyz = extra.get("xyz_deskewed")
            cloud = (
                data
                if xyz is None
                else PointCloud(xyz.astype(np.float32), data.stamp_ns, data.frame_id, data.intensity)
            )
            off = data.t_offset_ns if data.t_offset_ns is not None and len(data) else np.zeros(1, np.int64)
            for k in frames:
                write_velodyne_bin(cloud, folder / "data" / f"{k:010d}.bin")
                self.sweep["start"][k] = kitti_timestamp(stamp + int(off.min()))
                self.sweep["end"][k] = kitti_timestamp(stamp + int(off.max()))
        elif isinstance(data, (Image, CompressedImage)):
            import cv2

            img = data.decode() if isinstance(data, CompressedImage) else data
            a = img.data[..., ::-1] if img.encoding == "rgb8" else img.data
            for k in frames:
                if not cv2.imwrite(str(folder / "data" / f"{k:010d}.png"), np.ascontiguousarray(a)):
                    raise FormatError(f"{folder}: PNG could not be written")
        for k in frames:
            self.stamps[self.folder[name]][k] = kitti_timestamp(stamp)

    def flush(self) -> None:
        """Files are written as they come: nothing to wait for."""

    def finish(self, rig: Rig | None, frames: dict[str, np.ndarray], report: dict[str, Any]) -> Path:

        for folder, st in self.stamps.items():
            (self.tmp / folder / "timestamps.txt").write_text("".join(st[k] + "\n" for k in sorted(st)))
        for which, st in self.sweep.items():
            path = self.tmp / "velodyne_points" / f"timestamps_{which}.txt"
            path.write_text("".join(st[k] + "\n" for k in sorted(st)))
        from sensorfuse.io.rigfile import save_rig

        save_rig(self.rig, self.tmp / RIG_YAML)
        self._writer.write_calib()
        cols = {k: v[self.frames] for k, v in frames.items()}
        cols = {
            "frame": np.arange(self.frames.size),
            "plan_frame": self.frames,
            **{k: v for k, v in cols.items() if k != "frame"},
        }
        write_csv(self.tmp / FRAMES_CSV, cols)
        report["kitti"] = {
            "frames_written": int(self.frames.size),
            "frames_left_out_incomplete": self.dropped_frames,
            "cannot_hold": "record time, per-point time, radar, IMU, GNSS and pose streams, CameraInfo beyond "
            "Brown-Conrady calib files (rig.yaml has all), frames without every camera",
        }
        lines = [f"{t}: {why}" for t, why in sorted(self.skipped_report.items())]
        (self.tmp / "SKIPPED.txt").write_text("\n".join(lines) + "\n")
        write_report(self.tmp, report)
        return self._dir.commit()

    def abort(self, *, keep_partial: bool = False) -> None:
        if not keep_partial:
            self._dir.discard()
