"""Writer of the synchronised dataset layout (``fuse-sync --format sensorfuse``), lossless and documented in
docs/sync.md::

    OUT/
      rig.yaml              the rig: /tf_static extrinsics, CameraInfo intrinsics, --rig, clocks as applied
      frames.csv            one row per synchronised frame (reference message + each stream's partner)
      sync_report.json      streams, clocks, health, association counts, what was skipped and why
      <lidar>/NNNNNN.pcd    every sweep, binary PCD with every field (x y z possibly deskewed, x_raw y_raw z_raw
                            as recorded, intensity, ring, t = per-point time in ns after the stamp, extra fields)
      <camera>/NNNNNN.jpg   compressed images as the bytes recorded; raw images as lossless PNG (16-bit kept)
                            or .npy (float and other encodings)
      <radar>/NNNNNN.pcd    x y z doppler rcs (+ vx vy vz where measured)
      <dir>/index.csv       per message: index, header_stamp_ns, stamp_ns (reference clock), log_ns, file, extras
      <imu>.csv, <gnss>.csv, <pose>.csv   full-rate tables with the same time columns

Files go into ``OUT.partial/`` (:class:`~sensorfuse.io._files.PartialDir`) and the folder is renamed to ``OUT`` only when everything is written, so an ``OUT``
that exists is complete; a failed run leaves no ``OUT`` (the partial folder is removed, or kept with
``keep_partial`` for inspection, never under the final name).
"""

from __future__ import annotations

import csv
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.io._files import PartialDir, json_default
from sensorfuse.io.messages import Odometry
from sensorfuse.io.opencalib import write_pcd_columns
from sensorfuse.io.pointcloud2 import cloud_columns
from sensorfuse.io.rigfile import save_rig
from sensorfuse.rig import Rig
from sensorfuse.types import CompressedImage, GnssFix, Image, ImuSamples, PointCloud, RadarScan

__all__ = ["FOLDER_KINDS", "TABLE_KINDS", "SyncedWriter", "write_csv"]

FOLDER_KINDS = ("lidar", "camera", "radar")
TABLE_KINDS = ("imu", "gnss", "pose")
_TIME = ["index", "header_stamp_ns", "stamp_ns", "log_ns"]
_TABLE_COLUMNS = {
    "imu": [*_TIME, "gx", "gy", "gz", "ax", "ay", "az"],
    "gnss": [*_TIME, "latitude_deg", "longitude_deg", "altitude_m", "status", "time_base"],
    "pose": [*_TIME, "x", "y", "z", "qx", "qy", "qz", "qw", "frame_id", "child_frame_id"],
}
_PNG_ENCODINGS = {"mono8", "mono16", "8UC1", "16UC1", "bgr8", "rgb8", "bgra8", "rgba8", "8UC3", "8UC4"}


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Columns (masked entries written empty) as CSV with a header row."""
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    text_cols = []
    for k in names:
        v = columns[k]
        mask = np.ma.getmaskarray(v) if isinstance(v, np.ma.MaskedArray) else None
        s = np.asarray(np.ma.getdata(v)).astype(str)
        if mask is not None:
            s = np.where(mask, "", s)
        text_cols.append(s)
    with open(path, "w", newline="") as f:
        f.write(",".join(names) + "\n")
        if n:
            rows = np.stack(text_cols, axis=1)
            f.write("\n".join(",".join(r) for r in rows))
            f.write("\n")


class SyncedWriter:
    """Streams messages into the layout above; ``finish`` writes the tables and renames the folder into place."""

    def __init__(self, out: str | os.PathLike[str], *, overwrite: bool = False, workers: int = 2) -> None:
        self._dir = PartialDir(out, overwrite=overwrite)
        self.out, self.tmp = self._dir.out, self._dir.tmp
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._pending: list[Future] = []
        self._index: dict[str, list[dict[str, Any]]] = {}
        self._tables: dict[str, Any] = {}
        self._files: dict[str, Any] = {}
        self._kinds: dict[str, str] = {}
        self.bytes_written = 0

    # -- streams -----------------------------------------------------------------------------------------------
    def add_stream(self, name: str, kind: str) -> str:
        """Register a stream; returns how it is stored (``folder`` or ``table``)."""
        if kind in FOLDER_KINDS:
            (self.tmp / name).mkdir()
            self._index[name] = []
            self._kinds[name] = kind
            return "folder"
        if kind in TABLE_KINDS:
            f = open(self.tmp / f"{name}.csv", "w", newline="")  # noqa: SIM115 - closed in finish/abort
            self._files[name] = f
            w = csv.writer(f)
            w.writerow(_TABLE_COLUMNS[kind])
            self._tables[name] = w
            self._kinds[name] = kind
            return "table"
        raise ValidationError(f"stream {name}: kind {kind!r} has no place in the synchronised layout")

    def write(self, name: str, index: int, data: object, times: tuple[int, int, int | None], **extra: Any) -> None:
        """Write message ``index`` of stream ``name``; ``times`` = (header stamp, stamp on the reference clock,
        record time). ``extra`` goes into the stream's index.csv (folder streams)."""
        kind = self._kinds[name]
        header, stamp, log = times
        if kind in TABLE_KINDS:
            self._write_row(name, kind, index, data, header, stamp, log)
            return
        stem = f"{index:06d}"
        folder = self.tmp / name
        if isinstance(data, CompressedImage):
            ext = _image_ext(data.format)
            path = folder / f"{stem}.{ext}"
            self._submit(path.write_bytes, data.data)
            self.bytes_written += len(data.data)
        elif isinstance(data, Image):
            if data.encoding in _PNG_ENCODINGS:
                path = folder / f"{stem}.png"
                self._submit(_write_png, path, data)
            else:
                path = folder / f"{stem}.npy"
                self._submit(np.save, path, data.data)
            extra.setdefault("encoding", data.encoding)
        elif isinstance(data, PointCloud):
            path = folder / f"{stem}.pcd"
            write_pcd_columns(_cloud_columns(data, extra.pop("xyz_deskewed", None)), path)
            extra.setdefault("points", len(data))
        elif isinstance(data, RadarScan):
            path = folder / f"{stem}.pcd"
            cols = {"x": data.xyz[:, 0], "y": data.xyz[:, 1], "z": data.xyz[:, 2], "doppler": data.doppler}
            cols["rcs"] = data.rcs
            if data.velocity is not None:
                for k, c in zip(("vx", "vy", "vz"), data.velocity.T, strict=False):
                    cols[k] = c
            write_pcd_columns({k: np.asarray(v, np.float32) for k, v in cols.items()}, path)
            extra.setdefault("points", len(data))
        else:
            raise ValidationError(f"stream {name}: cannot store a {type(data).__name__} in a {kind} folder")
        row = {"index": index, "header_stamp_ns": header, "stamp_ns": stamp, "log_ns": log, "file": path.name}
        row.update(extra)
        self._index[name].append(row)

    def _submit(self, fn: Any, *args: Any) -> None:
        self._pending.append(self._pool.submit(fn, *args))
        if len(self._pending) > 64:  # bounded: memory stays a window, errors surface early
            done, self._pending = self._pending[:32], self._pending[32:]
            for f in done:
                f.result()

    def _write_row(
        self, name: str, kind: str, index: int, data: object, header: int, stamp: int, log: int | None
    ) -> None:
        w = self._tables[name]
        if kind == "imu" and isinstance(data, ImuSamples):
            # a message may carry several samples; each row keeps the message index and its own stamp
            for k in range(len(data)):
                h = int(data.stamp_ns[k])
                w.writerow([index, h, stamp + (h - header), log, *data.gyro[k].tolist(), *data.accel[k].tolist()])
        elif kind == "gnss" and isinstance(data, GnssFix):
            w.writerow(
                [index, header, stamp, log, data.latitude_deg, data.longitude_deg, data.altitude_m, data.status,
                 data.time_base]
            )  # fmt: skip
        elif kind == "pose" and isinstance(data, Odometry):
            from scipy.spatial.transform import Rotation

            q = Rotation.from_matrix(data.T[:3, :3]).as_quat()
            w.writerow([index, header, stamp, log, *data.T[:3, 3].tolist(), *q.tolist(), data.frame_id,
                        data.child_frame_id])  # fmt: skip
        else:
            raise ValidationError(f"stream {name}: cannot store a {type(data).__name__} in the {kind} table")

    # -- end ---------------------------------------------------------------------------------------------------
    def finish(self, rig: Rig | None, frames: dict[str, np.ndarray], report: dict[str, Any]) -> Path:
        """Wait for the image pool, write index files, rig.yaml, frames.csv and sync_report.json, then move the
        folder into place (replacing an old one only now, when the new one is complete)."""
        for f in self._pending:
            f.result()
        self._pool.shutdown()
        for f in self._files.values():
            f.close()
        for name, rows in self._index.items():
            keys: list[str] = []
            for r in rows:
                keys += [k for k in r if k not in keys]
            cols = {k: np.ma.masked_array([r.get(k, 0) for r in rows], [k not in r for r in rows]) for k in keys}
            write_csv(self.tmp / name / "index.csv", cols if rows else {k: np.zeros(0) for k in _TIME})
        if rig is not None:
            save_rig(rig, self.tmp / "rig.yaml")
        write_csv(self.tmp / "frames.csv", frames)
        (self.tmp / "sync_report.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
        return self._dir.commit()

    def abort(self, *, keep_partial: bool = False) -> None:
        """Stop after an error: close files; remove the partial folder unless asked to keep it."""
        self._pool.shutdown(cancel_futures=True)
        for f in self._files.values():
            f.close()
        if not keep_partial:
            self._dir.discard()


def _cloud_columns(cloud: PointCloud, xyz_deskewed: np.ndarray | None) -> dict[str, np.ndarray]:
    cols = cloud_columns(cloud, what=f"cloud at {cloud.stamp_ns}")
    if xyz_deskewed is not None:
        raw = {f"{k}_raw": cols[k] for k in ("x", "y", "z")}
        dt = cloud.xyz.dtype
        for k, j in (("x", 0), ("y", 1), ("z", 2)):
            cols[k] = xyz_deskewed[:, j].astype(dt)
        cols = {
            **{k: cols[k] for k in ("x", "y", "z")},
            **raw,
            **{k: v for k, v in cols.items() if k not in ("x", "y", "z")},
        }
    return cols


def _image_ext(fmt: str) -> str:
    f = fmt.lower()
    for key, ext in (("jpeg", "jpg"), ("jpg", "jpg"), ("png", "png"), ("tiff", "tiff"), ("webp", "webp")):
        if key in f:
            return ext
    return "bin"


def _write_png(path: Path, img: Image) -> None:
    import cv2

    a = img.data
    if img.encoding in ("rgb8", "rgba8"):
        a = a[..., ::-1] if img.encoding == "rgb8" else a[..., [2, 1, 0, 3]]  # PNG stores colour the normal way
    if not cv2.imwrite(str(path), np.ascontiguousarray(a), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise FormatError(f"{path}: PNG could not be written")
