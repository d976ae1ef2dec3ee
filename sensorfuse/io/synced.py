"""Our synchronised dataset layout (``fuse-sync --format sensorfuse``): its file names, the writer, the reader, and
the :class:`DatasetWriter` protocol every synced-dataset writer implements (this one, KITTI's). Lossless and
documented in docs/sync.md::

    OUT/
      rig.yaml              the rig: /tf_static extrinsics, CameraInfo intrinsics, --rig, clocks as applied
      frames.csv            one row per synchronised frame (reference message + each stream's partner)
      sync_report.json      streams, clocks, health, association counts, what was skipped and why
      <lidar>/NNNNNN.pcd    every sweep, binary PCD with every field (x y z possibly deskewed, x_raw y_raw z_raw
                            as recorded, intensity, ring, t_offset_ns = per-point time in ns after the
                            sweep's stamp_ns (uint32, as PointCloud.t_offset_ns), extra fields)
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
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sensorfuse._scratch import Scratch
from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.io._files import PartialDir, json_default
from sensorfuse.io.messages import Odometry
from sensorfuse.io.pcd import write_pcd_columns, write_pcd_records
from sensorfuse.io.rigfile import save_rig
from sensorfuse.io.ros.pointcloud2 import cloud_columns
from sensorfuse.rig import Rig
from sensorfuse.types import CompressedImage, GnssFix, Image, ImuSamples, PointCloud, RadarScan

__all__ = [
    "FOLDER_KINDS",
    "FRAMES_CSV",
    "INDEX_CSV",
    "RIG_YAML",
    "SYNC_REPORT",
    "TABLE_KINDS",
    "DatasetWriter",
    "FramePlan",
    "SyncedDataset",
    "SyncedWriter",
    "is_synced_dataset",
    "read_csv_columns",
    "write_csv",
]

#: the files of the layout (the only place their names are spelled)
FRAMES_CSV = "frames.csv"
SYNC_REPORT = "sync_report.json"
RIG_YAML = "rig.yaml"
INDEX_CSV = "index.csv"

FOLDER_KINDS = ("lidar", "camera", "radar")
TABLE_KINDS = ("imu", "gnss", "pose")
_TIME = ["index", "header_stamp_ns", "stamp_ns", "log_ns"]
_TABLE_COLUMNS = {
    "imu": [*_TIME, "gx", "gy", "gz", "ax", "ay", "az"],
    "gnss": [*_TIME, "latitude_deg", "longitude_deg", "altitude_m", "status", "time_base"],
    "pose": [*_TIME, "x", "y", "z", "qx", "qy", "qz", "qw", "frame_id", "child_frame_id"],
}
_PNG_ENCODINGS = {"mono8", "mono16", "8UC1", "16UC1", "bgr8", "rgb8", "bgra8", "rgba8", "8UC3", "8UC4"}
#: bound of the work queued for the writer pool: memory stays a window of the log, errors surface early
MAX_PENDING = 64
#: the PCD field of the per-point time: the name the API gives it (PointCloud.t_offset_ns)
PCD_TIME_FIELD = "t_offset_ns"
MAX_PENDING_BYTES = 256 * 2**20


@dataclass(frozen=True)
class FramePlan:
    """The synchronised frames as plain arrays: what a dataset writer needs to know of the sync (no fusion object).

    Attributes:
        reference: the reference stream's name.
        kinds: stream name -> kind (lidar, camera, radar, imu, gnss, pose, ...).
        topics: stream name -> topic.
        reference_index: (M,) the reference message of each frame.
        reference_stamp_ns: (M,) its stamp on the reference clock.
        partners: stream name -> (M,) the message paired with each frame, -1 where none.
    """

    reference: str
    kinds: dict[str, str]
    topics: dict[str, str]
    reference_index: np.ndarray
    reference_stamp_ns: np.ndarray
    partners: dict[str, np.ndarray]


class DatasetWriter(Protocol):
    """What a synchronised-dataset writer offers ``fuse-sync`` (:class:`SyncedWriter`, KITTI's
    :class:`~sensorfuse.io.kitti.synced_writer.KittiSyncWriter`): register streams, take messages, write the tables and
    move the output into place when complete, or remove it after an error."""

    out: Path

    def add_stream(self, name: str, kind: str, *, deskewed: bool = False) -> str: ...

    def write(
        self,
        name: str,
        index: int,
        data: object,
        times: tuple[int, int, int | None],
        *,
        prepare: Callable[..., dict[str, Any]] | None = None,
        **extra: Any,
    ) -> None: ...

    def flush(self) -> None: ...

    def finish(self, rig: Rig | None, frames: dict[str, np.ndarray], report: dict[str, Any]) -> Path: ...

    def abort(self, *, keep_partial: bool = False) -> None: ...


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
        self._pending: deque[tuple[Future, int]] = deque()
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._scratch = Scratch()
        self._deskewed: dict[str, bool] = {}
        self._index: dict[str, list[dict[str, Any]]] = {}
        self._tables: dict[str, Any] = {}
        self._files: dict[str, Any] = {}
        self._poses: dict[str, list[tuple[int, int, int, int | None, Odometry]]] = {}
        self._kinds: dict[str, str] = {}
        self.bytes_written = 0

    # -- streams -----------------------------------------------------------------------------------------------
    def add_stream(self, name: str, kind: str, *, deskewed: bool = False) -> str:
        """Register a stream; returns how it is stored (``folder`` or ``table``). ``deskewed``: the stream's clouds
        come with a ``prepare`` that deskews them; every PCD of the stream then has x_raw y_raw z_raw beside x y z
        (equal where a sweep could not be deskewed), so the folder has one layout."""
        if kind in FOLDER_KINDS:
            self._deskewed[name] = deskewed
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
        """Write message ``index`` of stream ``name``; ``times`` = (header stamp, stamp on the reference clock,
        record time). ``extra`` goes into the stream's index.csv (folder streams). Files are written by the pool;
        for a point cloud ``prepare(cloud, scratch=...)`` runs there first (the deskew) and returns more index.csv
        entries, with ``xyz_deskewed`` (N, 3) replacing x y z (the recorded ones kept as x_raw y_raw z_raw);
        ``scratch`` is the thread's :class:`~sensorfuse._scratch.Scratch` for its work arrays."""
        kind = self._kinds[name]
        header, stamp, log = times
        if kind in TABLE_KINDS:
            self._write_row(name, kind, index, data, header, stamp, log)
            return
        stem = f"{index:06d}"
        folder = self.tmp / name
        row = {"index": index, "header_stamp_ns": header, "stamp_ns": stamp, "log_ns": log}
        if isinstance(data, CompressedImage):
            path = folder / f"{stem}.{_image_ext(data.format)}"
            self._submit(path.write_bytes, data.data, nbytes=len(data.data))
            self.bytes_written += len(data.data)
        elif isinstance(data, Image):
            # a copy: the pool writes it later, and the reader's buffer may be a view of a memory-mapped log
            pixels = data.data.copy()
            if data.encoding in _PNG_ENCODINGS:
                path = folder / f"{stem}.png"
                self._submit(_write_png, path, pixels, data.encoding, nbytes=pixels.nbytes)
            else:
                path = folder / f"{stem}.npy"
                self._submit(np.save, path, pixels, nbytes=pixels.nbytes)
            extra.setdefault("encoding", data.encoding)
        elif isinstance(data, PointCloud):
            path = folder / f"{stem}.pcd"
            row.update({"file": path.name, **extra, "points": len(data)})
            cloud = _detached(data)
            self._submit(self._write_cloud, name, path, cloud, prepare, row, nbytes=2 * cloud.xyz.nbytes)
            return
        elif isinstance(data, RadarScan):
            path = folder / f"{stem}.pcd"
            cols = {"x": data.xyz[:, 0], "y": data.xyz[:, 1], "z": data.xyz[:, 2], "doppler": data.doppler}
            cols["rcs"] = data.rcs
            if data.velocity is not None:
                for k, c in zip(("vx", "vy", "vz"), data.velocity.T, strict=False):
                    cols[k] = c
            cols = {k: np.array(v, np.float32) for k, v in cols.items()}  # copies: the pool writes them later
            self._submit(write_pcd_columns, cols, path, nbytes=sum(v.nbytes for v in cols.values()))
            extra.setdefault("points", len(data))
        else:
            raise ValidationError(f"stream {name}: cannot store a {type(data).__name__} in a {kind} folder")
        row["file"] = path.name
        row.update(extra)
        with self._lock:
            self._index[name].append(row)

    def _write_cloud(
        self,
        name: str,
        path: Path,
        cloud: PointCloud,
        prepare: Callable[..., dict[str, Any]] | None,
        row: dict[str, Any],
    ) -> None:
        rec = _pack_cloud(cloud, self._deskewed[name], self._scratch)
        if prepare is not None:
            out = np.ndarray((len(cloud), 3), np.float32, rec, 0, (rec.dtype.itemsize, 4))  # x y z of the records
            more = prepare(cloud, out=out if self._deskewed[name] else None, scratch=self._scratch)
            if "xyz_deskewed" not in more and self._deskewed[name]:
                out[:] = cloud.xyz  # not deskewed: as recorded (index.csv says why)
            elif not self._deskewed[name] and "xyz_deskewed" in more:
                raise ValidationError(f"stream {name}: deskewed clouds, but add_stream was not told so")
            more.pop("xyz_deskewed", None)
            row.update(more)
        write_pcd_records(rec, path)
        with self._lock:
            self._index[name].append(row)

    def _submit(self, fn: Any, *args: Any, nbytes: int = 0) -> None:
        self._pending.append((self._pool.submit(fn, *args), nbytes))
        self._pending_bytes += nbytes
        while len(self._pending) > MAX_PENDING or self._pending_bytes > MAX_PENDING_BYTES:
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        f, n = self._pending.popleft()
        f.result()
        self._pending_bytes -= n

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
            # quaternions for a block of poses at once (one SciPy call instead of one per message)
            buf = self._poses.setdefault(name, [])
            buf.append((index, header, stamp, log, data))
            if len(buf) >= 512:
                self._flush_poses(name)
        else:
            raise ValidationError(f"stream {name}: cannot store a {type(data).__name__} in the {kind} table")

    def _flush_poses(self, name: str) -> None:
        from scipy.spatial.transform import Rotation

        buf = self._poses.pop(name, [])
        if not buf:
            return
        T = np.stack([b[4].T for b in buf])
        q = Rotation.from_matrix(T[:, :3, :3]).as_quat().tolist()
        t = T[:, :3, 3].tolist()
        self._tables[name].writerows(
            [index, header, stamp, log, *t[k], *q[k], d.frame_id, d.child_frame_id]
            for k, (index, header, stamp, log, d) in enumerate(buf)
        )

    # -- end ---------------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Wait until every queued file is written (raises the first error of the pool)."""
        while self._pending:
            self._wait_oldest()

    def finish(self, rig: Rig | None, frames: dict[str, np.ndarray], report: dict[str, Any]) -> Path:
        """Wait for the image pool, write index files, rig.yaml, frames.csv and sync_report.json, then move the
        folder into place (replacing an old one only now, when the new one is complete)."""
        self.flush()
        self._pool.shutdown()
        for name in list(self._poses):
            self._flush_poses(name)
        for f in self._files.values():
            f.close()
        for name, rows in self._index.items():
            rows.sort(key=lambda r: r["index"])  # the pool finishes files in any order
            keys: list[str] = []
            for r in rows:
                keys += [k for k in r if k not in keys]
            cols = {k: np.ma.masked_array([r.get(k, 0) for r in rows], [k not in r for r in rows]) for k in keys}
            write_csv(self.tmp / name / INDEX_CSV, cols if rows else {k: np.zeros(0) for k in _TIME})
        if rig is not None:
            save_rig(rig, self.tmp / RIG_YAML)
        write_csv(self.tmp / FRAMES_CSV, frames)
        write_report(self.tmp, report)
        return self._dir.commit()

    def abort(self, *, keep_partial: bool = False) -> None:
        """Stop after an error: close files; remove the partial folder unless asked to keep it."""
        self._pool.shutdown(cancel_futures=True)
        for f in self._files.values():
            f.close()
        if not keep_partial:
            self._dir.discard()


def _owns(a: np.ndarray) -> bool:
    """True when ``a``'s memory belongs to numpy (not a view of a reader's message buffer)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a.base is None


def _own(a: np.ndarray | None) -> np.ndarray | None:
    """``a``, or a copy of it when it views a reader's buffer: a memory-mapped log, which the reader unmaps from the
    process as it goes, so a later read in the pool would map the pages back for good."""
    return a if a is None or _owns(a) else a.copy()


def _detached(cloud: PointCloud) -> PointCloud:
    """The cloud with copies of the arrays that view the reader's buffer (see :func:`_own`)."""
    return PointCloud._from_checked(
        _own(cloud.xyz),
        cloud.stamp_ns,
        cloud.frame_id,
        intensity=_own(cloud.intensity),
        t_offset_ns=_own(cloud.t_offset_ns),
        ring=_own(cloud.ring),
        fields={k: _own(v) for k, v in cloud.fields.items()},
        log_ns=cloud.log_ns,
    )


def _pack_cloud(cloud: PointCloud, deskewed: bool, scratch: Scratch) -> np.ndarray:
    """The PCD records of a cloud in the thread's scratch buffer (no per-sweep allocation): x y z, then (for a
    deskewed stream) x_raw y_raw z_raw as recorded, intensity, ring, t and the extra fields. For a deskewed stream
    x y z are left for the deskew to fill."""
    cols = cloud_columns(cloud, what=f"cloud at {cloud.stamp_ns}", cast_time=False)
    xyz = {k: cols.pop(k) for k in ("x", "y", "z")}
    dts = [(k, "<f4") for k in xyz]
    if deskewed:
        dts += [(f"{k}_raw", "<f4") for k in xyz]
    # the per-point time is stored under the API's name, t_offset_ns (uint32 ns after the sweep's stamp_ns)
    cols = {PCD_TIME_FIELD if k == "t" else k: v for k, v in cols.items()}
    dts += [(k, "<u4" if k == PCD_TIME_FIELD else v.dtype.newbyteorder("<")) for k, v in cols.items()]
    rec = scratch.get("pcd", len(cloud), np.dtype(dts))
    for k, v in xyz.items():
        rec[f"{k}_raw" if deskewed else k] = v
    for k, v in cols.items():
        rec[k] = v
    return rec


def _image_ext(fmt: str) -> str:
    f = fmt.lower()
    for key, ext in (("jpeg", "jpg"), ("jpg", "jpg"), ("png", "png"), ("tiff", "tiff"), ("webp", "webp")):
        if key in f:
            return ext
    return "bin"


def _write_png(path: Path, a: np.ndarray, encoding: str) -> None:
    import cv2

    if encoding in ("rgb8", "rgba8"):
        a = a[..., ::-1] if encoding == "rgb8" else a[..., [2, 1, 0, 3]]  # PNG stores colour the normal way
    if not cv2.imwrite(str(path), np.ascontiguousarray(a), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise FormatError(f"{path}: PNG could not be written")


def write_report(folder: Path, report: dict[str, Any]) -> None:
    """``sync_report.json`` (numpy values converted)."""
    (folder / SYNC_REPORT).write_text(json.dumps(report, indent=2, default=json_default) + "\n")


# -- reading ---------------------------------------------------------------------------------------------------


def read_csv_columns(path: Path) -> dict[str, list[str]]:
    """A CSV file with a header row as columns of strings ({} for a file with no rows)."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {k: [r[k] for r in rows] for k in rows[0]}


def _ints(values: list[str]) -> np.ndarray:
    """A CSV column of integers; empty cells (masked: no partner) become -1."""
    return np.array([int(v) if v not in ("", "--") else -1 for v in values], np.int64)


def is_synced_dataset(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder in this layout (it has frames.csv and sync_report.json)."""
    p = Path(path)
    return p.is_dir() and (p / FRAMES_CSV).is_file() and (p / SYNC_REPORT).is_file()


class SyncedDataset:
    """A ``fuse-sync`` output folder, read back: the rig, the report, the frames (each stream's message per frame,
    the time errors) and each message's file.

    Raises:
        FormatError: a file of the layout is missing (the folder is not a complete fuse-sync output).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from sensorfuse.io._files import read_json
        from sensorfuse.io.rigfile import load_rig

        self.path = Path(path)
        for f in (FRAMES_CSV, RIG_YAML, SYNC_REPORT):
            if not (self.path / f).is_file():
                raise FormatError(f"{self.path}: no {f}; not a complete fuse-sync output folder")
        self.rig = load_rig(self.path / RIG_YAML)
        self.report: Any = read_json(self.path / SYNC_REPORT, "fuse-sync report")
        self.reference: str = self.report["reference"]
        self.kinds: dict[str, str] = {k: v["kind"] for k, v in self.report["streams"].items()}
        self.frames = read_csv_columns(self.path / FRAMES_CSV)
        self.index = {n: _ints(self.frames[f"{n}_index"]) for n in self.kinds if f"{n}_index" in self.frames}
        self.index[self.reference] = _ints(self.frames["reference_index"])
        self.stamps_ns = _ints(self.frames["reference_stamp_ns"])
        self.files: dict[str, dict[int, str]] = {}
        for n, k in self.kinds.items():
            if k in FOLDER_KINDS and (self.path / n / INDEX_CSV).is_file():
                t = read_csv_columns(self.path / n / INDEX_CSV)
                self.files[n] = dict(zip(_ints(t["index"]).tolist(), t["file"], strict=True)) if t else {}

    def __len__(self) -> int:
        return int(self.stamps_ns.size)

    def time_errors_ns(self, frame: int) -> dict[str, int]:
        """Each paired stream's time error in frame ``frame`` (frames.csv ``<name>_dt_ns``)."""
        out = {}
        for n in self.kinds:
            col = self.frames.get(f"{n}_dt_ns")
            if col is not None and col[frame] not in ("", "--"):
                out[n] = int(col[frame])
        return out

    def message(self, name: str, frame: int) -> int:
        """The message index of stream ``name`` in frame ``frame`` (-1: none)."""
        return int(self.index[name][frame]) if name in self.index else -1

    def has_table(self, name: str) -> bool:
        """Whether stream ``name`` has its full-rate table (``<name>.csv``: IMU, GNSS, poses)."""
        return (self.path / f"{name}.csv").is_file()

    def file(self, name: str, message: int) -> Path:
        """The file of message ``message`` of a folder stream."""
        return self.path / name / self.files[name][message]

    def trajectory(self, name: str) -> Any:
        """The pose table ``<name>.csv`` as a :class:`~sensorfuse.types.PoseTrajectory` (stamps on the reference
        clock, sorted, repeated stamps dropped: first wins), or None with fewer than two poses."""
        from scipy.spatial.transform import Rotation

        from sensorfuse._checks import sort_unique
        from sensorfuse.types import PoseTrajectory

        t = read_csv_columns(self.path / f"{name}.csv")
        if len(t.get("stamp_ns", [])) < 2:
            return None
        stamps = _ints(t["stamp_ns"])
        T = np.tile(np.eye(4), (len(stamps), 1, 1))
        T[:, :3, 3] = np.array([t["x"], t["y"], t["z"]], np.float64).T
        T[:, :3, :3] = Rotation.from_quat(np.array([t["qx"], t["qy"], t["qz"], t["qw"]], np.float64).T).as_matrix()
        keep = sort_unique(stamps, keep="first")
        return PoseTrajectory(stamps[keep], T[keep], t["frame_id"][0], t["child_frame_id"][0])
