"""A transform tree (as ROS tf2 keeps it): static and time-varying edges ``T_parent_child``, looked up between any
two connected frames, with SLERP interpolation on dynamic edges and clear errors for an unknown frame, a broken
chain or a time outside an edge's data.

Example::

    tree = TransformTree()
    tree.add_static("base_link", "lidar", T_base_lidar)
    tree.add_dynamic("odom", "base_link", stamps_ns, T_odom_base)   # (N,), (N, 4, 4)
    T_odom_lidar = tree.lookup("odom", "lidar", stamp_ns)
"""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

from sensorfuse._checks import sort_unique
from sensorfuse.errors import TransformError
from sensorfuse.geometry.interpolation import _interpolate_poses
from sensorfuse.geometry.transforms import _invert, check_transform

__all__ = ["TransformTree"]


class _Edge:
    __slots__ = ("T", "_pending", "stamps")

    def __init__(self) -> None:
        self.stamps: np.ndarray | None = None  # None: static
        self.T: np.ndarray | None = None
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    def finalize(self) -> None:
        if not self._pending:
            return
        stamps = np.concatenate([s for s, _ in self._pending] + ([self.stamps] if self.stamps is not None else []))
        T = np.concatenate([t for _, t in self._pending] + ([self.T] if self.T is not None else []))
        self._pending.clear()
        # a repeated stamp: the last one in this order (pending blocks, then what was stored) wins
        keep = sort_unique(stamps, keep="last")
        self.stamps, self.T = stamps[keep], T[keep]


class TransformTree:
    """Frames linked by static or dynamic transforms; each child has one parent (as in tf2)."""

    def __init__(self) -> None:
        self._parent: dict[str, str] = {}
        self._edges: dict[tuple[str, str], _Edge] = {}

    # -- building --------------------------------------------------------------------------------------------------
    def _edge(self, parent: str, child: str) -> _Edge:
        if parent == child:
            raise TransformError(f"transform from frame {child!r} to itself")
        old = self._parent.get(child)
        if old is not None and old != parent:
            raise TransformError(
                f"frame {child!r} already has parent {old!r}; cannot also attach it to {parent!r} (a frame has one "
                "parent in a transform tree)"
            )
        self._parent[child] = parent
        return self._edges.setdefault((parent, child), _Edge())

    def add_static(self, parent: str, child: str, T_parent_child: object) -> None:
        """A fixed transform (replaces an earlier static one of the same edge)."""
        edge = self._edge(parent, child)
        if edge.stamps is not None or edge._pending:
            raise TransformError(f"edge {parent!r} -> {child!r} is dynamic; it cannot also be static")
        edge.T = check_transform(T_parent_child, f"T_{parent}_{child}")

    def add_dynamic(self, parent: str, child: str, stamps_ns: object, T_parent_child: object) -> None:
        """Samples of a moving transform: ``stamps_ns (N,)`` int64, ``T (N, 4, 4)`` (may be added in pieces)."""
        edge = self._edge(parent, child)
        if edge.T is not None and edge.stamps is None:
            raise TransformError(f"edge {parent!r} -> {child!r} is static; it cannot also be dynamic")
        stamps = np.atleast_1d(np.asarray(stamps_ns, np.int64))
        T = check_transform(np.asarray(T_parent_child, np.float64).reshape(-1, 4, 4), f"T_{parent}_{child}")
        if T.shape[0] != stamps.shape[0]:
            raise TransformError(f"edge {parent!r} -> {child!r}: {stamps.shape[0]} stamps for {T.shape[0]} transforms")
        edge._pending.append((stamps, T))

    # -- queries ---------------------------------------------------------------------------------------------------
    @property
    def frames(self) -> list[str]:
        return sorted(set(self._parent) | set(self._parent.values()))

    def edges(self) -> list[tuple[str, str, bool]]:
        """(parent, child, is_static) for every edge."""
        out = []
        for (p, c), e in sorted(self._edges.items()):
            out.append((p, c, e.stamps is None and not e._pending))
        return out

    def static_transforms(self) -> dict[tuple[str, str], np.ndarray]:
        """{(parent, child): T_parent_child} of the static edges."""
        return {(p, c): e.T.copy() for (p, c), e in self._edges.items() if e.stamps is None and not e._pending}

    def time_range(self, parent: str, child: str) -> tuple[int, int] | None:
        """First and last stamp of a dynamic edge (None for a static one)."""
        e = self._edges[(parent, child)]
        e.finalize()
        return None if e.stamps is None else (int(e.stamps[0]), int(e.stamps[-1]))

    def _root_path(self, frame: str) -> list[str]:
        path = [frame]
        while path[-1] in self._parent:
            path.append(self._parent[path[-1]])
            if len(path) > len(self._parent) + 1:
                raise TransformError(f"the transform tree has a cycle through {frame!r}")
        return path

    def _edge_T(self, parent: str, child: str, stamp_ns: int | None, tolerance_ns: int) -> np.ndarray:
        e = self._edges[(parent, child)]
        e.finalize()
        if e.stamps is None:
            return e.T
        if stamp_ns is None:
            raise TransformError(f"edge {parent!r} -> {child!r} moves with time; give a stamp_ns to look it up")
        T, _ = _interpolate_poses(
            e.stamps,
            e.T,
            np.array([stamp_ns], np.int64),
            "raise",
            tolerance_ns,
            f"transform {parent!r} -> {child!r}",
        )
        return T[0]

    def lookup(self, target: str, source: str, stamp_ns: int | None = None, *, tolerance_ns: int = 0) -> np.ndarray:
        """``T_target_source`` at ``stamp_ns`` (may be omitted when every edge on the path is static).

        Args:
            tolerance_ns: a dynamic edge is held at its first/last sample up to this far outside its data.

        Raises:
            TransformError: an unknown frame or no chain between the two frames.
            ExtrapolationError: ``stamp_ns`` outside a dynamic edge's data (beyond ``tolerance_ns``).
        """
        known = set(self.frames)
        for f in (target, source):
            if f not in known:
                hint = f"; known frames: {', '.join(sorted(known))}" if known else "; the tree is empty"
                raise TransformError(f"unknown frame {f!r}{hint}")
        if target == source:
            return np.eye(4)
        up_s, up_t = self._root_path(source), self._root_path(target)
        common = next((f for f in up_s if f in set(up_t)), None)
        if common is None:
            raise TransformError(
                f"no transform chain between {target!r} (tree rooted at {up_t[-1]!r}) and {source!r} (tree rooted at "
                f"{up_s[-1]!r}); a transform linking the two trees is missing"
            )
        T_common_source = np.eye(4)
        for child, parent in itertools.pairwise(up_s):
            if child == common:
                break
            T_common_source = self._edge_T(parent, child, stamp_ns, tolerance_ns) @ T_common_source
        T_common_target = np.eye(4)
        for child, parent in itertools.pairwise(up_t):
            if child == common:
                break
            T_common_target = self._edge_T(parent, child, stamp_ns, tolerance_ns) @ T_common_target
        return _invert(T_common_target) @ T_common_source

    def connected(self, frame: str) -> list[str]:
        """Every frame linked to ``frame``."""
        adj: dict[str, set[str]] = {}
        for c, p in self._parent.items():
            adj.setdefault(c, set()).add(p)
            adj.setdefault(p, set()).add(c)
        seen, todo = {frame}, deque([frame])
        while todo:
            for n in adj.get(todo.popleft(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return sorted(seen)
