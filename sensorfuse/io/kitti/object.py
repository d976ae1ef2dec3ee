"""KITTI object folders (``training/`` / ``testing/`` with ``calib``, ``velodyne``, ``image_2``, ``label_2``): the
reader, and the one rule that recognises such a folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.io.dataset import DatasetReader, read_image_file
from sensorfuse.io.reader import StreamInfo
from sensorfuse.rig import Rig

__all__ = ["FOLDERS", "KittiObjectReader", "kitti_object_frames"]

#: the folders of a KITTI object split and their file extensions
FOLDERS = {"calib": "txt", "velodyne": "bin", "image_2": "png", "image_3": "png", "label_2": "txt", "image_0": "png",
           "image_1": "png"}  # fmt: skip


def kitti_object_frames(root: str | Path) -> list[tuple[str, Path, str]]:
    """Every frame of a KITTI object folder (both splits, or the one split given): ``(name, split folder, stem)``
    where ``name`` is ``training/000001`` with splits, ``000001`` for a bare split."""
    root = Path(root)
    splits = [root / s for s in ("training", "testing") if (root / s / "calib").is_dir()] or [root]
    return [
        (f"{s.name}/{p.stem}" if s != root else p.stem, s, p.stem)
        for s in splits
        for p in sorted((s / "calib").glob("*.txt"))
    ]


def kitti_object_file(split: Path, folder: str, stem: str) -> Path | None:
    """The file of frame ``stem`` in ``split/folder`` (e.g. ``velodyne`` -> ``velodyne/000001.bin``), or None if the
    frame has none."""
    f = split / folder / f"{stem}.{FOLDERS[folder]}"
    return f if f.is_file() else None


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
        from sensorfuse.io.kitti.calib import read_kitti_object_calib
        from sensorfuse.io.kitti.labels import read_kitti_labels
        from sensorfuse.io.kitti.velodyne import read_velodyne_bin

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

    def file(self, folder: str, index: int) -> Path | None:
        """The file of frame ``index`` in ``folder`` (``velodyne``, ``image_2``, ``label_2``, ``calib``, ...), or
        None when the frame has none."""
        return kitti_object_file(self.split_dir, folder, self.frames[index])

    def rig_for(self, index: int) -> Rig:
        """The rig of frame ``index`` (its calib file; image size from its image_2 PNG, else 1242x375)."""
        from sensorfuse.io.images import read_image_size
        from sensorfuse.io.kitti.calib import rig_from_kitti_object_calib

        png = self.split_dir / "image_2" / f"{self.frames[index]}.png"
        size = read_image_size(png) if png.is_file() else (1242, 375)
        calib_file = self.split_dir / "calib" / f"{self.frames[index]}.txt"
        return rig_from_kitti_object_calib(self._calib(index), size, source=str(calib_file))
