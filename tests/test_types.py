import numpy as np
import pytest

from sensorfuse.errors import FormatError, SensorfuseError, ValidationError
from sensorfuse.types import Box2D, Box3D, CompressedImage, GnssFix, Image, ImuSamples, PointCloud, RadarScan


def test_point_cloud_converts_and_validates():
    xyz = np.arange(12, dtype=np.float64).reshape(4, 3)
    pc = PointCloud(xyz, stamp_ns=5, frame_id="velodyne", intensity=[1, 2, 3, 4], t_offset_ns=np.array([0, 1, 2, 3]))
    assert pc.xyz.dtype == np.float32
    assert pc.intensity.dtype == np.float32
    assert pc.t_offset_ns.dtype == np.int64
    np.testing.assert_array_equal(pc.point_stamps_ns, [5, 6, 7, 8])
    assert len(pc) == 4
    with pytest.raises(AttributeError):
        pc.stamp_ns = 3  # frozen


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"xyz": np.zeros((4, 2))}, r"xyz: expected shape \(N, 3\), got \(4, 2\)"),
        ({"xyz": np.array([[0, 0, np.nan]])}, r"xyz: contains 1 NaN"),
        ({"xyz": np.zeros((2, 3), dtype=np.int32)}, r"xyz: expected a numeric array \(floating point\)"),
        ({"intensity": np.zeros(3)}, r"intensity: expected 2 values \(one per point\), got 3"),
        ({"t_offset_ns": np.zeros(2)}, r"t_offset_ns: expected integers"),
        ({"stamp_ns": 1.5}, r"stamp_ns: expected an integer number of nanoseconds"),
        ({"frame_id": 3}, r"frame_id: expected a frame name"),
        ({"fields": {"doppler": np.zeros(5)}}, r"fields\['doppler'\]: expected 2 rows"),
    ],
)
def test_point_cloud_refuses_bad_input(kwargs, match):
    args = {"xyz": np.zeros((2, 3)), "stamp_ns": 0, "frame_id": "lidar"}
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match):
        PointCloud(**args)


def test_image_encodings():
    img = Image(np.zeros((4, 6, 3), np.uint8), "rgb8", 0, "cam")
    assert (img.width, img.height) == (6, 4)
    Image(np.zeros((4, 6), np.float32), "32FC1", 0, "cam")
    Image(np.zeros((4, 6), np.uint16), "bayer_rggb16", 0, "cam")
    with pytest.raises(ValidationError, match=r"encoding 'rgb8' needs dtype uint8, got uint16"):
        Image(np.zeros((4, 6, 3), np.uint16), "rgb8", 0, "cam")
    with pytest.raises(ValidationError, match=r"needs 3 channel\(s\), got shape \(4, 6\)"):
        Image(np.zeros((4, 6), np.uint8), "bgr8", 0, "cam")
    with pytest.raises(ValidationError, match=r"encoding 'yuv422' is not supported"):
        Image(np.zeros((4, 6), np.uint8), "yuv422", 0, "cam")


def test_compressed_image_decodes_and_reports_corruption(sample_data):
    data = (sample_data / "kitti_object/training/image_2/000001.png").read_bytes()
    ci = CompressedImage(data, "png", 10, "cam2")
    img = ci.decode()
    assert (img.width, img.height, img.encoding) == (1242, 375, "bgr8")
    assert CompressedImage(data, "bgr8; jpeg compressed bgr8", 0, "c").format == "jpeg"
    with pytest.raises(FormatError, match=r"could not be decoded: corrupt or truncated"):
        CompressedImage(data[:100], "png", 10, "cam2").decode()
    with pytest.raises(ValidationError, match=r"expected jpeg or png"):
        CompressedImage(data, "tiff", 0, "c")


def test_imu_radar_gnss():
    imu = ImuSamples(np.array([1, 2, 3]), np.zeros((3, 3)), np.ones((3, 3)), "imu")
    assert len(imu) == 3
    with pytest.raises(ValidationError, match=r"stamp_ns: must be sorted ascending; element 2 \(1\) follows 3"):
        ImuSamples(np.array([2, 3, 1]), np.zeros((3, 3)), np.zeros((3, 3)), "imu")
    with pytest.raises(ValidationError, match=r"gyro: expected shape \(3, 3\)"):
        ImuSamples(np.array([1, 2, 3]), np.zeros((2, 3)), np.zeros((3, 3)), "imu")
    with pytest.raises(ValidationError, match=r"unit norm"):
        ImuSamples(np.array([1]), np.zeros((1, 3)), np.zeros((1, 3)), "imu", orientation_xyzw=[[0, 0, 0, 2.0]])
    r = RadarScan(np.zeros((2, 3)), [1.0, -1.0], [5.0, 6.0], 0, "radar", velocity=np.zeros((2, 2)))
    assert r.doppler.dtype == np.float32
    with pytest.raises(ValidationError, match=r"doppler: expected shape \(2,\)"):
        RadarScan(np.zeros((2, 3)), [1.0], [5.0, 6.0], 0, "radar")
    GnssFix(0, 49.0, 8.4, 110.0, "gps")
    with pytest.raises(ValidationError, match=r"out of range"):
        GnssFix(0, 91.0, 8.4, 110.0, "gps")
    with pytest.raises(ValidationError, match=r"time_base"):
        GnssFix(0, 1.0, 1.0, 1.0, "gps", time_base="tai")


def test_box3d_corners_and_yaw():
    b = Box3D.from_yaw([1.0, 2.0, 0.5], [4.0, 2.0, 1.0], np.pi / 2, frame_id="velodyne", stamp_ns=0, label="Car")
    assert b.yaw == pytest.approx(np.pi / 2)
    c = b.corners()
    assert c.shape == (8, 3)
    np.testing.assert_allclose(c.mean(axis=0), b.center)
    # the box's x axis (length 4) now points along +y of the frame
    np.testing.assert_allclose(np.ptp(c, axis=0), [2.0, 4.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(c[:4, 2], 0.0)  # bottom face first
    with pytest.raises(ValidationError, match=r"size: \(l, w, h\) must be non-negative"):
        Box3D.from_yaw([0, 0, 0], [-1, 1, 1], 0.0, frame_id="v", stamp_ns=0, label="Car")
    with pytest.raises(ValidationError, match=r"rotation .*not orthonormal"):
        Box3D([0, 0, 0], [1, 1, 1], np.eye(3) * 2, "v", 0, "Car")
    with pytest.raises(ValidationError, match=r"truncation"):
        Box3D([0, 0, 0], [1, 1, 1], np.eye(3), "v", 0, "Car", truncation=1.5)


def test_box2d_iou():
    a = Box2D(0, 0, 10, 10, "cam2", 0, "Car")
    b = Box2D(5, 0, 15, 10, "cam2", 0, "Car")
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(Box2D(20, 20, 30, 30, "cam2", 0, "Car")) == 0.0
    with pytest.raises(ValidationError, match=r"out of order"):
        Box2D(10, 0, 0, 10, "cam2", 0, "Car")
    assert issubclass(ValidationError, SensorfuseError)
    assert issubclass(ValidationError, ValueError)
