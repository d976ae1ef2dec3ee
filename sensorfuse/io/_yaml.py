"""Small YAML helpers shared by the calibration formats."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from sensorfuse.errors import FormatError
from sensorfuse.io._files import read_text, write_text_atomic

_DIRECTIVE = re.compile(r"^%YAML:?\s*1\.\d+\s*$", re.MULTILINE)


def read_yaml(path: str | os.PathLike[str], what: str, error: type[FormatError] = FormatError) -> Any:
    """Parse a YAML file; OpenCV-style ``%YAML:1.0`` directives (used by EuRoC/Kalibr files) are tolerated.

    Raises:
        FormatError (or ``error``): missing file or invalid YAML, naming ``what`` and the path.
    """
    text = read_text(path, what, error)
    try:
        return yaml.safe_load(_DIRECTIVE.sub("", text))
    except yaml.YAMLError as exc:
        raise error(f"{what} {path}: not valid YAML ({exc})") from None


def write_yaml(data: Any, path: str | os.PathLike[str], header: str = "") -> Path:
    """Write YAML atomically, block style for mappings and flow style for flat lists."""
    return write_text_atomic(path, header + yaml.dump(data, Dumper=FlowListDumper, sort_keys=False, width=120))


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
