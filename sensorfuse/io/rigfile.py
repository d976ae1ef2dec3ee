"""The rig file: one YAML document describing a rig (schema version 1, documented in ``docs/rig-file.md``).

``load_rig`` validates every key and value and raises :class:`~sensorfuse.errors.RigFileError` naming the file,
the key path (``sensors[2] ('cam0').intrinsics.K``) and what was expected; a misspelt key gets a suggestion.
``save_rig`` writes atomically (temporary file + rename) with floats in their shortest exact form, so
``load_rig(save_rig(rig))`` reproduces every number bit for bit.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sensorfuse.errors import RigFileError, SensorfuseError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.io._yaml import FlowListDumper, read_yaml, write_yaml
from sensorfuse.rig import SENSOR_KINDS, ClockModel, Extrinsic, Provenance, Rig, Sensor

__all__ = ["RIG_SCHEMA_VERSION", "load_rig", "rig_from_dict", "rig_to_dict", "save_rig"]

#: Version written by :func:`save_rig`; :func:`load_rig` reads this version.
RIG_SCHEMA_VERSION = 1

_TOP_KEYS = {
    "sensorfuse_rig": True,
    "name": True,
    "sensors": True,
    "extrinsics": False,
    "base_frame": False,
    "reference_clock": False,
    "provenance": False,
    "metadata": False,
}
_SENSOR_KEYS = {
    "name": True,
    "kind": True,
    "frame_id": False,
    "topic": False,
    "rate_hz": False,
    "intrinsics": False,
    "clock": False,
    "noise": False,
    "provenance": False,
}
_INTRINSICS_KEYS = {"model": True, "width": True, "height": True, "K": True, "dist": False}
_CLOCK_KEYS = {"offset_ns": False, "drift_ppm": False, "epoch_ns": False}
_EXTRINSIC_KEYS = {"target": True, "source": True, "T": True, "provenance": False}
_PROVENANCE_KEYS = {"method": True, "data": False, "date": False, "quality": False, "notes": False}


class _Ctx:
    """Carries the file name for messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> RigFileError:
        return RigFileError(f"rig file {self.source}: {where}: {what}")

    def mapping(self, value: object, where: str, keys: Mapping[str, bool]) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping with keys {', '.join(keys)}, got {type(value).__name__}")
        for k in value:
            if k not in keys:
                near = difflib.get_close_matches(str(k), list(keys), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise self.fail(where, f"unknown key {k!r}{hint} Allowed keys: {', '.join(keys)}")
        for k, required in keys.items():
            if required and k not in value:
                raise self.fail(where, f"missing required key {k!r}")
        return dict(value)

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value

    def integer(self, value: object, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"expected an integer, got {value!r}")
        return value

    def number(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise self.fail(where, f"expected a finite number, got {value!r}")
        return float(value)

    def matrix(self, value: object, where: str, rows: int, cols: int) -> np.ndarray:
        shape_txt = f"a list of {rows} rows of {cols} numbers"
        if not isinstance(value, list) or len(value) != rows:
            raise self.fail(where, f"expected {shape_txt}, got {value!r}")
        for i, row in enumerate(value):
            if not isinstance(row, list) or len(row) != cols:
                raise self.fail(where, f"expected {shape_txt}; row {i} is {row!r}")
            for x in row:
                self.number(x, f"{where}[{i}]")
        return np.array(value, dtype=np.float64)

    def vector(self, value: object, where: str) -> np.ndarray:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of numbers, got {value!r}")
        for x in value:
            self.number(x, where)
        return np.array(value, dtype=np.float64)


def _provenance(ctx: _Ctx, value: object, where: str) -> Provenance:
    d = ctx.mapping(value, where, _PROVENANCE_KEYS)
    quality = d.get("quality", {}) or {}
    if not isinstance(quality, Mapping):
        raise ctx.fail(f"{where}.quality", f"expected a mapping of name -> number, got {quality!r}")
    for k, v in quality.items():
        ctx.number(v, f"{where}.quality.{k}")
    date = d.get("date")
    return Provenance(
        method=ctx.string(d["method"], f"{where}.method"),
        data=None if d.get("data") is None else str(d["data"]),
        date=None if date is None else str(date),
        quality=dict(quality),
        notes=None if d.get("notes") is None else str(d["notes"]),
    )


def _wrap(ctx: _Ctx, where: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Turn a validation error of the model into a RigFileError naming the key path."""
    try:
        return fn(*args, **kwargs)
    except RigFileError:
        raise
    except SensorfuseError as exc:
        raise ctx.fail(where, str(exc)) from None


def rig_from_dict(data: object, *, source: str = "<dict>") -> Rig:
    """Build a :class:`Rig` from the parsed YAML document (see ``docs/rig-file.md``).

    Raises:
        RigFileError: naming ``source``, the key path and the problem.
    """
    ctx = _Ctx(source)
    top = ctx.mapping(data, "top level", _TOP_KEYS)
    version = top["sensorfuse_rig"]
    if version != RIG_SCHEMA_VERSION:
        raise ctx.fail(
            "sensorfuse_rig",
            f"schema version {version!r} is not supported (this sensorfuse reads {RIG_SCHEMA_VERSION})",
        )
    name = ctx.string(top["name"], "name")
    sensors_raw = top["sensors"]
    if not isinstance(sensors_raw, list):
        raise ctx.fail("sensors", f"expected a list of sensors, got {type(sensors_raw).__name__}")
    sensors = []
    for i, s in enumerate(sensors_raw):
        label = f"sensors[{i}]"
        if isinstance(s, Mapping) and isinstance(s.get("name"), str):
            label += f" ({s['name']!r})"
        d = ctx.mapping(s, label, _SENSOR_KEYS)
        kind = ctx.string(d["kind"], f"{label}.kind")
        if kind not in SENSOR_KINDS:
            near = difflib.get_close_matches(kind, SENSOR_KINDS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ctx.fail(f"{label}.kind", f"{kind!r} is not a sensor kind{hint} Kinds: {', '.join(SENSOR_KINDS)}")
        camera = None
        if "intrinsics" in d:
            where = f"{label}.intrinsics"
            it = ctx.mapping(d["intrinsics"], where, _INTRINSICS_KEYS)
            camera = _wrap(
                ctx,
                where,
                CameraModel,
                K=ctx.matrix(it["K"], f"{where}.K", 3, 3),
                dist=ctx.vector(it.get("dist", []), f"{where}.dist"),
                model=ctx.string(it["model"], f"{where}.model"),
                width=ctx.integer(it["width"], f"{where}.width"),
                height=ctx.integer(it["height"], f"{where}.height"),
            )
        elif kind == "camera":
            raise ctx.fail(label, "missing required key 'intrinsics' (every camera needs them)")
        clock = ClockModel()
        if "clock" in d:
            where = f"{label}.clock"
            c = ctx.mapping(d["clock"], where, _CLOCK_KEYS)
            clock = _wrap(
                ctx,
                where,
                ClockModel,
                offset_ns=ctx.integer(c.get("offset_ns", 0), f"{where}.offset_ns"),
                drift_ppm=ctx.number(c.get("drift_ppm", 0.0), f"{where}.drift_ppm"),
                epoch_ns=None if c.get("epoch_ns") is None else ctx.integer(c["epoch_ns"], f"{where}.epoch_ns"),
            )
        noise = d.get("noise", {}) or {}
        if not isinstance(noise, Mapping):
            raise ctx.fail(f"{label}.noise", f"expected a mapping of name -> number, got {noise!r}")
        for k, v in noise.items():
            ctx.number(v, f"{label}.noise.{k}")
        sensors.append(
            _wrap(
                ctx,
                label,
                Sensor,
                name=ctx.string(d["name"], f"{label}.name"),
                kind=kind,
                frame_id=ctx.string(d["frame_id"], f"{label}.frame_id") if "frame_id" in d else "",
                topic=ctx.string(d["topic"], f"{label}.topic") if d.get("topic") is not None else None,
                rate_hz=ctx.number(d["rate_hz"], f"{label}.rate_hz") if d.get("rate_hz") is not None else None,
                camera=camera,
                clock=clock,
                noise=dict(noise),
                provenance=_provenance(ctx, d["provenance"], f"{label}.provenance") if d.get("provenance") else None,
            )
        )
    extrinsics = []
    ext_raw = top.get("extrinsics") or []
    if not isinstance(ext_raw, list):
        raise ctx.fail("extrinsics", f"expected a list, got {type(ext_raw).__name__}")
    for i, e in enumerate(ext_raw):
        label = f"extrinsics[{i}]"
        if isinstance(e, Mapping) and "target" in e and "source" in e:
            label += f" (T_{e['target']}_{e['source']})"
        d = ctx.mapping(e, label, _EXTRINSIC_KEYS)
        extrinsics.append(
            _wrap(
                ctx,
                label,
                Extrinsic,
                target=ctx.string(d["target"], f"{label}.target"),
                source=ctx.string(d["source"], f"{label}.source"),
                T=ctx.matrix(d["T"], f"{label}.T", 4, 4),
                provenance=_provenance(ctx, d["provenance"], f"{label}.provenance") if d.get("provenance") else None,
            )
        )
    metadata = top.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise ctx.fail("metadata", f"expected a mapping, got {metadata!r}")
    return _wrap(
        ctx,
        "rig",
        Rig,
        name=name,
        sensors=tuple(sensors),
        extrinsics=tuple(extrinsics),
        base_frame=ctx.string(top["base_frame"], "base_frame") if top.get("base_frame") is not None else None,
        reference_clock=(
            ctx.string(top["reference_clock"], "reference_clock") if top.get("reference_clock") is not None else None
        ),
        provenance=_provenance(ctx, top["provenance"], "provenance") if top.get("provenance") else None,
        metadata=dict(metadata),
    )


def _prov_dict(p: Provenance | None) -> dict[str, Any] | None:
    if p is None:
        return None
    out: dict[str, Any] = {"method": p.method}
    for k in ("data", "date", "notes"):
        if getattr(p, k) is not None:
            out[k] = getattr(p, k)
    if p.quality:
        out["quality"] = dict(p.quality)
    return out


def _plain(value: Any) -> Any:
    """numpy scalars/arrays -> Python lists/floats/ints for YAML."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def rig_to_dict(rig: Rig) -> dict[str, Any]:
    """The YAML document of a rig (plain Python types)."""
    out: dict[str, Any] = {"sensorfuse_rig": RIG_SCHEMA_VERSION, "name": rig.name}
    if rig.base_frame:
        out["base_frame"] = rig.base_frame
    if rig.reference_clock:
        out["reference_clock"] = rig.reference_clock
    if rig.provenance:
        out["provenance"] = _prov_dict(rig.provenance)
    sensors = []
    for s in rig.sensors:
        d: dict[str, Any] = {"name": s.name, "kind": s.kind, "frame_id": s.frame_id}
        if s.topic:
            d["topic"] = s.topic
        if s.rate_hz is not None:
            d["rate_hz"] = s.rate_hz
        if s.camera is not None:
            c = s.camera
            d["intrinsics"] = {
                "model": c.model,
                "width": c.width,
                "height": c.height,
                "K": c.K.tolist(),
                "dist": c.dist.tolist(),
            }
        if not s.clock.is_identity:
            clk: dict[str, Any] = {"offset_ns": s.clock.offset_ns, "drift_ppm": s.clock.drift_ppm}
            if s.clock.epoch_ns is not None:
                clk["epoch_ns"] = s.clock.epoch_ns
            d["clock"] = clk
        if s.noise:
            d["noise"] = dict(s.noise)
        if s.provenance:
            d["provenance"] = _prov_dict(s.provenance)
        sensors.append(d)
    out["sensors"] = sensors
    exts = []
    for e in rig.extrinsics:
        d = {"target": e.target, "source": e.source, "T": e.T.tolist()}
        if e.provenance:
            d["provenance"] = _prov_dict(e.provenance)
        exts.append(d)
    out["extrinsics"] = exts
    if rig.metadata:
        out["metadata"] = _plain(dict(rig.metadata))
    return _plain(out)


_HEADER = (
    "# sensorfuse rig file (schema: docs/rig-file.md)\n"
    "# extrinsics: T_target_source maps points from `source` into `target`;\n"
    "# clocks: t_reference = t_stream + offset_ns + drift_ppm * 1e-6 * (t_stream - epoch_ns)\n"
)


def dump_rig_yaml(rig: Rig) -> str:
    """The rig file text."""
    return _HEADER + yaml.dump(rig_to_dict(rig), Dumper=FlowListDumper, sort_keys=False, allow_unicode=True, width=120)


def save_rig(rig: Rig, path: str | os.PathLike[str]) -> Path:
    """Write ``rig`` to ``path`` atomically (temporary file + rename). Returns the path."""
    return write_yaml(rig_to_dict(rig), path, header=_HEADER)


def load_rig(path: str | os.PathLike[str]) -> Rig:
    """Read and validate a rig file.

    Raises:
        RigFileError: the file is missing, not YAML, or does not follow the schema (message gives the key path).
    """
    return rig_from_dict(read_yaml(path, "rig file", RigFileError), source=str(path))
