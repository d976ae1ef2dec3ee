"""The output folder of ``fuse-labels project``::

    OUT/
      labels/<frame>.json    per frame: each label's propagated 2D box, truncation, occlusion, points, IoU
      overlay/<frame>.png    the camera image with the visible LiDAR points and the boxes
      summary.json           dataset, kind, frames written

Written into ``OUT.partial`` and renamed when complete (:class:`~sensorfuse.io._files.PartialDir`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.io._files import PartialDir, json_default

__all__ = ["LabelOutputWriter"]


class LabelOutputWriter:
    """Frames in, the layout above out; :meth:`finish` moves it into place, :meth:`abort` removes it."""

    def __init__(self, out: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self._dir = PartialDir(out, overwrite=overwrite)
        self.out = self._dir.out
        (self._dir.tmp / "labels").mkdir()
        (self._dir.tmp / "overlay").mkdir()

    @staticmethod
    def _safe(name: str) -> str:
        return name.replace(":", "_").replace("/", "_")

    def write_frame(self, name: str, rows: list[dict[str, Any]], overlay_bgr: np.ndarray) -> None:
        """One frame's label rows (JSON) and overlay picture (PNG)."""
        from sensorfuse.io.images import write_png

        safe = self._safe(name)
        (self._dir.tmp / "labels" / f"{safe}.json").write_text(json.dumps(rows, indent=1, default=json_default))
        write_png(self._dir.tmp / "overlay" / f"{safe}.png", overlay_bgr)

    def finish(self, summary: dict[str, Any]) -> Path:
        (self._dir.tmp / "summary.json").write_text(json.dumps(summary, indent=1, default=json_default) + "\n")
        return self._dir.commit()

    def abort(self) -> None:
        self._dir.discard()
