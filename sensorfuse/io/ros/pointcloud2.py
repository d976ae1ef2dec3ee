"""Point-cloud records of any field layout -> :class:`sensorfuse.types.PointCloud`, vectorised.

Used for ``sensor_msgs/PointCloud2`` and for PCD files: the record layout (field names, offsets, types, counts,
endianness, padding) becomes a numpy structured dtype, and the bytes are viewed through it, never walked point by
point. ``x, y, z`` become one float32 (N, 3) array (one strided copy per column, byte-swapped on the way for
big-endian clouds), each other field one strided copy, invalid (non-finite) points are dropped and counted, and a per-point time field is detected and converted to
``t_offset_ns`` relative to the header stamp:

=====================================================  ===========================================================
field (any of these names)                              meaning
=====================================================  ===========================================================
``t``, ``time``, ``timestamp``, ``time_stamp``,          integer (u)int8..32: ns relative to the header (Ouster
``offset_time``, ``time_offset``, ``t_offset``, ``ts``  ``t``, Livox ``offset_time``);
                                                        (u)int64 >= 1e15: absolute ns;
                                                        float >= 1e15: absolute ns; float >= 1e8: absolute s (Hesai,
                                                        RoboSense ``timestamp``); smaller float: s relative (Velodyne
                                                        ``time``, may be negative when the header stamps the sweep end)
``<name>_sec`` + ``<name>_nsec`` / ``_nanosec``,        absolute time split in seconds and nanoseconds
``sec`` + ``nsec``
=====================================================  ===========================================================

How the time field was read is given by :attr:`CloudLayout.time_description` so a reader can state it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sensorfuse.errors import FormatError
from sensorfuse.types import PointCloud

__all__ = [
    "CloudLayout",
    "PointFieldSpec",
    "cloud_columns",
    "decode_cloud",
    "layout_from_fields",
    "point_time_from_azimuth",
]

#: sensor_msgs/PointField datatype -> numpy type character
POINTFIELD_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 8: "f8"}

_TIME_NAMES = ("t_offset_ns", "t", "time", "timestamp", "time_stamp", "offset_time", "time_offset", "t_offset", "ts")
_RING_NAMES = ("ring", "channel", "laser_id", "line")
_SEC_NSEC = (("_sec", "_nsec"), ("_sec", "_nanosec"), ("sec", "nsec"), ("sec", "nanosec"))


@dataclass(frozen=True)
class PointFieldSpec:
    """One field of a point record: name, byte offset, numpy type character (``f4``, ``u2``, ...), count."""

    name: str
    offset: int
    type: str
    count: int = 1


@dataclass(frozen=True)
class CloudLayout:
    """A point record layout, ready to view bytes through (build once per topic with :func:`layout_from_fields`)."""

    dtype: np.dtype
    fields: tuple[PointFieldSpec, ...]
    xyz_offset: int | None  # x, y, z packed little-endian float32 at this offset: zero-copy (N, 3) view
    time_fields: tuple[str, ...]  # () | (name,) | (sec_name, nsec_name)
    ring_field: str | None

    @property
    def point_step(self) -> int:
        return self.dtype.itemsize

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def layout_from_fields(
    fields: Sequence[PointFieldSpec], point_step: int, *, big_endian: bool = False, where: str = "cloud"
) -> CloudLayout:
    """Build the structured dtype of a point record. Unnamed fields (padding) are skipped, a repeated name gets a
    ``_2`` suffix; a field running past ``point_step`` or a missing x/y/z raises FormatError naming ``where``."""
    order = ">" if big_endian else "<"
    names, formats, offsets, kept = [], [], [], []
    seen: set[str] = set()
    for f in fields:
        if not f.name:
            continue
        name = f.name
        k = 2
        while name in seen:
            name, k = f"{f.name}_{k}", k + 1
        seen.add(name)
        dt = np.dtype(order + f.type)
        if f.offset < 0 or f.offset + dt.itemsize * max(f.count, 1) > point_step:
            raise FormatError(
                f"{where}: field {f.name!r} ({f.type} x{f.count} at byte {f.offset}) runs past the point step "
                f"{point_step}; the cloud's layout is corrupt"
            )
        names.append(name)
        formats.append(dt if f.count <= 1 else (dt, (f.count,)))
        offsets.append(f.offset)
        kept.append(PointFieldSpec(name, f.offset, f.type, f.count))
    missing = [c for c in "xyz" if c not in seen]
    if missing:
        raise FormatError(f"{where}: the point layout has no {'/'.join(missing)} field (fields: {sorted(seen)})")
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})
    by = {f.name: f for f in kept}
    xyz_offset = None
    packed = by["y"].offset == by["x"].offset + 4 and by["z"].offset == by["x"].offset + 8
    if packed and not big_endian and all(by[c].type == "f4" and by[c].count == 1 for c in "xyz"):
        xyz_offset = by["x"].offset
    lower = {n.lower(): n for n in names}
    time_fields: tuple[str, ...] = ()
    for cand in _TIME_NAMES:
        if cand in lower and by[lower[cand]].count == 1:
            time_fields = (lower[cand],)
            break
    if not time_fields:
        for n in names:
            for s_suf, ns_suf in _SEC_NSEC:
                base = n.lower()[: -len(s_suf)] if n.lower().endswith(s_suf) else None
                if base is not None and (base + ns_suf) in lower and base.rstrip("_") in ("", *_TIME_NAMES):
                    time_fields = (n, lower[base + ns_suf])
                    break
            if time_fields:
                break
    ring_field = next((lower[c] for c in _RING_NAMES if c in lower), None)
    return CloudLayout(dtype, tuple(kept), xyz_offset, time_fields, ring_field)


def _time_offsets(
    layout: CloudLayout, column: Callable[[str], np.ndarray], stamp_ns: int, where: str
) -> tuple[np.ndarray, str]:
    """Per-point time relative to ``stamp_ns`` (int64 ns) and a description of how it was read; ``column(name)``
    gives a field of the kept points."""
    if len(layout.time_fields) == 2:
        s_name, ns_name = layout.time_fields
        abs_ns = column(s_name).astype(np.int64) * 1_000_000_000 + column(ns_name).astype(np.int64)
        return abs_ns - np.int64(stamp_ns), f"{s_name}+{ns_name}: absolute time (s + ns)"
    name = layout.time_fields[0]
    v = column(name)
    kind, size = v.dtype.kind, v.dtype.itemsize
    if v.size == 0:
        return np.zeros(0, np.int64), f"{name}: empty cloud"
    if kind in "iu":
        if size == 8 and int(np.abs(v[:1].astype(np.int64))[0]) >= 10**15:
            return v.astype(np.int64) - np.int64(stamp_ns), f"{name} ({v.dtype.name}): absolute ns"
        return v.astype(np.int64), f"{name} ({v.dtype.name}): ns relative to the header"
    finite = v[np.isfinite(v)]
    big = float(np.abs(finite).max()) if finite.size else 0.0
    v64 = v.astype(np.float64)
    if big >= 1e15:
        return np.rint(v64 - float(stamp_ns)).astype(np.int64), f"{name} ({v.dtype.name}): absolute ns"
    if big >= 1e8:
        if size < 8:
            raise FormatError(
                f"{where}: field {name!r} holds absolute times in seconds as float32 (resolution "
                f"~{math.ulp(big):.0f} s); per-point time cannot be recovered"
            )
        sec, nsec = divmod(stamp_ns, 1_000_000_000)
        rel = (v64 - float(sec)) * 1e9 - float(nsec)
        return np.rint(rel).astype(np.int64), f"{name} ({v.dtype.name}): absolute seconds"
    return np.rint(v64 * 1e9).astype(np.int64), f"{name} ({v.dtype.name}): seconds relative to the header"


def decode_cloud(
    layout: CloudLayout,
    data: object,
    *,
    width: int,
    height: int = 1,
    row_step: int | None = None,
    stamp_ns: int,
    frame_id: str,
    log_ns: int | None = None,
    where: str = "cloud",
    dense: bool | None = None,
) -> tuple[PointCloud, int, str]:
    """View ``data`` (bytes or a uint8 array) through ``layout`` and build a PointCloud.

    Little-endian x, y, z packed as three float32 become a zero-copy (N, 3) view when every point is finite (one
    fast check over the data); fields whose type is already the wanted one stay views; everything else is one
    vectorised copy per field. ``dense=False`` (the message's ``is_dense``) skips the zero-copy attempt.

    Returns:
        (cloud, number of non-finite points dropped, description of the per-point time or "").
        For an organised cloud (height > 1) from which points were dropped, ``fields["index"]`` holds each kept
        point's row-major index in the height x width grid.
    """
    buf = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)
    step = layout.point_step
    n = int(width) * int(height)
    row_step = int(row_step) if row_step else int(width) * step
    need = (int(height) - 1) * row_step + int(width) * step if n else 0
    if buf.size < need:
        raise FormatError(
            f"{where}: {buf.size} bytes of point data for {height}x{width} points of {step} bytes (need {need}); "
            "the message is truncated"
        )
    if n and row_step != int(width) * step:  # per-row padding: drop it with one copy
        buf = np.ascontiguousarray(buf[: int(height) * row_step].reshape(int(height), row_step)[:, : int(width) * step])
        buf = buf.reshape(-1)
    rec = np.ndarray((n,), dtype=layout.dtype, buffer=buf, offset=0) if n else np.zeros(0, layout.dtype)
    dropped = 0
    keep = None
    if layout.xyz_offset is not None and n and dense is not False and _all_finite_fast(buf, step, n):
        xyz = np.ndarray((n, 3), np.float32, buf, layout.xyz_offset, (step, 4))  # zero-copy view
    else:
        xyz = np.empty((n, 3), np.float32)
        for k, c in enumerate("xyz"):  # one strided copy per column (faster than a (N, 3) strided copy)
            xyz[:, k] = rec[c]
        if not np.isfinite(xyz).all():
            fin = np.isfinite(xyz)
            keep = np.flatnonzero(fin[:, 0] & fin[:, 1] & fin[:, 2])
            dropped = int(n - keep.size)
            kept = np.empty((keep.size, 3), np.float32)
            for k in range(3):  # gather per column: far faster than fancy-indexing (N, 3) rows
                kept[:, k] = xyz[:, k][keep]
            xyz = kept

    def col(name: str, dtype: np.dtype | type | None = None) -> np.ndarray:
        """A field of the kept points: a zero-copy view when its type is already the wanted native one, else one
        vectorised copy (conversion, byte swap or selection)."""
        a = rec[name] if keep is None else rec[name][keep]  # one field at a time: never whole records
        return a.astype(dtype or a.dtype.newbyteorder("="), copy=False)

    t_off, t_desc = None, ""
    if layout.time_fields:
        t_off, t_desc = _time_offsets(layout, col, stamp_ns, where)
    used = {"x", "y", "z", *layout.time_fields}
    intensity = None
    if "intensity" in layout.dtype.names:
        intensity = col("intensity", np.float32)
        used.add("intensity")
    ring = None
    if layout.ring_field is not None:
        r = col(layout.ring_field)
        fits = r.dtype.kind == "u" and r.dtype.itemsize <= 2  # uint8/uint16 always fit; others are checked
        if fits or (r.dtype.kind in "iu" and (r.size == 0 or (int(r.min()) >= 0 and int(r.max()) <= 65535))):
            ring = r.astype(np.uint16, copy=False)
            used.add(layout.ring_field)
    extra = {name: col(name) for name in layout.dtype.names if name not in used}
    if keep is not None and height > 1:
        extra["index"] = keep.astype(np.int32)
    cloud = PointCloud._from_checked(  # every array validated above: no second copy
        xyz, stamp_ns, frame_id, intensity=intensity, t_offset_ns=t_off, ring=ring, fields=extra, log_ns=log_ns
    )
    return cloud, dropped, t_desc


def _all_finite_fast(buf: np.ndarray, step: int, n: int) -> bool:
    """True when every 4-byte word of the point data is a finite float32 — then x, y, z are finite. A False says
    nothing (an integer field may look like NaN): the caller checks x, y, z exactly."""
    if step % 4 or buf.size < n * step:
        return False
    return bool(np.isfinite(buf[: n * step].view(np.float32)).all())


def cloud_columns(cloud: PointCloud, *, what: str = "cloud", cast_time: bool = True) -> dict[str, np.ndarray]:
    """The inverse of :func:`decode_cloud`, for writers: named 1-D columns x, y, z, then intensity, ring, the
    per-point time as a uint32 ns ``t`` field (Ouster's convention; it must lie 0..4.29 s after the stamp) and the
    extra fields (1-D ones only; an (N, k) field has no single-column form). ``cast_time=False`` leaves ``t`` as the
    int64 offsets (range checked) for a caller that stores it into a uint32 field itself."""
    from sensorfuse.errors import ValidationError

    cols: dict[str, np.ndarray] = {"x": cloud.xyz[:, 0], "y": cloud.xyz[:, 1], "z": cloud.xyz[:, 2]}
    if cloud.intensity is not None:
        cols["intensity"] = cloud.intensity
    if cloud.ring is not None:
        cols["ring"] = cloud.ring
    if cloud.t_offset_ns is not None:
        t = cloud.t_offset_ns
        if t.size and (t.min() < 0 or t.max() > np.iinfo(np.uint32).max):
            raise ValidationError(f"{what}: per-point times must be 0..4.29 s after the stamp for a uint32 't' field")
        cols["t"] = t.astype(np.uint32) if cast_time else t
    for k, v in cloud.fields.items():
        if v.ndim != 1:
            raise ValidationError(f"{what}: field {k!r} has shape {v.shape}; only 1-D fields can be written")
        cols[k] = v
    return cols


def point_time_from_azimuth(xyz: np.ndarray, start_ns: int, end_ns: int, *, clockwise: bool = True) -> np.ndarray:
    """Per-point time (absolute int64 ns) of a spinning LiDAR sweep without a time field, from each point's azimuth.

    The sweep is taken to start and end facing backwards (azimuth +-180 deg, x forward, y left) and to turn
    ``clockwise`` seen from above (Velodyne, Ouster), as in KITTI raw, whose ``timestamps_start`` / ``_end`` give
    the two stamps (the camera is triggered when the laser faces forward, halfway). An approximation: the real
    firing order also depends on the laser's column offsets.
    """
    xyz = np.asarray(xyz)
    az = np.arctan2(xyz[:, 1].astype(np.float64), xyz[:, 0].astype(np.float64))  # (-pi, pi]
    frac = (np.pi - az) / (2 * np.pi) if clockwise else (az + np.pi) / (2 * np.pi)
    frac = np.clip(frac, 0.0, 1.0)
    return np.int64(start_ns) + np.rint(frac * float(end_ns - start_ns)).astype(np.int64)
