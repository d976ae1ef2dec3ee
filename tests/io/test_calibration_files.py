"""Calibration formats: round trips against the real files (sample_data copies of ../shared/data)."""

import json

import numpy as np
import pytest
from conftest import KB_TYPICAL, RATIONAL

import sensorfuse.io as sio
from sensorfuse.errors import FormatError
from sensorfuse.geometry import CameraModel, invert_transform, project_points, transform_difference

KITTI_CALIB = "kitti_object/training/calib/000001.txt"
KITTI_RAW = "calibration/kitti_raw_2011_09_26"
EUROC = "calibration/euroc_v1_01/mav0"
NUSC_INFO = "calibration/nuscenes_scene0061/n015-2018-07-24-11-22-45+0800_info.json"


def _assert_object_calib_equal(a, b, atol=0.0):
    for name in ("P", "R0_rect", "Tr_velo_to_cam", "Tr_imu_to_velo"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=atol, err_msg=name)


def test_kitti_object_calib_round_trips(sample_data, tmp_path):
    calib = sio.read_kitti_object_calib(sample_data / KITTI_CALIB)
    assert calib.P2[0, 0] == 721.5377
    # file -> file
    back = sio.read_kitti_object_calib(sio.write_kitti_object_calib(calib, tmp_path / "calib.txt"))
    _assert_object_calib_equal(back, calib)
    # file -> rig -> rig file -> rig -> KITTI calib
    rig = sio.rig_from_kitti_object_calib(calib, (1242, 375))
    rig2 = sio.load_rig(sio.save_rig(rig, tmp_path / "rig.yaml"))
    _assert_object_calib_equal(sio.kitti_object_calib_from_rig(rig2), calib, atol=1e-12)
    # the rig's chain is the KITTI projection chain
    M = calib.velo_to_image(2)
    X = np.array([[12.0, -1.5, -0.8], [30.0, 4.0, 0.5]])
    ref = (M @ np.c_[X, np.ones(2)].T).T
    uv, _, mask = project_points(X, rig2.transform("cam2", "velodyne"), rig2.sensor("cam2").camera)
    assert mask.all()
    np.testing.assert_allclose(uv, ref[:, :2] / ref[:, 2:], atol=1e-9)


def test_kitti_raw_calib_round_trips_and_matches_object_calib(sample_data, tmp_path):
    raw = sio.read_kitti_raw_calib(sample_data / KITTI_RAW)
    assert raw.cameras[2].D.tolist() == [-0.3691481, 0.1968681, 0.001353473, 0.0005677587, -0.06770705]
    back = sio.read_kitti_raw_calib(sio.write_kitti_raw_calib(raw, tmp_path / "day"))
    for a, b in zip(raw.cameras, back.cameras, strict=True):
        for f in ("S", "K", "D", "R", "T", "S_rect", "R_rect", "P_rect"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    np.testing.assert_array_equal(back.T_cam00_velo, raw.T_cam00_velo)
    assert back.calib_time == raw.calib_time
    # SOURCE.md: P_rect_02 == P2, R_rect_00 == R0_rect, velo_to_cam == Tr_velo_to_cam, imu_to_velo == Tr_imu_to_velo
    _assert_object_calib_equal(raw.to_object_calib(), sio.read_kitti_object_calib(sample_data / KITTI_CALIB))
    rig = sio.rig_from_kitti_raw_calib(raw)
    obj_rig = sio.rig_from_kitti_object_calib(raw.to_object_calib(), (1242, 375))
    np.testing.assert_allclose(rig.transform("cam2", "velodyne"), obj_rig.transform("cam2", "velodyne"), atol=1e-12)
    # unrectified cam02 sits ~6 cm from cam00 (T_02) and the camera keeps its distortion
    assert np.linalg.norm(rig.transform("cam02", "cam00")[:3, 3]) == pytest.approx(0.0597, abs=1e-3)
    assert rig.sensor("cam02").camera.model == "brown_conrady"


def test_kitti_calib_errors(tmp_path, sample_data):
    text = (sample_data / KITTI_CALIB).read_text()
    p = tmp_path / "bad.txt"
    p.write_text(text.replace("R0_rect:", "R0rect:"))
    with pytest.raises(FormatError, match=r"bad.txt: missing key 'R0_rect'"):
        sio.read_kitti_object_calib(p)
    p.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("P1")) + "\nP1: 1 2 3\n")
    with pytest.raises(FormatError, match=r"P1 has 3 values, expected 12"):
        sio.read_kitti_object_calib(p)
    p.write_text(text.replace("Tr_velo_to_cam: 7.533745000000e-03", "Tr_velo_to_cam: 2.533745000000e-01"))
    with pytest.raises(FormatError, match=r"Tr_velo_to_cam \(rotation block\) is not orthonormal"):
        sio.read_kitti_object_calib(p)
    with pytest.raises(FormatError, match=r"not found"):
        sio.read_kitti_object_calib(tmp_path / "none.txt")
    with pytest.raises(FormatError, match=r"not a directory"):
        sio.read_kitti_raw_calib(tmp_path / "nope")


def test_velodyne_bin(sample_data, tmp_path):
    cloud = sio.read_velodyne_bin(sample_data / "kitti_object/training/velodyne/000001.bin", stamp_ns=7)
    assert len(cloud) == 120268
    back = sio.read_velodyne_bin(sio.write_velodyne_bin(cloud, tmp_path / "x.bin"), stamp_ns=7)
    np.testing.assert_array_equal(back.xyz, cloud.xyz)
    np.testing.assert_array_equal(back.intensity, cloud.intensity)
    (tmp_path / "trunc.bin").write_bytes(
        (sample_data / "kitti_object/training/velodyne/000001.bin").read_bytes()[:1000]
    )
    with pytest.raises(FormatError, match=r"1000 bytes is not a whole number of 16-byte points"):
        sio.read_velodyne_bin(tmp_path / "trunc.bin")


@pytest.mark.parametrize("source", ["euroc", "opencv", "kb", "rational"])
def test_camera_info_yaml_round_trip(sample_data, tmp_path, source):
    if source == "euroc":
        _, _, cam, _, _ = sio.read_euroc_sensor_yaml(sample_data / EUROC / "cam0/sensor.yaml")
    elif source == "opencv":
        cam = sio.read_opencv_camera_yaml(sample_data / "calibration/opencv_chessboard/left_intrinsics.yml")
    elif source == "kb":
        cam = KB_TYPICAL
    else:
        cam = RATIONAL
    p = sio.write_camera_info_yaml(cam, tmp_path / "cam.yaml", camera_name="cam0")
    info = sio.read_camera_info_yaml(p)
    expected_model = {
        "euroc": "plumb_bob",
        "opencv": "plumb_bob",
        "kb": "equidistant",
        "rational": "rational_polynomial",
    }[source]
    assert f"distortion_model: {expected_model}" in p.read_text()
    assert info.camera_name == "cam0"
    assert info.camera.model == cam.model
    np.testing.assert_array_equal(info.camera.K, cam.K)
    n = cam.dist.size
    np.testing.assert_array_equal(info.camera.dist[:n], cam.dist)
    assert not info.camera.dist[n:].any()  # a 4-coefficient radtan is padded with k3 = 0
    np.testing.assert_array_equal(info.P[:, :3], cam.K)


def test_camera_info_yaml_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [1, 2, 3]}\n")
    with pytest.raises(FormatError, match=r"camera_matrix should be 3x3"):
        sio.read_camera_info_yaml(p)
    p.write_text("image_width: 640\ncamera_matrix: {rows: 3, cols: 3, data: [1, 0, 3, 0, 1, 2, 0, 0, 1]}\n")
    with pytest.raises(FormatError, match=r"missing key 'image_height'"):
        sio.read_camera_info_yaml(p)
    p.write_text(
        "image_width: 640\nimage_height: 480\ncamera_matrix: {rows: 3, cols: 3, data: [1, 0, 3, 0, 1, 2, 0, 0, 1]}\n"
        "distortion_model: fov\ndistortion_coefficients: {rows: 1, cols: 1, data: [0.1]}\n"
    )
    with pytest.raises(FormatError, match=r"camera model 'fov' is not supported"):
        sio.read_camera_info_yaml(p)


def test_opencv_camera_yaml(sample_data, tmp_path):
    cam = sio.read_opencv_camera_yaml(sample_data / "calibration/opencv_chessboard/left_intrinsics.yml")
    assert cam.fx == pytest.approx(535.9157, abs=1e-4)
    assert cam.cy == pytest.approx(235.5708, abs=1e-4)
    assert (cam.width, cam.height, cam.dist.size) == (640, 480, 5)
    back = sio.read_opencv_camera_yaml(sio.write_opencv_camera_yaml(cam, tmp_path / "c.yml"))
    assert back.equals(cam)


def test_euroc_and_kalibr_camchain_round_trip(sample_data, tmp_path):
    rig = sio.rig_from_euroc(sample_data / EUROC)
    assert rig.sensor_names == ["cam0", "cam1", "imu0"]
    assert rig.sensor("imu0").noise["gyroscope_noise_density"] == 1.6968e-04
    cam0 = rig.sensor("cam0").camera
    assert (cam0.fx, cam0.fy, cam0.cx, cam0.cy) == (458.654, 457.296, 367.215, 248.375)
    # stereo baseline ~ 0.11 m (SOURCE.md)
    assert np.linalg.norm(rig.transform("cam1", "cam0")[:3, 3]) == pytest.approx(0.110, abs=0.001)
    path = sio.write_kalibr_camchain(rig, tmp_path / "camchain-imucam.yaml", imu="imu0")
    chain = sio.read_kalibr_camchain(path)
    np.testing.assert_allclose(chain["cam0"]["T_cam_imu"], invert_transform(rig.transform("body", "cam0")), atol=1e-12)
    back = sio.rig_from_kalibr_camchain(path, imu_name="imu0")
    for cam in ("cam0", "cam1"):
        assert back.sensor(cam).camera.equals(rig.sensor(cam).camera)
        deg, m = transform_difference(back.transform(cam, "imu0"), rig.transform(cam, "imu0"))
        assert deg < 1e-9
        assert m < 1e-12
    assert back.reference_clock == "imu0"


def test_kalibr_refuses_unsupported_models(tmp_path):
    p = tmp_path / "camchain.yaml"
    p.write_text("cam0:\n  camera_model: omni\n  intrinsics: [1, 2, 3, 4, 5]\n  resolution: [640, 480]\n")
    with pytest.raises(FormatError, match=r"camera_model 'omni' is not supported"):
        sio.read_kalibr_camchain(p)


@pytest.fixture(scope="module")
def nuscenes_info(sample_data):
    return json.loads((sample_data / NUSC_INFO).read_text())["data_list"][0]


def _records_from_info(info):
    """calibrated_sensor records built from the real values of the sample (the official tables are not available)."""
    recs = {
        ch: sio.calibrated_sensor_record(np.array(im["cam2ego"]), CameraModel(im["cam2img"], [], "pinhole", 1600, 900))
        for ch, im in info["images"].items()
    }
    recs["LIDAR_TOP"] = sio.calibrated_sensor_record(np.array(info["lidar_points"]["lidar2ego"]))
    return recs


def test_nuscenes_calibrated_sensor_round_trip(nuscenes_info):
    recs = _records_from_info(nuscenes_info)
    for ch, im in nuscenes_info["images"].items():
        np.testing.assert_allclose(sio.transform_from_nuscenes_record(recs[ch]), im["cam2ego"], atol=1e-7)
        assert recs[ch]["rotation"][0] >= 0  # (w, x, y, z), w first
    rig = sio.rig_from_nuscenes_calibrated_sensors(recs)
    back = sio.nuscenes_records_from_rig(rig)
    for ch, rec in recs.items():
        np.testing.assert_allclose(back[ch]["translation"], rec["translation"], atol=1e-12)
        np.testing.assert_allclose(back[ch]["rotation"], rec["rotation"], atol=1e-12)
        np.testing.assert_allclose(back[ch]["camera_intrinsic"] or np.zeros(0), rec["camera_intrinsic"] or np.zeros(0))
    with pytest.raises(FormatError, match=r"missing key 'rotation'"):
        sio.transform_from_nuscenes_record({"token": "x", "translation": [0, 0, 0]})


def test_nuscenes_lidar_projects_into_every_camera(nuscenes_info, shared_data):
    """SOURCE.md: 3.0k-4.8k LiDAR points fall into each camera image."""
    rig = sio.rig_from_nuscenes_calibrated_sensors(_records_from_info(nuscenes_info))
    pcd = next((shared_data / "nuscenes_mini_scene0061_sample0/samples/LIDAR_TOP").glob("*.pcd.bin"))
    pts = np.fromfile(pcd, dtype=np.float32).reshape(-1, 5)[:, :3]
    assert pts.shape[0] == 34688
    for ch in nuscenes_info["images"]:
        _, depth, mask = project_points(pts, rig.transform(ch, "LIDAR_TOP"), rig.sensor(ch).camera)
        mask &= depth > 1.0  # nuscenes-devkit's min_dist
        assert 2800 <= mask.sum() <= 5000, (ch, int(mask.sum()))
