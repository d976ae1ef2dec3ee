"""Association of a reference stream with another: semantics, and 100 % agreement with the simulator's truth."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfuse.errors import ValidationError
from sensorfuse.fusion import associate
from sensorfuse.fusion.associate import MISSING_REASONS
from sensorfuse.rig import ClockModel

MS = 1_000_000


def test_modes_on_a_small_example():
    stream = np.array([0, 10, 20, 40, 50], np.int64) * MS  # 30 ms missing
    ref = np.array([-6, 4, 6, 15, 30, 52, 70], np.int64) * MS
    a = associate(ref, stream)  # nearest, tolerance = half the 10 ms period
    assert a.tolerance_ns == 5 * MS
    assert a.index.tolist() == [-1, 0, 1, 1, -1, 4, -1]  # 15 ms: a tie goes to the earlier message
    assert (a.dt_ns // MS).tolist() == [0, -4, 4, -5, 0, -2, 0]
    assert a.counts()["outside_tolerance"] == 3
    p = associate(ref, stream, mode="previous")
    assert p.tolerance_ns == 10 * MS  # one period
    assert p.index.tolist() == [-1, 0, 0, 1, 2, 4, -1]  # 30 ms: the message at 20 ms is exactly one period back
    assert [MISSING_REASONS[r] for r in p.reason] == [
        "before_first",
        "ok",
        "ok",
        "ok",
        "ok",
        "ok",
        "outside_tolerance",
    ]
    i = associate(ref, stream, mode="interpolate")
    assert i.index.tolist() == [-1, 0, 0, 1, -1, -1, -1]
    assert i.index_hi.tolist() == [-1, 1, 1, 2, -1, -1, -1]
    np.testing.assert_allclose(i.frac[[1, 2, 3]], [0.4, 0.6, 0.5])
    assert [MISSING_REASONS[r] for r in i.reason] == [
        "before_first",
        "ok",
        "ok",
        "ok",
        "gap_too_large",
        "after_last",
        "after_last",
    ]


def test_reordered_duplicated_stream_and_clock():
    stream = np.array([0, 20, 10, 10, 30], np.int64) * MS  # reordered, duplicated
    a = associate(np.array([11, 19]) * MS, stream)
    assert a.index.tolist() == [2, 1]  # indices into the stream as given; the first of the duplicates
    assert "duplicated" in a.notes[0]
    # the stream clock runs 3 ms behind: t_reference = t_stream + 3 ms
    b = associate(np.array([13]) * MS, stream, clock=ClockModel(offset_ns=3 * MS))
    assert b.index.tolist() == [2]
    assert b.dt_ns.tolist() == [0]
    empty = associate(np.array([1, 2]), np.zeros(0, np.int64))
    assert empty.counts()["empty_stream"] == 2
    with pytest.raises(ValidationError):
        associate(np.array([1]), stream, mode="closest")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from sensorfuse.sim import SimConfig, load_ground_truth, simulate

    faults = {"cam_front": {"offset_ns": 3 * MS, "drift_ppm": 20.0}, "radar": {"offset_ns": -2 * MS}}
    cfg = SimConfig(duration_s=4.0, format="mcap", faults="realistic", stream_faults=faults, truth_images_every=1000)
    res = simulate(tmp_path_factory.mktemp("assoc"), cfg)
    return load_ground_truth(res.out_dir)


@pytest.mark.parametrize("other", ["cam_front", "radar", "imu"])
def test_nearest_equals_the_truly_nearest_message(sim, other):
    """With the true clocks given: each LiDAR sweep's partner is the written message truly nearest in time (by the
    truth's true_ns), and a sweep is reported missing exactly when no written message is within the tolerance."""
    rows_l, rows_o = sim.messages["lidar"], sim.messages[other]
    wl = (rows_l["event"] != "dropped") & (rows_l["event"] != "duplicate")
    wo = rows_o["event"] != "dropped"
    clock_l, clock_o = sim.rig.sensor("lidar").clock, sim.rig.sensor(other).clock
    ref = np.asarray(clock_l.to_reference(rows_l["header_ns"][wl]), np.int64)
    a = associate(ref, rows_o["header_ns"][wo], clock=clock_o)
    true_ref = rows_l["true_ns"][wl]
    true_o = rows_o["true_ns"][wo]
    d = np.abs(true_o[None, :] - true_ref[:, None])
    nearest = np.argmin(d, axis=1)
    within = d[np.arange(d.shape[0]), nearest] <= a.tolerance_ns
    assert np.array_equal(a.missing, ~within)
    ok = ~a.missing
    assert np.array_equal(true_o[a.index[ok]], true_o[nearest[ok]])
    assert ok.mean() > 0.9
