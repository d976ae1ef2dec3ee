"""Targetless LiDAR -> camera refinement on the six KITTI frames of the 2011_09_26 calibration day in ../shared/data
(training 000001, 000003, 000004; testing 000000-000002), from the official calibration perturbed by up to 2 deg and
10 cm."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sensorfuse.calibration.lidar_camera import AXES, WEAK_AXIS_RISE, edge_frame, refine_targetless
from sensorfuse.errors import CalibrationError
from sensorfuse.geometry.transforms import se3_exp, transform_difference
from sensorfuse.pipelines.calib import kitti_targetless_inputs


@pytest.fixture(scope="module")
def kitti(shared_data):
    from sensorfuse.io.kitti.calib import read_kitti_object_calib

    root = shared_data / "kitti_object"
    init = read_kitti_object_calib(root / "training" / "calib" / "000001.txt")
    frames, camera, T_pre, notes = kitti_targetless_inputs(root, init)
    return frames, camera, T_pre, init.Tr_velo_to_cam, notes


def _perturbed(X, rng):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    t = rng.normal(size=3)
    t /= np.linalg.norm(t)
    return se3_exp(np.r_[axis * np.radians(rng.uniform(0, 2.0)), t * rng.uniform(0, 0.10)]) @ X


def test_the_six_frames_of_the_calibration_day(kitti):
    frames, camera, _, _, notes = kitti
    assert sorted(f.name for f in frames) == [
        "testing/000000", "testing/000001", "testing/000002", "training/000001", "training/000003", "training/000004",
    ]  # fmt: skip
    assert any("training/000000" in n for n in notes)  # another day's calibration: left out, and said
    assert (camera.width, camera.height) == (1242, 375)


@pytest.mark.slow
def test_kitti_seeded_trials(kitti):
    """Rotation: within 0.3 deg in at least 8 of 10 seeded trials (the issue's goal; measured: 10 of 10, 0.148-0.156
    deg). Translation: the goal of 5 cm is NOT met: across and up (camera x, y) the result is within 2 cm, but along
    the optical axis these six frames put the camera further back than the official calibration (measured 4.3-5.5 cm
    in all; 1 of 10 within 5 cm; the cost is flat there, with a second minimum at the official value; see
    docs/calibration.md). This test holds what is achieved, so a regression fails it. The profile interval along the
    optical axis covers the spread between the starts."""
    frames, camera, T_pre, X_true, _ = kitti
    rng = np.random.default_rng(2026)
    rot, lateral, total, refused = [], [], [], 0
    tz, tz_interval = [], []
    for _ in range(10):
        try:
            res = refine_targetless(frames, camera, _perturbed(X_true, rng), T_pre=T_pre)
        except CalibrationError:  # no clear minimum: refused, counted as a failed trial
            refused += 1
            continue
        dr, dt = transform_difference(res.X, X_true)
        d = res.X[:3, 3] - X_true[:3, 3]
        tz.append(res.X[2, 3])
        tz_interval.append(res.axis_interval["tz"])
        rot.append(dr)
        lateral.append(np.hypot(d[0], d[1]))
        total.append(dt)
    rot, lateral, total = np.array(rot), np.array(lateral), np.array(total)
    print(
        f"refused {refused}; rot {np.round(rot, 3)}; lateral cm {np.round(lateral * 100, 1)}; cm {np.round(total * 100, 1)}"
    )
    assert (rot <= 0.3).sum() >= 8, rot
    assert (lateral <= 0.03).sum() >= 8, lateral
    assert (total <= 0.06).sum() >= 8, total
    assert total.max() <= 0.2, total  # what was accepted is never far off: the refusals catch the rest
    # the profile interval along the optical axis (score within 0.5 % of the result's) of every trial covers where
    # all the other trials ended (measured: results spread over 1.0 cm, intervals 1.5-4 cm wide, e.g. -1.5/+2.0 cm)
    for z, (below, above) in zip(tz, tz_interval, strict=True):
        assert z - below - 1e-9 <= min(tz) and max(tz) <= z + above + 1e-9, (z, below, above, tz)


def test_far_initial_guess_is_refused(kitti):
    frames, camera, T_pre, X_true, _ = kitti
    far = se3_exp(np.r_[np.radians(6.0) * np.array([0.6, 0.8, 0.0]), 0.3, 0.0, 0.0]) @ X_true
    with pytest.raises(CalibrationError, match="no clear minimum"):
        refine_targetless(frames, camera, far, T_pre=T_pre, multi_start=False)
    res = refine_targetless(frames, camera, far, T_pre=T_pre, multi_start=False, require_convergence=False)
    assert not res.converged  # the confidence figure tells it apart from the converged trials (all converged)


def test_featureless_data_is_refused(kitti):
    frames, camera, T_pre, X_true, _ = kitti
    blank = np.full((375, 1242, 3), 128, np.uint8)
    f0 = frames[0]
    no_edges = [edge_frame(f0.points, blank)]
    with pytest.raises(CalibrationError, match="no image edges"):
        refine_targetless(no_edges, camera, X_true, T_pre=T_pre)
    # a flat floor: no depth edges, no intensity edges
    g = np.mgrid[5:40:0.2, -10:10:0.2].reshape(2, -1).T
    floor = np.c_[g, np.full(len(g), -1.7)]
    image = np.zeros((375, 1242, 3), np.uint8)
    image[200:, ::40] = 255
    with pytest.raises(CalibrationError, match="depth-edge points"):
        refine_targetless([edge_frame(floor, image)], camera, X_true, T_pre=T_pre)


@pytest.mark.slow
def test_fuse_calib_lidar_camera_kitti(shared_data, tmp_path):
    from sensorfuse.io.kitti.calib import read_kitti_object_calib

    root = shared_data / "kitti_object"
    init = root / "training" / "calib" / "000001.txt"
    out = tmp_path / "refined.txt"
    r = subprocess.run(
        [sys.executable, "-m", "sensorfuse.cli.calib", "lidar-camera", str(root), "--init", str(init), "-o", str(out),
         "--json"], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert len(s["frames"]) == 6
    assert s["quality"]["converged"]
    assert s["change"]["rotation_deg"] < 0.3
    refined = read_kitti_object_calib(out)
    orig = read_kitti_object_calib(init)
    assert np.allclose(refined.P, orig.P)
    assert np.allclose(refined.R0_rect, orig.R0_rect)
    assert np.allclose(refined.Tr_velo_to_cam, np.array(s["Tr_velo_to_cam"]), atol=1e-9)
    assert out.with_suffix(".png").is_file()
    assert s["wall_time_s"] < 60
    rise = {k: s["quality"][f"rise_{k}"] for k in AXES}
    assert min(rise.values()) > 0  # converged: the cost rises along every axis
    assert rise["tz"] < min(rise["tx"], rise["ty"])  # six frames hold the translation along the optical axis least
    weak = [n for n in s["notes"] if n.startswith("translation along the optical axis (camera z) is weakly observed")]
    assert bool(weak) == (rise["tz"] < WEAK_AXIS_RISE), (rise, s["notes"])


def test_per_axis_rise_follows_the_searched_axes(kitti):
    frames, camera, T_pre, X_true, _ = kitti
    res = refine_targetless(
        frames, camera, X_true, T_pre=T_pre, multi_start=False, axes=(3, 4, 5), require_convergence=False
    )
    assert list(res.axis_rise) == ["tx", "ty", "tz"]
    assert all(v > 0 for v in res.axis_rise.values()), res.axis_rise  # a minimum of the translation alone
    assert res.quality()["rise_tz"] == round(res.axis_rise["tz"], 4) and "rise_rx" not in res.quality()


@pytest.mark.slow
def test_simulator_seeded_trials(step_log):
    """Simulator log (64 beams, 1280x720, noise on, driving at up to 10 m/s), 25 sweeps of the 5 s before the LiDAR
    tilts (where /tf_static is the truth), from 3 seeded starts up to 2 deg / 10 cm. Rotation: within 0.1 deg (the
    issue's goal; measured 0.015-0.020 deg, 0.05-0.08 deg on two other seeds). Translation: the goal of 1 cm is NOT
    met here (measured 1.0-1.6 cm; 0.67-0.73 cm and 1.1-1.4 cm on the other seeds); the bound here is what is
    measured, so a regression shows."""
    frames, stamps, setup, step_ns = step_log
    k = int(np.searchsorted(stamps, step_ns))
    sel = frames[: k - 1 : 2]
    X = setup["T_init"]
    rng = np.random.default_rng(7)
    for _ in range(3):
        res = refine_targetless(sel, setup["camera"], _perturbed(X, rng))
        rot, trans = transform_difference(res.T_cam_lidar, X)
        print(f"simulator trial: {rot:.3f} deg, {trans * 100:.1f} cm, {res.evaluations} evaluations")
        assert res.converged and rot <= 0.1 and trans <= 0.025, (rot, trans)


def test_intensity_edges_are_marked_and_reweighted():
    """edge_frame marks which edge points are intensity edges; the drift check reweights only those."""
    from sensorfuse.calibration.lidar_camera import INTENSITY_EDGE_WEIGHT, EdgeFrame, reweight_intensity_edges

    az = np.radians(np.arange(10.0, -10.01, -0.2))
    r = np.where(np.abs(az) < np.radians(1.05), 10.0, 30.0)  # a pole before a wall: two depth edges
    xyz = np.c_[r * np.cos(az), r * np.sin(az), np.zeros_like(az)]
    inten = np.where(az > np.radians(5.0), 0.9, 0.1)  # a bright patch on the wall: one intensity edge
    f = edge_frame(xyz, np.zeros((100, 100, 3), np.uint8), inten)
    assert f.intensity.tolist() == [False, False, True]
    assert f.weights[2] == INTENSITY_EDGE_WEIGHT and np.all(f.weights[:2] >= 1.0)
    (g,) = reweight_intensity_edges([f], 0.7)
    assert g.weights.tolist() == [f.weights[0], f.weights[1], 0.7]
    assert f.weights[2] == INTENSITY_EDGE_WEIGHT  # the input is left as it was
    bare = EdgeFrame(f.points, f.weights, f.distance)  # kinds not known: unchanged
    assert reweight_intensity_edges([bare], 0.7)[0] is bare


def test_edges_are_found_as_measured_then_moved():
    """A ring sweeping past a pole 10 m ahead of a wall at 30 m: the depth edges come from the pole's outermost
    points, half a step outwards, and ``move`` gets the index of those points (to deskew each edge by its own
    point's time, after the edge is found in the sensor's own geometry)."""
    from sensorfuse.calibration.lidar_camera import lidar_edge_points

    az = np.radians(np.arange(10.0, -10.01, -0.2))  # firing order: left to right
    r = np.where(np.abs(az) < np.radians(1.05), 10.0, 30.0)
    xyz = np.c_[r * np.cos(az), r * np.sin(az), np.zeros_like(az)]
    pts, w, src = lidar_edge_points(xyz, return_index=True)
    pole = np.flatnonzero(r == 10.0)
    assert sorted(src) == [pole[0], pole[-1]] and np.all(w > 0)
    got = np.sort(np.degrees(np.arctan2(pts[:, 1], pts[:, 0])))
    assert np.allclose(got, [-1.1, 1.1], atol=1e-9)  # the outermost pole points (+-1.0 deg) moved 0.1 deg outwards
    image = np.zeros((100, 100, 3), np.uint8)
    offset = np.zeros_like(xyz)
    offset[:, 2] = np.arange(len(xyz))  # tag every cloud point
    f = edge_frame(xyz, image, move=lambda p, i: p + offset[i])
    assert sorted(np.rint(f.points[:, 2]).astype(int)) == [pole[0], pole[-1]]
