"""PointCloud2 of any layout -> PointCloud (vectorised), and the transform tree."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfuse.errors import ExtrapolationError, FormatError, TransformError
from sensorfuse.geometry.tf_tree import TransformTree
from sensorfuse.geometry.transforms import transform_from
from sensorfuse.io.ros.pointcloud2 import PointFieldSpec, decode_cloud, layout_from_fields, point_time_from_azimuth

STAMP = 1_700_000_000_500_000_000


def _pack(columns: dict[str, np.ndarray], *, big: bool = False, pad: int = 0, gap: int = 0):
    """Records with ``gap`` unnamed bytes after each field and ``pad`` at the end of each point."""
    order = ">" if big else "<"
    names, formats, offsets, specs, off = [], [], [], [], 0
    for k, v in columns.items():
        dt = np.dtype(order + v.dtype.str[1:])
        names.append(k), formats.append(dt), offsets.append(off)
        specs.append(PointFieldSpec(k, off, v.dtype.str[1:]))
        off += dt.itemsize + gap
    dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": off + pad})
    n = len(next(iter(columns.values())))
    arr = np.zeros(n, dtype)
    for k, v in columns.items():
        arr[k] = v
    return arr.tobytes(), specs, dtype.itemsize


@pytest.fixture
def pts(rng):
    n = 1000
    return {
        "x": rng.normal(size=n).astype(np.float32) * 10,
        "y": rng.normal(size=n).astype(np.float32) * 10,
        "z": rng.normal(size=n).astype(np.float32),
        "intensity": rng.uniform(0, 255, n).astype(np.float32),
        "ring": rng.integers(0, 32, n).astype(np.uint16),
    }


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize(("gap", "pad"), [(0, 0), (0, 2), (4, 12), (1, 3)])
def test_any_layout_gives_the_same_cloud(pts, big, gap, pad):
    t = np.arange(1000, dtype=np.uint32) * 100_000
    cols = {c: pts[c] for c in ("x", "y", "z", "intensity")} | {"t": t, "ring": pts["ring"]}  # t 4-byte aligned
    data, specs, step = _pack(cols, big=big, gap=gap, pad=pad)
    layout = layout_from_fields(specs, step, big_endian=big)
    cloud, dropped, desc = decode_cloud(layout, data, width=1000, stamp_ns=STAMP, frame_id="l")
    assert dropped == 0
    assert desc.startswith("t (uint32)")
    np.testing.assert_array_equal(cloud.xyz, np.stack([pts["x"], pts["y"], pts["z"]], 1))
    np.testing.assert_array_equal(cloud.intensity, pts["intensity"])
    np.testing.assert_array_equal(cloud.ring, pts["ring"])
    np.testing.assert_array_equal(cloud.t_offset_ns, t.astype(np.int64))
    # packed little-endian float32 x, y, z in 4-byte aligned points: a zero-copy view of the message; else one copy
    assert np.shares_memory(cloud.xyz, np.frombuffer(data, np.uint8)) == (gap == 0 and not big and step % 4 == 0)


def test_nan_points_of_an_organised_cloud_are_dropped_counted_and_indexed(pts):
    cols = dict(pts)
    cols["x"] = cols["x"].copy()
    cols["x"][[3, 500, 999]] = np.nan
    data, specs, step = _pack(cols)
    # organised 10 x 100, each row padded by 8 bytes
    rows = np.frombuffer(data, np.uint8).reshape(10, 100 * step)
    padded = np.hstack([rows, np.full((10, 8), 7, np.uint8)]).tobytes()
    cloud, dropped, _ = decode_cloud(
        layout_from_fields(specs, step),
        padded,
        width=100,
        height=10,
        row_step=100 * step + 8,
        stamp_ns=STAMP,
        frame_id="l",
    )
    assert dropped == 3
    assert len(cloud) == 997
    keep = np.setdiff1d(np.arange(1000), [3, 500, 999])
    np.testing.assert_array_equal(cloud.fields["index"], keep)
    np.testing.assert_array_equal(cloud.xyz[:, 1], pts["y"][keep])


@pytest.mark.parametrize(
    ("columns", "expect"),
    [
        ({"time": np.linspace(-0.1, 0.0, 5).astype(np.float32)}, "seconds relative"),
        ({"timestamp": (STAMP / 1e9 + np.linspace(0, 0.1, 5)).astype(np.float64)}, "absolute seconds"),
        ({"timestamp": (STAMP + np.arange(5) * 20_000_000).astype(np.float64)}, "absolute ns"),
        ({"offset_time": (np.arange(5) * 20_000_000).astype(np.uint32)}, "ns relative"),
        (
            {
                "t_sec": np.full(5, STAMP // 10**9, np.uint32),
                "t_nsec": (STAMP % 10**9 + np.arange(5) * 1000).astype(np.uint32),
            },
            "absolute time (s + ns)",
        ),
    ],
)
def test_per_point_time_variants(columns, expect):
    xyz = {c: np.arange(5, dtype=np.float32) for c in "xyz"}
    data, specs, step = _pack(xyz | columns)
    cloud, _, desc = decode_cloud(layout_from_fields(specs, step), data, width=5, stamp_ns=STAMP, frame_id="l")
    assert expect in desc
    if "time" in columns:
        expected = np.rint(columns["time"].astype(np.float64) * 1e9).astype(np.int64)
    elif "t_sec" in columns:
        expected = np.arange(5) * 1000
    elif "offset_time" in columns or columns["timestamp"][0] > 1e15:
        expected = np.arange(5) * 20_000_000
    else:
        expected = np.rint(np.linspace(0, 0.1, 5) * 1e9).astype(np.int64)
    np.testing.assert_allclose(cloud.t_offset_ns, expected, atol=1000)  # float64 epoch seconds: < 1 us


def test_corrupt_layouts_are_clear_errors():
    with pytest.raises(FormatError, match="runs past"):
        layout_from_fields(
            [PointFieldSpec("x", 0, "f4"), PointFieldSpec("y", 4, "f4"), PointFieldSpec("z", 8, "f8")], 12
        )
    with pytest.raises(FormatError, match="no z"):
        layout_from_fields([PointFieldSpec("x", 0, "f4"), PointFieldSpec("y", 4, "f4")], 8)
    layout = layout_from_fields([PointFieldSpec(c, 4 * i, "f4") for i, c in enumerate("xyz")], 12)
    with pytest.raises(FormatError, match="truncated"):
        decode_cloud(layout, b"\0" * 100, width=10, stamp_ns=0, frame_id="l")


def test_point_time_from_azimuth_runs_clockwise_from_the_back():
    xyz = np.array([[-1, 1e-6, 0], [0, 1, 0], [1, 0, 0], [0, -1, 0], [-1, -1e-6, 0]], np.float32)
    t = point_time_from_azimuth(xyz, 1000, 2000)
    np.testing.assert_array_equal(t, [1000, 1250, 1500, 1750, 2000])


def test_ros_pointcloud2_big_endian_padded_radar_through_an_mcap(tmp_path, pts):
    """Write PointCloud2 messages of our own layout with the rosbags typestore, read them back with sensorfuse."""
    from sensorfuse.io import open as open_log
    from sensorfuse.io.ros.writer import LogWriter
    from sensorfuse.types import RadarScan

    cols = {c: pts[c] for c in "xyz"} | {"doppler": pts["intensity"] / 10, "rcs": pts["z"] * 3}
    data, specs, step = _pack(cols, big=True, pad=6)
    with LogWriter(tmp_path / "log", "mcap") as w:
        T = w.typestore.types
        hdr = w._header(STAMP, "radar")
        fields = [T["sensor_msgs/msg/PointField"](name=s.name, offset=s.offset, datatype=7, count=1) for s in specs]
        msg = T["sensor_msgs/msg/PointCloud2"](
            header=hdr,
            height=1,
            width=1000,
            fields=fields,
            is_bigendian=True,
            point_step=step,
            row_step=step * 1000,
            data=np.frombuffer(data, np.uint8),
            is_dense=True,
        )
        w.write_ros("/radar", STAMP + 5, "sensor_msgs/msg/PointCloud2", msg)
    with open_log(tmp_path / "log") as r:
        assert r.stream("/radar").kind == "radar"
        scan = r.get("/radar", 0).data
        assert isinstance(scan, RadarScan)
        assert scan.frame_id == "radar"
        np.testing.assert_array_equal(scan.xyz, np.stack([pts["x"], pts["y"], pts["z"]], 1))
        np.testing.assert_array_equal(scan.doppler, cols["doppler"])
        np.testing.assert_array_equal(scan.rcs, cols["rcs"])


# -- transform tree ---------------------------------------------------------------------------------------------


def _rot_z(deg: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("z", deg, degrees=True).as_matrix()


def test_tf_tree_static_dynamic_and_errors():
    tree = TransformTree()
    T_base_lidar = transform_from(_rot_z(90), [1.0, 0.0, 2.0])
    T_base_cam = transform_from(_rot_z(-30), [0.5, 0.2, 1.5])
    tree.add_static("base", "lidar", T_base_lidar)
    tree.add_static("base", "cam", T_base_cam)
    stamps = np.array([0, 1_000_000_000], np.int64)
    tree.add_dynamic(
        "odom", "base", stamps, [transform_from(_rot_z(0), [0, 0, 0]), transform_from(_rot_z(90), [10, 0, 0])]
    )
    np.testing.assert_allclose(tree.lookup("cam", "lidar"), np.linalg.inv(T_base_cam) @ T_base_lidar, atol=1e-12)
    mid = tree.lookup("odom", "lidar", 500_000_000)
    expect = transform_from(_rot_z(45), [5, 0, 0]) @ T_base_lidar
    np.testing.assert_allclose(mid, expect, atol=1e-12)
    with pytest.raises(TransformError, match="stamp_ns"):
        tree.lookup("odom", "lidar")
    with pytest.raises(ExtrapolationError):
        tree.lookup("odom", "lidar", 2_000_000_000)
    np.testing.assert_allclose(tree.lookup("odom", "base", 1_000_000_100, tolerance_ns=1000)[:3, 3], [10, 0, 0])
    with pytest.raises(TransformError, match="unknown frame 'radar'"):
        tree.lookup("radar", "lidar")
    tree.add_static("map", "gps", np.eye(4))
    with pytest.raises(TransformError, match="no transform chain"):
        tree.lookup("gps", "lidar")
    with pytest.raises(TransformError, match="already has parent"):
        tree.add_static("map", "lidar", np.eye(4))
