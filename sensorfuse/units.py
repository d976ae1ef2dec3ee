"""Time units: durations with explicit units, seconds <-> nanoseconds, GPS <-> UTC.

Timestamps in the API are int64 nanoseconds. Durations typed by people (CLI options, docs) always carry a unit:
``"3ms"``, ``"-1500us"``, ``"0.2s"``, ``"250ns"``. A bare number is refused: "3" could mean 3 s or 3 ms.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from sensorfuse.errors import ValidationError

__all__ = [
    "GPS_EPOCH_UNIX_NS",
    "format_duration_ns",
    "gps_minus_utc_ns",
    "gps_ns_from_utc_ns",
    "ns_from_seconds",
    "parse_duration_ns",
    "seconds_from_ns",
    "utc_ns_from_gps_ns",
]

NS_PER_UNIT = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "min": 60_000_000_000}
_DURATION_RE = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(ns|us|µs|ms|s|min)\s*$")

#: GPS time zero (1980-01-06T00:00:00 UTC) as Unix time in ns.
GPS_EPOCH_UNIX_NS = 315_964_800 * 1_000_000_000

# Leap seconds since the GPS epoch: (Unix time in s when GPS-UTC became n, n).  Source: IERS Bulletin C.
_LEAP_TABLE = (
    (362_793_600, 1),  # 1981-07-01
    (394_329_600, 2),  # 1982-07-01
    (425_865_600, 3),  # 1983-07-01
    (489_024_000, 4),  # 1985-07-01
    (567_993_600, 5),  # 1988-01-01
    (631_152_000, 6),  # 1990-01-01
    (662_688_000, 7),  # 1991-01-01
    (709_948_800, 8),  # 1992-07-01
    (741_484_800, 9),  # 1993-07-01
    (773_020_800, 10),  # 1994-07-01
    (820_454_400, 11),  # 1996-01-01
    (867_715_200, 12),  # 1997-07-01
    (915_148_800, 13),  # 1999-01-01
    (1_136_073_600, 14),  # 2006-01-01
    (1_230_768_000, 15),  # 2009-01-01
    (1_341_100_800, 16),  # 2012-07-01
    (1_435_708_800, 17),  # 2015-07-01
    (1_483_228_800, 18),  # 2017-01-01
)


def parse_duration_ns(text: str) -> int:
    """Parse a duration with a unit into integer nanoseconds.

    >>> parse_duration_ns("3ms"), parse_duration_ns("-1500us"), parse_duration_ns("0.2s")
    (3000000, -1500000, 200000000)

    Raises:
        ValidationError: no unit, unknown unit, or not a number.
    """
    if not isinstance(text, str):
        raise ValidationError(f"duration: expected a string such as '3ms', got {type(text).__name__} {text!r}")
    m = _DURATION_RE.match(text)
    if not m:
        hint = " (a unit is required: ns, us, ms, s or min)" if re.fullmatch(r"\s*[+-]?[\d.eE+-]+\s*", text) else ""
        raise ValidationError(f"duration {text!r}: expected a number with a unit, e.g. '3ms', '-1500us', '0.2s'{hint}")
    try:
        value = Decimal(m.group(1)) * NS_PER_UNIT[m.group(2)]
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValidationError(f"duration {text!r}: not a number") from None
    ns = int(value.to_integral_value())
    if value != ns:
        raise ValidationError(f"duration {text!r}: finer than one nanosecond")
    return ns


def format_duration_ns(ns: int) -> str:
    """Format integer nanoseconds with the largest unit that keeps it exact (inverse of parse_duration_ns)."""
    ns = int(ns)
    for unit in ("s", "ms", "us"):
        if ns % NS_PER_UNIT[unit] == 0 and ns != 0:
            return f"{ns // NS_PER_UNIT[unit]}{unit}"
    return f"{ns}ns"


def ns_from_seconds(seconds: float | str | Decimal) -> int:
    """Convert seconds to integer ns, rounding to the nearest ns.

    A string or Decimal (e.g. ``"1532402927.612460"`` from a text file) converts exactly; a float carries its own
    precision limit (~0.2 us at Unix-epoch magnitudes).
    """
    return int((Decimal(str(seconds)) * 1_000_000_000).to_integral_value())


def seconds_from_ns(ns: int) -> float:
    """Convert integer ns to float seconds (for computation and display only)."""
    return int(ns) / 1e9


def gps_minus_utc_ns(utc_ns: int) -> int:
    """GPS - UTC (leap seconds) in force at a UTC instant given as Unix ns (18 s since 2017-01-01)."""
    s = int(utc_ns) // 1_000_000_000
    n = 0
    for start, leap in _LEAP_TABLE:
        if s >= start:
            n = leap
    return n * 1_000_000_000


def gps_ns_from_utc_ns(utc_ns: int) -> int:
    """Convert a UTC instant (Unix ns) to GPS time in ns since the GPS epoch."""
    return int(utc_ns) - GPS_EPOCH_UNIX_NS + gps_minus_utc_ns(utc_ns)


def utc_ns_from_gps_ns(gps_ns: int) -> int:
    """Convert GPS time (ns since the GPS epoch) to UTC Unix ns."""
    approx = int(gps_ns) + GPS_EPOCH_UNIX_NS
    # the leap count at the UTC instant; evaluate at the approximate instant then correct once
    utc = approx - gps_minus_utc_ns(approx)
    return approx - gps_minus_utc_ns(utc)
