"""``sensorfuse.io.open(path)``: detect a log's or dataset's format and return its reader."""

from __future__ import annotations

import os
from pathlib import Path

from sensorfuse.errors import FormatError
from sensorfuse.io.reader import LogReader
from sensorfuse.io.ros_log import TypeDefinitions

__all__ = ["detect_format", "open_log"]

_EXPECTED = (
    "a ROS1 .bag, an .mcap file, a rosbag2 directory (metadata.yaml + .db3/.mcap), a KITTI raw drive folder "
    "(oxts/, velodyne_points/, image_0X/), a KITTI object folder (training/ or testing/ with calib/), a nuScenes "
    "root (v1.0-*/ tables) or a EuRoC/ASL folder (mav0/)"
)


def _rosbag2_storage(folder: Path) -> str | None:
    meta = folder / "metadata.yaml"
    if not meta.is_file():
        return None
    text = meta.read_text(errors="replace")
    for line in text.splitlines():
        if "storage_identifier" in line:
            return line.split(":", 1)[1].strip().strip("'\"")
    return "sqlite3"


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format name of ``path`` (``ros1-bag``, ``ros2-db3``, ``mcap``, ``kitti-raw``, ``kitti-object``,
    ``nuscenes``, ``euroc``); raises FormatError saying what was expected."""
    p = Path(path)
    if not p.exists():
        raise FormatError(f"{p}: no such file or directory")
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == ".bag":
            return "ros1-bag"
        if suffix == ".mcap":
            return "mcap"
        if suffix == ".db3":
            return "ros2-db3"
        with p.open("rb") as f:
            head = f.read(13)
        if head.startswith(b"#ROSBAG V2.0"):
            return "ros1-bag"
        if head.startswith(b"\x89MCAP"):
            return "mcap"
        raise FormatError(f"{p}: unknown log format; expected {_EXPECTED}")
    storage = _rosbag2_storage(p)
    if storage is not None:
        return "mcap" if storage == "mcap" else "ros2-db3"
    if list(p.glob("*.mcap")):
        return "mcap"
    if (
        (p / "oxts").is_dir()
        or (p / "velodyne_points").is_dir()
        or (p / "image_00").is_dir()
        or (p / "image_02").is_dir()
    ):
        return "kitti-raw"
    if any((p / s / "calib").is_dir() for s in ("training", "testing")) or (
        (p / "calib").is_dir() and ((p / "velodyne").is_dir() or (p / "image_2").is_dir())
    ):
        return "kitti-object"
    if any(p.glob("v1.0-*/sample_data.json")) or (p / "sample_data.json").is_file():
        return "nuscenes"
    if (p / "mav0").is_dir() or ((p / "imu0").is_dir() and (p / "cam0").is_dir()):
        return "euroc"
    raise FormatError(f"{p}: a directory of no known kind; expected {_EXPECTED}")


def open_log(path: str | os.PathLike[str], *, types: TypeDefinitions = None, **options: object) -> LogReader:
    """Open any supported log or dataset and return its reader (use it as a context manager).

    Args:
        path: a file or folder (see :func:`detect_format`).
        types: extra ROS message definitions for logs that do not carry them (ROS2 .db3 of metadata < v8): a folder
            of ``pkg__Name.msg`` files or ``{"pkg/msg/Name": "definition text"}``.
        options: passed to the dataset reader (e.g. ``version="v1.0-mini"`` for nuScenes).
    """
    p = Path(path)
    fmt = detect_format(p)
    if fmt == "ros1-bag":
        from sensorfuse.io.rosbag import RosbagReader

        return RosbagReader(p, types=types)
    if fmt == "ros2-db3":
        from sensorfuse.io.rosbag import RosbagReader

        return RosbagReader(p.parent if p.is_file() else p, types=types)
    if fmt == "mcap":
        from sensorfuse.io.mcap_log import McapReader, SplitMcapReader

        files = [p] if p.is_file() else sorted(p.glob("*.mcap"))
        if not files:
            raise FormatError(f"{p}: a rosbag2 folder of MCAP storage without .mcap files")
        if len(files) > 1:
            return SplitMcapReader(p, files=files, types=types)
        return McapReader(p, files=files, types=types)
    if fmt == "kitti-raw":
        from sensorfuse.io.dataset import KittiRawReader

        return KittiRawReader(p, **options)
    if fmt == "kitti-object":
        from sensorfuse.io.dataset import KittiObjectReader

        return KittiObjectReader(p, **options)
    if fmt == "nuscenes":
        from sensorfuse.io.dataset import NuScenesReader

        return NuScenesReader(p, **options)
    from sensorfuse.io.dataset import EurocReader

    return EurocReader(p, **options)
