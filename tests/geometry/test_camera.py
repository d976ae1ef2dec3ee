"""Camera models against OpenCV, on the real intrinsics of the sample datasets."""

import json

import cv2
import numpy as np
import pytest
from conftest import KB_TYPICAL, RATIONAL

from sensorfuse.errors import ValidationError
from sensorfuse.geometry import CameraModel, project_points
from sensorfuse.io import read_euroc_sensor_yaml, read_kitti_object_calib, read_kitti_raw_calib, read_opencv_camera_yaml


def _real_cameras(sample_data):
    cams = {}
    _, _, cam, _, _ = read_euroc_sensor_yaml(sample_data / "calibration/euroc_v1_01/mav0/cam0/sensor.yaml")
    cams["euroc_cam0"] = cam
    raw = read_kitti_raw_calib(sample_data / "calibration/kitti_raw_2011_09_26")
    for i, c in enumerate(raw.cameras):
        cams[f"kitti_raw_cam0{i}"] = c.camera_model()
    obj = read_kitti_object_calib(sample_data / "kitti_object/training/calib/000001.txt")
    cams["kitti_P2"] = CameraModel(obj.K(2), [], "pinhole", 1242, 375)
    info = json.loads(
        (sample_data / "calibration/nuscenes_scene0061/n015-2018-07-24-11-22-45+0800_info.json").read_text()
    )
    for ch, im in info["data_list"][0]["images"].items():
        cams[f"nuscenes_{ch}"] = CameraModel(im["cam2img"], [], "pinhole", 1600, 900)
    cams["opencv_left"] = read_opencv_camera_yaml(sample_data / "calibration/opencv_chessboard/left_intrinsics.yml")
    cams["kb_typical"] = KB_TYPICAL
    cams["rational_synthetic"] = RATIONAL
    return cams


@pytest.fixture(scope="module")
def cameras(sample_data):
    return _real_cameras(sample_data)


CAMERA_NAMES = [
    "euroc_cam0",
    *(f"kitti_raw_cam0{i}" for i in range(4)),
    "kitti_P2",
    *(
        f"nuscenes_{c}"
        for c in ("CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")
    ),
    "opencv_left",
    "kb_typical",
    "rational_synthetic",
]


def _pixel_grid(cam, step=4.0):
    u, v = np.meshgrid(np.arange(-0.5, cam.width - 0.5, step), np.arange(-0.5, cam.height - 0.5, step))
    return np.stack([u.ravel(), v.ravel()], axis=1)


def _cv2_project(cam, P):
    if cam.model == "kannala_brandt":
        uv, _ = cv2.fisheye.projectPoints(P.reshape(1, -1, 3), np.zeros(3), np.zeros(3), cam.K, cam.dist)
    else:
        uv, _ = cv2.projectPoints(P, np.zeros(3), np.zeros(3), cam.K, cam.dist if cam.dist.size else None)
    return uv.reshape(-1, 2)


@pytest.mark.parametrize("name", CAMERA_NAMES)
def test_project_matches_opencv(cameras, name, rng):
    cam = cameras[name]
    # points seen anywhere in the image, at depths 0.5 .. 80 m, plus points just outside the image border
    rays, ok = cam.unproject(_pixel_grid(cam, 16.0))
    P = rays[ok] * rng.uniform(0.5, 80.0, (int(ok.sum()), 1))
    # OpenCV's fisheye model folds rays beyond 90 degrees (z <= 0); compare where it is defined
    P = P[P[:, 2] > 0]
    assert P.shape[0] > 100
    uv, valid = cam.project(P)
    assert valid.all()
    np.testing.assert_allclose(uv, _cv2_project(cam, P), rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", CAMERA_NAMES)
def test_unproject_round_trip_over_the_image(cameras, name):
    cam = cameras[name]
    uv = _pixel_grid(cam, 2.0)
    rays, ok = cam.unproject(uv)
    # Every pixel round-trips, except where the calibrated model itself cannot produce the pixel: KITTI raw
    # cam03's distortion turns back at r_d = 0.8268 while its extreme corners sit at r_d = 0.828 .. 0.833.
    assert ok.mean() > 0.9999, f"{(~ok).sum()} pixels of {name} could not be unprojected"
    if not ok.all():
        r_max = cam.max_undistorted_radius
        num = 1 + r_max**2 * (cam._bc[0] + r_max**2 * (cam._bc[1] + r_max**2 * cam._bc[4]))
        r_d_max = r_max * num  # largest distorted radius the radial model reaches
        bad = uv[~ok]
        r_d = np.hypot((bad[:, 0] - cam.cx) / cam.fx, (bad[:, 1] - cam.cy) / cam.fy)
        assert (r_d > 0.995 * r_d_max).all(), "a pixel inside the model's range failed to unproject"
    np.testing.assert_allclose(np.linalg.norm(rays[ok], axis=1), 1.0, atol=1e-12)
    back, valid = cam.project(rays[ok] * 7.0)
    assert valid.all()
    assert np.abs(back - uv[ok]).max() < 1e-4


def test_strong_distortion_masks_instead_of_folding():
    cam = CameraModel([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], [-0.5, 0.0, 0.0, 0.0], "brown_conrady", 640, 480)
    # r_d = r - 0.5 r^3 turns back at r = sqrt(2/3)
    assert cam.max_undistorted_radius == pytest.approx(np.sqrt(2 / 3), abs=1e-3)
    wide = np.array([[2.0, 0.0, 1.0], [0.3, 0.2, 1.0], [1.0, 1.0, 1.0]])  # 63 deg, 20 deg, 55 deg off-axis
    uv, valid = cam.project(wide)
    assert valid.tolist() == [False, True, False]
    assert np.isnan(uv[0]).all()
    # OpenCV folds the 63-degree point back into the image (r_d = 2 - 4 = -2 -> x = 320 - 1000 < 0 ... check)
    ref = _cv2_project(cam, wide[:1])
    folded_inside = cam.in_image(_cv2_project(cam, np.array([[1.2, 0.0, 1.0]])))
    assert folded_inside[0], "OpenCV maps this 50-degree point back into the image; we must not"
    assert np.isfinite(ref).all()
    _uv2, valid2 = cam.project(np.array([[1.2, 0.0, 1.0]]))
    assert not valid2[0]
    # pixels that the model can never produce do not unproject
    rays, ok = cam.unproject(np.array([[320.0 + 500 * 0.6, 240.0]]))  # r_d = 0.6 > max r_d = 0.544
    assert not ok[0]
    assert np.isnan(rays[0]).all()


def test_fisheye_sees_behind_90_degrees_but_masks_past_its_range():
    cam = KB_TYPICAL
    assert cam.max_undistorted_radius > np.radians(100)
    behind = np.array([[1.0, 0.0, -0.2]])  # 101 degrees off-axis
    uv, valid = cam.project(behind)
    assert valid[0]
    rays, _ok = cam.unproject(uv)
    np.testing.assert_allclose(rays[0], behind[0] / np.linalg.norm(behind[0]), atol=1e-9)
    strong = CameraModel(cam.K, [-0.3, 0.0, 0.0, 0.0], "kannala_brandt", 848, 800)  # theta_d turns back at 60 deg
    assert strong.max_undistorted_radius == pytest.approx(np.sqrt(1 / 0.9), abs=1e-3)
    _, valid = strong.project(np.array([[np.tan(np.radians(70)), 0.0, 1.0]]))
    assert not valid[0]


def test_behind_the_camera_is_masked_for_perspective_models(cameras):
    for name in ("kitti_raw_cam00", "nuscenes_CAM_FRONT"):
        _uv, valid = cameras[name].project(np.array([[0.1, 0.1, -5.0], [0.0, 0.0, 0.0], [0.1, 0.1, 5.0]]))
        assert valid.tolist() == [False, False, True]


def test_project_points_from_lidar(sample_data):
    obj = read_kitti_object_calib(sample_data / "kitti_object/training/calib/000001.txt")
    cam = CameraModel(obj.K(2), [], "pinhole", 1242, 375)
    T_cam2_velo = obj.T_camrect_cam0rect(2) @ obj.T_cam0rect_velo
    pts = np.array([[10.0, 0.0, -1.0], [-10.0, 0.0, 0.0], [10.0, 50.0, 0.0]])
    uv, depth, mask = project_points(pts, T_cam2_velo, cam)
    assert mask.tolist() == [True, False, False]
    ref = obj.velo_to_image(2) @ np.append(pts[0], 1.0)
    np.testing.assert_allclose(uv[0], ref[:2] / ref[2], atol=1e-9)
    assert depth[0] == pytest.approx(ref[2], abs=1e-9)  # P2 = K [I | t]: its third row gives cam2's z


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"K": np.eye(2)}, r"K: expected shape \(3, 3\)"),
        ({"K": [[500, 0, 320], [0, 500, 240], [0, 0, np.nan]]}, r"K: contains 1 NaN"),
        ({"K": [[-500, 0, 320], [0, 500, 240], [0, 0, 1]]}, r"focal lengths must be positive"),
        ({"dist": [0.1, 0.2, 0.3]}, r"takes 4 or 5 or 8 coefficients, got 3"),
        ({"model": "pinhole", "dist": [0.1, 0, 0, 0, 0]}, r"pinhole model has no distortion"),
        ({"model": "omnidir"}, r"camera model 'omnidir' is not supported"),
        ({"width": 0}, r"width: expected a positive integer"),
        ({"height": 480.5}, r"height: expected a positive integer"),
    ],
)
def test_camera_model_refuses_bad_input(kwargs, match):
    args = {
        "K": [[500, 0, 320], [0, 500, 240], [0, 0, 1]],
        "dist": [0.0] * 5,
        "model": "brown_conrady",
        "width": 640,
        "height": 480,
    }
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match):
        CameraModel(**args)


def test_project_refuses_bad_shapes():
    cam = CameraModel([[500, 0, 320], [0, 500, 240], [0, 0, 1]], [], "pinhole", 640, 480)
    with pytest.raises(ValidationError, match=r"points_cam: expected shape \(N, 3\)"):
        cam.project(np.zeros((5, 2)))
    with pytest.raises(ValidationError, match=r"uv: expected shape \(N, 2\)"):
        cam.unproject(np.zeros(4))
    with pytest.raises(ValidationError, match=r"T_cam_src"):
        project_points(np.zeros((1, 3)), np.eye(3), cam)
    # NaN points are masked, not an error: they can come from organised clouds
    _uv, valid = cam.project(np.array([[np.nan, 0, 1.0], [0, 0, 1.0]]))
    assert valid.tolist() == [False, True]
