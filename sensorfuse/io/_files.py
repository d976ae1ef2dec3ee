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


def read_json(path: str | os.PathLike[str], what: str) -> object:
    """A JSON file's content; a missing or malformed file raises :class:`FormatError` naming ``what`` and the path."""
    import json

    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{what} {path}: not JSON ({exc})") from None


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


def json_default(o: object) -> object:
    """``json.dumps(default=...)`` for numpy values (arrays as lists, scalars as Python numbers)."""
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class PartialDir:
    """An output folder built under ``OUT.partial`` and renamed to ``OUT`` only when complete, so an ``OUT`` that
    exists is whole; ``discard`` removes the partial folder after a failure."""

    def __init__(self, out: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        import shutil

        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise FormatError(f"{self.out} exists; choose another output or pass --overwrite")
        parent = self.out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FormatError(f"{parent}: cannot create the output's parent folder ({exc})") from None
        if not os.access(parent, os.W_OK):
            raise FormatError(f"{parent}: not writable; choose another output folder")
        self.tmp = parent / f"{self.out.name}.partial"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()

    def commit(self) -> Path:
        """Move the finished folder into place (replacing an old ``OUT`` only now)."""
        import shutil

        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.tmp, self.out)
        return self.out

    def discard(self) -> None:
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)
