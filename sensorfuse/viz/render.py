"""Open3D rendering of a :class:`~sensorfuse.viz.scene.ViewFrame`: the geometries (cloud, boxes, radar, frusta with
their images, trajectory, axes) and the virtual cameras of the views (``chase`` behind and above the ego, ``bev`` from
above, ``camera`` / ``camera:NAME`` from a camera's pose with the pinhole part of its intrinsics).

Rendering uses Open3D's legacy OpenGL visualizer in a hidden window: it runs under ``xvfb-run`` and, where no X
display exists, in Open3D's headless EGL fallback. (Open3D 0.20's Filament ``OffscreenRenderer`` needs a Vulkan
driver that a plain Debian machine does not have.)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import ValidationError, ViewerError
from sensorfuse.geometry.transforms import invert_transform
from sensorfuse.viz.scene import (
    LAYERS,
    ViewFrame,
    box_lines,
    class_colour,
    cloud_colours,
    draw_text_block,
    draw_track_ids,
    frustum_lines,
    hud_lines,
)

__all__ = [
    "VIEWS",
    "Renderer",
    "ViewerError",
    "apply_camera",
    "configure_window",
    "geometries",
    "pinhole_parameters",
    "screenshot",
    "view_camera",
]

VIEWS = ("chase", "bev", "camera")
#: distance of the image drawn on a camera's frustum, m; the backdrop of a camera view sits at BACKDROP_M
FRUSTUM_M = 3.0
BACKDROP_M = 400.0
BACKGROUND = (0.07, 0.07, 0.09)
#: a radar arrow shows this many seconds of the detection's radial motion
DOPPLER_ARROW_S = 0.5


def _o3d() -> Any:
    """open3d, quiet; with an XDG_RUNTIME_DIR (GLFW complains on stderr without one, e.g. as root under xvfb)."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        d = Path(tempfile.gettempdir()) / f"sensorfuse-xdg-{os.getuid() if hasattr(os, 'getuid') else 0}"
        d.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(d)
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d


def view_camera(frame: ViewFrame, view: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The virtual camera of ``view``: ``(K (3, 3), T_cam_ref (4, 4))`` in OpenCV axes (x right, y down, z ahead).

    ``chase``: 14 m behind and 7 m above the ego, looking 12 m ahead, 60 deg across; ``bev``: 70 m above, forward up
    the screen; ``camera`` / ``camera:NAME``: that camera's pose and the pinhole part of its K (the window must have
    the camera's size)."""
    kind, _, name = view.partition(":")
    if kind not in VIEWS:
        raise ValidationError(f"view {view!r}: expected chase, bev, camera or camera:NAME")
    if kind == "camera":
        cam = frame.camera(name or None)
        return cam.camera.K.copy(), cam.T_cam_ref
    fwd = np.eye(3)[frame.forward]
    up = np.array([0.0, 0.0, 1.0])
    if kind == "chase":
        eye, target = -14.0 * fwd + 7.0 * up, 12.0 * fwd
        z = (target - eye) / np.linalg.norm(target - eye)
        x = np.cross(z, up)
        x /= np.linalg.norm(x)
        fov_deg = 60.0
    else:
        eye, z = 70.0 * up, -up
        x = np.cross(fwd, up)
        fov_deg = 70.0
    y = np.cross(z, x)
    T_ref_cam = np.eye(4)
    T_ref_cam[:3, :3] = np.stack([x, y, z], axis=1)
    T_ref_cam[:3, 3] = eye
    f = (width / 2.0) / np.tan(np.radians(fov_deg) / 2.0)
    K = np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])
    return K, invert_transform(T_ref_cam)


def _line_set(o3d: Any, pts: np.ndarray, lines: np.ndarray, colours: np.ndarray) -> Any:
    ls = o3d.geometry.LineSet(o3d.utility.Vector3dVector(pts), o3d.utility.Vector2iVector(lines.astype(np.int32)))
    ls.colors = o3d.utility.Vector3dVector(colours)
    return ls


def _textured_quad(o3d: Any, quad: np.ndarray, image_bgr: np.ndarray) -> Any:
    """A rectangle (corners TL, TR, BR, BL) showing ``image_bgr``."""
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(quad), o3d.utility.Vector3iVector(np.array([[0, 1, 2], [0, 2, 3]], np.int32))
    )
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 0], [1, 1], [0, 1]], np.float64)
    mesh.triangle_uvs = o3d.utility.Vector2dVector(uv)
    mesh.triangle_material_ids = o3d.utility.IntVector([0, 0])
    rgb = np.ascontiguousarray(image_bgr[..., ::-1]) if image_bgr.ndim == 3 else np.ascontiguousarray(image_bgr)
    mesh.textures = [o3d.geometry.Image(rgb)]
    return mesh


def _undistorted(cam: Any) -> np.ndarray:
    """The camera's image seen through the pinhole part of its model (what the 3D view from its pose shows)."""
    import cv2

    m = cam.camera
    img = cam.image
    if m.model == "pinhole":
        return img
    if m.model == "kannala_brandt":
        return cv2.fisheye.undistortImage(img, m.K, m.dist[:4], Knew=m.K, new_size=(m.width, m.height))
    return cv2.undistort(img, m.K, m.dist)


def geometries(
    frame: ViewFrame,
    *,
    layers: tuple[str, ...] | set[str] = LAYERS,
    colour_by: str = "intensity",
    view: str = "chase",
) -> tuple[list[Any], dict[str, Any]]:
    """Open3D geometries of the frame's layers, and what was drawn (``{"colour": what the cloud shows, ...}``)."""
    o3d = _o3d()
    bad = set(layers) - set(LAYERS)
    if bad:
        raise ValidationError(f"layers {sorted(bad)}: expected some of {', '.join(LAYERS)}")
    out: list[Any] = []
    info: dict[str, Any] = {}
    if "cloud" in layers and frame.xyz.shape[0]:
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(frame.xyz, np.float64)))
        colours, info["colour"] = cloud_colours(frame, colour_by)
        pc.colors = o3d.utility.Vector3dVector(colours)
        out.append(pc)
    if "boxes" in layers and frame.boxes:
        out.append(_line_set(o3d, *box_lines(frame.boxes)))
    if "radar" in layers and frame.radar is not None and frame.radar.xyz.shape[0]:
        r = frame.radar
        rays = r.xyz - r.origin
        dirs = rays / np.maximum(np.linalg.norm(rays, axis=1, keepdims=True), 1e-9)
        tips = r.xyz + dirs * (DOPPLER_ARROW_S * r.doppler[:, None])  # where it moves along the ray in that time
        n = r.xyz.shape[0]
        colours = np.where((r.doppler >= 0)[:, None], [1.0, 0.35, 0.2], [0.2, 0.6, 1.0])
        out.append(_line_set(o3d, np.vstack([r.xyz, tips]), np.c_[np.arange(n), np.arange(n) + n], colours))
        dots = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(r.xyz))
        dots.colors = o3d.utility.Vector3dVector(np.tile([1.0, 1.0, 0.2], (n, 1)))
        out.append(dots)
    kind, _, vname = view.partition(":")
    in_cam = None
    if kind == "camera":  # seen from inside a camera: no frusta or axes (they sit at the eye and fill the view)
        in_cam = frame.camera(vname or None).name
        layers = set(layers) - {"frusta", "axes"}
    for cam in frame.cameras:
        if cam.name == in_cam:
            if "images" in layers and cam.image is not None:
                _, _, quad = frustum_lines(cam.camera, cam.T_ref_cam, BACKDROP_M)
                out.append(_textured_quad(o3d, quad, _undistorted(cam)))
            continue
        if "frusta" in layers:
            pts, lines, quad = frustum_lines(cam.camera, cam.T_ref_cam, FRUSTUM_M)
            out.append(_line_set(o3d, pts, lines, np.tile([0.9, 0.9, 0.9], (len(lines), 1))))
            if "images" in layers and cam.image is not None:
                out.append(_textured_quad(o3d, quad, _undistorted(cam)))
    if "trajectory" in layers and frame.trajectory is not None and len(frame.trajectory) > 1:
        p = np.asarray(frame.trajectory, np.float64)
        seg = np.c_[np.arange(len(p) - 1), np.arange(1, len(p))]
        out.append(_line_set(o3d, p, seg, np.tile([1.0, 0.85, 0.1], (len(seg), 1))))
    if "axes" in layers:
        for _name, T in frame.axes.items():
            ax = o3d.geometry.TriangleMesh.create_coordinate_frame(size=0.6)
            ax.transform(np.asarray(T, np.float64))
            out.append(ax)
    return out, info


def _centring(K: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Open3D's legacy renderer puts the principal point at the window centre whatever K says, so a camera whose
    (cx, cy) is off-centre is rendered in a window padded to centre it and cropped: ``(window w, window h, left,
    top)`` (the half-pixel left when the padding is odd is the only error, <= 0.5 px)."""
    du = round(float(width - 1 - 2 * K[0, 2]))
    dv = round(float(height - 1 - 2 * K[1, 2]))
    return width + abs(du), height + abs(dv), max(du, 0), max(dv, 0)


def view_size(frame: ViewFrame, view: str, size: tuple[int, int] | None) -> tuple[int, int]:
    """The image size of ``view``: the camera's for camera views, else ``size`` (default 1280x720)."""
    kind, _, name = view.partition(":")
    if kind == "camera":
        cam = frame.camera(name or None).camera
        return cam.width, cam.height
    return size or (1280, 720)


def window_size(frame: ViewFrame, view: str, size: tuple[int, int] | None = None) -> tuple[int, int]:
    """The size of the (hidden) window that renders ``view`` (see :func:`_centring`)."""
    w, h = view_size(frame, view, size)
    kind, _, name = view.partition(":")
    if kind == "camera":
        return _centring(frame.camera(name or None).camera.K, w, h)[:2]
    return w, h


def configure_window(vis: Any) -> None:
    """The render options every sensorfuse window uses (hidden renderer and interactive viewer alike)."""
    opt = vis.get_render_option()
    opt.background_color = np.array(BACKGROUND)
    opt.point_size = 2.0
    opt.light_on = False
    opt.mesh_show_back_face = True


def pinhole_parameters(K: np.ndarray, T_cam_ref: np.ndarray, width: int, height: int) -> Any:
    """Open3D camera parameters of focal lengths ``K`` and pose ``T_cam_ref`` for a ``width`` x ``height`` window;
    the principal point is the window centre (where the legacy renderer puts it anyway, see :func:`_centring`)."""
    o3d = _o3d()
    params = o3d.camera.PinholeCameraParameters()
    params.intrinsic = o3d.camera.PinholeCameraIntrinsic(
        width, height, K[0, 0], K[1, 1], (width - 1) / 2.0, (height - 1) / 2.0
    )
    params.extrinsic = T_cam_ref
    return params


def apply_camera(vis: Any, params: Any) -> bool:
    """Put the window's camera at ``params`` with sensorfuse's clipping planes; False if Open3D refuses them."""
    vc = vis.get_view_control()
    ok = bool(vc.convert_from_pinhole_camera_parameters(params, allow_arbitrary=True))
    vc.set_constant_z_near(0.05)
    vc.set_constant_z_far(2.0 * BACKDROP_M)
    return ok


class Renderer:
    """A hidden Open3D window of a fixed size that renders frames to RGB arrays; keep one per size and reuse it
    (creating the window is the slow part)."""

    def __init__(self, width: int, height: int) -> None:
        o3d = _o3d()
        self.width, self.height = int(width), int(height)
        self.vis = o3d.visualization.Visualizer()
        if not self.vis.create_window("sensorfuse", width=self.width, height=self.height, visible=False):
            raise ViewerError(
                "could not create an OpenGL context for rendering; run under xvfb-run (apt-get install xvfb) or "
                "install the libegl1 and libgl1 packages"
            )
        configure_window(self.vis)

    def render(
        self,
        frame: ViewFrame,
        view: str = "chase",
        *,
        layers: tuple[str, ...] | set[str] = LAYERS,
        colour_by: str = "intensity",
        hud: bool = True,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """``(RGB uint8 (height, width, 3), info)``: the frame from ``view`` (see :func:`view_camera`)."""
        geoms, info = geometries(frame, layers=layers, colour_by=colour_by, view=view)
        out_w, out_h = view_size(frame, view, (self.width, self.height))
        K, T_cam_ref = view_camera(frame, view, out_w, out_h)
        left = top = 0
        if view.startswith("camera"):
            win_w, win_h, left, top = _centring(K, out_w, out_h)
            if (win_w, win_h) != (self.width, self.height):
                raise ValidationError(
                    f"view {view}: needs a {win_w}x{win_h} window (window_size()), this renderer is {self.width}x{self.height}"
                )
        self.vis.clear_geometries()
        for g in geoms:
            self.vis.add_geometry(g, reset_bounding_box=True)
        if not apply_camera(self.vis, pinhole_parameters(K, T_cam_ref, self.width, self.height)):
            raise ViewerError(f"Open3D refused the {view} camera for a {self.width}x{self.height} window")
        self.vis.poll_events()
        self.vis.update_renderer()
        buf = np.asarray(self.vis.capture_screen_float_buffer(do_render=True))
        rgb = np.clip(np.rint(buf * 255.0), 0, 255).astype(np.uint8)
        rgb = np.ascontiguousarray(rgb[top : top + out_h, left : left + out_w])
        ids = "boxes" in layers and any(b.track_id is not None for b in frame.boxes)
        if ids or (hud and "hud" in layers):  # text is drawn with OpenCV, on BGR
            bgr = np.ascontiguousarray(rgb[..., ::-1])
            if ids:
                draw_track_ids(bgr, frame.boxes, K, T_cam_ref)
            if hud and "hud" in layers:
                lines = hud_lines(frame, view.partition(":")[2] or None)
                if "colour" in info:
                    lines[0] += f"   colour: {info['colour']}"
                draw_text_block(bgr, lines)
            rgb = np.ascontiguousarray(bgr[..., ::-1])
        info["K"], info["T_cam_ref"] = K, T_cam_ref
        return rgb, info

    def close(self) -> None:
        self.vis.destroy_window()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def screenshot(
    frame: ViewFrame,
    path: str | Path,
    view: str = "chase",
    *,
    size: tuple[int, int] | None = None,
    layers: tuple[str, ...] | set[str] = LAYERS,
    colour_by: str = "intensity",
    renderer: Renderer | None = None,
) -> Path:
    """Render ``frame`` from ``view`` and write it as PNG; returns the path."""
    import cv2

    w, h = window_size(frame, view, size)
    own = renderer is None
    r = Renderer(w, h) if own else renderer
    try:
        rgb, _ = r.render(frame, view, layers=layers, colour_by=colour_by)
    finally:
        if own:
            r.close()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), rgb[..., ::-1]):
        raise ViewerError(f"{path}: could not write the screenshot")
    return path


def legend(frame: ViewFrame) -> list[tuple[str, tuple[float, float, float]]]:
    """The classes of the frame's boxes with their colours."""
    seen = sorted({b.label for b in frame.boxes})
    return [(c, class_colour(c)) for c in seen]


def write_overlays(
    source: Any,
    out: str | Path,
    *,
    cameras: list[str] | None = None,
    frames: list[int] | None = None,
    layers: tuple[str, ...] | set[str] = LAYERS,
    progress: Any = None,
) -> list[Path]:
    """The 2D overlay (:func:`~sensorfuse.viz.scene.draw_camera_overlay`) of every frame of ``source`` and every
    camera with an image, as ``OUT/<frame index>_<camera>.png``; returns the paths. ``progress(done, total)``."""
    import cv2

    from sensorfuse.viz.scene import draw_camera_overlay

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    want = list(range(len(source))) if frames is None else frames
    written = []
    for k, i in enumerate(want):
        fr = source.frame(i)
        for cam in fr.cameras:
            if cam.image is None or (cameras is not None and cam.name not in cameras):
                continue
            path = out / f"{fr.index:06d}_{cam.name}.png"
            if not cv2.imwrite(str(path), draw_camera_overlay(fr, cam.name, layers=layers)):
                raise ViewerError(f"{path}: could not write the overlay")
            written.append(path)
        if progress is not None:
            progress(k + 1, len(want))
    return written
