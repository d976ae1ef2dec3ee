"""The exceptions sensorfuse raises.

Everything the library raises on purpose derives from :class:`SensorfuseError`, so a caller (and every CLI) can
catch one class. Errors that describe bad *values* passed to a function also derive from :class:`ValueError`, so
code written against numpy/scipy conventions keeps working.

Messages name the file, topic, frame or argument concerned and say what would fix the problem.
"""

from __future__ import annotations

__all__ = [
    "CalibrationError",
    "ExtrapolationError",
    "FormatError",
    "MessageIndexError",
    "RigFileError",
    "SensorfuseError",
    "SyncError",
    "TopicNotFound",
    "TransformError",
    "ValidationError",
    "ViewerError",
]


class SensorfuseError(Exception):
    """Base class of every error raised by sensorfuse."""


class ValidationError(SensorfuseError, ValueError):
    """A value passed to a public function or type has the wrong shape, dtype, range or structure."""


class FormatError(SensorfuseError):
    """A file or message could not be parsed: corrupt, truncated, or not of the expected format."""


class RigFileError(FormatError):
    """A rig file is malformed: a missing, misspelt or ill-typed key. The message gives the key path."""


class TopicNotFound(SensorfuseError, KeyError):
    """A topic or sensor name is not in the log / rig. The message lists what is available."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable
        return str(self.args[0]) if self.args else ""


class MessageIndexError(SensorfuseError, IndexError):
    """A message number outside a stream's range."""


class TransformError(SensorfuseError):
    """A transform lookup failed: unknown frame, or no chain between two frames."""


class SyncError(SensorfuseError):
    """Streams cannot be synchronised as asked (no overlap, unusable clock, ...)."""


class ExtrapolationError(SyncError, ValueError):
    """A query time lies outside the time range of the data and extrapolation was not allowed."""


class CalibrationError(SensorfuseError):
    """A calibration cannot be computed or trusted; the message says what data would fix it."""


class ViewerError(SensorfuseError):
    """The viewer cannot render or open a window (no display, no OpenGL); the message says what to run instead."""
