"""KITTI ``label_2`` files <-> :class:`~sensorfuse.types.Box3D` (one converter, see CONVENTIONS, Box3D).

KITTI label_2 lines are in the rectified reference camera frame (``cam0``, rectified: x right, y down, z forward):
``location`` is the bottom centre, ``dimensions`` are ``(h, w, l)``, ``rotation_y`` turns about camera y with 0
along camera x. The box's length axis in the camera is ``(cos ry, 0, -sin ry)`` (devkit ``roty``), its up axis
``-y``. 2D box, alpha, truncation, occlusion and score are kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.io._files import write_text_atomic
from sensorfuse.types import Box3D

__all__ = ["KITTI_FRAME", "kitti_label_line", "read_kitti_dontcare", "read_kitti_labels", "write_kitti_labels"]


KITTI_FRAME = "cam0"  # the rectified reference camera, as named by rig_from_kitti_object_calib


def _kitti_R(ry: float) -> np.ndarray:
    c, s = np.cos(ry), np.sin(ry)
    # columns: box x (length, forward), y (width, left), z (height, up) in camera coordinates
    return np.array([[c, s, 0.0], [0.0, 0.0, -1.0], [-s, c, 0.0]])


def read_kitti_labels(path: str | os.PathLike[str], *, stamp_ns: int = 0, frame_id: str = KITTI_FRAME) -> list[Box3D]:
    """Read the 3D boxes of a KITTI ``label_2`` file (15 values per line, a 16th is the score of a detection file).

    ``DontCare`` lines are 2D-only regions (their 3D fields are KITTI's placeholders): they are not boxes, and
    :func:`read_kitti_dontcare` returns them.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FormatError(f"KITTI label file {path}: not found") from None
    boxes = []
    for k, line in enumerate(text.splitlines()):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (15, 16):
            raise FormatError(f"KITTI label file {path}: line {k + 1} has {len(parts)} values, expected 15 or 16")
        try:
            v = [float(x) for x in parts[1:]]
        except ValueError:
            raise FormatError(f"KITTI label file {path}: line {k + 1}: non-numeric value") from None
        trunc, occ, alpha = v[0], v[1], v[2]
        bbox = v[3:7]
        h, w, l_ = v[7:10]
        loc = np.array(v[10:13])
        ry = v[13]
        if parts[0] == "DontCare":
            continue
        R = _kitti_R(ry)
        center = loc + np.array([0.0, -h / 2.0, 0.0])  # bottom centre -> geometric centre (y points down)
        try:
            boxes.append(
                Box3D(
                    center=center,
                    size=[l_, w, h],
                    rotation=R,
                    frame_id=frame_id,
                    stamp_ns=stamp_ns,
                    label=parts[0],
                    occlusion=occ,
                    truncation=trunc,
                    score=v[14] if len(v) == 15 else None,
                    attributes={"bbox_2d": bbox, "alpha": alpha, "line": k},
                )
            )
        except ValidationError as exc:
            raise FormatError(f"KITTI label file {path}: line {k + 1}: {exc}") from None
    return boxes


def read_kitti_dontcare(path: str | os.PathLike[str]) -> np.ndarray:
    """The 2D ``DontCare`` regions of a label_2 file, (N, 4) float64 ``left top right bottom`` pixels."""
    path = Path(path)
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.startswith("DontCare")]
    except FileNotFoundError:
        raise FormatError(f"KITTI label file {path}: not found") from None
    return np.array([[float(x) for x in p[4:8]] for p in lines], np.float64).reshape(-1, 4)


def kitti_label_line(box: Box3D) -> str:
    """One label_2 line for a box in the rectified camera frame (its rotation must be about camera y)."""
    R = np.asarray(box.rotation)
    if abs(R[1, 2] + 1.0) > 1e-6:
        raise ValidationError(
            f"box {box.label!r}: KITTI boxes turn about the camera y axis only; got rotation {R.tolist()}"
        )
    ry = float(np.arctan2(-R[2, 0], R[0, 0]))
    l_, w, h = (float(x) for x in box.size)
    loc = np.asarray(box.center) + np.array([0.0, h / 2.0, 0.0])
    attrs = box.attributes
    bbox = attrs.get("bbox_2d", [-1.0, -1.0, -1.0, -1.0])
    alpha = attrs.get("alpha", -10.0)
    vals = [box.truncation or 0.0, box.occlusion or 0, alpha, *bbox, h, w, l_, *loc, ry]
    out = [box.label, f"{vals[0]:.2f}", f"{int(vals[1])}"] + [f"{x:.2f}" for x in vals[2:]]
    if box.score is not None:
        out.append(f"{box.score:.4f}")
    return " ".join(out)


def write_kitti_labels(boxes: Iterable[Box3D], path: str | os.PathLike[str]) -> Path:
    """Write boxes (in the rectified camera frame) as a KITTI label_2 file."""
    return write_text_atomic(path, "".join(kitti_label_line(b) + "\n" for b in boxes))
