"""``fuse-labels``: the label cross-check and propagation over a whole dataset.

A dataset is read as a sequence of :class:`LabelFrame` — one camera image with the 3D boxes of that moment (already
moved to the camera's time), their annotated 2D boxes where the dataset has them, and the LiDAR cloud at the same
time — by one generator per layout:

- KITTI object folders (:func:`kitti_frames`): label_2 3D boxes in ``cam0`` with their annotated 2D boxes in camera 2,
  the velodyne scan (KITTI synchronises camera and LiDAR; nothing to move).
- Simulator output (:func:`sim_frames`): every camera frame with truth images; the boxes interpolated to the camera's
  mid-exposure time from ``objects.csv``, the nearest LiDAR sweep deskewed to that time with the trajectory and its
  object points carried with their boxes (:func:`~sensorfuse.fusion.labels.move_with_boxes`). The "annotated" 2D box
  of an object is the box of the pixels whose rays hit its true 3D box (the amodal box an annotator draws, computed
  with the true rig); the instance image gives the visible part and the mask occlusion beside it.
- nuScenes samples (:func:`nuscenes_frames`): the 3D boxes of each keyframe moved to each camera's exposure time
  (ego motion through the global frame, object motion from the annotated velocity), against the 2D boxes
  mmdetection3d derived from the same annotations with the devkit (``cam_instances``).

:func:`check_dataset` and :func:`project_dataset` run :func:`~sensorfuse.fusion.labels.check_labels` /
:func:`~sensorfuse.fusion.labels.project_labels` on every frame. A 2D box without a 3D box (flag ``no_3d_box``) gets a
``candidate_3d`` from the LiDAR points in its frustum (:func:`~sensorfuse.fusion.labels.box_from_2d`, the ground left
out), in the boxes' frame: a proposal for the missing 3D label, or None when fewer than 5 points are there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import invert_transform
from sensorfuse.io.images import read_image_bgr, read_image_unchanged
from sensorfuse.io.sim_truth import sim_log
from sensorfuse.types import Box2D, Box3D

__all__ = [
    "LabelFrame",
    "check_dataset",
    "dataset_kind",
    "kitti_frames",
    "nuscenes_frames",
    "project_dataset",
    "sim_frames",
    "truth_boxes_2d",
]


@dataclass
class LabelFrame:
    """One camera image of a labelled dataset and what the label commands need.

    Attributes:
        name: the frame's name in reports (``000001``, ``cam_front:000030``).
        camera_name: the camera's frame name.
        camera: its intrinsics.
        T_cam_boxes: (4, 4) the boxes' frame -> camera.
        pairs: ``(object id, 3D box or None, annotated 2D box or None)``, the 3D boxes at the camera's time.
        xyz: (N, 3) LiDAR points in the boxes' frame at the camera's time, or None.
        image: the camera image (path), if there is one.
        truth: per object id, what the dataset knows beyond the boxes (simulator: mask occlusion, visible box).
        notes: what could not be done exactly (held boxes, sweeps far from the camera time).
        up: the up direction in the boxes' frame (KITTI's cam0: -y; LiDAR and vehicle frames: +z).
    """

    name: str
    camera_name: str
    camera: CameraModel
    T_cam_boxes: np.ndarray
    pairs: list[tuple[str, Box3D | None, Box2D | None]]
    xyz: np.ndarray | None = None
    image: Path | None = None
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)


def dataset_kind(path: Path) -> str:
    """``kitti`` (a KITTI object folder), ``sim`` (simulator output with ground_truth/) or ``nuscenes``."""
    from sensorfuse.io.nuscenes.tables import has_nuscenes_samples
    from sensorfuse.io.open_log import is_kitti_object
    from sensorfuse.io.sim_truth import is_sim_output

    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    if is_sim_output(path):
        return "sim"
    if has_nuscenes_samples(path):
        return "nuscenes"
    if is_kitti_object(path):
        return "kitti"
    raise FormatError(
        f"{path}: not a dataset fuse-labels knows (a KITTI object folder with label_2/, nuScenes in its table layout "
        "v1.0-*/*.json or samples with an mmdetection3d info file *_info.json, or simulator output with "
        "ground_truth/)"
    )


# -- KITTI -----------------------------------------------------------------------------------------------------------


def _kitti_reader(root: Path, camera: int) -> Any:
    from sensorfuse.io.kitti.object import KittiObjectReader

    reader = KittiObjectReader(root)
    if "label_2" not in reader.streams:
        raise ValidationError(f"{root}: no label_2 folder; nothing to check")
    if camera not in (0, 1, 2, 3):
        raise ValidationError(f"camera {camera}: KITTI has cameras 0-3")
    return reader


def kitti_frames(root: Path, camera: int = 2, frames: list[str] | None = None) -> Iterator[LabelFrame]:
    """The labelled frames of a KITTI object folder (validated before the first frame is yielded)."""
    reader = _kitti_reader(Path(root), camera)
    known = set(reader.frames)
    for f in frames or []:
        if f not in known:
            raise ValidationError(f"{root}: frame {f!r} is not in the dataset ({len(known)} frames)")
    return _kitti_frames(reader, camera, frames)


def _kitti_frames(reader: Any, camera: int, frames: list[str] | None) -> Iterator[LabelFrame]:
    cam_name = f"cam{camera}"
    for i, name in enumerate(reader.frames):
        if (frames is not None and name not in frames) or reader.file("label_2", i) is None:
            continue
        rig = reader.rig_for(i)
        xyz = None
        if "velodyne" in reader.streams and reader.file("velodyne", i) is not None:
            v = reader.get("velodyne", i).data.xyz.astype(np.float64)
            T = rig.transform("cam0", "velodyne")
            xyz = v @ T[:3, :3].T + T[:3, 3]
        pairs: list[tuple[str, Box3D | None, Box2D | None]] = []
        for b in reader.get("label_2", i).data:
            bb = b.attributes.get("bbox_2d")
            b2 = None
            if bb is not None and np.all(np.asarray(bb) >= 0):
                b2 = Box2D(*bb, frame_id=cam_name, stamp_ns=b.stamp_ns, label=b.label)
            pairs.append((f"{name}:{b.attributes.get('line', len(pairs))}", b, b2))
        yield LabelFrame(
            name, cam_name, rig.sensor(cam_name).camera, rig.transform(cam_name, "cam0"), pairs, xyz,
            reader.file(f"image_{camera}", i), up=(0.0, -1.0, 0.0),
        )  # fmt: skip


# -- simulator -------------------------------------------------------------------------------------------------------


def truth_boxes_2d(boxes: list[Box3D], T_cam_boxes: np.ndarray, camera: CameraModel) -> list[dict[str, Any]]:
    """Per box, the pixels whose rays hit it (ray-box slab test through the camera model, pixel centres at integer
    coordinates): ``{"pixels": count, "xyxy": amodal box [u0 - 0.5, v0 - 0.5, u1 + 0.5, v1 + 0.5] or None}`` — the
    silhouette an unoccluded object would cover."""
    from sensorfuse.geometry.projection import box_to_image, ray_box_entry

    T = np.asarray(T_cam_boxes, np.float64)
    Tinv = invert_transform(T)
    origin = Tinv[:3, 3]  # camera centre in the boxes' frame
    out = []
    for b in boxes:
        rows = cols = np.zeros(0, np.int64)
        full, _ = box_to_image(b.corners() @ T[:3, :3].T + T[:3, 3], camera)
        if full is not None:  # the pixels around the box's projection, 2 px of margin
            u0, v0 = max(int(np.floor(full[0])) - 2, 0), max(int(np.floor(full[1])) - 2, 0)
            u1 = min(int(np.ceil(full[2])) + 2, camera.width - 1)
            v1 = min(int(np.ceil(full[3])) + 2, camera.height - 1)
            vv, uu = np.mgrid[v0 : max(v1 + 1, v0), u0 : max(u1 + 1, u0)]  # empty: the projection is off the image
            rays, ok = camera.unproject(np.c_[uu.ravel(), vv.ravel()].astype(np.float64))
            hit = ok & np.isfinite(ray_box_entry(origin, rays @ Tinv[:3, :3].T, b))
            rows, cols = vv.ravel()[hit], uu.ravel()[hit]
        out.append({"pixels": int(rows.size), "xyxy": _mask_box(rows, cols)})
    return out


def _mask_box(rows: np.ndarray, cols: np.ndarray) -> list[float] | None:
    """The box of pixels (row, column indices), edges on the pixel borders; None for no pixel."""
    if rows.size == 0:
        return None
    return [float(cols.min() - 0.5), float(rows.min() - 0.5), float(cols.max() + 0.5), float(rows.max() + 0.5)]


def sim_frames(
    root: Path, *, cameras: list[str] | None = None, rig: Any = None, max_frames: int | None = None
) -> Iterator[LabelFrame]:
    """Label frames of simulator output: one per camera image with truth images (see the module docstring).

    Args:
        root: the simulator's output folder (``log/`` and ``ground_truth/``).
        cameras: camera names (default all).
        rig: the rig under test (default the true one): the cloud and boxes are carried into the camera with its
            extrinsics and intrinsics, the "annotated" 2D boxes always with the true rig.
        max_frames: stop after this many frames (in time order).
    """
    from sensorfuse.io.sim_truth import load_ground_truth

    root = Path(root)
    gt = load_ground_truth(root)
    true_rig = gt.rig
    rig = true_rig if rig is None else rig
    names = [c.name for c in true_rig.cameras()]
    for c in cameras or []:
        if c not in names:
            raise ValidationError(f"{root}: no camera {c!r}; the rig has {', '.join(names)}")
    lidars = [s for s in true_rig.sensors if s.kind == "lidar"]
    if not lidars:
        raise FormatError(f"{root}: the simulated rig has no LiDAR")
    lidar = lidars[0]
    objects = gt.objects()
    jobs = []
    for cam in cameras or names:
        msgs = gt.messages[cam]
        true_of = dict(zip(msgs["seq"].tolist(), msgs["true_ns"].tolist(), strict=True))
        for seq, png in gt.instance_images(cam):
            jobs.append((true_of[seq], cam, seq, png))
    jobs.sort()
    if max_frames is not None:
        jobs = jobs[:max_frames]
    if not jobs:
        raise ValidationError(f"{root}: no camera frame with truth images (simulate with --truth-images N)")
    lm = gt.messages[lidar.name]
    ok = lm["event"] != "dropped"
    sweep_true, sweep_header = lm["true_ns"][ok], lm["header_ns"][ok]
    # the sweep for each job: the last one starting at or before the camera time
    want: dict[int, list[tuple[int, str, int, Path]]] = {}
    for job in jobs:
        k = max(int(np.searchsorted(sweep_true, job[0], side="right")) - 1, 0)
        want.setdefault(int(sweep_header[k]), []).append(job)
    header_to_true = dict(zip(sweep_header.tolist(), sweep_true.tolist(), strict=False))
    return _sim_frames(root, gt, rig, lidar, objects, want, header_to_true)


def _sim_frames(root: Path, gt: Any, rig: Any, lidar: Any, objects: Any, want: dict, header_to_true: dict) -> Iterator:
    from sensorfuse.io import open as open_log

    T_base_lidar = rig.transform("base_link", lidar.frame_id or lidar.name)
    log_dir = sim_log(root) or root
    with open_log(log_dir) as reader:
        for m in reader.read([lidar.topic]):  # streamed: one sweep in memory at a time
            jobs = want.pop(m.data.stamp_ns, None)
            if jobs:
                c = m.data
                off = c.t_offset_ns if c.t_offset_ns is not None else np.zeros(len(c.xyz), np.int64)
                sweep = (np.array(c.xyz, np.float64), header_to_true[c.stamp_ns] + off.astype(np.int64), c.stamp_ns)
                for job in sorted(jobs):
                    yield _sim_frame(gt, rig, T_base_lidar, objects, sweep, job)
    for jobs in want.values():  # sweeps the log does not hold (dropped, cut off): said, not skipped silently
        for _t, cam, seq, _png in jobs:
            raise FormatError(f"{log_dir}: the LiDAR sweep for camera frame {cam}:{seq:06d} is not in the log")


def _sim_frame(gt: Any, rig: Any, T_base_lidar: np.ndarray, objects: Any, sweep: tuple, job: tuple) -> LabelFrame:

    from sensorfuse.fusion.deskew import deskew_points
    from sensorfuse.fusion.interpolate import poses_at
    from sensorfuse.fusion.labels import boxes_in_frame, move_with_boxes

    true_rig = gt.rig
    xyz, pts_ns, stamp = sweep
    t_cam, cam, seq, png = job
    notes = []
    T_wb = poses_at(gt.trajectory, [t_cam]).value[0]
    T_bw = invert_transform(T_wb)
    lidar_at = deskew_points(xyz, pts_ns, gt.trajectory, T_base_lidar, t_cam, what=f"sweep {stamp}").xyz
    T_wl = T_wb @ T_base_lidar
    world = lidar_at @ T_wl[:3, :3].T + T_wl[:3, 3]
    moved, _owner, boxes_w = move_with_boxes(world, pts_ns, objects.boxes, t_cam)
    if not pts_ns.min() - 1 <= t_cam <= pts_ns.max() + 1:
        notes.append(f"camera time {(t_cam - pts_ns.min()) / 1e6:.1f} ms from the sweep start, outside the sweep")
    boxes = boxes_in_frame(boxes_w, T_bw, "base_link")
    cloud = moved @ T_bw[:3, :3].T + T_bw[:3, 3]
    cam_frame = true_rig.sensor(cam).frame_id or cam
    truth = truth_boxes_2d(boxes, true_rig.transform(cam_frame, "base_link"), true_rig.sensor(cam).camera)
    inst_img = read_image_unchanged(png)
    pairs, info = [], {}
    for b, tb in zip(boxes, truth, strict=True):
        oid = f"{cam}:{seq:06d}:{b.track_id}"
        inst = b.attributes["instance"]
        vis_r, vis_c = np.nonzero(inst_img == inst)
        b2 = None
        if tb["xyxy"] is not None:
            b2 = Box2D(*tb["xyxy"], frame_id=cam_frame, stamp_ns=t_cam, label=b.label, track_id=b.track_id)
        elif vis_r.size == 0:
            continue  # nowhere in this image: not a label of this frame
        sil = tb["pixels"]
        info[oid] = {
            "instance": inst,
            "visible_pixels": int(vis_r.size),
            "silhouette_pixels": sil,
            "mask_occlusion": None if sil == 0 else float(np.clip(1.0 - vis_r.size / sil, 0.0, 1.0)),
            "visible_xyxy": _mask_box(vis_r, vis_c),
        }
        pairs.append((oid, b, b2))
    return LabelFrame(
        f"{cam}:{seq:06d}", cam_frame, rig.sensor(cam).camera, rig.transform(cam_frame, "base_link"), pairs,
        cloud, None, info, notes,
    )  # fmt: skip


# -- nuScenes --------------------------------------------------------------------------------------------------------


def nuscenes_frames(root: Path, cameras: list[str] | None = None) -> Iterator[LabelFrame]:
    """Label frames of nuScenes samples described by an mmdetection3d info file (``*_info.json``, info v1.1) next to
    ``samples/`` (or in ``mmdet3d_originals/``), or by the official tables (``v1.0-*/*.json``,
    :func:`~sensorfuse.io.nuscenes.tables.read_nuscenes_table_samples`: 3D boxes only, with the devkit's velocity from the
    neighbouring annotations): one per keyframe and camera.

    Time: the boxes are annotated at the LiDAR keyframe; each camera fired 0.5-43 ms earlier. The cloud and boxes are
    carried with mmdet3d's ``lidar2cam`` (which goes through the global frame with the ego pose at each time: the ego
    motion) and each box is moved by its annotated velocity times the time step (object motion), its LiDAR points
    with it. nuScenes has no per-point time, so the sweep itself is not deskewed. The annotated 2D box of a 3D box is
    mmdet3d's ``cam_instances`` box with the same class whose 3D centre (camera frame) is within 0.5 m of ours; those
    boxes come from the devkit's projection of the keyframe annotation without object motion.
    """
    from sensorfuse.io.nuscenes.tables import read_nuscenes_samples

    root = Path(root)
    samples = read_nuscenes_samples(root)
    chans = sorted({ch for s in samples for ch in s["cameras"]})
    for c in cameras or []:
        if c not in chans:
            raise ValidationError(f"{root}: no camera {c!r}; the samples have {', '.join(chans)}")
    for s in samples:
        lidar = root / "samples" / "LIDAR_TOP" / Path(s["lidar_path"]).name
        if not lidar.is_file():
            raise FormatError(
                f"{root}: sample {s['token']}: LiDAR file {lidar.name} is missing under samples/LIDAR_TOP"
            )
    return _nuscenes_frames(root, samples, cameras or chans)


def _moved_by_velocity(boxes: list[Box3D], t_ref_ns: int, t_ns: int) -> list[Box3D]:
    """The boxes (annotated at ``t_ref_ns``) at ``t_ns``, moved by their ``attributes["velocity"]`` (vx, vy; NaN,
    the devkit's "unknown" for a track without neighbouring annotations: not moved)."""
    dt = (t_ns - t_ref_ns) * 1e-9
    return [
        Box3D(b.center + dt * np.nan_to_num(np.r_[b.attributes["velocity"], 0.0]), b.size, b.rotation, b.frame_id, t_ns, b.label,
              track_id=b.attributes["index"], attributes=b.attributes)
        for b in boxes
    ]  # fmt: skip


def _nuscenes_frames(root: Path, samples: list[dict], cameras: list[str]) -> Iterator[LabelFrame]:
    from sensorfuse.fusion.labels import move_with_boxes
    from sensorfuse.io.nuscenes.reader import read_nuscenes_lidar_bin

    for s in samples:
        xyz = read_nuscenes_lidar_bin(root / "samples" / "LIDAR_TOP" / Path(s["lidar_path"]).name).xyz
        t_lidar = s["stamp_ns"]
        boxes = s["boxes"]
        at = functools.partial(_moved_by_velocity, boxes, t_lidar)
        for ch in cameras:
            if ch not in s["cameras"]:
                continue
            cam = s["cameras"][ch]
            unknown = sum(not np.all(np.isfinite(b.attributes["velocity"])) for b in boxes)
            notes = [f"{unknown} boxes without a velocity (NaN): not moved to the camera time"] if unknown else []
            moved, _, now = move_with_boxes(xyz, np.full(len(xyz), t_lidar), at, cam["stamp_ns"])
            T = cam["T_cam_lidar"]
            pairs, used = [], set()
            for b, b0 in zip(now, boxes, strict=True):
                c = T[:3, :3] @ b0.center + T[:3, 3]  # the devkit's boxes are not moved by the velocity
                ann = None
                for k, (b2, c3) in enumerate(s["cam_boxes"].get(ch, [])):
                    if k not in used and b2.label == b.label and np.linalg.norm(c3 - c) < 0.5:
                        ann = b2
                        used.add(k)
                        break
                pairs.append((f"{s['token'][:8]}:{ch}:{b.attributes['index']}", b, ann))
            for k, (b2, _) in enumerate(s["cam_boxes"].get(ch, [])):
                if k not in used:
                    pairs.append((f"{s['token'][:8]}:{ch}:2d{k}", None, b2))
            yield LabelFrame(
                f"{s['token'][:8]}:{ch}", ch, cam["camera"], T, pairs, moved,
                root / "samples" / ch / Path(cam["image"]).name, notes=notes,
            )  # fmt: skip


# -- whole datasets --------------------------------------------------------------------------------------------------


def _frames(path: Path, kind: str, camera: str | None, max_frames: int | None = None) -> Iterator[LabelFrame]:
    if kind == "kitti":
        return kitti_frames(path, 2 if camera is None else int(camera.removeprefix("cam")))
    if kind == "sim":
        return sim_frames(path, cameras=None if camera is None else [camera], max_frames=max_frames)
    return nuscenes_frames(path, cameras=None if camera is None else [camera])


def _candidates_3d(fr: LabelFrame, proj: Any = None) -> Callable[[Box2D], dict[str, Any] | None] | None:
    """For a frame's 2D boxes without a 3D box: a function giving the candidate 3D box of one (its LiDAR points, the
    ground left out: :func:`~sensorfuse.fusion.labels.box_from_2d`), in the boxes' frame; None without a cloud.
    ``proj``: the frame's cloud projected with ``zbuffer=True, splat=1``, when the caller has it already."""
    from scipy.spatial.transform import Rotation

    from sensorfuse.fusion.labels import box_from_2d, ground_points
    from sensorfuse.geometry.projection import project_cloud

    if fr.xyz is None or len(fr.xyz) == 0:
        return None
    if proj is None:
        proj = project_cloud(fr.xyz, fr.T_cam_boxes, fr.camera, zbuffer=True, splat=1)
    R = Rotation.align_vectors([[0.0, 0.0, 1.0]], [fr.up])[0].as_matrix()  # boxes' frame -> a z-up frame
    zup = fr.xyz @ R.T
    try:
        ground = ground_points(zup)
    except ValidationError as exc:  # no ground plane in this cloud: candidates keep the ground points
        fr.notes.append(f"candidate 3D boxes without ground removal: {exc}")
        ground = None

    def propose(b2: Box2D) -> dict[str, Any] | None:
        idx, box = box_from_2d(b2.xyxy, zup, proj, ground=ground, label=b2.label)
        if box is None:
            return None
        yaw = float(np.degrees(np.arctan2(box.rotation[1, 0], box.rotation[0, 0])))
        return {
            "points": int(idx.size),
            "center": [round(float(v), 3) for v in R.T @ box.center],
            "size_lwh": [round(float(v), 3) for v in box.size],
            "yaw_deg_about_up": round(yaw, 2),
        }

    return propose


def check_dataset(
    path: Path, *, camera: str | None = None, threshold: float = 0.5, frames: Iterator[LabelFrame] | None = None
) -> dict[str, Any]:
    """The cross-check of every labelled frame: ``{"frames": [...], "summary": {...}}`` (see the module docstring).

    ``frames`` overrides the dataset's own frames (e.g. :func:`sim_frames` with a rig under test)."""
    from sensorfuse.fusion.labels import check_labels, summarise_checks

    out_frames, all_rows = [], []
    kind = dataset_kind(Path(path))
    for fr in _frames(Path(path), kind, camera) if frames is None else frames:
        rows, summary = check_labels(fr.pairs, fr.T_cam_boxes, fr.camera, threshold=threshold, cloud_xyz=fr.xyz)
        annotated = {str(oid): b2 for oid, _, b2 in fr.pairs}
        propose = _candidates_3d(fr) if any("no_3d_box" in r.flags for r in rows) else None
        objs = []
        for r in rows:
            d = r.to_dict()
            if r.id in fr.truth:
                d["truth"] = fr.truth[r.id]
            if "no_3d_box" in r.flags and propose is not None and annotated.get(r.id) is not None:
                d["candidate_3d"] = propose(annotated[r.id])
            objs.append(d)
        out_frames.append(
            {"frame": fr.name, "camera": fr.camera_name, "summary": summary, "objects": objs, "notes": fr.notes}
        )
        all_rows += rows
    per_frame = [f["summary"]["mean_iou"] for f in out_frames if f["summary"]["mean_iou"] is not None]
    summary = {"dataset": str(path), "kind": kind, "frames": len(out_frames)}
    summary |= summarise_checks(all_rows, threshold)
    summary["min_frame_mean_iou"] = round(float(min(per_frame)), 4) if per_frame else None
    return {"frames": out_frames, "summary": summary}


def project_dataset(
    path: Path,
    out: Path,
    *,
    camera: str | None = None,
    overwrite: bool = False,
    threshold: float = 0.5,
    max_frames: int | None = None,
    frames: Iterator[LabelFrame] | None = None,
) -> dict[str, Any]:
    """Propagated 2D labels and overlays: per frame ``labels/<frame>.json`` (each 3D label's 2D box in the camera,
    truncation, occlusion from the LiDAR z-buffer, points, the annotated 2D box and the IoU; for a 2D box without a
    3D box, the ``candidate_3d`` its LiDAR points propose, as in :func:`check_dataset`) and
    ``overlay/<frame>.png`` (visible LiDAR points by depth, projected boxes green, annotated orange, flagged red; on
    the camera image, or black where the dataset has none). Written into ``OUT.partial`` and renamed when complete;
    the dataset is validated before anything is written."""

    from sensorfuse.fusion.labels import project_labels
    from sensorfuse.geometry.projection import project_cloud
    from sensorfuse.io.label_output import LabelOutputWriter
    from sensorfuse.viz.overlay import BOX_COLOURS, draw_boxes, draw_points

    kind = dataset_kind(Path(path))
    if frames is None:
        frames = _frames(Path(path), kind, camera, max_frames)  # raises on a bad dataset before OUT is touched
    writer = LabelOutputWriter(out, overwrite=overwrite)
    try:
        done = []
        for fr in frames:
            boxes = [b for _, b, _ in fr.pairs if b is not None]
            labels = iter(project_labels(boxes, fr.T_cam_boxes, fr.camera, camera_frame=fr.camera_name,
                                         cloud_xyz=fr.xyz))  # fmt: skip
            rows, drawn = [], []
            proj = None if fr.xyz is None else project_cloud(fr.xyz, fr.T_cam_boxes, fr.camera, zbuffer=True, splat=1)
            two_d_only = any(b3 is None and ann is not None for _, b3, ann in fr.pairs)
            propose = _candidates_3d(fr, proj) if two_d_only else None
            for oid, b3, ann in fr.pairs:
                pl = next(labels) if b3 is not None else None
                box2d = None if pl is None else pl.box2d
                iou = None if ann is None or box2d is None else round(ann.iou(box2d), 4)
                rows.append({
                    "id": oid, "label": (b3 or ann).label,
                    "xyxy": None if box2d is None else [round(float(v), 2) for v in box2d.xyxy],
                    "truncation": None if pl is None else round(pl.truncation, 4),
                    "occlusion": None if pl is None or pl.occlusion is None else round(pl.occlusion, 4),
                    "points": None if pl is None else pl.points,
                    "points_visible": None if pl is None else pl.points_visible,
                    "annotated_xyxy": None if ann is None else [round(float(v), 2) for v in ann.xyxy], "iou": iou,
                })  # fmt: skip
                if b3 is None and ann is not None and propose is not None:
                    rows[-1]["candidate_3d"] = propose(ann)
                if ann is not None:
                    drawn.append((ann.xyxy, BOX_COLOURS["annotated"], ""))
                if box2d is not None:
                    bad = iou is not None and iou < threshold
                    colour = BOX_COLOURS["flagged" if bad else "projected"]
                    drawn.append((box2d.xyxy, colour, f"{b3.label} {iou if iou is not None else ''}"))
            img = None
            if fr.image is not None and Path(fr.image).is_file():
                img = read_image_bgr(fr.image, fr.camera_name)
            if img is None:
                img = np.zeros((fr.camera.height, fr.camera.width, 3), np.uint8)
            if proj is not None:
                img = draw_points(img, proj)
            writer.write_frame(fr.name, rows, draw_boxes(img, drawn))
            done.append({"frame": fr.name, "objects": len(rows)})
        summary = {"dataset": str(path), "kind": kind, "frames": done, "output": str(out)}
        writer.finish(summary)
    except BaseException:
        writer.abort()
        raise
    return summary
