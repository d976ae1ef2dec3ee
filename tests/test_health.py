"""Stream health from stamp arrays: the figures fuse-info reports and fuse-sync will use."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfuse.health import StreamStats, stream_stats, time_bases
from sensorfuse.units import gps_ns_from_utc_ns

T0 = 1_700_000_000_000_000_000
P = 100_000_000  # 10 Hz


def test_rate_jitter_drops_duplicates_reordering_and_lag(rng):
    k = np.arange(200)
    header = T0 + k * P + rng.normal(0, 200_000, k.size).astype(np.int64)  # 0.2 ms jitter
    keep = np.ones(k.size, bool)
    keep[[20, 50, 51, 52]] = False  # one single and one triple drop
    header = header[keep]
    header = np.insert(header, 100, header[100])  # a duplicate
    header[[60, 61]] = header[[61, 60]]  # a swapped pair
    log = header + 5_000_000
    st = stream_stats("/lidar", header, log)
    assert st.clock == "header"
    assert st.count == 197
    assert st.rate_hz == pytest.approx(10.0, rel=0.01)
    assert 150_000 < st.jitter_ns < 450_000  # robust std of the period: sqrt(2) * 0.2 ms
    assert st.dropped_estimate == 4
    assert st.duplicate_stamps == 1
    assert st.out_of_order == 1
    assert st.latency_median_ns == 5_000_000
    assert st.max_gap_ns == pytest.approx(4 * P, abs=2_000_000)


def test_clock_jumps_are_not_gaps_and_log_only_streams():
    header = np.concatenate([T0 + np.arange(10) * P, 1_600_000_000_000_000_000 + np.arange(10) * P])
    st = stream_stats("/rosout", header, None)
    assert st.clock_jumps == 1
    assert st.dropped_estimate == 0
    assert st.max_gap_ns == P
    log_only = stream_stats("/packets", None, T0 + np.arange(5) * 1_000_000)
    assert log_only.clock == "log"
    assert log_only.rate_hz == pytest.approx(1000.0)
    empty = stream_stats("/empty", None, np.zeros(0, np.int64))
    assert empty.count == 0
    assert empty.rate_hz is None


def test_time_bases_group_clocks_and_read_gps_time_as_utc():
    def s(topic, start, gps=False, log=T0):
        return StreamStats(topic, 10, "header", start, start + P, log, log + P, 10.0, P, 0.0, P, 0, 0, 0, 0, gps)

    bases = time_bases([s("/lidar", T0), s("/imu", 1_622_000_000_000), s("/gnss", gps_ns_from_utc_ns(T0), gps=True)])
    assert [sorted(b["clocks"]) for b in bases] == [
        ["header /imu"],
        ["header /gnss (GPS time)", "header /lidar", "record time"],
    ]
