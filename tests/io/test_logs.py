"""sensorfuse.io.open on the real logs in ../shared/data: what each SOURCE.md states, read through our readers."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sensorfuse.errors import FormatError, MessageIndexError, TopicNotFound
from sensorfuse.io import RosMessage
from sensorfuse.io import open as open_log
from sensorfuse.types import GnssFix, Image, PointCloud

OUSTER = "mcap_ros1_ouster_os1_64/test.mcap"
HUSKY = "rosbag_ros1_husky_imu_gps_odom/test1.bag"
NEBULA = "nebula_ros2_db3_radar_lidar_packets"
VELODYNE_MSGS = {
    "velodyne_msgs/msg/VelodynePacket": "builtin_interfaces/Time stamp\nuint8[1206] data",
    "velodyne_msgs/msg/VelodyneScan": "std_msgs/Header header\nvelodyne_msgs/VelodynePacket[] packets",
}


def test_ouster_ros1_mcap(shared_data):
    with open_log(shared_data / OUSTER) as r:
        assert r.format == "mcap-ros1"
        counts = {t: s.count for t, s in r.streams.items()}
        assert counts["/os1_cloud_node/points"] == 2
        assert counts["/os1_cloud_node/imu"] == 17
        assert counts["/tf_static"] == 1
        assert counts["/os1_node/lidar_packets"] == 206
        assert counts["/os1_node/imu_packets"] == 17
        for img in ("range", "noise", "intensity"):
            assert counts[f"/img_node/{img}_image"] == 2
        assert r.stream("/os1_node/lidar_packets").msgtype == "ouster_ros/msg/PacketMsg"
        assert isinstance(r.get("/os1_node/lidar_packets", 5).data, RosMessage)  # custom type decoded, not converted
        clouds = [m.data for m in r.read("/os1_cloud_node/points")]
        c = clouds[0]
        assert isinstance(c, PointCloud)
        assert c.frame_id == "os1_lidar"
        assert len(c) == 64 * 2048  # is_dense: nothing dropped
        assert {"reflectivity", "noise", "range"} <= set(c.fields)
        assert c.fields["range"].dtype == np.uint32
        assert c.fields["reflectivity"].dtype == np.uint16
        assert c.ring.min() == 0
        assert c.ring.max() == 63
        assert c.t_offset_ns.min() >= 0
        assert c.t_offset_ns.max() < 100_000_000
        assert (clouds[1].stamp_ns - c.stamp_ns) == pytest.approx(99.1e6, abs=0.1e6)
        assert c.stamp_ns // 10**9 == 1588075038
        # range (mm) agrees with |xyz| for returns (the driver's beam origin offset is a few cm)
        hit = c.fields["range"] > 0
        err = np.abs(np.linalg.norm(c.xyz[hit], axis=1) - c.fields["range"][hit] / 1000.0)
        assert np.median(err) < 0.05
        img = r.get("/img_node/range_image", 0).data
        assert isinstance(img, Image)
        assert img.encoding == "mono8"
        assert img.data.shape == (64, 2048)
        imu = r.imu("/os1_cloud_node/imu")
        assert len(imu) == 17
        assert imu.stamp_ns[0] // 10**9 == 1622
        assert np.linalg.norm(imu.accel.mean(axis=0)) == pytest.approx(9.8, abs=0.5)
        tree = r.tf_tree()
        T = tree.lookup("os1_sensor", "os1_imu")
        np.testing.assert_allclose(T[:3, 3], [0.006253, -0.011775, 0.007645], atol=1e-6)
        np.testing.assert_allclose(T[:3, :3], np.eye(3), atol=1e-9)
        T = tree.lookup("os1_sensor", "os1_lidar")
        np.testing.assert_allclose(T[:3, 3], [0, 0, 0.03618], atol=1e-6)
        np.testing.assert_allclose(T[:3, :3], np.diag([-1.0, -1.0, 1.0]), atol=1e-9)
        np.testing.assert_allclose(
            tree.lookup("os1_imu", "os1_lidar"),
            np.linalg.inv(T_imu_inv := tree.lookup("os1_lidar", "os1_imu")),
            atol=1e-12,
        )
        assert T_imu_inv.shape == (4, 4)


def test_fuse_info_states_the_three_time_bases_of_the_ouster_mcap(shared_data, capsys):
    from sensorfuse.pipelines.info import describe_log

    d = describe_log(shared_data / OUSTER)
    bases = d["time_bases"]
    assert len(bases) == 3
    names = [" ".join(b["clocks"]) for b in bases]
    assert any("/os1_cloud_node/imu" in n and "points" not in n for n in names)
    assert any("record time" in n and "header" not in n for n in names)
    assert any("/os1_cloud_node/points" in n for n in names)
    assert "3 unrelated time bases" in d["notes"][0]
    json.dumps(d, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def test_husky_ros1_bag(shared_data):
    with open_log(shared_data / HUSKY) as r:
        assert r.format == "ros1-bag"
        assert {t: s.count for t, s in r.streams.items()} == {
            "/imu/data": 11865,
            "/husky_velocity_controller/odom": 3952,
            "/fix": 989,
        }
        assert r.stream("/imu/data").frame_id == "imu_link"
        assert r.stream("/husky_velocity_controller/odom").frame_id == "odom"
        imu = r.imu("/imu/data")
        assert len(imu) == 11865
        g = imu.accel.mean(axis=0)
        assert abs(g[1]) == pytest.approx(9.8, abs=0.3)  # gravity on y: the IMU is mounted rotated
        assert imu.stamp_ns[0] == pytest.approx(1432235497.989e9, abs=1e6)
        fix = r.get("/fix", 0).data
        assert isinstance(fix, GnssFix)
        assert fix.time_base == "utc"
        assert fix.latitude_deg == pytest.approx(42.3758, abs=0.01)
        assert fix.longitude_deg == pytest.approx(-71.1474, abs=0.01)
        traj = r.trajectory("/husky_velocity_controller/odom")
        assert len(traj.stamp_ns) > 3900
        st = r.stats()
        assert st["/imu/data"].rate_hz == pytest.approx(30, rel=0.05)
        assert 10e6 < st["/imu/data"].latency_median_ns < 60e6  # header vs record: tens of ms
        last = list(r.read("/fix"))[-1]
        assert r.get("/fix", -1).data.stamp_ns == last.data.stamp_ns
        assert last.index == 988
        with pytest.raises(MessageIndexError):
            r.get("/fix", 989)
        with pytest.raises(TopicNotFound, match="/imu/data"):
            r.stream("/camera")


def test_nebula_db3_custom_types_open_list_and_skip(shared_data):
    root = shared_data / NEBULA
    with open_log(root / "continental_ars548" / "1708578204") as r:
        assert r.format == "ros2-db3"
        info = r.stream("/sensing/radar/front_center/nebula_packets")
        assert info.count == 2
        assert not info.decodable
        assert "types=" in info.notes[-1]
        assert list(r.read()) == []  # nothing decodable, nothing read, no error
        with pytest.raises(FormatError, match="cannot be decoded"):
            list(r.read(info.topic))
    with open_log(root / "continental_ars548" / "1708578204", types=root / "msg_definitions") as r:
        msgs = list(r.read())
        assert len(msgs) == 2
        sizes = [len(p.data) for m in msgs for p in m.data.msg.packets]
        assert sizes == [9401, 35336]
        assert msgs[0].data.stamp_ns == 1708578204199326753
        st = r.stats()[info.topic]
        assert st.latency_median_ns / 1e9 == pytest.approx(1298844.8, abs=1.0)  # re-recorded: two unrelated clocks
    with open_log(root / "continental_srr520" / "1708578209", types=root / "msg_definitions") as r:
        msgs = list(r.read())
        assert [len(m.data.msg.packets) for m in msgs] == [52, 22, 22, 1]
        assert msgs[0].data.frame_id == ""
        assert r.stats()["/sensing/radar/front_left/nebula_packets"].duplicate_stamps == 1
    vlp = root / "velodyne_vlp16" / "1673400471837873222"
    with open_log(vlp) as r:
        assert not r.stream("/velodyne_packets").decodable
    with open_log(vlp, types=VELODYNE_MSGS) as r:
        msgs = list(r.read())
        assert [len(m.data.msg.packets) for m in msgs] == [151, 151, 151, 150]
        assert msgs[-1].log_ns == 1673400472138016708
        assert (msgs[0].log_ns - msgs[0].data.stamp_ns) == pytest.approx(100.1e6, abs=0.5e6)


def test_kitti_raw_drive(shared_data):
    drive = shared_data / "kitti_raw_2011_09_26_drive_0001/2011_09_26/2011_09_26_drive_0001_sync"
    r = open_log(drive)
    first = {t: int(r.times(t)[0]) for t in r.topics()}
    assert all(s.count == 108 for s in r.streams.values())
    assert first["image_02"] % 10**9 == 961661696
    assert first["velodyne_points"] % 10**9 == 951199337
    assert first["oxts/fix"] % 10**9 == 964389445
    assert "azimuth" in r.stream("velodyne_points").point_time
    fix = r.get("oxts/fix", 0).data
    assert fix.latitude_deg == pytest.approx(49.015003823272)
    pose = r.get("oxts/pose", 0).data
    np.testing.assert_allclose(pose.T[:3, 3], 0, atol=1e-9)  # Mercator origin at the first packet
    # the missing files of this trimmed copy are reported, not silently dropped
    with pytest.raises(FormatError, match="missing"):
        r.get("image_02", 0)
    with pytest.warns(UserWarning, match="missing"):
        msgs = list(r.read(["oxts/fix", "image_02"]))
    assert len(msgs) == 1
    assert r.report.bad_records == {"image_02": 108, "oxts/fix": 107}
    # calibration as the rig: velodyne -> cam00 from calib_velo_to_cam.txt
    T = r.tf_tree().lookup("cam00", "velodyne")
    np.testing.assert_allclose(T[:3, 3], [-4.069766e-03, -7.631618e-02, -2.717806e-01], atol=1e-9)


def test_kitti_raw_written_by_the_simulator_reads_back(tmp_path):
    """The same simulated drive as KITTI raw and as MCAP: the per-point time KITTI lacks, derived from azimuth and
    timestamps_start/end, agrees with the true per-point time of the MCAP to within one LiDAR column (0.1 ms)."""
    from sensorfuse.sim import SimConfig, simulate

    runs = {
        f: simulate(tmp_path / f, SimConfig(duration_s=0.3, format=f, truth_images_every=100))
        for f in ("kitti", "mcap")
    }
    kitti, mcap = open_log(tmp_path / "kitti" / "kitti"), open_log(runs["mcap"].log)
    clouds = [m.data for m in kitti.read("velodyne_points")]
    assert len(clouds) == 3
    truth = mcap.get("/lidar/points", 1).data
    derived = clouds[1]
    assert derived.stamp_ns == truth.stamp_ns
    np.testing.assert_array_equal(derived.xyz, truth.xyz)
    err = np.abs(derived.t_offset_ns - truth.t_offset_ns)
    assert np.max(err) <= 100_000
    assert np.median(err) < 60_000
    img = kitti.get("image_00", 0).data
    assert img.data.shape[:2] == (480, 640)
    traj = kitti.trajectory("oxts/pose")
    assert len(traj.stamp_ns) == 30
    np.testing.assert_allclose(
        kitti.tf_tree().lookup("cam_front", "lidar"),
        runs["kitti"].sim_rig.rig.transform("cam_front", "lidar"),
        atol=1e-9,
    )


def test_euroc_folder(shared_data):
    root = shared_data / "euroc_v1_01_micro"
    r = open_log(root, groundtruth=root / "groundtruth_evo" / "V101_gt.txt")
    assert r.format == "euroc"
    assert r.stream("cam0").count == r.stream("cam1").count == 20
    np.testing.assert_array_equal(r.times("cam0"), r.times("cam1"))
    imu = r.imu("imu0")
    assert len(imu) == 2000
    assert imu.stamp_ns[0] == 1403715273262142976
    assert r.times("cam0")[0] == 1403715273262142976
    im = r.get("cam0", 0).data
    assert im.encoding == "mono8"
    assert im.data.shape == (480, 752)
    cam = r.cameras()["cam0"]
    assert cam.fx == pytest.approx(458.654)
    traj = r.trajectory("groundtruth")
    assert len(traj.stamp_ns) == 2895
    base = r.tf_tree().lookup("cam0", "cam1")
    assert np.linalg.norm(base[:3, 3]) == pytest.approx(0.11, abs=0.005)
    merged = [m.topic for m in r.read(["cam0", "imu0"], end_ns=int(r.times("cam0")[1]))]
    assert merged[0] in ("cam0", "imu0")
    assert merged.count("cam0") == 1


# -- bad input --------------------------------------------------------------------------------------------------


def test_truncated_mcap_delivers_what_precedes_the_damage(shared_data, tmp_path):
    data = (shared_data / OUSTER).read_bytes()
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.warns(UserWarning, match="truncated|damaged"):
        r = open_log(cut)
    n_imu = r.stream("/os1_cloud_node/imu").count
    assert 0 < n_imu < 17
    got = list(r.read("/os1_cloud_node/imu"))
    assert len(got) == n_imu
    assert any("no readable summary" in w for w in r.report.warnings)


@pytest.mark.parametrize("which", ["sim_uncompressed", "ouster_zstd"])
def test_corrupt_chunk_is_reported_and_the_rest_delivered(sample_data, shared_data, tmp_path, which):
    """Garbage over the records of one chunk (uncompressed, no CRC: rosbags' writer) or inside a zstd chunk (the
    Ouster file): that chunk's messages are counted per topic in the report, every other message is delivered."""
    src = sample_data / "sim_small" / "log" / "log.mcap" if which == "sim_uncompressed" else shared_data / OUSTER
    f = tmp_path / "log.mcap"
    shutil.copyfile(src, f)
    with open_log(f) as r0:
        chunks = r0._chunks
        total = sum(s.count for s in r0.streams.values() if s.decodable)
    k = len(chunks) // 2
    ci = chunks[k]
    records = ci.chunk_start_offset + 9 + 8 + 8 + 8 + 4 + 4 + len(ci.compression) + 8
    pos = records if which == "sim_uncompressed" else ci.chunk_start_offset + ci.chunk_length // 2
    data = bytearray(f.read_bytes())
    data[pos : pos + 64] = b"\xff" * 64
    f.write_bytes(bytes(data))
    with open_log(f) as r:
        with pytest.warns(UserWarning, match=f"chunk {k}"):
            got = list(r.read())
        lost = r.report.total_bad
        assert lost > 0
        assert len(got) + lost == total
        assert len({m.topic for m in got}) >= 3


def test_truncated_bag_is_a_clear_error(shared_data, tmp_path):
    data = (shared_data / HUSKY).read_bytes()
    cut = tmp_path / "cut.bag"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"cut\.bag"):
        open_log(cut)


def test_wrong_inputs_are_clear_errors(tmp_path, sample_data):
    with pytest.raises(FormatError, match="no such file"):
        open_log(tmp_path / "nope.bag")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="no known kind"):
        open_log(tmp_path / "empty")
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"not an mcap at all")
    with pytest.raises(FormatError, match=r"junk\.mcap"):
        open_log(junk)
    (tmp_path / "x.dat").write_bytes(b"\0" * 20)
    with pytest.raises(FormatError, match="unknown log format"):
        open_log(tmp_path / "x.dat")


SHARED_PATHS = [
    "kitti_object",
    "kitti_object_000008_mmdet3d",
    "kitti_raw_2011_09_26_drive_0001/2011_09_26/2011_09_26_drive_0001_sync",
    "kitti_raw_2011_09_26_drive_0001/2011_09_26",
    "euroc_v1_01_micro",
    "nuscenes_mini_scene0061_sample0",
    "opencv_stereo_chessboard_9x6",
    "opencalib_lidar2camera_manual",
    "opencalib_radar2camera",
    "opencalib_radar2lidar",
    "opencalib_lidar2lidar_manual",
    HUSKY,
    OUSTER,
    f"{NEBULA}/continental_ars548/1708578204",
    f"{NEBULA}/continental_srr520/1708578209",
    f"{NEBULA}/velodyne_vlp16/1673400471837873222",
    f"{NEBULA}/velodyne_vlp16/1673400472138016708.pcd",
]


@pytest.mark.parametrize("rel", SHARED_PATHS)
def test_fuse_info_runs_on_every_shared_recording(shared_data, rel):
    from typer.testing import CliRunner

    from sensorfuse.cli.info import app

    res = CliRunner().invoke(app, [str(shared_data / rel), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d.get("streams") or d.get("files") or d.get("frames") or d.get("rig")
    if rel == OUSTER:
        assert len(d["time_bases"]) == 3
        assert "3 unrelated time bases" in d["notes"][0]


def test_missing_calibration_empty_topic_and_reordered_stamps(shared_data, tmp_path, sample_data):
    """A KITTI drive without calib files reads with a warning (no transforms); an empty topic is listed with
    count 0 and reads nothing; header stamps out of order are counted by stats(), never silently sorted."""
    from sensorfuse.io.ros.writer import LogWriter
    from sensorfuse.types import ImuSamples

    drive = tmp_path / "2011_09_26" / "2011_09_26_drive_0001_sync"
    src = shared_data / "kitti_raw_2011_09_26_drive_0001/2011_09_26/2011_09_26_drive_0001_sync"
    shutil.copytree(src, drive)
    with pytest.warns(UserWarning, match="no calib"):
        r = open_log(drive)
    assert r.tf_tree().frames == []
    assert r.cameras() == {}
    assert r.stream("oxts/fix").count == 108

    log = tmp_path / "log"
    with LogWriter(log, "mcap") as w:
        for k, stamp in enumerate([0, 10, 5, 20, 30]):  # one reordered header stamp
            imu = ImuSamples(np.array([10**18 + stamp * 10**6]), np.zeros((1, 3)), np.zeros((1, 3)), "imu")
            w.write("/imu", 10**18 + k * 10**7, imu)
        w._writer.add_connection("/empty", "sensor_msgs/msg/Imu", typestore=w.typestore)
    with open_log(log) as r:
        assert r.stream("/empty").count == 0
        assert list(r.read("/empty")) == []
        with pytest.raises(MessageIndexError):
            r.get("/empty", 0)
        st = r.stats()
        assert st["/imu"].out_of_order == 1
        assert [m.stamp_ns - 10**18 for m in r.read("/imu")] == [0, 10**7, 5 * 10**6, 2 * 10**7, 3 * 10**7]


def test_corrupt_chunk_of_a_ros1_bag(shared_data, tmp_path):
    """Garbage inside one LZ4/bz2/plain chunk of the Husky bag: exactly that chunk's messages are counted per topic
    (from the bag index), every other message is delivered, and message numbers then count the readable ones."""
    from rosbags.rosbag1 import Reader

    src = shared_data / HUSKY
    with Reader(src) as rb:
        ci = rb.chunk_infos[5]
        names = {c.id: c.topic for c in rb.connections}
    data = bytearray(src.read_bytes())
    data[ci.pos + 200 : ci.pos + 264] = b"\xff" * 64
    bad = tmp_path / "bad.bag"
    bad.write_bytes(bytes(data))
    with open_log(bad) as r:
        with pytest.warns(UserWarning, match="chunk at byte"):
            got = list(r.read())
        expect_lost = {names[cid]: n for cid, n in ci.connection_counts.items()}
        assert r.report.bad_records == expect_lost
        assert len(got) == 16806 - sum(expect_lost.values())
        assert r.stream("/imu/data").count == 11865 - expect_lost["/imu/data"]
        last_imu = [m for m in got if m.topic == "/imu/data"][-1]
        assert r.get("/imu/data", -1).data.stamp_ns == last_imu.data.stamp_ns


def test_split_mcap_log_reads_as_one(sample_data, tmp_path):
    """A rosbag2 folder of two MCAP files (a split recording): one reader, counts summed, record order across the
    files, message numbers running over both."""
    from sensorfuse.io.ros.writer import LogWriter

    with open_log(sample_data / "sim_small" / "log") as src:
        msgs = list(src.read())
        counts = {t: s.count for t, s in src.streams.items()}
    half = msgs[len(msgs) // 2].log_ns
    folder = tmp_path / "split"
    folder.mkdir()
    for name, part in (("a", [m for m in msgs if m.log_ns < half]), ("b", [m for m in msgs if m.log_ns >= half])):
        with LogWriter(tmp_path / name, "mcap") as w:
            for m in part:
                w.write(m.topic, m.log_ns, m.data)
        (tmp_path / name / f"{name}.mcap").rename(folder / f"log_{name}.mcap")
    (folder / "metadata.yaml").write_text("rosbag2_bagfile_information:\n  storage_identifier: mcap\n")
    with open_log(folder) as r:
        assert type(r).__name__ == "SplitMcapReader"
        assert {t: s.count for t, s in r.streams.items()} == counts
        again = list(r.read())
        assert [(m.topic, m.log_ns, m.index) for m in again] == [(m.topic, m.log_ns, m.index) for m in msgs]
        n = counts["/lidar/points"]
        for i in (0, n // 2, n - 1):
            np.testing.assert_array_equal(
                r.get("/lidar/points", i).data.xyz, msgs_of(msgs, "/lidar/points")[i].data.xyz
            )


def msgs_of(msgs: list, topic: str) -> list:
    return [m for m in msgs if m.topic == topic]
