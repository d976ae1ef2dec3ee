"""Synchronisation of streams whose clocks differ: association (nearest, previous, interpolated) with reported time
errors and misses, clock offset/drift estimation from record time, interpolation with an explicit status, deskew
(motion compensation, with poses optionally IMU-propagated) and stream health. Knows sensorfuse types and arrays only, never a file format."""

from sensorfuse.fusion.associate import MODES, Association, associate, median_period_ns
from sensorfuse.fusion.clock import ClockEstimate, clock_relation, estimate_clock, gps_clock
from sensorfuse.fusion.deskew import Deskewed, deskew, deskew_points
from sensorfuse.fusion.interpolate import (
    STATUS,
    Interpolated,
    gnss_at,
    imu_at,
    poses_at,
    require_ok,
    signal_at,
    tracks_at,
)
from sensorfuse.fusion.propagate import Propagated, propagate_poses
from sensorfuse.health import StreamStats, stream_stats, time_bases

__all__ = [
    "MODES",
    "STATUS",
    "Association",
    "ClockEstimate",
    "Deskewed",
    "Interpolated",
    "Propagated",
    "StreamStats",
    "associate",
    "clock_relation",
    "deskew",
    "deskew_points",
    "estimate_clock",
    "gnss_at",
    "gps_clock",
    "imu_at",
    "median_period_ns",
    "poses_at",
    "propagate_poses",
    "require_ok",
    "signal_at",
    "stream_stats",
    "time_bases",
    "tracks_at",
]
