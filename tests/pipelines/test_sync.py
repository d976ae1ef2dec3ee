"""fuse-sync end to end: simulator logs of every writer format against their truth, the real Ouster MCAP and
Husky bag, and bad input."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sensorfuse.errors import ValidationError
from sensorfuse.pipelines.sync import SyncOptions, run_sync

MS = 1_000_000
OUSTER = "mcap_ros1_ouster_os1_64/test.mcap"
HUSKY = "rosbag_ros1_husky_imu_gps_odom/test1.bag"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sensorfuse.cli.sync", *args], capture_output=True, text=True, timeout=600
    )


def _frames(out: Path) -> dict[str, np.ndarray]:
    with open(out / "frames.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([int(r[k]) if r[k] != "" else -1 for r in rows], np.int64) for k in rows[0]}


def _index(folder: Path) -> dict[str, np.ndarray]:
    """A stream folder's index.csv time columns, indexed by message index."""
    with open(folder / "index.csv") as f:
        rows = list(csv.DictReader(f))
    n = max(int(r["index"]) for r in rows) + 1
    out = {k: np.full(n, -1, np.int64) for k in ("header_stamp_ns", "stamp_ns")}
    for r in rows:
        for k in out:
            out[k][int(r["index"])] = int(r[k])
    return out


@pytest.fixture(scope="session")
def faulty(tmp_path_factory):
    """4 s small-rig MCAP: camera offset 3 ms + 20 ppm, radar -2 ms, realistic faults (drops, duplicates,
    reorders, jitter, a delay burst)."""
    from sensorfuse.sim import SimConfig, load_ground_truth, simulate

    faults = {"cam_front": {"offset_ns": 3 * MS, "drift_ppm": 20.0}, "radar": {"offset_ns": -2 * MS}}
    cfg = SimConfig(duration_s=4.0, format="mcap", faults="realistic", stream_faults=faults, truth_images_every=1000)
    res = simulate(tmp_path_factory.mktemp("sync_sim"), cfg)
    return res, load_ground_truth(res.out_dir)


def test_frames_equal_the_truly_nearest_and_only_drops_are_missing(faulty, tmp_path):
    """With the true clocks given (--rig): each LiDAR frame's camera/radar partner is the written message truly
    nearest in time; a frame misses a partner only where the truly nearest produced message was dropped."""
    res, truth = faulty
    out = tmp_path / "out"
    rig = res.ground_truth / "rig.yaml"
    report = run_sync(res.log, out, SyncOptions(rig=rig))
    fr = _frames(out)
    ref_rows = truth.messages["lidar"]
    by_header = {int(h): i for i, h in enumerate(ref_rows["header_ns"])}
    idx = {n: _index(out / n) for n in ("lidar", "cam_front", "radar")}
    # frames.csv's stamps are on the reference clock: each is the index.csv stamp_ns of the message it names
    assert np.array_equal(fr["reference_stamp_ns"], idx["lidar"]["stamp_ns"][fr["reference_index"]])
    ref_header = idx["lidar"]["header_stamp_ns"][fr["reference_index"]]
    true_ref = np.array([ref_rows["true_ns"][by_header[int(h)]] for h in ref_header])
    for name in ("cam_front", "radar"):
        rows = truth.messages[name]
        written = rows["event"] != "dropped"
        tol = report["streams"][name]["association"]["tolerance_ns"]
        d = np.abs(rows["true_ns"][None, :] - true_ref[:, None])
        nearest_any = np.argmin(d, axis=1)
        dw = np.where(written[None, :], d, np.iinfo(np.int64).max)
        nearest = np.argmin(dw, axis=1)
        within = dw[np.arange(len(true_ref)), nearest] <= tol
        missing = fr[f"{name}_index"] < 0
        assert np.array_equal(missing, ~within), name
        partner = fr[f"{name}_index"][~missing]
        assert np.array_equal(fr[f"{name}_stamp_ns"][~missing], idx[name]["stamp_ns"][partner]), name
        got = idx[name]["header_stamp_ns"][partner]  # the partner's own header stamp
        assert np.array_equal(got, rows["header_ns"][nearest[~missing]]), name
        # one time scale: the time error is the difference of the two stamps on the reference clock
        assert np.array_equal(
            fr[f"{name}_dt_ns"][~missing], fr[f"{name}_stamp_ns"][~missing] - fr["reference_stamp_ns"][~missing]
        )
        # the only reason for a miss: the truly nearest frame was dropped
        assert np.all(rows["event"][nearest_any[missing]] == "dropped"), name
        assert (~missing).mean() > 0.9
        dt = fr[f"{name}_dt_ns"][~missing]
        assert np.abs(dt).max() <= tol
    assert report["streams"]["cam_front"]["clock"]["source"] == "rig"
    assert report["frames"] == len(fr["frame"])
    # lossless per-sensor output: every written camera frame, as recorded bytes
    cam_files = sorted((out / "cam_front").glob("*.jpg"))
    assert len(cam_files) == report["written"]["cam_front"]
    # deskewed wherever the odometry covers the sweep: all but sweeps at the very ends of the log
    with open(out / "lidar" / "index.csv") as f:
        rows = list(csv.DictReader(f))
    not_done = [int(r["index"]) for r in rows if r["deskew"] != "end"]
    assert set(not_done) <= {0, len(rows) - 1}
    assert report["deskew"]["not_deskewed"] == len(not_done)


def test_deskew_camera_targets_the_camera_stamp(faulty, tmp_path):
    res, _ = faulty
    out = tmp_path / "o"
    report = run_sync(res.log, out, SyncOptions(rig=res.ground_truth / "rig.yaml", deskew="camera"))
    with open(out / "lidar" / "index.csv") as f:
        rows = list(csv.DictReader(f))
    cam = {}
    with open(out / "cam_front" / "index.csv") as f:
        for r in csv.DictReader(f):
            cam[int(r["stamp_ns"])] = r
    cam_rows = [r for r in rows if r["deskew"] == "camera"]
    assert len(cam_rows) > 0.8 * len(rows)
    assert all(int(r["deskew_target_ns"]) in cam for r in cam_rows)
    assert report["deskew"]["mode"] == "camera"
    from sensorfuse.io.pcd import read_pcd

    cloud, _, _ = read_pcd(out / "lidar" / rows[1]["file"])
    assert {"x_raw", "y_raw", "z_raw"} <= set(cloud.fields)


@pytest.mark.parametrize("fmt", ["bag", "db3", "kitti"])
def test_every_simulator_format(tmp_path, fmt):
    from sensorfuse.sim import SimConfig, simulate

    res = simulate(tmp_path / "sim", SimConfig(duration_s=1.0, format=fmt, truth_images_every=1000))
    out = tmp_path / "out"
    r = _cli(str(res.log), "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["frames"] == 10
    assert summary["frames_complete"] >= 9
    assert (out / "rig.yaml").is_file()
    assert (out / "sync_report.json").is_file()
    assert not (tmp_path / "out.partial").exists()


def test_kitti_output(faulty, tmp_path):
    res, _ = faulty
    out = tmp_path / "k"
    report = run_sync(res.log, out, SyncOptions(rig=res.ground_truth / "rig.yaml", format="kitti"))
    n = report["kitti"]["frames_written"]
    assert n == report["streams"]["cam_front"]["association"]["counts"]["ok"]  # frames with every camera
    assert len(list((out / "velodyne_points" / "data").glob("*.bin"))) == n
    assert len(list((out / "image_00" / "data").glob("*.png"))) == n
    assert len((out / "image_00" / "timestamps.txt").read_text().splitlines()) == n
    assert "radar" in (out / "SKIPPED.txt").read_text() or "/radar" in (out / "SKIPPED.txt").read_text()
    from sensorfuse.io import open as open_log

    with open_log(out) as r:
        assert r.stream("velodyne_points").count == n


def test_ouster_mcap_three_time_bases(shared_data, tmp_path):
    out = tmp_path / "o"
    report = run_sync(shared_data / OUSTER, out, SyncOptions())
    assert len(report["time_bases"]) == 3
    s = report["streams"]
    assert s["os1_imu"]["clock"]["source"] == "estimated"
    assert "unrelated" in s["os1_imu"]["clock"]["note"]
    # IMU since boot and LiDAR in another epoch both mapped onto the record clock: partners within a few ms
    a = s["os1_imu"]["association"]
    assert a["counts"]["ok"] == report["frames"] == 2
    assert a["abs_dt_ns"]["max"] < 20 * MS
    assert report["written"]["os1_lidar"] == 2


def test_husky_bag(shared_data, tmp_path):
    out = tmp_path / "h"
    r = _cli(str(shared_data / HUSKY), "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    report = json.loads((out / "sync_report.json").read_text())
    assert summary["reference"] == report["reference"]
    assert report["frames"] > 900
    imu = (out / f"{next(n for n, s in report['streams'].items() if s['kind'] == 'imu')}.csv").read_text()
    assert len(imu.splitlines()) - 1 == sum(v["messages"] for v in report["streams"].values() if v["kind"] == "imu")


def test_bad_input(faulty, tmp_path, sample_data):
    res, _ = faulty
    log = str(res.log)
    r = _cli(log, "-o", str(tmp_path / "a"), "--topics", "/nope")
    assert r.returncode == 1
    assert "/nope" in r.stderr
    r = _cli(log, "-o", str(tmp_path / "a"), "--offset", "cam_front=3")
    assert r.returncode == 2
    assert "unit" in r.stderr.lower()
    r = _cli(log, "-o", str(tmp_path / "a"), "--offset", "nosuch=3ms")
    assert r.returncode == 1
    assert "nosuch" in r.stderr
    r = _cli(log, "-o", str(tmp_path / "a"), "--reference", "nosuch")
    assert r.returncode == 1
    (tmp_path / "exists").mkdir()
    r = _cli(log, "-o", str(tmp_path / "exists"))
    assert r.returncode == 1
    assert "exists" in r.stderr
    r = _cli(str(tmp_path / "missing.bag"), "-o", str(tmp_path / "b"))
    assert r.returncode == 1
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        r = _cli(log, "-o", str(ro / "x"))
        assert r.returncode == 1
        assert "writable" in r.stderr
    r = _cli(log, "-o", str(tmp_path / "c"), "--start", "1s", "--end", "2s", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["frames"] == 10


def test_failed_run_leaves_no_output(faulty, tmp_path, monkeypatch):
    from sensorfuse.io import synced

    res, _ = faulty
    calls = {"n": 0}
    real = synced.SyncedWriter.write

    def boom(self, *a, **k):
        calls["n"] += 1
        if calls["n"] > 50:
            raise OSError("disk full")
        return real(self, *a, **k)

    monkeypatch.setattr(synced.SyncedWriter, "write", boom)
    with pytest.raises(OSError, match="disk full"):
        run_sync(res.log, tmp_path / "out", SyncOptions())
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.partial").exists()


def test_truncated_log_gives_best_output_and_a_report(shared_data, tmp_path):
    data = (shared_data / OUSTER).read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    out = tmp_path / "o"
    report = run_sync(cut, out, SyncOptions())
    assert report["frames"] >= 1
    assert report["reader_report"]["warnings"] or report["reader_report"]["bad_records"]
    shutil.rmtree(out)


def test_imu_propagation_of_the_pose_source(faulty, tmp_path):
    """--imu-propagate on: the gyro is integrated between the 100 Hz odometry poses (reported with its residual);
    at 100 Hz the deskewed clouds barely move (< 2 mm). auto leaves 100 Hz odometry alone."""
    from sensorfuse.io.pcd import read_pcd

    res, _ = faulty
    rig = res.ground_truth / "rig.yaml"
    on = run_sync(res.log, tmp_path / "on", SyncOptions(rig=rig, imu_propagate="on"))
    auto = run_sync(res.log, tmp_path / "auto", SyncOptions(rig=rig))
    prop = on["deskew"]["imu_propagation"]
    assert prop["propagated"] > 0.9 * prop["intervals"]
    assert prop["gyro_residual_deg_median"] < 0.05
    assert "integrated from" in on["deskew"]["pose_source"]
    assert auto["deskew"]["imu_propagation"] is None
    a, _, _ = read_pcd(tmp_path / "on" / "lidar" / "000002.pcd")
    b, _, _ = read_pcd(tmp_path / "auto" / "lidar" / "000002.pcd")
    d = np.linalg.norm(a.xyz - b.xyz, axis=1)
    assert 0 < d.max() < 0.002
    with pytest.raises(ValidationError, match="imu-propagate"):
        run_sync(res.log, tmp_path / "bad", SyncOptions(imu_propagate="maybe"))


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/self/smaps")
def test_reading_a_log_keeps_few_of_its_pages_mapped(tmp_path):
    """The MCAP reader maps the file and drops a chunk's pages once its last message has been handed out. Two
    streams written one after the other give chunks that overlap in time, so messages of a chunk are still waiting
    in the merge when the next chunk is read: after decoding every message (which touches its bytes) the process
    must hold a few chunks of the log, not the file (before the fix: most of it)."""
    from sensorfuse.io import open as open_log
    from sensorfuse.io.ros.writer import LogWriter
    from sensorfuse.types import CompressedImage

    rng = np.random.default_rng(0)
    t0 = 1_700_000_000 * 10**9
    with LogWriter(tmp_path / "log", "mcap") as w:
        for topic in ("/a/image/compressed", "/b/image/compressed"):
            for i in range(120):
                t = t0 + i * 10 * MS
                w.write(topic, t, CompressedImage(rng.bytes(100_000), "jpeg", t, topic[1]))
    path = next((tmp_path / "log").glob("*.mcap"))

    def mapped_kb() -> int:
        kb, inside = 0, False
        for line in Path("/proc/self/smaps").read_text().splitlines():
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:
                inside = line.endswith(str(path))
            elif inside and head[0] == "Rss:":
                kb += int(head[1])
        return kb

    with open_log(tmp_path / "log") as r:
        n = sum(len(m.data.data) > 0 for m in r.read(list(r.streams)))
        after = mapped_kb()
    assert n == 240
    size_kb = path.stat().st_size // 1024
    assert after < 0.2 * size_kb, (after, size_kb)
