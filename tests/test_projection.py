"""Projection kernels (sensorfuse.geometry.projection) against the numpy reference and OpenCV, on a KITTI frame."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sensorfuse.errors import SensorfuseError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.projection import project_cloud, project_cloud_numpy

MODELS = {
    "pinhole": [],
    "brown_conrady": [-0.3, 0.12, 0.001, -0.0005, -0.02],  # KITTI-like, strong enough to fold back far off-axis
    "kannala_brandt": [0.05, -0.01, 0.002, -0.0004],
}


@pytest.fixture(scope="module")
def kitti(shared_data):
    from sensorfuse.io.kitti import read_kitti_object_calib, read_velodyne_bin

    d = shared_data / "kitti_object" / "training"
    cal = read_kitti_object_calib(d / "calib" / "000000.txt")
    cloud = read_velodyne_bin(d / "velodyne" / "000000.bin")
    T = cal.T_camrect_cam0rect(2) @ cal.T_cam0rect_velo
    return cloud.xyz, T, cal.K(2)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_kernel_equals_numpy_reference_and_opencv(kitti, model):
    import cv2

    xyz, T, K = kitti
    cam = CameraModel(K, np.array(MODELS[model], float), model, 1242, 375)
    a = project_cloud(xyz, T, cam, zbuffer=True, splat=1)
    b = project_cloud_numpy(xyz, T, cam, zbuffer=True, splat=1)
    assert a.valid.sum() > 15_000
    np.testing.assert_array_equal(a.valid, b.valid)
    np.testing.assert_allclose(a.uv[a.valid], b.uv[b.valid], atol=1e-4)
    assert np.isnan(a.uv[~a.valid]).all()
    np.testing.assert_array_equal(a.depth_image, b.depth_image)  # serial z-buffer: deterministic
    np.testing.assert_array_equal(a.visible, b.visible)
    assert 0 < a.visible.sum() < a.valid.sum()  # splat 1 hides some points behind nearer neighbours
    Pc = xyz.astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    m = a.valid
    if model == "kannala_brandt":
        uv, _ = cv2.fisheye.projectPoints(Pc[m][:, None, :], np.zeros(3), np.zeros(3), K, cam.dist)
    else:
        uv, _ = cv2.projectPoints(Pc[m], np.zeros(3), np.zeros(3), K, cam.dist)
    np.testing.assert_allclose(a.uv[m], uv[:, 0, :], atol=1e-3)
    # float32 input gives the same answer as float64 to 1e-3 px (the points are converted per point in the kernel)
    c = project_cloud(xyz.astype(np.float64), T, cam)
    np.testing.assert_allclose(c.uv[m], a.uv[m], atol=1e-3)


def test_occluded_point_is_not_visible_and_folded_points_are_masked():
    cam = CameraModel(np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]), np.array([-0.5, 0, 0, 0]),
                      "brown_conrady", 640, 480)  # fmt: skip
    pts = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 10.0], [0.0, 0.0, -3.0], [3.2, 0.0, 2.0], [np.nan, 0, 1]])
    p = project_cloud(pts, np.eye(4), cam, zbuffer=True)
    assert p.valid.tolist() == [True, True, False, False, False]  # behind; r = 1.6 beyond the fold (0.816); NaN
    assert p.visible.tolist() == [True, False, False, False, False]
    assert p.depth_image[240, 320] == 5.0
    # OpenCV folds the point at r = 1.6 back into the image (u = 96); the kernel does not
    import cv2

    uv, _ = cv2.projectPoints(pts[3:4], np.zeros(3), np.zeros(3), cam.K, cam.dist)
    assert 0 <= uv[0, 0, 0] < 640


def test_bad_input_is_a_clear_error():
    cam = CameraModel(np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]), np.zeros(0), "pinhole", 640, 480)
    with pytest.raises(SensorfuseError, match=r"\(N, 3\)"):
        project_cloud(np.zeros((4, 2)), np.eye(4), cam)
    with pytest.raises(SensorfuseError, match="dtype"):
        project_cloud(np.array([["a", "b", "c"]]), np.eye(4), cam)
    with pytest.raises(SensorfuseError, match="T_cam_src"):
        project_cloud(np.zeros((4, 3)), np.eye(3), cam)
    with pytest.raises(SensorfuseError, match="splat"):
        project_cloud(np.zeros((4, 3)), np.eye(4), cam, splat=-1)
    empty = project_cloud(np.zeros((0, 3), np.float32), np.eye(4), cam, zbuffer=True)
    assert empty.uv.shape == (0, 2)
    assert not empty.depth_image.any()
    strided = np.zeros((10, 6))[:, ::2]  # non-contiguous: fine
    strided[:, 2] = 5.0
    assert project_cloud(strided, np.eye(4), cam).valid.all()


def test_second_process_loads_the_kernels_from_the_cache():
    code = (
        "import numpy as np\n"
        "from sensorfuse.geometry import projection as p\n"
        "from sensorfuse.geometry.camera import CameraModel\n"
        "cam = CameraModel(np.array([[500., 0, 320], [0, 500, 240], [0, 0, 1]]), np.zeros(0), 'pinhole', 640, 480)\n"
        "p.project_cloud(np.ones((10, 3)), np.eye(4), cam, zbuffer=True)\n"
        "s = [p._project_kernel.stats, p._zbuffer_kernel.stats]\n"
        "print(sum(sum(x.cache_misses.values()) for x in s), sum(sum(x.cache_hits.values()) for x in s))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # fills the cache if needed
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    misses, hits = int(out[0]), int(out[1])
    assert misses == 0
    assert hits >= 2
