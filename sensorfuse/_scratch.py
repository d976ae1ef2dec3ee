"""Per-thread reusable work arrays for hot loops that would otherwise allocate (and page-fault in) megabytes per
message: a writer thread packing a 130,000-point sweep reuses the same few buffers for the whole log."""

from __future__ import annotations

import math
import threading

import numpy as np

__all__ = ["Scratch"]


class Scratch(threading.local):
    """``get(key, shape, dtype)``: an uninitialised array backed by this thread's buffer ``key``, grown as needed.

    The array is valid until the same thread asks for ``key`` again; never hand it to another thread or keep it.
    """

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, key: str, shape: int | tuple[int, ...], dtype: object) -> np.ndarray:
        dt = np.dtype(dtype)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        nbytes = math.prod(shape) * dt.itemsize
        buf = self._bufs.get(key)
        if buf is None or buf.nbytes < nbytes:
            buf = np.empty(max(nbytes, int(1.25 * (0 if buf is None else buf.nbytes)), 1), np.uint8)
            self._bufs[key] = buf
        return buf[:nbytes].view(dt).reshape(shape)
