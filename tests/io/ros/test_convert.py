"""ROS message conversion: camera info models, image encodings, poses, /tf, radar_msgs — written with rosbags into
ROS1 and ROS2 logs, read back through sensorfuse.io.open."""

from __future__ import annotations

import numpy as np
import pytest

from sensorfuse.geometry.transforms import transform_from
from sensorfuse.io import CameraInfo, Odometry
from sensorfuse.io import open as open_log
from sensorfuse.io.messages import TransformStamped
from sensorfuse.io.ros.log import base_typestore
from sensorfuse.io.ros.writer import LogWriter
from sensorfuse.types import Image, RadarScan

T0 = 1_700_000_000_000_000_000


def _rot_z(deg: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("z", deg, degrees=True).as_matrix()


def _camera_info(w: LogWriter, model: str, d: list[float]) -> object:
    T = w.typestore.types
    names = ("D", "K", "R", "P") if w.ros1 else ("d", "k", "r", "p")
    K = np.array([500.0, 0, 320, 0, 505.0, 240, 0, 0, 1])
    P = np.array([500.0, 0, 320, 0, 0, 505.0, 240, 0, 0, 0, 1, 0])
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    kw = dict(zip(names, (np.array(d), K, np.eye(3).ravel(), P), strict=True))
    return T["sensor_msgs/msg/CameraInfo"](
        header=w._header(T0, "cam"),
        height=480,
        width=640,
        distortion_model=model,
        binning_x=0,
        binning_y=0,
        roi=roi,
        **kw,
    )


@pytest.mark.parametrize("fmt", ["bag", "mcap"])
def test_message_kinds_round_trip(tmp_path, fmt, rng):
    path = tmp_path / ("log.bag" if fmt == "bag" else "log")
    images = {
        "rgb8": rng.integers(0, 255, (4, 6, 3), dtype=np.uint8),
        "mono16": rng.integers(0, 65535, (4, 6), dtype=np.uint16),
        "32FC1": rng.random((4, 6)).astype(np.float32),
        "bayer_rggb8": rng.integers(0, 255, (4, 6), dtype=np.uint8),
    }
    with LogWriter(path, fmt) as w:
        T = w.typestore.types
        models = {
            "plumb_bob": [-0.2, 0.05, 0.001, -0.001, 0.01],
            "rational_polynomial": [-0.2, 0.05, 0.001, -0.001, 0.01, 0.1, 0.02, 0.003],
            "equidistant": [0.1, -0.02, 0.003, -0.0004],
        }
        for k, (model, d) in enumerate(models.items()):
            w.write_ros(f"/cam_{model}/camera_info", T0 + k, "sensor_msgs/msg/CameraInfo", _camera_info(w, model, d))
        for k, (enc, arr) in enumerate(images.items()):
            w.write(f"/img/{enc}", T0 + k, Image(arr, enc, T0 + k, "cam"))
        # big-endian mono16 with a padded row (step 16 for 6 pixels)
        be = images["mono16"].astype(">u2")
        padded = np.zeros((4, 16), np.uint8)
        padded[:, :12] = be.view(np.uint8).reshape(4, 12)
        msg = T["sensor_msgs/msg/Image"](
            header=w._header(T0, "cam"),
            height=4,
            width=6,
            encoding="mono16",
            is_bigendian=1,
            step=16,
            data=padded.ravel(),
        )
        w.write_ros("/img/be", T0 + 9, "sensor_msgs/msg/Image", msg)
        # PoseStamped and a moving /tf
        for k in range(5):
            pose = T["geometry_msgs/msg/Pose"](
                position=T["geometry_msgs/msg/Point"](x=float(k), y=0.0, z=0.0),
                orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
            )
            w.write_ros(
                "/pose",
                T0 + k * 10**8,
                "geometry_msgs/msg/PoseStamped",
                T["geometry_msgs/msg/PoseStamped"](header=w._header(T0 + k * 10**8, "map"), pose=pose),
            )
            tf = TransformStamped(T0 + k * 10**8, "odom", "base_link", transform_from(_rot_z(10 * k), [k, 0, 0]))
            w.write("/tf", T0 + k * 10**8, [tf])
        w.write("/tf_static", T0, [TransformStamped(T0, "base_link", "lidar", transform_from(np.eye(3), [1, 0, 2]))])
    with open_log(path) as r:
        cams = r.cameras()
        assert cams["/cam_plumb_bob/camera_info"].model == "brown_conrady"
        assert cams["/cam_rational_polynomial/camera_info"].dist.size == 8
        kb = cams["/cam_equidistant/camera_info"]
        assert kb.model == "kannala_brandt"
        assert kb.fy == 505.0
        info = r.get("/cam_plumb_bob/camera_info", 0).data
        assert isinstance(info, CameraInfo)
        assert info.P.shape == (3, 4)
        for enc, arr in images.items():
            img = r.get(f"/img/{enc}", 0).data
            assert img.encoding == enc
            np.testing.assert_array_equal(img.data, arr)
        np.testing.assert_array_equal(r.get("/img/be", 0).data.data, images["mono16"])
        traj = r.trajectory("/pose")
        assert traj.world_frame == "map"
        np.testing.assert_allclose(traj.T_world_body[:, 0, 3], np.arange(5.0))
        assert isinstance(r.get("/pose", 0).data, Odometry)
        tree = r.tf_tree()
        T_mid = tree.lookup("odom", "lidar", T0 + 150_000_000)  # between the samples at 0.1 s and 0.2 s
        expect = transform_from(_rot_z(15), [1.5, 0, 0]) @ transform_from(np.eye(3), [1, 0, 2])
        np.testing.assert_allclose(T_mid, expect, atol=1e-9)


def test_radar_msgs_radarscan(tmp_path):
    from rosbags.typesys import get_types_from_msg

    from sensorfuse.io.ros.convert import RADAR_MSGS

    with LogWriter(tmp_path / "log", "mcap") as w:
        for name, text in RADAR_MSGS.items():
            w.typestore.register(get_types_from_msg(text, name))
        T = w.typestore.types
        ret = [
            T["radar_msgs/msg/RadarReturn"](
                range=10.0, azimuth=np.pi / 2, elevation=0.0, doppler_velocity=-3.0, amplitude=12.0
            )
        ]
        msg = T["radar_msgs/msg/RadarScan"](header=w._header(T0, "radar"), returns=ret)
        w.write_ros("/radar", T0, "radar_msgs/msg/RadarScan", msg)
    assert "radar_msgs/msg/RadarScan" in base_typestore(False).types
    with open_log(tmp_path / "log") as r:
        scan = r.get("/radar", 0).data
        assert isinstance(scan, RadarScan)
        np.testing.assert_allclose(scan.xyz, [[0, 10, 0]], atol=1e-5)
        assert scan.doppler[0] == -3.0
        assert r.stream("/radar").kind == "radar"
