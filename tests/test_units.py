import pytest

from sensorfuse.errors import ValidationError
from sensorfuse.units import (
    format_duration_ns,
    gps_minus_utc_ns,
    gps_ns_from_utc_ns,
    ns_from_seconds,
    parse_duration_ns,
    utc_ns_from_gps_ns,
)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("3ms", 3_000_000),
        ("-1500us", -1_500_000),
        ("0.2s", 200_000_000),
        ("250ns", 250),
        ("1.5 min", 90_000_000_000),
        ("+2ms", 2_000_000),
    ],
)
def test_parse_duration(text, ns):
    assert parse_duration_ns(text) == ns
    assert parse_duration_ns(format_duration_ns(ns)) == ns


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("3", r"a unit is required"),
        ("3 parsecs", r"expected a number with a unit"),
        ("0.5ns", r"finer than one nanosecond"),
    ],
)
def test_parse_duration_refuses(text, match):
    with pytest.raises(ValidationError, match=match):
        parse_duration_ns(text)


def test_seconds_conversion_is_exact_from_text():
    assert ns_from_seconds("1532402927.612460") == 1_532_402_927_612_460_000


def test_gps_utc():
    utc_2018 = 1_532_402_927 * 10**9  # 2018-07-24
    assert gps_minus_utc_ns(utc_2018) == 18 * 10**9
    assert gps_minus_utc_ns(1_400_000_000 * 10**9) == 16 * 10**9  # 2014
    gps = gps_ns_from_utc_ns(utc_2018)
    assert utc_ns_from_gps_ns(gps) == utc_2018
