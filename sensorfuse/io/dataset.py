"""What the dataset-folder readers share (one file per message, stamps in text files): the base class, image files,
rig transforms.

A dataset has no record clock: ``log_ns`` is None and ``times()`` gives the sensor stamps. Each stream is a sorted
stamp array plus a loader of message ``i``; ``read`` merges the streams by stamp. A listed message whose file is
missing is reported (``report.bad_records``) and skipped, the others are delivered.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.geometry.tf_tree import TransformTree
from sensorfuse.io.messages import LogMessage
from sensorfuse.io.reader import LogReader, Progress, StreamInfo, StreamStats, mean_rate_hz, stream_stats
from sensorfuse.rig import Rig
from sensorfuse.types import Image

__all__ = ["DatasetReader", "add_rig_transforms", "read_image_file"]


def read_image_file(path: Path, stamp_ns: int, frame_id: str) -> Image:
    """A PNG/JPEG file as an Image (grey -> mono8/mono16, colour -> bgr8)."""
    import cv2

    if not path.is_file():
        raise FormatError(f"{path}: missing")
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise FormatError(f"{path}: missing or not a readable image")
    grey = "mono16" if arr.dtype == np.uint16 else "mono8"
    return Image(arr, grey if arr.ndim == 2 else {3: "bgr8", 4: "bgra8"}[arr.shape[2]], stamp_ns, frame_id)


class DatasetReader(LogReader):
    """Base of the folder readers: ``self._add_stream(info, stamps, loader)`` per stream."""

    rig: Rig | None = None

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._times: dict[str, np.ndarray] = {}
        self._loaders: dict[str, Callable[[int], object]] = {}

    def _add_stream(self, info: StreamInfo, stamps: np.ndarray, loader: Callable[[int], object]) -> None:
        stamps = np.asarray(stamps, np.int64)
        if stamps.size > 1 and np.any(np.diff(stamps) < 0):
            n = int(np.count_nonzero(np.diff(stamps) < 0))
            self.report.warn(f"{self.path}: {info.topic}: {n} stamps out of order in the dataset's stamp list")
        info.count = int(stamps.size)
        if stamps.size:
            info.header_start_ns, info.header_end_ns = int(stamps.min()), int(stamps.max())
            info.rate_hz = mean_rate_hz(info.count, info.header_start_ns, info.header_end_ns)
        self._streams[info.topic] = info
        self._times[info.topic] = stamps
        self._loaders[info.topic] = loader

    def times(self, topic: str) -> np.ndarray:
        self.stream(topic)
        return self._times[topic]

    def get(self, topic: str, index: int) -> LogMessage:
        i = self._index(topic, index)
        return LogMessage(topic, i, None, self._loaders[topic](i))

    def read(
        self, topics: str | Iterable[str] | None = None, start_ns: int | None = None, end_ns: int | None = None
    ) -> Iterator[LogMessage]:
        heap: list[tuple[int, int, str, int, int]] = []
        for k, t in enumerate(self._check_topics(topics)):
            st = self._times[t]
            lo = 0 if start_ns is None else int(np.searchsorted(st, start_ns, side="left"))
            hi = st.size if end_ns is None else int(np.searchsorted(st, end_ns, side="left"))
            if lo < hi:
                heap.append((int(st[lo]), k, t, lo, hi))
        heapq.heapify(heap)
        while heap:
            _, k, t, i, hi = heapq.heappop(heap)
            if i + 1 < hi:
                heapq.heappush(heap, (int(self._times[t][i + 1]), k, t, i + 1, hi))
            try:
                data = self._loaders[t](i)
            except (FormatError, OSError) as exc:
                self.report.bad(t, exc, f"{self.path}: {t} message {i}")
                continue
            yield LogMessage(t, i, None, data)

    def stats(self, progress: Progress | None = None) -> dict[str, StreamStats]:
        return {t: stream_stats(t, self._times[t], None) for t in self._streams}

    def _add_dataset_transforms(self, tree: TransformTree) -> None:
        if self.rig is not None:
            add_rig_transforms(tree, self.rig)

    def cameras(self) -> dict:
        if self.rig is None:
            return {}
        return {s.topic or s.name: s.camera for s in self.rig.cameras()}


def add_rig_transforms(tree: TransformTree, rig: Rig) -> None:
    """Add a rig's extrinsics as static edges, oriented away from the base frame (breadth first), so that every
    frame has one parent as a transform tree requires."""
    adj: dict[str, list[str]] = {}
    for e in rig.extrinsics:
        adj.setdefault(e.target, []).append(e.source)
        adj.setdefault(e.source, []).append(e.target)
    seen: set[str] = set()
    roots = [rig.base_frame, *adj] if rig.base_frame in adj else list(adj)
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        todo = [root]
        while todo:
            parent = todo.pop(0)
            for child in adj.get(parent, ()):
                if child not in seen:
                    seen.add(child)
                    tree.add_static(parent, child, rig.transform(parent, child))
                    todo.append(child)
