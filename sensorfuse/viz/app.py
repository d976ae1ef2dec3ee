"""The interactive viewer of ``fuse-view``: an Open3D window with the 3D scene (mouse: orbit, pan, zoom) and a second
Open3D window with the camera's 2D overlay, the frame's stamp, per-stream time errors and, on ``h``, the key help
(drawn with OpenCV into an image; no OpenCV GUI is needed, so opencv-python-headless is enough).

Keys work in either window (see :data:`KEYS`). ``keys=[...]`` drives the same handlers from a script (tests, demos):
one key per displayed frame, then the viewer closes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import ValidationError, ViewerError
from sensorfuse.viz.scene import COLOUR_MODES, LAYERS, ViewFrame, draw_camera_overlay, draw_text_block

__all__ = ["KEYS", "ViewerState", "has_display", "panel_2d", "run_viewer"]

#: (key, what it does) — the on-screen help
KEYS = [
    ("n / Right", "next frame"),
    ("p / Left", "previous frame"),
    ("space", "play / pause"),
    ("g", "jump to the frame number typed in the terminal"),
    ("c", "cloud colour: intensity, height, range, camera"),
    ("v", "view: chase, bird's eye, camera"),
    ("k", "next camera"),
    ("b r f i t a l", "toggle boxes, radar, frusta, images, trajectory, axes, 2D labels"),
    ("s", "save a screenshot (fuse-view-NNNNNN.png)"),
    ("h", "this help"),
    ("q / Esc", "quit"),
]
_TOGGLES = {"b": "boxes", "r": "radar", "f": "frusta", "i": "images", "t": "trajectory", "a": "axes", "l": "labels2d"}
_GLFW = {"Right": 262, "Left": 263, "Esc": 256, "space": 32}


def has_display() -> bool:
    """Whether a window can be opened (an X or Wayland display on Linux; always elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


@dataclass
class ViewerState:
    """What the viewer shows; the key handlers change it."""

    index: int
    count: int
    view: str = "chase"
    colour_by: str = "intensity"
    layers: set[str] = field(default_factory=lambda: set(LAYERS))
    camera: str | None = None
    playing: bool = False
    help: bool = False
    quit: bool = False
    log: list[str] = field(default_factory=list)

    def key(self, k: str, cameras: list[str]) -> None:
        """Apply one key (names as in :data:`KEYS`)."""
        if k in ("n", "Right"):
            self.index = min(self.index + 1, self.count - 1)
        elif k in ("p", "Left"):
            self.index = max(self.index - 1, 0)
        elif k == "space":
            self.playing = not self.playing
        elif k == "c":
            self.colour_by = COLOUR_MODES[(COLOUR_MODES.index(self.colour_by) + 1) % len(COLOUR_MODES)]
        elif k == "v":
            order = ["chase", "bev", "camera"] if cameras else ["chase", "bev"]
            kind = self.view.partition(":")[0]
            self.view = order[(order.index(kind) + 1) % len(order)] if kind in order else order[0]
        elif k == "k" and cameras:
            i = cameras.index(self.camera) if self.camera in cameras else -1
            self.camera = cameras[(i + 1) % len(cameras)]
        elif k in _TOGGLES:
            self.layers ^= {_TOGGLES[k]}
        elif k == "h":
            self.help = not self.help
        elif k in ("q", "Esc"):
            self.quit = True
        self.log.append(k)


def _help_lines() -> list[str]:
    return ["keys:"] + [f"  {k:<14} {what}" for k, what in KEYS]


def run_viewer(
    source: Any,
    *,
    start: int = 0,
    camera: str | None = None,
    view: str = "chase",
    colour_by: str = "intensity",
    size: tuple[int, int] = (1280, 720),
    keys: Iterable[str] | None = None,
    fps: float = 10.0,
    on_frame: Callable[[ViewerState, float], None] | None = None,
) -> ViewerState:
    """Open the interactive viewer on a frame source (:func:`~sensorfuse.pipelines.view.open_view`) and return its
    final state when it closes. ``keys``: a scripted key sequence (then the viewer closes after the last one).
    ``on_frame(state, seconds)`` is called after each frame is loaded and drawn.

    Raises:
        ViewerError: no display (use ``fuse-view --screenshot`` / ``--overlays``, or ``xvfb-run``), or no OpenGL.
    """
    from sensorfuse.viz.render import _o3d

    if not has_display():
        raise ViewerError(
            "no display to open the viewer window on (DISPLAY is not set). Render without one: "
            "fuse-view PATH --screenshot out.png, or fuse-view PATH --overlays DIR; or run under xvfb-run"
        )
    n = len(source)
    if n == 0:
        raise ValidationError(f"{source.path}: no frame to show")
    if not -n <= start < n:
        raise ValidationError(f"--frame {start}: the source has {n} frames (0-{n - 1})")
    st = ViewerState(start % n, n, view, colour_by, camera=camera or (source.cameras[0] if source.cameras else None))
    script = list(keys) if keys is not None else None
    o3d = _o3d()
    vis = o3d.visualization.VisualizerWithKeyCallback()
    if not vis.create_window("sensorfuse fuse-view", width=size[0], height=size[1]):
        raise ViewerError("could not open an OpenGL window; install libgl1 and libegl1, or run under xvfb-run")
    pending: list[str] = []
    for k in ("n", "p", "c", "v", "k", "s", "h", "q", "g", *_TOGGLES):
        vis.register_key_callback(ord(k.upper()), lambda _v, _k=k: pending.append(_k) or False)
    for name, code in _GLFW.items():
        vis.register_key_callback(code, lambda _v, _k=name: pending.append(_k) or False)
    from sensorfuse.viz.render import configure_window

    configure_window(vis)
    panel = _Panel2D(o3d, pending)
    try:
        _loop(vis, panel, source, st, script, pending, fps, on_frame)
    finally:
        vis.destroy_window()
        panel.close()
    return st


class _Panel2D:
    """The 2D window: an Open3D window showing :func:`panel_2d`'s image, with the same keys as the 3D window. The
    image is redrawn only when what it shows changes."""

    def __init__(self, o3d: Any, pending: list[str]) -> None:
        self.o3d = o3d
        self.vis = o3d.visualization.VisualizerWithKeyCallback()
        self.open = bool(self.vis.create_window("sensorfuse 2D", width=960, height=540, left=40, top=80))
        if not self.open:
            print("fuse-view: could not open the 2D window; the 3D window works without it", file=sys.stderr)
            return
        for k in ("n", "p", "c", "v", "k", "s", "h", "q", "g", *_TOGGLES):
            self.vis.register_key_callback(ord(k.upper()), lambda _v, _k=k: pending.append(_k) or False)
        for name, code in _GLFW.items():
            self.vis.register_key_callback(code, lambda _v, _k=name: pending.append(_k) or False)
        self.shown: tuple | None = None
        self.image: Any = None

    def show(self, frame: ViewFrame, st: ViewerState) -> None:
        if not self.open:
            return
        want = (frame.index, st.camera, frozenset(st.layers), st.help, st.playing)
        if want != self.shown:
            rgb = np.ascontiguousarray(panel_2d(frame, st)[..., ::-1])
            self.vis.clear_geometries()
            self.image = self.o3d.geometry.Image(rgb)
            self.vis.add_geometry(self.image, reset_bounding_box=True)
            self.shown = want
        self.open = bool(self.vis.poll_events())
        self.vis.update_renderer()

    def close(self) -> None:
        self.vis.destroy_window()


def _loop(
    vis: Any,
    panel: _Panel2D,
    source: Any,
    st: ViewerState,
    script: list[str] | None,
    pending: list[str],
    fps: float,
    on_frame: Any,
) -> None:
    from sensorfuse.viz.render import geometries, view_camera

    shown: tuple | None = None
    frame: ViewFrame | None = None
    last_step = time.perf_counter()
    while not st.quit:
        want = (st.index, st.colour_by, frozenset(st.layers), st.view, st.camera)
        if want != shown:
            t0 = time.perf_counter()
            if frame is None or frame.index != st.index:
                frame = source.frame(st.index)
            view = st.view if st.view != "camera" or st.camera is None else f"camera:{st.camera}"
            geoms, info = geometries(frame, layers=st.layers, colour_by=st.colour_by, view=view)
            keep_view = shown is not None and shown[3] == st.view
            cam_params = vis.get_view_control().convert_to_pinhole_camera_parameters() if keep_view else None
            vis.clear_geometries()
            for g in geoms:
                vis.add_geometry(g, reset_bounding_box=shown is None)
            _set_view(vis, frame, view, cam_params, view_camera)
            shown = want
            dt = time.perf_counter() - t0
            if on_frame is not None:
                on_frame(st, dt)
            print(
                f"frame {st.index}/{st.count - 1} {frame.name}  view {view}  colour {info.get('colour', '-')}  {dt * 1e3:.0f} ms"
            )
        if frame is not None:
            panel.show(frame, st)
        if not vis.poll_events():
            break
        vis.update_renderer()
        if script is not None and not pending:
            if not script:
                st.quit = True
                break
            pending.append(script.pop(0))
        while pending:
            k = pending.pop(0)
            if k == "s":
                _save(vis, st)
            elif k == "g":
                _jump(st)
            else:
                st.key(k, list(source.cameras))
                if k == "space":
                    last_step = time.perf_counter()  # the first step comes one period after play
        if st.playing and time.perf_counter() - last_step >= 1.0 / fps:
            last_step = time.perf_counter()
            if st.index + 1 < st.count:
                st.index += 1
            else:
                st.playing = False
        if not st.playing:
            time.sleep(0.005)


def _set_view(vis: Any, frame: ViewFrame, view: str, params: Any, view_camera: Any) -> None:
    """Put the window's camera at ``view`` (or keep the user's ``params`` when the view kind did not change). A
    camera view keeps the camera's pose and horizontal field of view, centred in the window."""
    from sensorfuse.viz.render import apply_camera, pinhole_parameters

    if params is None:
        cur = vis.get_view_control().convert_to_pinhole_camera_parameters()
        W, H = cur.intrinsic.width, cur.intrinsic.height
        if view.startswith("camera"):
            cam = frame.camera(view.partition(":")[2] or None)
            f = cam.camera.fx * W / cam.camera.width
            K, T = np.array([[f, 0, 0], [0, f, 0], [0, 0, 1.0]]), cam.T_cam_ref
        else:
            K, T = view_camera(frame, view, W, H)
        params = pinhole_parameters(K, T, W, H)
    apply_camera(vis, params)


def panel_2d(frame: ViewFrame, st: ViewerState) -> np.ndarray:
    """What the 2D window shows: the current camera's overlay (with the HUD), the key help when ``st.help``, else a
    "h: help" hint, and "playing" while playing. BGR uint8."""
    import cv2

    if frame.cameras and st.camera is not None:
        img = draw_camera_overlay(frame, st.camera, layers=st.layers)
    else:
        img = np.full((240, 640, 3), 30, np.uint8)
    h, w = img.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    if st.help:
        draw_text_block(img, _help_lines(), origin=(6, min(60, h // 4)))
    else:
        cv2.putText(img, "h: help", (6, h - 8), font, 0.45, (235, 235, 235), 1, cv2.LINE_AA)
    if st.playing:
        cv2.putText(img, "playing", (w - 80, h - 8), font, 0.45, (0, 220, 255), 1, cv2.LINE_AA)
    return img


def _save(vis: Any, st: ViewerState) -> None:
    path = Path(f"fuse-view-{st.index:06d}.png")
    vis.capture_screen_image(str(path), do_render=True)
    print(f"saved {path}")


def _jump(st: ViewerState) -> None:
    try:
        text = input(f"frame (0-{st.count - 1}): ")
        k = int(text)
    except (ValueError, EOFError):
        print("not a frame number")
        return
    if 0 <= k < st.count:
        st.index = k
    else:
        print(f"frame {k} is out of range (0-{st.count - 1})")
