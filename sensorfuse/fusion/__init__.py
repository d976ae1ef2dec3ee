"""Synchronisation of streams whose clocks differ: association (nearest, previous, interpolated) with reported
time errors and misses, and stream health. Knows sensorfuse types and arrays only, never a file format."""

from sensorfuse.fusion.associate import MODES, Association, associate, median_period_ns
from sensorfuse.health import StreamStats, stream_stats, time_bases

__all__ = ["MODES", "Association", "StreamStats", "associate", "median_period_ns", "stream_stats", "time_bases"]
