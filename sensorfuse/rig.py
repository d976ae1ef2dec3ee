"""The rig: sensors, intrinsics, extrinsics, clocks and provenance, as one immutable object.

This module is the in-memory model; the YAML file format (schema, load/save, validation messages) lives in
:mod:`sensorfuse.io.rigfile` and is documented in ``docs/rig-file.md``. Calibration code builds and returns
``Rig`` objects and never touches files.

Conventions (CONVENTIONS.md):

- extrinsics are ``T_target_source`` 4x4 (``p_target = T @ p_source``) between *frames*; a sensor is referred to by
  its name or its frame id;
- clocks: ``t_reference = t_stream + offset_ns + drift_ppm * 1e-6 * (t_stream - epoch_ns)``.
"""

from __future__ import annotations

import difflib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from sensorfuse._checks import check_array, check_stamp
from sensorfuse.errors import TopicNotFound, TransformError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import _invert, check_transform

__all__ = ["SENSOR_KINDS", "ClockModel", "Extrinsic", "Provenance", "Rig", "Sensor"]

#: Kinds of sensor a rig can hold.
SENSOR_KINDS = ("lidar", "camera", "imu", "radar", "gnss", "odometry", "other")


def _close(name: str, options: Iterable[str]) -> str:
    options = list(options)
    near = difflib.get_close_matches(name, options, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return f"{hint} Available: {', '.join(options) if options else '(none)'}"


@dataclass(frozen=True)
class Provenance:
    """Where a value came from: method, data, date, and quality figures (name -> number)."""

    method: str
    data: str | None = None
    date: str | None = None
    quality: Mapping[str, float] = field(default_factory=dict)
    notes: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise ValidationError(f"provenance.method: expected a non-empty string, got {self.method!r}")
        q = {}
        for k, v in dict(self.quality).items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValidationError(f"provenance.quality[{k!r}]: expected a number, got {v!r}")
            q[str(k)] = float(v) if not isinstance(v, (int, np.integer)) else int(v)
        object.__setattr__(self, "quality", MappingProxyType(q))


@dataclass(frozen=True)
class ClockModel:
    """A stream clock relative to the rig's reference clock.

    ``t_reference = t_stream + offset_ns + drift_ppm * 1e-6 * (t_stream - epoch_ns)``

    Attributes:
        offset_ns: constant offset (int ns).
        drift_ppm: linear drift in parts per million (0 for none).
        epoch_ns: stream time at which the drift term is zero; required when ``drift_ppm`` is not 0.
    """

    offset_ns: int = 0
    drift_ppm: float = 0.0
    epoch_ns: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "offset_ns", check_stamp(self.offset_ns, "clock.offset_ns"))
        d = float(self.drift_ppm)
        if not np.isfinite(d) or abs(d) > 1e5:
            raise ValidationError(f"clock.drift_ppm: expected a finite value in ppm, got {self.drift_ppm!r}")
        object.__setattr__(self, "drift_ppm", d)
        if self.epoch_ns is not None:
            object.__setattr__(self, "epoch_ns", check_stamp(self.epoch_ns, "clock.epoch_ns"))
        elif d != 0.0:
            raise ValidationError("clock.epoch_ns: required when drift_ppm is not 0 (the time where drift is zero)")

    @property
    def is_identity(self) -> bool:
        return self.offset_ns == 0 and self.drift_ppm == 0.0

    def to_reference(self, stamps_ns: object) -> np.ndarray:
        """Map stream stamps (int64 ns) to the reference clock (int64 ns, rounded to the nearest ns)."""
        t = check_array(stamps_ns, "stamps_ns", dtype=np.int64, kinds="iu")
        out = t + np.int64(self.offset_ns)
        if self.drift_ppm != 0.0:
            assert self.epoch_ns is not None
            out = out + np.rint((t - np.int64(self.epoch_ns)).astype(np.float64) * (self.drift_ppm * 1e-6)).astype(
                np.int64
            )
        return out

    def from_reference(self, stamps_ns: object) -> np.ndarray:
        """Inverse of :meth:`to_reference` (exact for offset only; to < 1 ns for drifts below 1000 ppm)."""
        t_ref = check_array(stamps_ns, "stamps_ns", dtype=np.int64, kinds="iu")
        t = t_ref - np.int64(self.offset_ns)
        if self.drift_ppm != 0.0:
            assert self.epoch_ns is not None
            k = self.drift_ppm * 1e-6
            t = t - np.rint((t - np.int64(self.epoch_ns)).astype(np.float64) * k / (1.0 + k)).astype(np.int64)
        return t


@dataclass(frozen=True)
class Sensor:
    """One sensor of the rig.

    Attributes:
        name: unique name (``"velodyne"``, ``"cam_front"``).
        kind: one of :data:`SENSOR_KINDS`.
        frame_id: the frame its data is expressed in (defaults to ``name``).
        topic: the log topic carrying its data, if any.
        rate_hz: nominal rate.
        camera: intrinsics, for cameras.
        clock: its clock relative to the rig's reference clock.
        noise: free-form noise parameters (e.g. IMU noise densities), name -> number.
        provenance: where the intrinsics/clock came from.
    """

    name: str
    kind: str
    frame_id: str = ""
    topic: str | None = None
    rate_hz: float | None = None
    camera: CameraModel | None = None
    clock: ClockModel = field(default_factory=ClockModel)
    noise: Mapping[str, float] = field(default_factory=dict)
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValidationError(f"sensor name: expected a non-empty string, got {self.name!r}")
        if self.kind not in SENSOR_KINDS:
            raise ValidationError(f"sensor {self.name!r}: kind {self.kind!r} is not one of {', '.join(SENSOR_KINDS)}")
        if not self.frame_id:
            object.__setattr__(self, "frame_id", self.name)
        if self.camera is not None and not isinstance(self.camera, CameraModel):
            raise ValidationError(f"sensor {self.name!r}: camera must be a CameraModel")
        if self.kind == "camera" and self.camera is None:
            raise ValidationError(f"sensor {self.name!r}: a camera needs intrinsics (camera=CameraModel(...))")
        if self.rate_hz is not None and not (np.isfinite(self.rate_hz) and self.rate_hz > 0):
            raise ValidationError(f"sensor {self.name!r}: rate_hz must be positive, got {self.rate_hz!r}")
        object.__setattr__(self, "noise", MappingProxyType({str(k): float(v) for k, v in dict(self.noise).items()}))


@dataclass(frozen=True, eq=False)
class Extrinsic:
    """``T_target_source``: maps points from frame ``source`` into frame ``target``."""

    target: str
    source: str
    T: np.ndarray
    provenance: Provenance | None = None

    def __post_init__(self) -> None:
        if not self.target or not self.source or self.target == self.source:
            raise ValidationError(
                f"extrinsic: target and source must be two different frames, got {self.target!r}, {self.source!r}"
            )
        object.__setattr__(self, "T", check_transform(self.T, f"T_{self.target}_{self.source}"))


@dataclass(frozen=True, eq=False)
class Rig:
    """A sensor rig.

    Attributes:
        name: rig name.
        sensors: the sensors, unique names.
        extrinsics: edges of the frame tree (``T_target_source``); each pair of frames at most once.
        base_frame: the frame the rig is described in (e.g. ``base_link``), if any.
        reference_clock: the sensor whose clock the others' offsets refer to (None: an external reference).
        provenance: where the whole rig came from.
        metadata: free-form extra information (kept through load/save).
    """

    name: str
    sensors: tuple[Sensor, ...] = ()
    extrinsics: tuple[Extrinsic, ...] = ()
    base_frame: str | None = None
    reference_clock: str | None = None
    provenance: Provenance | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sensors", tuple(self.sensors))
        object.__setattr__(self, "extrinsics", tuple(self.extrinsics))
        names = [s.name for s in self.sensors]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValidationError(f"rig {self.name!r}: duplicate sensor name(s) {sorted(dup)}")
        pairs: set[frozenset[str]] = set()
        for e in self.extrinsics:
            key = frozenset((e.target, e.source))
            if key in pairs:
                raise ValidationError(
                    f"rig {self.name!r}: more than one extrinsic between {e.target!r} and {e.source!r}; keep one"
                )
            pairs.add(key)
        if self.reference_clock is not None and self.reference_clock not in names:
            raise ValidationError(
                f"rig {self.name!r}: reference_clock {self.reference_clock!r} is not a sensor"
                + _close(self.reference_clock, names)
            )
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    # -- lookup -----------------------------------------------------------------------------------------------

    @property
    def sensor_names(self) -> list[str]:
        return [s.name for s in self.sensors]

    def sensor(self, key: str) -> Sensor:
        """A sensor by name, topic or frame id.

        Raises:
            TopicNotFound: naming the close matches and the available names.
        """
        for attr in ("name", "topic", "frame_id"):
            for s in self.sensors:
                if getattr(s, attr) == key:
                    return s
        raise TopicNotFound(f"rig {self.name!r} has no sensor, topic or frame {key!r}" + _close(key, self.sensor_names))

    def cameras(self) -> list[Sensor]:
        return [s for s in self.sensors if s.kind == "camera"]

    @property
    def frames(self) -> list[str]:
        """All frame names: sensors' frames, the base frame, and the frames named by extrinsics."""
        out: list[str] = []
        for f in [self.base_frame, *(s.frame_id for s in self.sensors)] + [
            f for e in self.extrinsics for f in (e.target, e.source)
        ]:
            if f and f not in out:
                out.append(f)
        return out

    def _frame(self, key: str) -> str:
        if key in self.frames:
            return key
        for s in self.sensors:
            if s.name == key or s.topic == key:
                return s.frame_id
        raise TransformError(f"rig {self.name!r}: unknown frame or sensor {key!r}" + _close(key, self.frames))

    def transform(self, target: str, source: str) -> np.ndarray:
        """``T_target_source`` through the frame tree (sensor names, topics or frame ids accepted).

        Raises:
            TransformError: unknown frame, or no chain of extrinsics joins the two frames.
        """
        a, b = self._frame(target), self._frame(source)
        if a == b:
            return np.eye(4)
        # breadth-first search from source to target over edges in both directions
        adj: dict[str, list[tuple[str, np.ndarray]]] = {}
        for e in self.extrinsics:
            adj.setdefault(e.source, []).append((e.target, e.T))  # source -> target: T_target_source
            adj.setdefault(e.target, []).append((e.source, _invert(e.T)))
        prev: dict[str, tuple[str, np.ndarray]] = {}
        seen = {b}
        queue = deque([b])
        while queue:
            f = queue.popleft()
            if f == a:
                break
            for g, T_g_f in adj.get(f, []):
                if g not in seen:
                    seen.add(g)
                    prev[g] = (f, T_g_f)
                    queue.append(g)
        if a not in seen:
            raise TransformError(
                f"rig {self.name!r}: no chain of extrinsics from {b!r} to {a!r}; frames reachable from {b!r}: "
                f"{sorted(seen)}. Add the missing extrinsic to the rig file."
            )
        T = np.eye(4)
        f = a
        while f != b:
            p, T_f_p = prev[f]
            T = T @ T_f_p  # T_a_f @ T_f_p = T_a_p
            f = p
        return T

    # -- building new rigs --------------------------------------------------------------------------------------

    def with_extrinsic(self, target: str, source: str, T: object, provenance: Provenance | None = None) -> Rig:
        """A copy with ``T_target_source`` set (replacing an edge between the same frames, in either direction)."""
        new = Extrinsic(target, source, np.asarray(T), provenance)
        kept = [e for e in self.extrinsics if {e.target, e.source} != {target, source}]
        return replace(self, extrinsics=(*kept, new))

    def with_sensor(self, sensor: Sensor) -> Rig:
        """A copy with ``sensor`` added or replacing the sensor of the same name."""
        kept = [s for s in self.sensors if s.name != sensor.name]
        if len(kept) == len(self.sensors):
            return replace(self, sensors=(*self.sensors, sensor))
        return replace(self, sensors=tuple(sensor if s.name == sensor.name else s for s in self.sensors))

    def __repr__(self) -> str:
        return f"Rig({self.name!r}, sensors={self.sensor_names}, {len(self.extrinsics)} extrinsics)"
