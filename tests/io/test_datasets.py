"""Dataset readers on the real data in ../shared/data: KITTI object (+ label_2), nuScenes tables, PCD, OpenCalib."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sensorfuse.errors import FormatError
from sensorfuse.geometry.transforms import quat_wxyz_from_matrix
from sensorfuse.io import open as open_log
from sensorfuse.io.kitti.labels import read_kitti_dontcare, read_kitti_labels, write_kitti_labels
from sensorfuse.io.nuscenes.labels import box_from_nuscenes_record, nuscenes_record_from_box
from sensorfuse.io.opencalib import read_opencalib_json, read_opencalib_radar_csv
from sensorfuse.io.pcd import read_pcd, write_pcd
from sensorfuse.types import Box3D, CompressedImage


def _inside(points: np.ndarray, box: Box3D, margin: float = 0.0) -> np.ndarray:
    local = (points - box.center) @ box.rotation  # R^T (p - c) for row vectors
    return np.all(np.abs(local) <= np.asarray(box.size) / 2 + margin, axis=1)


def test_kitti_object_labels_enclose_their_lidar_points(shared_data, tmp_path):
    """label_2 -> Box3D in the rectified camera frame; moved into the velodyne frame with the frame's calib, every
    near car box holds LiDAR points (a wrong size order, bottom-centre or rotation sign would empty them)."""
    r = open_log(shared_data / "kitti_object")
    assert r.format == "kitti-object"
    assert r.stream("velodyne").count == 4
    checked = 0
    for i in range(r.stream("label_2").count):
        rig = r.rig_for(i)
        T_velo_cam0 = rig.transform("velodyne", "cam0")
        cloud = r.get("velodyne", i).data
        for box in r.get("label_2", i).data:
            if box.label == "DontCare":
                continue
            c = T_velo_cam0[:3, :3] @ box.center + T_velo_cam0[:3, 3]
            b = Box3D(c, box.size, T_velo_cam0[:3, :3] @ box.rotation, "velodyne", 0, box.label)
            n = int(_inside(cloud.xyz, b).sum())
            assert n >= 5, (i, box, n)
            # shifted by its own length along its heading, the box holds fewer points
            shifted = Box3D(c + b.rotation[:, 0] * box.size[0], box.size, b.rotation, "velodyne", 0, box.label)
            assert int(_inside(cloud.xyz, shifted).sum()) < n
            if box.label in ("Car", "Truck") and np.linalg.norm(c) < 30:  # a turned box holds fewer points
                turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
                bt = Box3D(c, box.size, b.rotation @ turn, "velodyne", 0, box.label)
                assert int(_inside(cloud.xyz, bt).sum()) < n
            checked += 1
    assert checked >= 7  # every labelled object of the four training frames
    boxes = read_kitti_labels(shared_data / "kitti_object" / "training" / "label_2" / "000001.txt")
    write_kitti_labels(boxes, tmp_path / "l.txt")
    again = read_kitti_labels(tmp_path / "l.txt")
    for a, b in zip(boxes, again, strict=True):
        np.testing.assert_allclose(a.center, b.center, atol=0.006)
        np.testing.assert_allclose(a.rotation, b.rotation, atol=0.006)
        assert a.label == b.label
    lines = (shared_data / "kitti_object" / "training" / "label_2" / "000001.txt").read_text().splitlines()
    assert (tmp_path / "l.txt").read_text().split() == " ".join(
        ln for ln in lines if not ln.startswith("DontCare")
    ).split()
    dont = read_kitti_dontcare(shared_data / "kitti_object" / "training" / "label_2" / "000001.txt")
    assert dont.shape == (sum(ln.startswith("DontCare") for ln in lines), 4)


def _nuscenes_tables(shared: object, root: object) -> dict:
    """The official table layout, filled with the real values of the nuScenes sample's info JSON (mmdet3d boxes
    are bottom-centre (l, w, h, yaw) in the LiDAR frame; tables hold global centres, (w, l, h), wxyz quaternions).
    The info has one ego pose (at the LiDAR time); every sample_data points to it."""
    from scipy.spatial.transform import Rotation

    src = shared / "nuscenes_mini_scene0061_sample0"
    info = json.loads(next((src / "mmdet3d_originals").glob("*.json")).read_text())
    d = info["data_list"][0]
    cats = {v: k for k, v in info["metainfo"]["categories"].items()}
    tables = root / "v1.0-mini"
    tables.mkdir(parents=True)
    (root / "samples").symlink_to(src / "samples")

    def rec_from_T(T):
        T = np.asarray(T)
        return {"translation": T[:3, 3].tolist(), "rotation": quat_wxyz_from_matrix(T[:3, :3]).tolist()}

    sensor, calib, sdata = [], [], []
    t_lidar = int(d["lidar_points"]["lidar_path"].split("__")[-1].split(".")[0])
    ego = {"token": "ego0", "timestamp": t_lidar} | rec_from_T(d["ego2global"])
    chans = {
        "LIDAR_TOP": (
            d["lidar_points"]["lidar2ego"],
            [],
            "lidar",
            f"samples/LIDAR_TOP/{d['lidar_points']['lidar_path']}",
        )
    }
    for ch, im in d["images"].items():
        chans[ch] = (im["cam2ego"], im["cam2img"], "camera", f"samples/{ch}/{im['img_path']}")
    for ch, (T, K, mod, fn) in chans.items():
        sensor.append({"token": f"s_{ch}", "channel": ch, "modality": mod})
        calib.append({"token": f"c_{ch}", "sensor_token": f"s_{ch}", "camera_intrinsic": K} | rec_from_T(T))
        ts = int(fn.split("__")[-1].split(".")[0])
        sdata.append(
            {
                "token": f"sd_{ch}",
                "sample_token": "smp0",
                "ego_pose_token": "ego0",
                "calibrated_sensor_token": f"c_{ch}",
                "timestamp": ts,
                "filename": fn,
                "fileformat": fn.split(".")[-1],
                "is_key_frame": True,
                "height": 900 if mod == "camera" else 0,
                "width": 1600 if mod == "camera" else 0,
                "prev": "",
                "next": "",
            }
        )
    T_global_lidar = np.asarray(d["ego2global"]) @ np.asarray(d["lidar_points"]["lidar2ego"])
    anns = []
    for k, inst in enumerate(d["instances"]):
        x, y, z, dx, dy, dz, yaw = inst["bbox_3d"]
        c = T_global_lidar @ np.array([x, y, z + dz / 2, 1.0])
        R = T_global_lidar[:3, :3] @ Rotation.from_euler("z", yaw).as_matrix()
        anns.append(
            {
                "token": f"a{k}",
                "sample_token": "smp0",
                "instance_token": f"i{k}",
                "translation": c[:3].tolist(),
                "size": [dy, dx, dz],
                "rotation": quat_wxyz_from_matrix(R).tolist(),
                "num_lidar_pts": inst["num_lidar_pts"],
                "category_name": cats.get(inst["bbox_label_3d"], "ignore"),
            }
        )
    out = {
        "sensor": sensor,
        "calibrated_sensor": calib,
        "ego_pose": [ego],
        "sample_data": sdata,
        "sample_annotation": anns,
        "sample": [{"token": "smp0", "timestamp": t_lidar, "scene_token": "sc0", "prev": "", "next": ""}],
        "scene": [{"token": "sc0", "name": "scene-0061", "first_sample_token": "smp0"}],
    }
    for name, rows in out.items():
        (tables / f"{name}.json").write_text(json.dumps(rows))
    return d


def test_nuscenes_tables_from_the_real_sample(shared_data, tmp_path):
    d = _nuscenes_tables(shared_data, tmp_path)
    r = open_log(tmp_path)
    assert r.format == "nuscenes"
    assert set(r.topics()) == {*d["images"], "LIDAR_TOP", "ego_pose"}
    cloud = r.get("LIDAR_TOP", 0).data
    assert len(cloud) == 34688
    assert cloud.ring.max() < 32
    img = r.get("CAM_FRONT", 0).data
    assert isinstance(img, CompressedImage)
    assert img.stamp_ns == 1532402927612460000
    assert img.decode().data.shape == (900, 1600, 3)
    cam = r.cameras()["CAM_FRONT"]
    np.testing.assert_allclose(cam.K, d["images"]["CAM_FRONT"]["cam2img"], atol=1e-9)
    tree = r.tf_tree()
    t = int(r.times("LIDAR_TOP")[0])
    np.testing.assert_allclose(tree.lookup("ego", "CAM_FRONT"), d["images"]["CAM_FRONT"]["cam2ego"], atol=1e-6)
    T_lidar_global = tree.lookup("LIDAR_TOP", "global", t)
    boxes = r.boxes(r.samples[0])
    assert len(boxes) == len(d["instances"]) == 69
    agree = 0
    for box, inst in zip(boxes, d["instances"], strict=True):
        c = T_lidar_global[:3, :3] @ box.center + T_lidar_global[:3, 3]
        x, y, z, dx, dy, dz, yaw = inst["bbox_3d"]
        np.testing.assert_allclose(c, [x, y, z + dz / 2], atol=1e-4)
        np.testing.assert_allclose(box.size, [dx, dy, dz], atol=1e-9)
        lb = Box3D(c, box.size, T_lidar_global[:3, :3] @ box.rotation, "LIDAR_TOP", t, box.label)
        assert (
            abs(lb.yaw - yaw) % (2 * np.pi) == pytest.approx(0, abs=1e-6) or abs(abs(lb.yaw - yaw) - 2 * np.pi) < 1e-6
        )
        n = int(_inside(cloud.xyz, lb).sum())
        if inst["num_lidar_pts"] >= 20:  # well-hit boxes: points inside, and fewer once turned by 90 degrees
            turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
            turned = Box3D(c, box.size, lb.rotation @ turn, "LIDAR_TOP", t, box.label)
            assert n > 0.3 * inst["num_lidar_pts"]
            agree += n > int(_inside(cloud.xyz, turned).sum())
        rec = nuscenes_record_from_box(box)
        back = box_from_nuscenes_record(rec)
        np.testing.assert_allclose(back.rotation, box.rotation, atol=1e-12)
    # nuScenes' num_lidar_pts is about twice what one keyframe sweep holds here, so it is not compared exactly
    assert agree == sum(inst["num_lidar_pts"] >= 20 for inst in d["instances"]) > 3


def test_pcd_files_of_every_encoding(shared_data, tmp_path):
    c, dropped, desc = read_pcd(shared_data / "opencalib_lidar2camera_manual" / "0.pcd")  # ascii
    assert len(c) == 78238
    assert dropped == 0
    assert desc == ""
    c, _, desc = read_pcd(shared_data / "opencalib_lidar2lidar_manual" / "p64.pcd")  # binary_compressed
    assert len(c) == 77547
    assert "absolute seconds" in desc
    assert c.ring is not None
    assert c.t_offset_ns.min() == 0
    assert 0.09e9 < c.t_offset_ns.max() < 0.11e9  # one 10 Hz sweep
    q, _, _ = read_pcd(shared_data / "opencalib_lidar2lidar_manual" / "qt.pcd")  # binary
    assert len(q) == 12414
    v, _, desc = read_pcd(shared_data / "nebula_ros2_db3_radar_lidar_packets/velodyne_vlp16/1673400472138016708.pcd")
    assert len(v) == 14831
    assert set(v.fields) >= {"return_type", "azimuth", "elevation", "distance"}
    assert v.ring.min() == 1
    assert v.ring.max() == 15
    np.testing.assert_allclose(np.linalg.norm(v.xyz, axis=1), v.fields["distance"], atol=0.02)
    for compressed in (True, False):
        write_pcd(c, tmp_path / f"c{compressed}.pcd", compressed=compressed)
        back, _, _ = read_pcd(tmp_path / f"c{compressed}.pcd", stamp_ns=c.stamp_ns)
        np.testing.assert_array_equal(back.xyz, c.xyz)
        np.testing.assert_array_equal(back.t_offset_ns, c.t_offset_ns)
        np.testing.assert_array_equal(back.ring, c.ring)
    cut = tmp_path / "cut.pcd"
    data = (shared_data / "opencalib_lidar2lidar_manual" / "p64.pcd").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"cut\.pcd"):
        read_pcd(cut)


def test_opencalib_radar_csv_and_json(shared_data):
    scans = read_opencalib_radar_csv(shared_data / "opencalib_radar2lidar" / "front_radar.csv")
    assert sum(len(s) for s in scans) == 575
    assert scans[0].stamp_ns == 1604546789520803072
    assert scans[0].velocity is not None
    delphi = read_opencalib_radar_csv(shared_data / "opencalib_radar2lidar" / "front_radar_delphi.csv")
    assert delphi[0].stamp_ns == 1602494819460425984
    assert np.isnan(delphi[0].rcs).all()
    (ext,) = read_opencalib_json(
        shared_data / "opencalib_radar2lidar" / "front_radar-to-top_center_lidar-extrinsic.json"
    )
    assert (ext.sensor, ext.target) == ("front_radar", "top_center_lidar")
    np.testing.assert_allclose(ext.T_target_source[:3, 3], [2.2728, 0.47596, -1.06])
    (intr,) = read_opencalib_json(shared_data / "opencalib_radar2camera" / "center_camera-intrinsic.json")
    assert intr.camera.size == (1920, 1200)
    assert intr.camera.fx == pytest.approx(2117.87)


def test_nuscenes_radar_pcd(shared_data, tmp_path):
    """A RADAR_FRONT .pcd in nuScenes' layout (18 fields, binary; written here with pypcd4 — ../shared/data has no
    real one): positions, Doppler from the raw velocity, compensated velocity and RCS reach the RadarScan."""
    from pypcd4 import PointCloud as Pcd

    _nuscenes_tables(shared_data, tmp_path)
    names = (
        "x",
        "y",
        "z",
        "dyn_prop",
        "id",
        "rcs",
        "vx",
        "vy",
        "vx_comp",
        "vy_comp",
        "is_quality_valid",
        "ambig_state",
        "x_rms",
        "y_rms",
        "invalid_state",
        "pdh0",
        "vx_rms",
        "vy_rms",
    )
    types = (np.float32,) * 3 + (np.int8, np.int16) + (np.float32,) * 5 + (np.int8,) * 8
    n = 5
    vals = {k: np.zeros(n, t) for k, t in zip(names, types, strict=True)}
    vals["x"][:] = [10, 20, 30, 40, 50]
    vals["y"][:] = [0, 5, -5, 0, 1]
    vals["vx"][:] = [-2, 0, 1, 3, 0]
    vals["vy"][:] = [0, 1, 0, 0, 0]
    vals["vx_comp"][:] = [0.5, 0, 0, 0, 0]
    vals["rcs"][:] = [5, 6, 7, 8, 9]
    pcd = Pcd.from_points([vals[k] for k in names], names, types)
    ts = 1532402927650000
    rel = f"radar_samples/RADAR_FRONT/radar__RADAR_FRONT__{ts}.pcd"
    (tmp_path / "radar_samples" / "RADAR_FRONT").mkdir(parents=True)
    pcd.save(tmp_path / rel)
    tables = tmp_path / "v1.0-mini"
    for name, row in (
        ("sensor", {"token": "s_RF", "channel": "RADAR_FRONT", "modality": "radar"}),
        (
            "calibrated_sensor",
            {
                "token": "c_RF",
                "sensor_token": "s_RF",
                "camera_intrinsic": [],
                "translation": [3.4, 0, 0.5],
                "rotation": [1, 0, 0, 0],
            },
        ),
        (
            "sample_data",
            {
                "token": "sd_RF",
                "sample_token": "smp0",
                "ego_pose_token": "ego0",
                "calibrated_sensor_token": "c_RF",
                "timestamp": ts,
                "filename": rel,
            },
        ),
    ):
        rows = [*json.loads((tables / f"{name}.json").read_text()), row]
        (tables / f"{name}.json").write_text(json.dumps(rows))
    r = open_log(tmp_path)
    scan = r.get("RADAR_FRONT", 0).data
    assert len(scan) == n
    np.testing.assert_allclose(scan.xyz[:, 0], vals["x"])
    expect = (vals["x"] * vals["vx"] + vals["y"] * vals["vy"]) / np.hypot(vals["x"], vals["y"])
    np.testing.assert_allclose(scan.doppler, expect, rtol=1e-6)
    np.testing.assert_allclose(scan.rcs, vals["rcs"])
    np.testing.assert_allclose(scan.velocity[:, 0], vals["vx_comp"])
    np.testing.assert_allclose(r.tf_tree().lookup("ego", "RADAR_FRONT")[:3, 3], [3.4, 0, 0.5])
    assert r.stream("RADAR_FRONT").kind == "radar"
