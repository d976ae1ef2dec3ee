"""Joint 2D/3D labels: 3D boxes carried into camera images (2D box, truncation, occlusion from the LiDAR z-buffer) and
a cross-modal check of annotated 2D boxes against their 3D boxes.

- :func:`project_labels`: each :class:`~sensorfuse.types.Box3D` -> its 2D box in one camera
  (:func:`~sensorfuse.geometry.projection.box_to_image`, near-plane clipped), ``truncation = 1 - area inside the image /
  area of the whole projection``, and, given the LiDAR cloud, the box's points, how many of them project into the
  image and how many of those the z-buffer finds visible. Occlusion: of the returns the camera sees (z-buffer) whose
  rays from the camera pass through the box, the share that lie in front of it (occluders, more than
  ``occluder_m`` before the box) rather than on it (inside, or within ``occluder_m`` of its surface):
  ``occlusion = front / (front + on the box)`` (None when no return falls there). Counting only the box's own points would miss occlusion: the LiDAR sits next to the
  camera, so what hides an object from the camera also hides it from the LiDAR, and the hidden part has no points.
- :func:`box_from_2d`: the other way — an annotated 2D box -> the LiDAR points of the object in its frustum (the
  nearest substantial cluster in depth among the visible points, the ground left out given :func:`ground_points`)
  and a candidate oriented 3D box around them.
- :func:`check_labels`: IoU of each annotated 2D box with the projection of its 3D box; flags ``iou_below`` (under
  ``threshold``, default 0.5; 0.75 is the strict setting), ``not_in_image`` (the 3D box projects nowhere in the
  image), ``no_lidar_points`` (given a cloud: the 3D box holds none), ``no_2d_box`` / ``no_3d_box`` (a label in one
  view only). Returns the per-object rows and a summary (objects, mean IoU, counts per flag).

Time: the boxes, the cloud and the camera must describe the same instant. A label made on a LiDAR sweep and a camera
exposed tens of ms later (nuScenes cameras fire up to ~40 ms apart) need the box moved first: :func:`boxes_at`
interpolates each track between labelled keyframes in the world frame (object motion), :func:`boxes_in_frame` puts
them in the ego frame at the camera's time (ego motion, from the pose trajectory). The cloud of a sweep that lasted
50-100 ms needs the same care: :func:`move_with_boxes` finds each point's box at the point's own time and carries the
point with the box to the camera's time (static points are moved by the ego motion alone, by deskewing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorfuse.errors import ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import check_transform, invert_transform
from sensorfuse.types import Box2D, Box3D

__all__ = [
    "FLAGS",
    "LabelCheck",
    "ProjectedLabel",
    "box_from_2d",
    "boxes_at",
    "boxes_in_frame",
    "check_labels",
    "ground_plane",
    "ground_points",
    "move_with_boxes",
    "project_labels",
    "summarise_checks",
]

FLAGS = ("iou_below", "not_in_image", "no_lidar_points", "no_2d_box", "no_3d_box")


@dataclass(frozen=True, eq=False)
class ProjectedLabel:
    """A 3D box seen from one camera.

    Attributes:
        box3d: the label.
        box2d: its 2D box clipped to the image (None when it projects nowhere in the image); carries label,
            track id, truncation and occlusion.
        full_xyxy: the unclipped projection (None when nothing projects).
        truncation: share of the projection outside the image (1.0 when none is inside).
        points: LiDAR points in the box (None without a cloud).
        points_in_image: of those, projecting into the image.
        points_visible: of those, not hidden behind nearer points (z-buffer).
        points_front: returns in front of the box on the camera's rays through it (occluders).
        occlusion: ``points_front / (points_front + returns on the box)`` (None when both are 0; see the module
            docstring).
    """

    box3d: Box3D
    box2d: Box2D | None
    full_xyxy: np.ndarray | None
    truncation: float
    points: int | None = None
    points_in_image: int | None = None
    points_visible: int | None = None
    occlusion: float | None = None
    points_front: int | None = None


def project_labels(
    boxes: list[Box3D],
    T_cam_boxes: object,
    camera: CameraModel,
    *,
    camera_frame: str = "camera",
    stamp_ns: int | None = None,
    cloud_xyz: object | None = None,
    T_boxes_cloud: object | None = None,
    splat: int = 1,
    occluder_m: float = 0.3,
) -> list[ProjectedLabel]:
    """Carry 3D boxes (all in one frame) into ``camera`` (see the module docstring).

    Args:
        boxes: the 3D labels, in one frame.
        T_cam_boxes: (4, 4) that frame -> camera.
        camera: intrinsics and image size.
        camera_frame, stamp_ns: written into the 2D boxes (stamp default: each box's).
        cloud_xyz: optional (N, 3) LiDAR points for point counts and occlusion.
        T_boxes_cloud: (4, 4) cloud frame -> boxes' frame (default identity).
        splat: z-buffer splat radius in pixels (sparse LiDAR needs >= 1 so a far surface is hidden behind a near one).
        occluder_m: a return counts as an occluder of a box when its ray meets the box more than this far behind it.
    """
    from sensorfuse.geometry.projection import box_to_image, points_in_boxes, project_cloud, ray_box_entry

    T = check_transform(T_cam_boxes, "T_cam_boxes")
    frames = {b.frame_id for b in boxes}
    if len(frames) > 1:
        raise ValidationError(f"boxes: all must be in one frame, got {sorted(frames)}")
    per_box: list[tuple[int, int, int] | None] = [None] * len(boxes)
    if cloud_xyz is not None and boxes:
        T_bc = np.eye(4) if T_boxes_cloud is None else check_transform(T_boxes_cloud, "T_boxes_cloud")
        P = np.asarray(cloud_xyz, np.float64)
        if P.ndim != 2 or P.shape[1] != 3:
            raise ValidationError(f"cloud_xyz: expected (N, 3), got {P.shape}")
        Pb = P @ T_bc[:3, :3].T + T_bc[:3, 3]
        first, _ = points_in_boxes(Pb, boxes)
        proj = project_cloud(Pb, T, camera, zbuffer=True, splat=splat)
        seen = np.flatnonzero(proj.visible)  # returns the camera sees (z-buffer): on the box, or in front of it
        origin = invert_transform(T)[:3, 3]  # the camera centre in the boxes' frame
        rays = Pb[seen] - origin
        dist = np.linalg.norm(rays, axis=1)
        for k in range(len(boxes)):
            m = first == k
            entry = ray_box_entry(origin, rays, boxes[k])  # in units of the ray: 1 = the point itself
            with np.errstate(invalid="ignore"):
                gap = dist * (entry - 1.0)  # > 0: the point lies before the box on its ray
            own = first[seen] == k
            front = int((~own & (entry < np.inf) & (gap > occluder_m)).sum())
            on_box = int((own | (np.abs(gap) <= occluder_m)).sum())  # surface returns scatter around the faces
            per_box[k] = (int(m.sum()), int((m & proj.valid).sum()), int((m & proj.visible).sum()), front, on_box)
    out = []
    for k, b in enumerate(boxes):
        corners = b.corners() @ T[:3, :3].T + T[:3, 3]
        full, clip = box_to_image(corners, camera)
        trunc = 1.0
        if full is not None and clip is not None:
            area = (full[2] - full[0]) * (full[3] - full[1])
            inside = (clip[2] - clip[0]) * (clip[3] - clip[1])
            trunc = float(np.clip(1.0 - inside / area, 0.0, 1.0)) if area > 0 else 0.0
        n_pts = n_img = n_vis = n_front = None
        occ = None
        if per_box[k] is not None:
            n_pts, n_img, n_vis, n_front, n_on = per_box[k]
            occ = n_front / (n_front + n_on) if n_front + n_on else None
        box2d = None
        if clip is not None:
            box2d = Box2D(
                *clip,
                frame_id=camera_frame,
                stamp_ns=b.stamp_ns if stamp_ns is None else stamp_ns,
                label=b.label,
                track_id=b.track_id,
                occlusion=occ,
                truncation=trunc,
            )
        out.append(ProjectedLabel(b, box2d, full, trunc, n_pts, n_img, n_vis, occ, n_front))
    return out


@dataclass
class LabelCheck:
    """One object of :func:`check_labels`."""

    id: str
    label: str
    iou: float | None
    flags: list[str] = field(default_factory=list)
    annotated: list[float] | None = None
    projected: list[float] | None = None
    points: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "iou": None if self.iou is None else round(self.iou, 4),
            "flags": self.flags,
            "annotated_xyxy": self.annotated,
            "projected_xyxy": self.projected,
            "points": self.points,
        }


def check_labels(
    pairs: list[tuple[str, Box3D | None, Box2D | None]],
    T_cam_boxes: object,
    camera: CameraModel,
    *,
    threshold: float = 0.5,
    cloud_xyz: object | None = None,
    T_boxes_cloud: object | None = None,
) -> tuple[list[LabelCheck], dict[str, Any]]:
    """Cross-check annotated 2D boxes against their 3D boxes in one camera (see the module docstring).

    Args:
        pairs: ``(object id, 3D box or None, annotated 2D box or None)``; the 3D boxes in one frame.
        T_cam_boxes, camera, cloud_xyz, T_boxes_cloud: as for :func:`project_labels`.
        threshold: IoU below which an object is flagged ``iou_below``.

    Returns:
        ``(rows, summary)``; summary: ``objects``, ``with_both``, ``mean_iou`` (over objects with both boxes),
        ``flagged`` and ``flags`` (count per flag).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValidationError(f"threshold: expected an IoU in [0, 1], got {threshold}")
    boxes = [b for _, b, _ in pairs if b is not None]
    projected = iter(
        project_labels(boxes, T_cam_boxes, camera, cloud_xyz=cloud_xyz, T_boxes_cloud=T_boxes_cloud) if boxes else []
    )
    rows = []
    for oid, b3, b2 in pairs:
        label = (b3.label if b3 is not None else b2.label) if (b3 or b2) else ""
        row = LabelCheck(str(oid), label, None)
        if b2 is not None:
            row.annotated = [round(float(v), 2) for v in b2.xyxy]
        if b3 is None:
            row.flags.append("no_3d_box")
            rows.append(row)
            continue
        p = next(projected)
        row.points = p.points
        if p.points == 0:
            row.flags.append("no_lidar_points")
        if p.box2d is None:
            row.flags.append("not_in_image")
        else:
            row.projected = [round(float(v), 2) for v in p.box2d.xyxy]
        if b2 is None:
            row.flags.append("no_2d_box")
        elif p.box2d is not None:
            row.iou = float(b2.iou(p.box2d))
            if row.iou < threshold:
                row.flags.append("iou_below")
        rows.append(row)
    return rows, summarise_checks(rows, threshold)


def summarise_checks(rows: list[LabelCheck], threshold: float) -> dict[str, Any]:
    """Summary of :func:`check_labels` rows (of one frame or many): objects, with_both, mean_iou, threshold, flagged,
    flags (count per flag)."""
    both = [r.iou for r in rows if r.iou is not None]
    return {
        "objects": len(rows),
        "with_both": len(both),
        "mean_iou": round(float(np.mean(both)), 4) if both else None,
        "threshold": threshold,
        "flagged": sum(1 for r in rows if r.flags),
        "flags": {f: sum(f in r.flags for r in rows) for f in FLAGS},
    }


# -- labels at another time ---------------------------------------------------------------------------------------


def boxes_at(
    keyframes: list[list[Box3D]],
    t_ns: int,
    *,
    max_extrapolation_ns: int = 0,
) -> tuple[list[Box3D], list[str]]:
    """Object boxes at time ``t_ns`` from labelled keyframes (e.g. nuScenes' 2 Hz annotations), in the keyframes'
    (world) frame: each track's pose interpolated between the two keyframes that bracket ``t_ns`` (SLERP on the
    rotation, linear on the centre and size), matched by ``track_id``.

    A track in only one of the two bracketing keyframes, or ``t_ns`` outside the keyframes by more than
    ``max_extrapolation_ns``: the box is held from the nearest keyframe when within the margin, else left out; both
    cases are listed in the returned notes (never silently). Boxes without a ``track_id`` cannot be interpolated:
    taken from a keyframe at exactly ``t_ns`` only.

    Returns:
        ``(boxes with stamp_ns = t_ns, notes)``.
    """
    from scipy.spatial.transform import Rotation, Slerp

    frames = sorted((kf for kf in keyframes if kf), key=lambda kf: kf[0].stamp_ns)
    worlds = {b.frame_id for kf in frames for b in kf}
    if len(worlds) > 1:
        raise ValidationError(f"keyframes: all boxes must be in one (world) frame, got {sorted(worlds)}")
    for kf in frames:
        if len({b.stamp_ns for b in kf}) > 1:
            raise ValidationError("keyframes: every box of a keyframe must have the keyframe's stamp")
    notes: list[str] = []
    if not frames:
        return [], notes
    stamps = np.array([kf[0].stamp_ns for kf in frames], np.int64)
    j = int(np.searchsorted(stamps, t_ns, side="right")) - 1
    out: list[Box3D] = []

    def moved(b: Box3D, center: np.ndarray, R: np.ndarray, size: np.ndarray) -> Box3D:
        return Box3D(
            center, size, R, b.frame_id, int(t_ns), b.label, track_id=b.track_id, occlusion=b.occlusion,
            truncation=b.truncation, score=b.score, attributes=b.attributes,
        )  # fmt: skip

    if j >= 0 and stamps[j] == t_ns:
        return [moved(b, b.center, b.rotation, b.size) for b in frames[j]], notes
    if j < 0 or j >= len(frames) - 1:  # before the first or after the last keyframe
        k = 0 if j < 0 else len(frames) - 1
        gap = abs(int(stamps[k]) - int(t_ns))
        if gap > max_extrapolation_ns:
            notes.append(f"{t_ns}: {gap / 1e6:.1f} ms outside the keyframes; no boxes")
            return [], notes
        notes.append(f"{t_ns}: boxes held from the keyframe {gap / 1e6:.1f} ms away")
        return [moved(b, b.center, b.rotation, b.size) for b in frames[k]], notes
    a, c = frames[j], frames[j + 1]
    f = (t_ns - stamps[j]) / float(stamps[j + 1] - stamps[j])
    prev = {b.track_id: b for b in a if b.track_id is not None}
    nxt = {b.track_id: b for b in c if b.track_id is not None}
    for b in [*a, *c]:
        if b.track_id is None and b.stamp_ns == stamps[j]:
            notes.append(f"{b.label} box without a track id at {b.stamp_ns}: cannot be moved in time; left out")
    for tid in [*prev, *(t for t in nxt if t not in prev)]:
        b, e = prev.get(tid), nxt.get(tid)
        if b is not None and e is not None:
            rots = Rotation.from_matrix(np.stack([b.rotation, e.rotation]))
            R = Slerp([0.0, 1.0], rots)([f]).as_matrix()[0]
            out.append(moved(b, b.center + f * (e.center - b.center), R, b.size + f * (e.size - b.size)))
            continue
        only = b if b is not None else e  # a track in one keyframe only: held within the margin of it
        gap = abs(int(t_ns) - int(only.stamp_ns))
        if gap <= max_extrapolation_ns:
            out.append(moved(only, only.center, only.rotation, only.size))
            notes.append(f"track {tid}: only in the keyframe at {only.stamp_ns}; held {gap / 1e6:.1f} ms")
        else:
            notes.append(f"track {tid}: only in the keyframe at {only.stamp_ns}; left out")
    return out, notes


def boxes_in_frame(boxes: list[Box3D], T_frame_world: object, frame_id: str) -> list[Box3D]:
    """The boxes (in the world frame) expressed in another frame, e.g. the ego frame at the camera's exposure time:
    ``T_frame_world = inv(T_world_ego(t_camera))``."""
    T = check_transform(T_frame_world, "T_frame_world")
    return [
        Box3D(
            T[:3, :3] @ b.center + T[:3, 3],
            b.size,
            T[:3, :3] @ b.rotation,
            frame_id,
            b.stamp_ns,
            b.label,
            track_id=b.track_id,
            occlusion=b.occlusion,
            truncation=b.truncation,
            score=b.score,
            attributes=b.attributes,
        )
        for b in boxes
    ]


def move_with_boxes(
    points: object,
    point_ns: object,
    boxes_fn: Callable[[int], list[Box3D]],
    target_ns: int,
    *,
    margin_m: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, list[Box3D]]:
    """Carry the points of moving objects to ``target_ns`` with their boxes.

    ``points`` (N, 3) are in a world frame (already deskewed: each point where it was at its own time ``point_ns``),
    ``boxes_fn(t)`` returns the labelled boxes at ``t`` in that frame (e.g. ``lambda t: boxes_at(keyframes, t)[0]``,
    or a simulator's truth). Each track's box is taken at the earliest and latest point time and interpolated per
    point (linear centre and size, constant-rate rotation): a point inside its track's box *at its own time* (grown by
    ``margin_m`` on every side: returns from a surface scatter around it with the range noise) belongs to it and is
    moved rigidly to where that box is at ``target_ns``. Other points are returned unchanged. Tracks
    missing at any of the three times are not moved (boxes without a ``track_id`` cannot be matched).

    Returns:
        ``(moved points (N, 3) float64, owner (N,) int64 index into the target boxes or -1, the target boxes)``.
    """
    from scipy.spatial.transform import Rotation

    P = np.asarray(points, np.float64)
    t = np.asarray(point_ns, np.int64).ravel()
    if P.ndim != 2 or P.shape[1] != 3 or P.shape[0] != t.shape[0]:
        raise ValidationError(f"points: expected (N, 3) with (N,) point times, got {P.shape} and {t.shape}")
    targets = boxes_fn(int(target_ns))
    out = P.copy()
    owner = np.full(P.shape[0], -1, np.int64)
    if P.shape[0] == 0 or not targets:
        return out, owner, targets
    t0, t1 = int(t.min()), int(t.max())
    first = {b.track_id: b for b in boxes_fn(t0) if b.track_id is not None}
    last = {b.track_id: b for b in boxes_fn(t1) if b.track_id is not None}
    f = (t - t0).astype(np.float64) / (t1 - t0) if t1 > t0 else np.zeros(t.shape)
    for k, c in enumerate(targets):
        a, b = first.get(c.track_id), last.get(c.track_id)
        if c.track_id is None or a is None or b is None:
            continue
        reach = 0.5 * float(np.linalg.norm(np.maximum(a.size, b.size) + 2 * margin_m))
        reach += 0.5 * float(np.linalg.norm(b.center - a.center))
        cand = np.flatnonzero(
            (np.linalg.norm(P - 0.5 * (a.center + b.center), axis=1) <= reach) & (owner < 0)
        )  # fmt: skip
        if cand.size == 0:
            continue
        fc = f[cand, None]
        centre = a.center + fc * (b.center - a.center)
        half = 0.5 * (a.size + fc * (b.size - a.size)) + margin_m
        rel = Rotation.from_matrix(a.rotation.T @ b.rotation).as_rotvec()
        R = a.rotation @ Rotation.from_rotvec(fc * rel).as_matrix()  # (n, 3, 3) box -> world at each point's time
        local = np.einsum("nji,nj->ni", R, P[cand] - centre)
        inside = np.all(np.abs(local) <= half, axis=1)
        idx = cand[inside]
        owner[idx] = k
        out[idx] = c.center + local[inside] @ c.rotation.T
    return out, owner, targets


def ground_plane(
    points: object, *, threshold_m: float = 0.1, iterations: int = 300, seed: int = 0, max_tilt_deg: float = 15.0
) -> np.ndarray:
    """The ground plane of a cloud in a z-up frame: ``(a, b, c, d)`` with ``a x + b y + c z + d = 0``, the normal
    ``(a, b, c)`` of unit length pointing up (so ``points @ n + d`` is the height above the ground).

    Open3D's RANSAC plane segmentation (``segment_plane``, seeded: the same cloud gives the same plane) on the lower
    half of the cloud (a wall of a building can hold more points than the road, but not below the median height).

    Raises:
        ValidationError: fewer than 3 finite points, or the plane found is tilted more than ``max_tilt_deg`` (not
            the ground: the frame is not z-up, or the cloud holds no ground).
    """
    import open3d as o3d

    P = np.asarray(points, np.float64)
    if P.ndim != 2 or P.shape[1] != 3:
        raise ValidationError(f"ground_plane: expected (N, 3) points, got {P.shape}")
    P = P[np.isfinite(P).all(axis=1)]
    if P.shape[0] < 3:
        raise ValidationError(f"ground_plane: {P.shape[0]} finite points; need at least 3")
    low = P[P[:, 2] <= np.median(P[:, 2])]
    if low.shape[0] < 3:
        low = P
    o3d.utility.random.seed(seed)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(low))
    plane, _ = pc.segment_plane(threshold_m, 3, iterations)
    plane = np.asarray(plane, np.float64)
    plane /= np.linalg.norm(plane[:3])
    if plane[2] < 0:
        plane = -plane
    tilt = float(np.degrees(np.arccos(np.clip(plane[2], -1.0, 1.0))))
    if tilt > max_tilt_deg:
        raise ValidationError(
            f"ground_plane: the largest plane in the lower half of the cloud is tilted {tilt:.1f} deg from "
            f"horizontal (limit {max_tilt_deg}): the points are not in a z-up frame, or hold no ground"
        )
    return plane


def ground_points(
    points: object, *, plane: object | None = None, cell_m: float = 2.0, height_m: float = 0.15
) -> np.ndarray:
    """Which points of a z-up cloud are ground: ``(N,) bool``.

    One plane (``plane``, default :func:`ground_plane`) fits a road to ~0.1 m near the vehicle, not over tens of
    metres: on KITTI 000001 the road is 0.7 m below it at 60 m. So the plane only sets "up"; the ground level is
    local: in cells of ``cell_m`` over the plane, the 10th percentile height of the points within 3 m of the plane,
    then the lowest of those over each cell and its 8 neighbours (a car's cell is not all car: the road beside it
    counts). A point is ground when it is less than ``height_m`` above that level. Points more than 3 m below or
    above the plane are not ground."""
    from scipy.ndimage import minimum_filter

    P = np.asarray(points, np.float64)
    g = ground_plane(P) if plane is None else np.asarray(plane, np.float64).ravel()
    if g.shape != (4,) or not np.isfinite(g).all():
        raise ValidationError(f"ground_points: plane must be (a, b, c, d), got {g}")
    n = g[:3] / np.linalg.norm(g[:3])
    h = P @ n + g[3] / np.linalg.norm(g[:3])
    e1 = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    near = np.isfinite(h) & (np.abs(h) < 3.0)
    if not near.any():
        return np.zeros(P.shape[0], bool)
    ij = np.floor(np.c_[P @ e1, P @ e2] / cell_m).astype(np.int64)
    lo = ij[near].min(axis=0)
    ij -= lo
    shape = tuple(ij[near].max(axis=0) + 1)
    # each cell's low: its 10th percentile height (a stray return below the road does not set the level)
    k = np.flatnonzero(near)
    cell = ij[k, 0] * shape[1] + ij[k, 1]
    order = np.lexsort((h[k], cell))
    cells, start, count = np.unique(cell[order], return_index=True, return_counts=True)
    level = np.full(shape[0] * shape[1], np.inf)
    level[cells] = h[k][order][start + (0.1 * (count - 1)).astype(np.int64)]
    level = minimum_filter(level.reshape(shape), size=3, mode="constant", cval=np.inf)
    out = np.zeros(P.shape[0], bool)
    out[k] = h[k] - level[ij[k, 0], ij[k, 1]] < height_m
    return out


def box_from_2d(
    xyxy: object,
    points: object,
    proj: Any,
    *,
    gap_m: float = 0.7,
    min_points: int = 5,
    ground: object | None = None,
    label: str = "",
    frame_id: str = "lidar",
    stamp_ns: int = 0,
) -> tuple[np.ndarray, Box3D | None]:
    """Candidate 3D points and box of a 2D box (a 2D label proposes its 3D label).

    The visible points (z-buffer) in the box's frustum (:func:`~sensorfuse.geometry.projection.points_in_image_box`),
    less the ``ground`` points (:func:`ground_points`; without them the road under a pedestrian joins the
    pedestrian: on KITTI 000000, 31 % of the points taken were the pedestrian's),
    are split into clusters where consecutive depths are more than ``gap_m`` apart; the nearest cluster with at
    least a quarter of the points of the largest is the object: what a 2D box was drawn around is in front, while
    the wall behind a pedestrian can hold more points than the pedestrian (KITTI 000000), and a thin pole in front
    of a car far fewer than the car. The
    candidate box is the smallest rectangle around the cluster in the ground plane (``cv2.minAreaRect`` on x, y of
    ``points``, whose z is up: a LiDAR frame) and its height range; length >= width, yaw along the length. It is the
    box of what the LiDAR saw — the visible faces — so it is smaller than the object when only one face was hit.

    Args:
        xyxy: the 2D box (pixels).
        points: (N, 3) the cloud in a z-up frame, the one ``proj`` projected.
        proj: :func:`~sensorfuse.geometry.projection.project_cloud` of those points with ``zbuffer=True``.
        ground: which of ``points`` are ground (:func:`ground_points`), or None.

    Returns:
        ``(indices of the object's points, Box3D or None when fewer than min_points)``.
    """
    import cv2

    from sensorfuse.geometry.projection import points_in_image_box

    P = np.asarray(points, np.float64)
    if proj.visible is None or P.ndim != 2 or P.shape[1] != 3 or P.shape[0] != proj.depth.shape[0]:
        raise ValidationError("box_from_2d: expected the (N, 3) points and their projection with zbuffer=True")
    idx = points_in_image_box(proj, xyxy)
    if ground is not None:
        gm = np.asarray(ground)
        if gm.shape != (P.shape[0],) or gm.dtype != bool:
            raise ValidationError(f"box_from_2d: ground must be a bool mask of the {P.shape[0]} points (ground_points)")
        idx = idx[~gm[idx]]
    if idx.size < min_points:
        return idx, None
    order = idx[np.argsort(proj.depth[idx], kind="stable")]
    cuts = np.flatnonzero(np.diff(proj.depth[order]) > gap_m) + 1
    clusters = np.split(order, cuts)
    biggest = max(c.size for c in clusters)
    best = next(c for c in clusters if c.size >= 0.25 * biggest)  # the nearest substantial one
    if best.size < min_points:
        return best, None
    Q = P[best]
    (cx, cy), (a, b), ang = cv2.minAreaRect(Q[:, :2].astype(np.float32))
    yaw = np.deg2rad(ang)
    if b > a:  # length along the longer side
        a, b, yaw = b, a, yaw + np.pi / 2
    z0, z1 = float(Q[:, 2].min()), float(Q[:, 2].max())
    c, s_ = np.cos(yaw), np.sin(yaw)
    R = np.array([[c, -s_, 0.0], [s_, c, 0.0], [0.0, 0.0, 1.0]])
    box = Box3D(
        [cx, cy, 0.5 * (z0 + z1)], [max(a, 1e-3), max(b, 1e-3), max(z1 - z0, 1e-3)], R, frame_id, stamp_ns,
        label, attributes={"points": int(best.size), "from_2d": [float(v) for v in np.ravel(xyxy)[:4]]},
    )  # fmt: skip
    return best, box
