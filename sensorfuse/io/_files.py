"""File helpers shared by every format: text reading with format errors, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

from sensorfuse.errors import FormatError


def read_text(path: str | os.PathLike[str], what: str, error: type[FormatError] = FormatError) -> str:
    """The file's text, or ``error`` naming ``what`` and the path (missing, unreadable, not UTF-8)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{what} {path}: cannot be read ({exc})") from None


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path`` (never a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
