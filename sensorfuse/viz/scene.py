"""What the viewer shows, as plain arrays: one synchronised moment (:class:`ViewFrame`), the colours of its cloud,
the line sets of its boxes and camera frusta, and the 2D overlay of a camera. No Open3D here (see
:mod:`sensorfuse.viz.render`); the frame sources live in :mod:`sensorfuse.pipelines.view`.

Every 3D quantity of a frame is in one *reference frame* (``ViewFrame.ref_frame``, the ego/LiDAR frame, z up) at the
frame's stamp; ``forward`` says which of its axes points ahead (x for KITTI and ROS, y for nuScenes' LIDAR_TOP), so the
chase view can sit behind the ego.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorfuse.errors import ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import invert_transform
from sensorfuse.types import Box2D, Box3D

__all__ = [
    "COLOUR_MODES",
    "LAYERS",
    "RadarView",
    "ViewCamera",
    "ViewFrame",
    "box_edges_2d",
    "box_lines",
    "class_colour",
    "cloud_colours",
    "draw_camera_overlay",
    "draw_track_ids",
    "frustum_lines",
    "hud_lines",
    "track_tag",
]

#: what ``--colour`` can colour the cloud by
COLOUR_MODES = ("intensity", "height", "range", "camera")
#: layers the viewer can toggle
LAYERS = ("cloud", "boxes", "radar", "frusta", "images", "trajectory", "axes", "labels2d", "hud")

#: RGB in [0, 1] of the usual classes; other classes get a stable colour from their name
_CLASS_RGB = {
    "car": (0.0, 0.86, 0.0),
    "van": (0.0, 0.7, 0.55),
    "truck": (0.95, 0.55, 0.0),
    "bus": (0.9, 0.75, 0.0),
    "trailer": (0.75, 0.45, 0.2),
    "pedestrian": (0.95, 0.1, 0.55),
    "person_sitting": (0.8, 0.2, 0.7),
    "cyclist": (0.1, 0.45, 1.0),
    "bicycle": (0.1, 0.45, 1.0),
    "motorcycle": (0.3, 0.3, 1.0),
    "tram": (0.6, 0.3, 0.9),
    "misc": (0.6, 0.6, 0.6),
}
_PALETTE = np.array(
    [(0.12, 0.47, 0.71), (1.0, 0.5, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16), (0.58, 0.4, 0.74),
     (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81)]
)  # fmt: skip
#: the 12 edges of Box3D.corners (bottom face, top face, pillars)
BOX_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]])
#: BGR of a flagged object (low IoU) and of an annotated 2D box in the overlay
FLAGGED_BGR = (0, 0, 255)
ANNOTATED_BGR = (255, 160, 0)


def class_colour(label: str) -> tuple[float, float, float]:
    """RGB in [0, 1] of a class (``Car``, ``vehicle.car`` and ``car`` share one); unknown classes get a colour that is
    the same in every run."""
    key = str(label).lower().rsplit(".", 1)[-1]
    if key in _CLASS_RGB:
        return _CLASS_RGB[key]
    h = int(hashlib.md5(key.encode()).hexdigest()[:8], 16)
    return tuple(float(v) for v in _PALETTE[h % len(_PALETTE)])  # type: ignore[return-value]


def class_bgr(label: str) -> tuple[int, int, int]:
    """The class colour as 8-bit BGR (OpenCV)."""
    r, g, b = class_colour(label)
    return round(b * 255), round(g * 255), round(r * 255)


@dataclass
class ViewCamera:
    """One camera of a frame.

    Attributes:
        name: the camera's name.
        camera: its intrinsics.
        T_ref_cam: (4, 4) camera -> reference frame.
        image: BGR uint8 image of this moment, or None.
        labels_2d: annotated 2D boxes in this image, each with its label cross-check
            (:class:`~sensorfuse.fusion.labels.LabelCheck`: IoU, flags) or None.
        checks: every object's cross-check; a 3D box whose ``attributes["object_id"]`` has flags is drawn in red.
        stamp_ns: the image's stamp on the reference clock.
    """

    name: str
    camera: CameraModel
    T_ref_cam: np.ndarray
    image: np.ndarray | None = None
    labels_2d: list[tuple[Box2D, Any]] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)
    stamp_ns: int | None = None

    @property
    def T_cam_ref(self) -> np.ndarray:
        return invert_transform(self.T_ref_cam)


@dataclass
class RadarView:
    """Radar detections in the reference frame: ``xyz`` (N, 3) and radial ``doppler`` speed (N,), m/s (positive:
    moving away)."""

    xyz: np.ndarray
    doppler: np.ndarray
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass
class ViewFrame:
    """One synchronised moment, everything in ``ref_frame`` (see the module docstring).

    Attributes:
        index, name: position in the source and a name for the screen (``000003``, ``frame 12``).
        stamp_ns: the reference stamp, or None (KITTI object frames have no time).
        ref_frame: the frame everything is in; ``forward``: its axis pointing ahead (0 = x, 1 = y).
        xyz, intensity: the LiDAR cloud (N, 3) and intensity (N,) or None.
        boxes: 3D boxes in ``ref_frame`` (label, track id, yaw from their rotation).
        cameras: the cameras of this moment.
        radar: radar detections, or None.
        trajectory: (M, 3) ego positions over the log in ``ref_frame`` at this moment, or None.
        axes: named frames to draw as axes: ``{name: T_ref_frame}`` (the transform tree).
        time_errors_ns: per stream, its message's time minus the reference stamp.
        notes: what is shown inexactly (not deskewed, boxes held, ...).
    """

    index: int
    name: str
    stamp_ns: int | None
    ref_frame: str
    xyz: np.ndarray
    intensity: np.ndarray | None = None
    boxes: list[Box3D] = field(default_factory=list)
    cameras: list[ViewCamera] = field(default_factory=list)
    radar: RadarView | None = None
    trajectory: np.ndarray | None = None
    axes: dict[str, np.ndarray] = field(default_factory=dict)
    time_errors_ns: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    forward: int = 0

    def camera(self, name: str | None) -> ViewCamera:
        """The camera called ``name`` (the first one for None)."""
        if not self.cameras:
            raise ValidationError(f"frame {self.name}: no camera in this frame")
        if name is None:
            return self.cameras[0]
        for c in self.cameras:
            if c.name == name:
                return c
        raise ValidationError(
            f"frame {self.name}: no camera {name!r}; cameras: {', '.join(c.name for c in self.cameras)}"
        )


# -- colours ---------------------------------------------------------------------------------------------------------


def _ramp(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Turbo colours (RGB in [0, 1]) of ``values`` scaled from ``lo`` to ``hi``."""
    from sensorfuse.viz.overlay import turbo_lut

    t = np.clip((values - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    lut = turbo_lut()[:, ::-1] / 255.0
    return lut[np.rint(t * 255).astype(np.int64)]


def cloud_colours(frame: ViewFrame, by: str = "intensity") -> tuple[np.ndarray, str]:
    """(N, 3) RGB in [0, 1] of the frame's cloud, and what it shows (``by`` falls back to height, and says so, when
    the frame has no intensity or no camera image).

    ``intensity``: 1st-99th percentile stretched over the turbo map; ``height``: -2..4 m; ``range``: 0..60 m;
    ``camera``: the colour of the first camera that sees each point unoccluded (z-buffer), gray for the others.
    """
    if by not in COLOUR_MODES:
        raise ValidationError(f"colour {by!r}: expected one of {', '.join(COLOUR_MODES)}")
    xyz = frame.xyz
    if xyz.shape[0] == 0:
        return np.zeros((0, 3)), by
    if by == "intensity":
        if frame.intensity is None or not np.isfinite(frame.intensity).any():
            return cloud_colours(frame, "height")[0], "height (no intensity)"
        lo, hi = np.nanpercentile(frame.intensity, [1, 99])
        return _ramp(np.nan_to_num(frame.intensity, nan=lo), lo, hi), by
    if by == "range":
        return _ramp(np.linalg.norm(xyz, axis=1), 0.0, 60.0), by
    if by == "camera":
        from sensorfuse.geometry.projection import colourise

        views = [(c.T_cam_ref, c.camera, c.image) for c in frame.cameras if c.image is not None]
        if not views:
            return cloud_colours(frame, "height")[0], "height (no camera image)"
        colours, which = colourise(xyz, views)
        out = np.full((xyz.shape[0], 3), 0.45)
        seen = which >= 0
        out[seen] = colours[seen, ::-1] / 255.0  # BGR -> RGB
        return out, by
    return _ramp(xyz[:, 2], -2.0, 4.0), by


# -- line sets ---------------------------------------------------------------------------------------------------------


def box_lines(boxes: list[Box3D]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wireframes of 3D boxes with their heading: ``(points (10K, 3), lines (15K, 2), RGB per line (15K, 3))``.

    Per box: the 12 edges, a cross on the front face (+x of the box) and a line from the bottom centre to the front,
    all in the class colour."""
    if not boxes:
        return np.zeros((0, 3)), np.zeros((0, 2), np.int64), np.zeros((0, 3))
    per_box = np.vstack([BOX_EDGES, [[0, 7], [3, 4], [8, 9]]])
    pts, lines, cols = [], [], []
    for k, b in enumerate(boxes):
        down = b.rotation[:, 2] * b.size[2] / 2
        front = b.rotation[:, 0] * b.size[0] / 2
        pts.append(np.vstack([b.corners(), b.center - down, b.center + front - down]))
        lines.append(per_box + 10 * k)
        cols.append(np.tile(class_colour(b.label), (len(per_box), 1)))
    return np.vstack(pts), np.vstack(lines), np.vstack(cols)


def frustum_lines(
    camera: CameraModel, T_ref_cam: np.ndarray, depth_m: float = 3.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The camera's pyramid: ``(points (5, 3): centre then the image corners at ``depth_m`` (top-left, top-right,
    bottom-right, bottom-left), lines (8, 2), quad (4, 3) = the far rectangle)`` in the reference frame.

    The corners are the rays of the pixel corners through the pinhole part of the model (a fisheye's wide view is
    cut to the rectangle its K spans)."""
    w, h = camera.width, camera.height
    uv = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    Kinv = np.linalg.inv(camera.K)
    rays = np.c_[uv, np.ones(4)] @ Kinv.T
    far = rays * depth_m
    cam_pts = np.vstack([np.zeros(3), far])
    ref = cam_pts @ T_ref_cam[:3, :3].T + T_ref_cam[:3, 3]
    lines = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1]])
    return ref, lines, ref[1:]


# -- 2D overlay ----------------------------------------------------------------------------------------------------------


def box_edges_2d(
    box: Box3D, T_cam_ref: np.ndarray, camera: CameraModel, *, samples: int = 32, near_m: float = 0.1
) -> list[np.ndarray]:
    """The 12 edges of ``box`` in the image of ``camera`` as polylines ((k, 2) pixel arrays), each edge sampled
    ``samples`` times (distortion bends straight edges) and cut where it goes behind ``near_m`` or outside the
    model's valid range."""
    C = box.corners() @ T_cam_ref[:3, :3].T + T_cam_ref[:3, 3]
    s = np.linspace(0.0, 1.0, samples)
    a, b = C[BOX_EDGES[:, 0]], C[BOX_EDGES[:, 1]]
    pts = a[:, None, :] + s[None, :, None] * (b - a)[:, None, :]
    uv, ok = camera._project(pts.reshape(-1, 3))
    if camera.model != "kannala_brandt":
        ok &= pts.reshape(-1, 3)[:, 2] >= near_m
    ok &= np.isfinite(uv).all(axis=1)
    uv = np.clip(np.nan_to_num(uv), -1e5, 1e5)  # far outside the image: cv2 clips the line, int32 must hold it
    uv, ok = uv.reshape(12, samples, 2), ok.reshape(12, samples)
    out = []
    for e in range(12):
        # split each edge into runs of valid samples
        idx = np.flatnonzero(ok[e])
        if idx.size < 2:
            continue
        breaks = np.flatnonzero(np.diff(idx) > 1) + 1
        for run in np.split(idx, breaks):
            if run.size >= 2:
                out.append(uv[e, run])
    return out


def draw_camera_overlay(
    frame: ViewFrame,
    camera: str | None = None,
    *,
    layers: tuple[str, ...] | set[str] = LAYERS,
    max_depth_m: float = 60.0,
    hud: bool = True,
) -> np.ndarray:
    """The 2D view of one camera: its image (gray when the frame has none) with the LiDAR points the z-buffer finds
    visible (coloured by depth), the box wireframes projected through the full camera model (flagged objects red),
    the annotated 2D boxes (orange) with IoU captions, and the frame's stamp and time errors. BGR uint8."""
    import cv2

    from sensorfuse.geometry.projection import project_cloud
    from sensorfuse.viz.overlay import draw_points

    cam = frame.camera(camera)
    model = cam.camera
    if cam.image is not None:
        img = cam.image
        if img.shape[:2] != (model.height, model.width):
            raise ValidationError(
                f"camera {cam.name}: image is {img.shape[1]}x{img.shape[0]}, the camera model {model.width}x{model.height}"
            )
        out = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img[..., :3].copy()
    else:
        out = np.full((model.height, model.width, 3), 40, np.uint8)
    T = cam.T_cam_ref
    if "cloud" in layers and frame.xyz.shape[0]:
        proj = project_cloud(frame.xyz, T, model, zbuffer=True, splat=1)
        out = draw_points(out, proj, max_depth_m=max_depth_m, radius=1)
    flagged = {str(c.id) for c in cam.checks if "iou_below" in c.flags}
    if "boxes" in layers:
        for b in frame.boxes:
            bad = str(b.attributes.get("object_id", "")) in flagged
            colour = FLAGGED_BGR if bad else class_bgr(b.label)
            polys = box_edges_2d(b, T, model)
            for poly in polys:
                cv2.polylines(out, [np.round(poly).astype(np.int32)], False, colour, 1, cv2.LINE_8)
            tag = track_tag(b)
            if tag and polys:
                allp = np.vstack(polys)
                inside = allp[
                    (allp[:, 0] >= 0) & (allp[:, 0] < model.width) & (allp[:, 1] >= 0) & (allp[:, 1] < model.height)
                ]
                if len(inside):
                    top = inside[np.argmin(inside[:, 1])]
                    org = (int(top[0]), max(int(top[1]) - 3, 10))
                    cv2.putText(out, tag, org, cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA)
    if "labels2d" in layers:
        for b2, chk in cam.labels_2d:
            bad = chk is not None and "iou_below" in chk.flags
            colour = FLAGGED_BGR if bad else ANNOTATED_BGR
            p0, p1 = (round(b2.xmin), round(b2.ymin)), (round(b2.xmax), round(b2.ymax))
            cv2.rectangle(out, p0, p1, colour, 2 if bad else 1, cv2.LINE_8)
            cap = b2.label if chk is None or chk.iou is None else f"{b2.label} IoU {chk.iou:.2f}"
            cv2.putText(out, cap, (p0[0], max(p0[1] - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
    if hud and "hud" in layers:
        draw_text_block(out, hud_lines(frame, cam.name))
    return out


def track_tag(box: Box3D) -> str:
    """The text drawn beside a box: ``#<track id>``, a nuScenes-style token (16+ hex characters) cut to 6; an
    object without a real track id (none, or a stand-in with a space such as the simulator's ``"instance 21"`` for
    the calibration board) is named by its label, whole: never a clipped fragment."""
    tid = box.track_id
    if tid is None or (isinstance(tid, str) and not tid.strip()):
        return box.label or ""
    text = str(tid)
    if " " in text:
        return box.label or text
    if len(text) >= 16 and all(c in "0123456789abcdef" for c in text.lower()):
        return f"#{text[:6]}"
    return f"#{text}"


def draw_track_ids(image: np.ndarray, boxes: list[Box3D], K: np.ndarray, T_cam_ref: np.ndarray) -> None:
    """Track ids over the top centres of ``boxes`` in an image of the pinhole camera ``K`` at ``T_cam_ref``, in
    place (the 3D window cannot draw text; screenshots get it this way)."""
    import cv2

    h, w = image.shape[:2]
    for b in boxes:
        tag = track_tag(b)
        if not tag:
            continue
        top = b.center + b.rotation[:, 2] * b.size[2] / 2
        p = T_cam_ref[:3, :3] @ top + T_cam_ref[:3, 3]
        if p[2] < 0.5:
            continue
        u, v = (K @ (p / p[2]))[:2]
        if 0 <= u < w and 12 <= v < h:
            org = (int(u) - 10, int(v) - 4)
            # white on a dark outline: readable on any background, and no pixel in a class colour away from the box
            cv2.putText(image, tag, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (20, 20, 20), 3, cv2.LINE_AA)
            cv2.putText(image, tag, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (245, 245, 245), 1, cv2.LINE_AA)


def hud_lines(frame: ViewFrame, camera: str | None = None) -> list[str]:
    """What the viewer prints over its views: the frame, its stamp, the per-stream time errors and the notes."""
    stamp = "no stamp" if frame.stamp_ns is None else f"t = {frame.stamp_ns / 1e9:.3f} s ({frame.stamp_ns} ns)"
    lines = [f"frame {frame.index}: {frame.name}   {stamp}   {frame.xyz.shape[0]} points, {len(frame.boxes)} boxes"]
    if camera is not None:
        lines[0] += f"   [{camera}]"
    if frame.time_errors_ns:
        errs = ", ".join(f"{k} {v / 1e6:+.1f}" for k, v in frame.time_errors_ns.items())
        lines.append(f"time error vs reference (ms): {errs}")
    lines += [f"note: {n}" for n in frame.notes[:3]]
    return lines


def draw_text_block(
    image: np.ndarray, lines: list[str], *, origin: tuple[int, int] = (6, 6), scale: float = 0.45
) -> None:
    """Lines of text on a darkened box at ``origin`` (top-left), in place."""
    import cv2

    if not lines:
        return
    font = cv2.FONT_HERSHEY_SIMPLEX
    sizes = [cv2.getTextSize(t, font, scale, 1)[0] for t in lines]
    step = max(s[1] for s in sizes) + 6
    x0, y0 = origin
    x1 = min(image.shape[1], x0 + max(s[0] for s in sizes) + 10)
    y1 = min(image.shape[0], y0 + step * len(lines) + 6)
    roi = image[y0:y1, x0:x1]
    roi[:] = (roi * 0.35).astype(np.uint8)
    for k, t in enumerate(lines):
        cv2.putText(image, t, (x0 + 5, y0 + step * (k + 1)), font, scale, (235, 235, 235), 1, cv2.LINE_AA)
