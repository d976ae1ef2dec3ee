"""Overlays on camera images: projected LiDAR points coloured by depth (only the points the z-buffer finds visible)
and 2D boxes with a caption, drawn with OpenCV on a BGR copy of the image."""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np

from sensorfuse.errors import ValidationError
from sensorfuse.geometry.projection import Projection

__all__ = ["BOX_COLOURS", "draw_boxes", "draw_points", "turbo_lut"]

#: BGR colours: projected 3D label, annotated 2D box, flagged object
BOX_COLOURS = {"projected": (0, 220, 0), "annotated": (255, 160, 0), "flagged": (0, 0, 255)}


@functools.lru_cache(maxsize=1)
def turbo_lut() -> np.ndarray:
    """OpenCV's turbo colour map as a (256, 3) BGR uint8 table (read-only; index 0 = dark blue, 255 = dark red)."""
    import cv2

    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_TURBO)[:, 0, :]
    lut.setflags(write=False)
    return lut


def draw_points(
    image: np.ndarray, proj: Projection, *, max_depth_m: float = 60.0, radius: int = 1, visible_only: bool = True
) -> np.ndarray:
    """A BGR copy of ``image`` (gray or BGR, 8-bit) with the projected points as dots coloured by depth (turbo
    colour map, near = red, ``max_depth_m`` and beyond = dark blue)."""
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValidationError(f"image: expected an 8-bit gray or BGR image, got {img.dtype} {img.shape}")
    out = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img[..., :3].copy()
    m = proj.visible if visible_only and proj.visible is not None else proj.valid
    idx = np.flatnonzero(m)
    if idx.size == 0:
        return out
    sel = idx[np.argsort(-proj.depth[idx], kind="stable")]  # far first: nearer points are drawn over them
    d = np.clip(proj.depth[sel] / max_depth_m, 0.0, 1.0)
    lut = turbo_lut()
    colours = lut[(255 - np.rint(d * 255)).astype(np.int64)]
    u = np.rint(proj.uv[sel, 0]).astype(np.int64)
    v = np.rint(proj.uv[sel, 1]).astype(np.int64)
    h, w = out.shape[:2]
    for dv in range(-radius, radius + 1):  # a (2r+1)^2 square per point, vectorised over the points
        for du in range(-radius, radius + 1):
            uu, vv = u + du, v + dv
            ok = (uu >= 0) & (uu < w) & (vv >= 0) & (vv < h)
            out[vv[ok], uu[ok]] = colours[ok]
    return out


def draw_boxes(
    image: np.ndarray, boxes: Iterable[tuple[object, tuple[int, int, int], str]], *, thickness: int = 2
) -> np.ndarray:
    """A copy of a BGR ``image`` with boxes ``(xyxy, BGR colour, caption)`` drawn on it."""
    import cv2

    out = np.asarray(image).copy()
    for xyxy, colour, caption in boxes:
        x0, y0, x1, y1 = (round(float(v)) for v in np.asarray(xyxy, float).ravel()[:4])
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness, lineType=cv2.LINE_AA)
        if caption:
            cv2.putText(out, caption, (x0, max(y0 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return out
