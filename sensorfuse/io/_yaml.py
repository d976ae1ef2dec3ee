"""Small YAML helpers shared by the calibration formats."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from sensorfuse.errors import FormatError

_DIRECTIVE = re.compile(r"^%YAML:?\s*1\.\d+\s*$", re.MULTILINE)


def read_yaml(path: str | os.PathLike[str], what: str) -> Any:
    """Parse a YAML file; OpenCV-style ``%YAML:1.0`` directives (used by EuRoC/Kalibr files) are tolerated.

    Raises:
        FormatError: missing file or invalid YAML, naming ``what`` and the path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(f"{what} {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what} {path}: cannot be read ({exc})") from None
    try:
        return yaml.safe_load(_DIRECTIVE.sub("", text))
    except yaml.YAMLError as exc:
        raise FormatError(f"{what} {path}: not valid YAML ({exc})") from None


def write_yaml(data: Any, path: str | os.PathLike[str], header: str = "") -> Path:
    """Write YAML atomically, block style for mappings and flow style for flat lists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = header + yaml.dump(data, Dumper=FlowListDumper, sort_keys=False, width=120)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


class FlowListDumper(yaml.SafeDumper):
    pass


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    return dumper.represent_sequence(
        "tag:yaml.org,2002:seq", data, flow_style=all(not isinstance(x, (list, dict)) for x in data)
    )


FlowListDumper.add_representer(list, _represent_list)


def require(d: Any, key: str, what: str, path: object) -> Any:
    """``d[key]`` or a FormatError naming the key, the file and the keys present."""
    if not isinstance(d, dict):
        raise FormatError(f"{what} {path}: expected a mapping, got {type(d).__name__}")
    if key not in d:
        raise FormatError(f"{what} {path}: missing key {key!r} (has: {', '.join(map(str, d))})")
    return d[key]
