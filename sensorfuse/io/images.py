"""Image files: size from the header without decoding; decoding through OpenCV (imported on use)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from sensorfuse.errors import FormatError

__all__ = ["read_image_size"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` of a PNG (from its IHDR chunk) or, for other formats, by decoding with OpenCV.

    Raises:
        FormatError: missing or unreadable image.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except FileNotFoundError:
        raise FormatError(f"image {path}: not found") from None
    if head[:8] == _PNG_MAGIC and head[12:16] == b"IHDR":
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FormatError(f"image {path}: not a readable image (corrupt, truncated, or an unknown format)")
    return int(img.shape[1]), int(img.shape[0])
