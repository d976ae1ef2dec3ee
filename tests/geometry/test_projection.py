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
    from sensorfuse.io.kitti.calib import read_kitti_object_calib
    from sensorfuse.io.kitti.velodyne import read_velodyne_bin

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
    a = project_cloud(xyz.astype(np.float64), T, cam, zbuffer=True, splat=1)  # the float64 kernel
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
    # float32 points (the KITTI cloud as read): the projection in float32 arithmetic, within 1e-3 px of the float64
    # reference (measured 2e-4 px), the same points kept
    c = project_cloud(xyz, T, cam, zbuffer=True, splat=1)
    np.testing.assert_array_equal(c.valid, b.valid)
    np.testing.assert_allclose(c.uv[m], b.uv[m], atol=1e-3)
    np.testing.assert_allclose(c.uv[m], uv[:, 0, :], atol=1e-3)
    np.testing.assert_allclose(c.depth, b.depth, atol=1e-4)
    assert (c.visible != b.visible).mean() < 1e-3
    near = np.isclose(c.depth_image, b.depth_image, rtol=1e-5, atol=0)
    assert near.mean() > 0.999  # the rest: a point 2e-4 px from a pixel border, on the other side
    again = project_cloud(xyz, T, cam, zbuffer=True, splat=1)  # parallel projection, serial z-buffer: deterministic
    np.testing.assert_array_equal(again.depth_image, c.depth_image)
    np.testing.assert_array_equal(again.visible, c.visible)
    # a large translation (float32 points in a world frame): the transform runs in float64, nothing cancels
    far = np.eye(4)
    far[:3, 3] = [5000.0, -3000.0, 20.0]
    w = (xyz.astype(np.float64) - far[:3, 3]).astype(np.float32)  # the cloud moved into a "world" frame
    d = project_cloud(w, T @ far, cam)
    ref = project_cloud_numpy(w, T @ far, cam)
    np.testing.assert_array_equal(d.valid, ref.valid)
    np.testing.assert_allclose(d.uv[d.valid], ref.uv[ref.valid], atol=1e-3)


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
        "s = [k.stats for k in (p._project_kernel, p._zbuffer_kernel)]\n"
        "print(sum(sum(x.cache_misses.values()) for x in s), sum(sum(x.cache_hits.values()) for x in s))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # fills the cache if needed
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    misses, hits = int(out[0]), int(out[1])
    assert misses == 0
    assert hits >= 2


def test_kitti_label_boxes_project_onto_their_2d_boxes_and_hold_their_points(shared_data):
    """label_2 3D boxes -> 2D boxes with the frame's calibration: mean IoU with the labelled 2D boxes >= 0.8 on every
    labelled frame; points in the boxes (velodyne frame) as the numpy reference finds them."""
    from sensorfuse.geometry.projection import box_to_image, points_in_boxes, points_in_boxes_numpy
    from sensorfuse.io.kitti.calib import read_kitti_object_calib
    from sensorfuse.io.kitti.labels import read_kitti_labels
    from sensorfuse.io.kitti.velodyne import read_velodyne_bin
    from sensorfuse.types import Box2D, Box3D

    d = shared_data / "kitti_object" / "training"
    frames = sorted(p.stem for p in (d / "label_2").glob("*.txt"))
    assert len(frames) >= 4
    for fr in frames:
        cal = read_kitti_object_calib(d / "calib" / f"{fr}.txt")
        cam = CameraModel(cal.K(2), np.zeros(0), "pinhole", 1242, 375)
        T = cal.T_camrect_cam0rect(2)
        boxes = read_kitti_labels(d / "label_2" / f"{fr}.txt")
        ious = []
        for b in boxes:
            _, clip = box_to_image(b.corners() @ T[:3, :3].T + T[:3, 3], cam)
            lab = Box2D(*b.attributes["bbox_2d"], "cam2", 0, b.label)
            ious.append(0.0 if clip is None else Box2D(*clip, "cam2", 0, b.label).iou(lab))
        assert np.mean(ious) >= 0.8, (fr, ious)
        T_vc = np.linalg.inv(cal.T_cam0rect_velo)
        vb = [Box3D(T_vc[:3, :3] @ b.center + T_vc[:3, 3], b.size, T_vc[:3, :3] @ b.rotation, "velodyne", 0, b.label)
              for b in boxes]  # fmt: skip
        xyz = read_velodyne_bin(d / "velodyne" / f"{fr}.bin").xyz
        first, counts = points_in_boxes(xyz, vb)
        ref_first, ref_counts = points_in_boxes_numpy(xyz, vb)
        np.testing.assert_array_equal(first, ref_first)
        np.testing.assert_array_equal(counts, ref_counts)
        assert (counts > 0).all()


def test_box_partly_behind_the_camera_is_clipped_at_the_near_plane():
    from sensorfuse.geometry.projection import box_to_image
    from sensorfuse.types import Box3D

    cam = CameraModel(np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]), np.zeros(0), "pinhole", 640, 480)
    # a 4 m long box along the optical axis from z = -1 to z = 3, offset to the right: only its front part is seen
    R = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])  # box x, y, z -> camera z, -x, -y
    box = Box3D([1.0, 0.0, 1.0], [4.0, 1.0, 1.0], R, frame_id="cam", stamp_ns=0, label="car")
    corners = box.corners()  # x in [0.5, 1.5], z in [-1, 3]
    _, clip = box_to_image(corners, cam)
    assert clip is not None
    assert clip[0] > 320  # the box is right of the axis: it never jumps to the left half
    assert clip[2] == pytest.approx(639.5)  # and runs out of the image on the right (truncated)
    # every corner behind the camera: nothing
    assert box_to_image(corners - [0, 0, 10.0], cam) == (None, None)


def test_colourise_paints_only_visible_points():
    from sensorfuse.geometry.projection import colourise, sample_bilinear

    cam = CameraModel(np.array([[100.0, 0, 31.5], [0, 100, 23.5], [0, 0, 1]]), np.zeros(0), "pinhole", 64, 48)
    img = np.zeros((48, 64, 3), np.uint8)
    img[..., 2] = 255  # red in BGR
    pts = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 9.0], [0.3, 0.0, 9.0]])  # the second is behind the first
    colours, which = colourise(pts, [(np.eye(4), cam, img)])
    assert which.tolist() == [0, -1, 0]
    assert colours[0].tolist() == [0.0, 0.0, 255.0]
    assert np.isnan(colours[1]).all()
    # a second camera beside the first sees the hidden point
    T2 = np.eye(4)
    T2[0, 3] = -2.0
    img2 = np.full((48, 64, 3), 7, np.uint8)
    colours, which = colourise(pts, [(np.eye(4), cam, img), (T2, cam, img2)])
    assert which.tolist() == [0, 1, 0]
    assert colours[1].tolist() == [7.0, 7.0, 7.0]
    # bilinear: exact on a linear ramp
    ramp = np.tile(np.arange(64, dtype=np.float32), (48, 1))
    s = sample_bilinear(ramp, np.array([[10.25, 5.5], [0.0, 0.0], [63.0, 47.0]]))
    np.testing.assert_allclose(s[:, 0], [10.25, 0.0, 63.0])
    with pytest.raises(SensorfuseError, match="image is"):
        colourise(pts, [(np.eye(4), cam, np.zeros((10, 10, 3), np.uint8))])


def _devkit_map_pointcloud_to_image(xyz, lidar2cam, K, width, height, min_dist=1.0):
    """nuscenes-devkit ``NuScenes.map_pointcloud_to_image``, its documented steps: points lidar -> ego (sweep time)
    -> global -> ego (camera time) -> camera (here one matrix: mmdet3d's ``lidar2cam`` is that chain through the
    global frame), ``view_points(..., normalize=True)``, keep ``depth > min_dist`` and ``1 < u < W - 1``,
    ``1 < v < H - 1``."""
    pc = lidar2cam[:3, :3] @ xyz.T.astype(np.float64) + lidar2cam[:3, 3:4]
    depths = pc[2]
    pts = K @ pc
    pts = pts[:2] / pts[2:3]
    mask = (depths > min_dist) & (pts[0] > 1) & (pts[0] < width - 1) & (pts[1] > 1) & (pts[1] < height - 1)
    return pts.T, mask


def test_nuscenes_lidar_onto_six_cameras_matches_the_float64_chain_and_the_devkit(shared_data):
    import json

    root = shared_data / "nuscenes_mini_scene0061_sample0"
    info = json.loads(next((root / "mmdet3d_originals").glob("*_info.json")).read_text())["data_list"][0]
    xyz = np.fromfile(next((root / "samples" / "LIDAR_TOP").glob("*.pcd.bin")), np.float32).reshape(-1, 5)[:, :3]
    lidar2ego = np.array(info["lidar_points"]["lidar2ego"])
    shifts = []
    for ch, im in info["images"].items():
        K = np.array(im["cam2img"])[:3, :3]
        cam = CameraModel(K, np.zeros(0), "pinhole", 1600, 900)
        rigid = np.linalg.inv(np.array(im["cam2ego"])) @ lidar2ego  # mount chain, one instant
        p = project_cloud(xyz, rigid, cam)
        assert 2500 < p.valid.sum() < 6000, ch
        h = (K @ rigid[:3]) @ np.c_[xyz.astype(np.float64), np.ones(len(xyz))].T  # float64 K @ T_cam_lidar
        np.testing.assert_allclose(p.uv[p.valid], (h[:2] / h[2]).T[p.valid], atol=1e-3)
        # the devkit's chain through the global frame (ego poses at sweep and exposure times): same kept points
        # once its 1 m / 1 px rules are applied to ours, pixels within 0.05 px
        l2c = np.array(im["lidar2cam"])
        q = project_cloud(xyz, l2c, cam)
        uv_dev, keep_dev = _devkit_map_pointcloud_to_image(xyz, l2c, K, 1600, 900)
        u, v = q.uv[:, 0], q.uv[:, 1]
        with np.errstate(invalid="ignore"):
            ours = q.valid & (q.depth > 1.0) & (u > 1) & (u < 1599) & (v > 1) & (v < 899)
        np.testing.assert_array_equal(ours, keep_dev)
        np.testing.assert_allclose(q.uv[ours], uv_dev[ours], atol=0.05)
        both = ours & p.valid
        shifts.append(np.abs(q.uv[both] - p.uv[both]).max())
    # the 0.5-43 ms between sweep and exposures moves near points by tens of pixels (up to ~135 px for CAM_FRONT_LEFT,
    # 43 ms): ignoring the time step is not an option
    assert max(shifts) > 20.0
