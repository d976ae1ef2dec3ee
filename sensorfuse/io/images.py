"""Image files and image messages as pixels: size from the header without decoding; decoding through OpenCV
(imported on use); any encoding as 8-bit BGR for display."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.types import CompressedImage, Image

__all__ = [
    "IMAGE_SUFFIXES",
    "read_image_bgr",
    "read_image_gray",
    "read_image_size",
    "read_image_unchanged",
    "to_bgr",
    "to_gray",
    "write_png",
]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: image file suffixes read as images (OpenCV reads each)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm"}


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


def to_bgr(msg: Image | CompressedImage) -> np.ndarray:
    """An image message as 8-bit BGR for display (16-bit and float images scaled to their 1st-99th percentile,
    Bayer patterns demosaiced)."""
    import cv2

    img = msg.decode() if isinstance(msg, CompressedImage) else msg
    a, enc = img.data, img.encoding
    if a.dtype != np.uint8:
        lo, hi = np.nanpercentile(a, [1, 99]) if a.size else (0, 1)
        a = (np.clip((np.nan_to_num(a.astype(np.float64)) - lo) / max(hi - lo, 1e-9), 0, 1) * 255).astype(np.uint8)
    if enc.startswith("bayer_"):
        code = {"rggb": cv2.COLOR_BayerRG2BGR, "bggr": cv2.COLOR_BayerBG2BGR, "gbrg": cv2.COLOR_BayerGB2BGR}
        return cv2.cvtColor(a, code.get(enc.split("_")[1][:4], cv2.COLOR_BayerGR2BGR))
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    if enc.startswith("rgb"):
        return np.ascontiguousarray(a[..., 2::-1])
    return np.ascontiguousarray(a[..., :3])


_GRAY_ENCODING = {np.dtype(np.uint8): "mono8", np.dtype(np.uint16): "mono16", np.dtype(np.float32): "32FC1"}


def read_image_bgr(path: Path, frame_id: str) -> np.ndarray:
    """An image fuse-sync wrote (JPEG/PNG as recorded, lossless PNG incl. 16-bit, or .npy) as 8-bit BGR."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.suffix != ".npy" else np.load(path)
    if img is None:
        raise FormatError(f"{path}: cannot be read as an image")
    if img.ndim == 2:
        enc = _GRAY_ENCODING.get(img.dtype)
        if enc is None:
            raise FormatError(f"{path}: a {img.dtype} image; expected 8/16-bit or float32")
        return to_bgr(Image(np.ascontiguousarray(img), enc, 0, frame_id))
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise FormatError(f"{path}: a {img.dtype} colour image; expected 8 or 16 bits")
    return np.ascontiguousarray(img[..., :3])


def read_image_gray(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as 8-bit gray (FormatError naming the file if OpenCV cannot read it)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise FormatError(f"{path}: not an image OpenCV can read")
    return img


def to_gray(msg: Image | CompressedImage) -> np.ndarray:
    """An image message as 8-bit gray (through :func:`to_bgr`)."""
    import cv2

    return cv2.cvtColor(to_bgr(msg), cv2.COLOR_BGR2GRAY)


def read_image_unchanged(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file as stored (16-bit kept, channels as in the file); FormatError naming it if unreadable."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FormatError(f"{path}: not an image OpenCV can read")
    return img


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write an 8-bit BGR (or gray / 16-bit) image as PNG; FormatError naming the file when it cannot be written
    (disk full, no folder)."""
    import cv2

    path = Path(path)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image)):
        raise FormatError(f"{path}: the image could not be written (disk full, or no such folder?)")
    return path
