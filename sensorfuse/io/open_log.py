"""What a path is, and its reader: the one place that recognises a path's kind.

A small registry in the manner of rosbags' storage plug-ins: each format family registers a :class:`LogKind` (a
name, a test on the path, and how to open it); :func:`detect_format` asks them in order and :func:`open_log` opens
with the first that says yes. :func:`input_kind` extends the question to everything the commands take besides logs
(our own synced datasets, simulator output, rig files, calibration folders, single files), so no command keeps a
rule of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorfuse.errors import FormatError
from sensorfuse.io.reader import LogReader

__all__ = ["FILE_SUFFIXES", "KINDS", "LogKind", "detect_format", "input_kind", "is_kitti_object", "open_log"]

_EXPECTED = (
    "a ROS1 .bag, an .mcap file, a rosbag2 directory (metadata.yaml + .db3/.mcap), a KITTI raw drive folder "
    "(oxts/, velodyne_points/, image_0X/), a KITTI object folder (training/ or testing/ with calib/), a nuScenes "
    "root (v1.0-*/ tables) or a EuRoC/ASL folder (mav0/)"
)
#: single files fuse-info describes (PCD, OpenCalib JSON/CSV, images, KITTI/nuScenes .bin scans)
FILE_SUFFIXES = {".pcd", ".json", ".csv", ".png", ".jpg", ".jpeg", ".bin"}


@dataclass(frozen=True)
class LogKind:
    """One openable kind of log or dataset: ``matches(path)`` says whether a path is of it (cheap: names and a few
    bytes), ``open(path, types, options)`` returns its reader."""

    name: str
    matches: Callable[[Path], bool]
    open: Callable[[Path, Any, dict[str, Any]], LogReader]


def _rosbag2_storage(folder: Path) -> str | None:
    meta = folder / "metadata.yaml"
    if not meta.is_file():
        return None
    text = meta.read_text(errors="replace")
    for line in text.splitlines():
        if "storage_identifier" in line:
            return line.split(":", 1)[1].strip().strip("'\"")
    return "sqlite3"


def _head(p: Path, n: int = 13) -> bytes:
    with p.open("rb") as f:
        return f.read(n)


def _is_bag(p: Path) -> bool:
    return p.is_file() and (p.suffix.lower() == ".bag" or _head(p).startswith(b"#ROSBAG V2.0"))


def _is_db3(p: Path) -> bool:
    if p.is_file():
        return p.suffix.lower() == ".db3"
    storage = _rosbag2_storage(p)
    return storage is not None and storage != "mcap"


def _is_mcap(p: Path) -> bool:
    if p.is_file():
        return p.suffix.lower() == ".mcap" or _head(p).startswith(b"\x89MCAP")
    return _rosbag2_storage(p) == "mcap" or (_rosbag2_storage(p) is None and any(p.glob("*.mcap")))


def _is_kitti_raw(p: Path) -> bool:
    return p.is_dir() and any((p / d).is_dir() for d in ("oxts", "velodyne_points", "image_00", "image_02"))


def is_kitti_object(path: str | os.PathLike[str]) -> bool:
    """A KITTI object folder: ``calib/`` with ``velodyne/`` or ``image_2/`` beside it, at the root or under
    ``training/`` or ``testing/`` (the one rule every command uses)."""
    root = Path(path)
    return root.is_dir() and any(
        (d / "calib").is_dir() and ((d / "velodyne").is_dir() or (d / "image_2").is_dir())
        for d in (root, root / "training", root / "testing")
    )


def _is_nuscenes(p: Path) -> bool:
    return p.is_dir() and (any(p.glob("v1.0-*/sample_data.json")) or (p / "sample_data.json").is_file())


def _is_euroc(p: Path) -> bool:
    return p.is_dir() and ((p / "mav0").is_dir() or ((p / "imu0").is_dir() and (p / "cam0").is_dir()))


def _open_bag(p: Path, types: Any, options: dict[str, Any]) -> LogReader:
    from sensorfuse.io.ros.bag import RosbagReader

    return RosbagReader(p.parent if p.is_file() and p.suffix.lower() == ".db3" else p, types=types)


def _open_mcap(p: Path, types: Any, options: dict[str, Any]) -> LogReader:
    from sensorfuse.io.ros.mcap import McapReader, SplitMcapReader

    files = [p] if p.is_file() else sorted(p.glob("*.mcap"))
    if not files:
        raise FormatError(f"{p}: a rosbag2 folder of MCAP storage without .mcap files")
    if len(files) > 1:
        return SplitMcapReader(p, files=files, types=types)
    return McapReader(p, files=files, types=types)


def _dataset(module: str, cls: str) -> Callable[[Path, Any, dict[str, Any]], LogReader]:
    def open_(p: Path, types: Any, options: dict[str, Any]) -> LogReader:
        import importlib

        return getattr(importlib.import_module(module), cls)(p, **options)

    return open_


#: the registry, asked in this order (files first by their magic; folders by their layout)
KINDS: list[LogKind] = [
    LogKind("ros1-bag", _is_bag, _open_bag),
    LogKind("mcap", _is_mcap, _open_mcap),
    LogKind("ros2-db3", _is_db3, _open_bag),
    LogKind("kitti-raw", _is_kitti_raw, _dataset("sensorfuse.io.kitti.raw", "KittiRawReader")),
    LogKind("kitti-object", is_kitti_object, _dataset("sensorfuse.io.kitti.object", "KittiObjectReader")),
    LogKind("nuscenes", _is_nuscenes, _dataset("sensorfuse.io.nuscenes.reader", "NuScenesReader")),
    LogKind("euroc", _is_euroc, _dataset("sensorfuse.io.euroc", "EurocReader")),
]


def _kind(path: str | os.PathLike[str]) -> LogKind:
    p = Path(path)
    if not p.exists():
        raise FormatError(f"{p}: no such file or directory")
    for k in KINDS:
        if k.matches(p):
            return k
    if p.is_file():
        raise FormatError(f"{p}: unknown log format; expected {_EXPECTED}")
    raise FormatError(f"{p}: a directory of no known kind; expected {_EXPECTED}")


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format name of ``path`` (``ros1-bag``, ``ros2-db3``, ``mcap``, ``kitti-raw``, ``kitti-object``,
    ``nuscenes``, ``euroc``); raises FormatError saying what was expected."""
    return _kind(path).name


def input_kind(path: str | os.PathLike[str]) -> str:
    """What a command was given: ``synced`` (a fuse-sync output folder), ``sim`` (simulator output with
    ``ground_truth/``), ``rig`` (a rig YAML file), ``kitti-raw-calib`` (a folder of KITTI raw ``calib_*.txt``),
    ``file`` (one PCD / JSON / CSV / image / .bin), one of :func:`detect_format`'s log kinds, ``euroc-rig`` (ASL
    ``sensor.yaml`` files without data) or ``files`` (a folder of such single files). FormatError otherwise."""
    from sensorfuse.io.sim_truth import is_sim_output
    from sensorfuse.io.synced import is_synced_dataset

    p = Path(path)
    if not p.exists():
        raise FormatError(f"{p}: no such file or directory")
    if is_synced_dataset(p):
        return "synced"
    if is_sim_output(p):
        return "sim"
    if p.is_file() and p.suffix in (".yaml", ".yml"):
        return "rig"
    if p.is_file() and p.suffix.lower() in FILE_SUFFIXES:
        return "file"
    if p.is_dir() and (p / "calib_cam_to_cam.txt").is_file():
        return "kitti-raw-calib"
    try:
        return detect_format(p)
    except FormatError:
        if p.is_dir() and any((q / "sensor.yaml").is_file() for q in p.iterdir() if q.is_dir()):
            return "euroc-rig"
        if p.is_dir() and any(q.suffix.lower() in FILE_SUFFIXES for q in p.rglob("*")):
            return "files"
        raise


def file_kind(path: str | os.PathLike[str]) -> str:
    """The kind of a single file fuse-info describes: ``nuscenes-lidar-bin`` (``*.pcd.bin``), ``kitti-velodyne-bin``
    (``*.bin``), ``pcd``, ``opencalib-json``, ``opencalib-radar-csv`` or ``image``; FormatError otherwise."""
    p = Path(path)
    name, suffix = p.name.lower(), p.suffix.lower()
    if name.endswith(".pcd.bin"):
        return "nuscenes-lidar-bin"
    kind = {".bin": "kitti-velodyne-bin", ".pcd": "pcd", ".json": "opencalib-json", ".csv": "opencalib-radar-csv"}
    if suffix in kind:
        return kind[suffix]
    if suffix in (".png", ".jpg", ".jpeg"):
        return "image"
    raise FormatError(f"{p}: no reader knows {suffix or 'suffix-less'} files")


def open_log(path: str | os.PathLike[str], *, types: Any = None, **options: object) -> LogReader:
    """Open any supported log or dataset and return its reader (use it as a context manager).

    Args:
        path: a file or folder (see :func:`detect_format`).
        types: extra ROS message definitions for logs that do not carry them (ROS2 .db3 of metadata < v8): a folder
            of ``pkg__Name.msg`` files or ``{"pkg/msg/Name": "definition text"}``.
        options: passed to the dataset reader (e.g. ``version="v1.0-mini"`` for nuScenes).
    """
    p = Path(path)
    return _kind(p).open(p, types, dict(options))
