"""nuScenes ``sample_annotation`` records <-> :class:`~sensorfuse.types.Box3D` (one converter, see CONVENTIONS,
Box3D): ``translation`` is the centre in the global frame, ``size`` is ``(w, l, h)``, ``rotation`` a (w, x, y, z)
quaternion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.transforms import matrix_from_quat_wxyz, quat_wxyz_from_matrix
from sensorfuse.types import Box3D

__all__ = ["box_from_nuscenes_record", "nuscenes_record_from_box"]


def box_from_nuscenes_record(record: Mapping[str, Any], *, stamp_ns: int = 0, frame_id: str = "global") -> Box3D:
    """A nuScenes ``sample_annotation`` (or devkit Box dict): centre, ``size (w, l, h)``, ``rotation (w, x, y, z)``."""
    try:
        w, l_, h = (float(x) for x in record["size"])
        R = matrix_from_quat_wxyz(np.asarray(record["rotation"], np.float64))
        center = np.asarray(record["translation"], np.float64)
    except (KeyError, ValueError, ValidationError) as exc:
        raise FormatError(f"nuScenes box record {record.get('token', '?')}: {exc}") from None
    label = str(record.get("category_name", record.get("name", "")))
    return Box3D(
        center=center,
        size=[l_, w, h],
        rotation=R,
        frame_id=frame_id,
        stamp_ns=stamp_ns,
        label=label,
        track_id=record.get("instance_token"),
        attributes={
            k: record[k] for k in ("token", "visibility_token", "attribute_tokens", "num_lidar_pts") if k in record
        },
    )


def nuscenes_record_from_box(box: Box3D) -> dict[str, Any]:
    """The inverse of :func:`box_from_nuscenes_record` (translation, size (w, l, h), rotation (w, x, y, z))."""
    l_, w, h = (float(x) for x in box.size)
    return {
        "translation": [float(x) for x in box.center],
        "size": [w, l_, h],
        "rotation": [float(x) for x in quat_wxyz_from_matrix(box.rotation)],
        "category_name": box.label,
        "instance_token": box.track_id,
    }
