"""Report pictures of the calibration jobs (BGR uint8 images, written beside the rig file): intrinsics coverage
and undistortion, LiDAR-camera overlays, board-target residuals, the drift check's corrections over time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "drift_report_image",
    "intrinsics_report_image",
    "lidar_camera_report_image",
    "report_path",
    "target_report_image",
]


def intrinsics_report_image(res: Any, sample: np.ndarray | None) -> np.ndarray:
    """The report picture: a sample view and the same view undistorted (straight board lines stay straight), the
    corner coverage per image cell, and the per-view RMS (rejected views listed)."""
    import cv2

    from sensorfuse.viz.scene import draw_text_block

    cam = res.camera
    w, h = cam.width, cam.height
    img = sample if sample is not None else np.full((h, w), 90, np.uint8)
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img
    if cam.model == "kannala_brandt":
        und = cv2.fisheye.undistortImage(img, cam.K, cam.dist, Knew=cam.K)
    else:
        und = cv2.undistort(img, cam.K, cam.dist)
    cov = res.coverage_grid
    heat = cv2.resize(
        (255 * np.clip(cov / max(cov.max(), 1), 0, 1)).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST
    )
    heat = cv2.applyColorMap(heat, cv2.COLORMAP_VIRIDIS)
    bars = np.full((h, w, 3), 25, np.uint8)
    per = res.per_view_rms_px
    top = max([*per.values(), 0.5])
    bw = max(w // max(len(per), 1), 2)
    for k, (_name, v) in enumerate(per.items()):
        y = int(h - 30 - (h - 60) * v / top)
        cv2.rectangle(bars, (k * bw + 2, y), ((k + 1) * bw - 2, h - 30), (80, 200, 80), -1)
    grid = np.vstack([np.hstack([img, und]), np.hstack([heat, bars])])
    draw_text_block(grid, [f"sample view ({w}x{h})"], origin=(6, 6))
    draw_text_block(grid, ["undistorted"], origin=(w + 6, 6))
    draw_text_block(
        grid, [f"corner coverage {res.coverage:.0%} of {cov.shape[1]}x{cov.shape[0]} cells"], origin=(6, h + 6)
    )
    lines = [
        f"per-view RMS (max {top:.2f} px); RMS {res.rms_px:.3f} px, leave-one-out "
        + ("-" if res.loo_rms_px is None else f"{res.loo_rms_px:.3f} px"),
        f"fx {cam.fx:.2f}  fy {cam.fy:.2f}  cx {cam.cx:.2f}  cy {cam.cy:.2f}",
        *[f"rejected {k}: {v[:60]}" for k, v in list(res.rejected.items())[:4]],
        *[f"warning: {x[:70]}" for x in res.warnings[:2]],
    ]
    draw_text_block(grid, lines, origin=(w + 6, h + 6), scale=0.4)
    return grid


def lidar_camera_report_image(
    frame: Any, camera: Any, T_before: np.ndarray, T_after: np.ndarray, dataset: str | Path, name: str
) -> np.ndarray:
    """Before / after: the LiDAR depth-edge points of one frame over its image edges (gray), projected with the
    initial and the refined extrinsic."""
    import cv2

    from sensorfuse.viz.scene import draw_text_block

    d = frame.distance
    base = np.where(np.isfinite(d) & (d < 1.0), 255, 60).astype(np.uint8)
    rows = []
    for label, T in (("initial", T_before), ("refined", T_after)):
        img = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
        Pc = frame.points @ T[:3, :3].T + T[:3, 3]
        uv, ok = camera._project(Pc)
        ok &= camera.in_image(np.where(ok[:, None], uv, -1.0))
        for u, v in np.rint(uv[ok]).astype(int):
            cv2.circle(img, (u, v), 1, (0, 0, 255), -1)
        draw_text_block(img, [f"{name}: LiDAR depth/intensity edges (red) on image edges (white), {label}"])
        rows.append(img)
    return np.vstack(rows)


def target_report_image(
    res: Any,
    poses: list[Any],
    image_of: Callable[[int], np.ndarray],
    sweeps: list[Any],
    camera: Any,
    T_before: np.ndarray,
) -> np.ndarray:
    """Before / after: the LiDAR points taken within 10 ms of a board image (the one with most of them in view),
    projected with the initial and the calibrated extrinsic, coloured by range. ``image_of(stamp_ns)`` gives the
    8-bit gray image of a board pose."""
    import cv2

    from sensorfuse.viz.overlay import turbo_lut
    from sensorfuse.viz.scene import draw_text_block

    best, pts, most = None, None, 0
    spans = np.array([(t.min(), t.max()) if t.size else (0, -1) for _, t in sweeps], np.int64).reshape(-1, 2)
    for b in poses:  # the image with the most LiDAR points taken within 10 ms of it
        for k in np.flatnonzero((spans[:, 0] <= b.stamp_ns + 10_000_000) & (spans[:, 1] >= b.stamp_ns - 10_000_000)):
            xyz, t = sweeps[k]
            m = np.abs(t - b.stamp_ns) < 10_000_000
            if m.sum() > most:  # of those, the ones in view
                uv, ok = camera.project(np.asarray(xyz[m], np.float64) @ T_before[:3, :3].T + T_before[:3, 3])
                m[np.flatnonzero(m)] = ok & camera.in_image(np.where(ok[:, None], uv, -1.0))
            if m.sum() > most:
                best, pts, most = b, np.asarray(xyz[m], np.float64), int(m.sum())
    rows = []
    gray = image_of(best.stamp_ns) if best is not None else np.zeros((camera.height, camera.width), np.uint8)
    lut = turbo_lut()
    for label, T in (("initial", T_before), ("calibrated", res.T_cam_lidar)):
        img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        if pts is not None:
            Pc = pts @ T[:3, :3].T + T[:3, 3]
            uv, ok = camera.project(Pc)
            ok &= camera.in_image(np.where(ok[:, None], uv, -1.0))
            rng_ = np.linalg.norm(Pc[ok], axis=1)
            col = lut[np.clip((rng_ - 2.0) / 18.0 * 255, 0, 255).astype(np.int64)]
            for (u, v), c in zip(np.rint(uv[ok]).astype(int), col, strict=True):
                cv2.circle(img, (int(u), int(v)), 2, tuple(int(x) for x in c), -1)
        draw_text_block(img, [f"LiDAR points within 10 ms of this image, {label} extrinsic (colour: range 2-20 m)"])
        rows.append(img)
    return np.vstack(rows)


def drift_report_image(rep: Any, width: int = 1000, height: int = 420) -> np.ndarray:
    """The drift check over time: each window's rotation correction (deg, left axis, blue bars over its frames) and
    translation across the optical axis (cm, orange), the thresholds (dashed), each frame's score (gray dots, 0..max)
    and the located start (red line)."""
    import cv2

    from sensorfuse.viz.scene import draw_text_block

    img = np.full((height, width, 3), 255, np.uint8)
    x0, x1, y0, y1 = 60, width - 20, 56, height - 40
    n = len(rep.names)
    top_deg = max(2 * rep.threshold_deg, 1.2 * max(w.rotation_deg for w in rep.windows))
    top_cm = max(2 * rep.threshold_m * 100, 1.2 * max(float(np.hypot(*w.translation_m[:2])) * 100 for w in rep.windows))

    def X(i: float) -> int:
        return int(x0 + (x1 - x0) * (i + 0.5) / max(n, 1))

    def Y(v: float, top: float) -> int:
        return int(y1 - (y1 - y0) * min(v / top, 1.0))

    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 0), 1)
    smax = max(float(np.max(rep.scores)), 1e-6)
    for i, s in enumerate(rep.scores):
        cv2.circle(img, (X(i), Y(s, smax)), 2, (160, 160, 160), -1)
    for w in rep.windows:
        a, b = X(w.first - 0.4), X(w.last + 0.4)
        cv2.line(img, (a, Y(w.rotation_deg, top_deg)), (b, Y(w.rotation_deg, top_deg)), (200, 90, 0), 2)
        t = float(np.hypot(*w.translation_m[:2])) * 100
        cv2.line(img, (a, Y(t, top_cm) + 1), (b, Y(t, top_cm) + 1), (0, 140, 255), 1)
    for v, top, col in ((rep.threshold_deg, top_deg, (200, 90, 0)), (rep.threshold_m * 100, top_cm, (0, 140, 255))):
        y = Y(v, top)
        for xx in range(x0, x1, 12):
            cv2.line(img, (xx, y), (min(xx + 6, x1), y), col, 1)
    if rep.start is not None:
        cv2.line(img, (X(rep.start - 0.5), y0), (X(rep.start - 0.5), y1), (0, 0, 230), 2)
    verdict = f"DRIFT ({rep.kind}) from {rep.names[rep.start]}" if rep.drift and rep.start is not None else (
        f"DRIFT ({rep.kind})" if rep.drift else "OK")  # fmt: skip
    draw_text_block(img, [
        f"{verdict}. Per window: rotation correction (blue, 0-{top_deg:.2f} deg), translation across the optical "
        f"axis (orange, 0-{top_cm:.1f} cm);", f"thresholds dashed; per frame: score (gray, 0-{smax:.3f}); red: start",
    ])  # fmt: skip
    cv2.putText(img, rep.names[0], (x0, y1 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, rep.names[-1], (x1 - 90, y1 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def rotation_time_report_image(res: Any, width: int = 1000, height: int = 520, excerpt_s: float = 6.0) -> np.ndarray:
    """A rotation/time-offset result: top, the angular-rate magnitudes over the ``excerpt_s`` seconds that change
    most (reference blue, the stream as stamped gray, as aligned orange); bottom, the residual norm per interval over
    the whole recording (the time windows of the report as ticks)."""
    import cv2

    from sensorfuse.viz.scene import draw_text_block

    s = res.series
    img = np.full((height, width, 3), 255, np.uint8)
    x0, x1 = 60, width - 20
    top = (70, int(height * 0.62))
    bot = (int(height * 0.62) + 30, height - 30)
    t = s["t_s"]
    # the excerpt: where the reference's rate changes most
    step = max(float(np.median(np.diff(t))), 1e-3)
    n = max(2, min(t.size, int(excerpt_s / step)))
    act = np.convolve(np.abs(np.diff(s["reference"], prepend=s["reference"][0])), np.ones(n), "valid")
    k0 = int(np.argmax(act)) if act.size else 0
    sl = slice(k0, k0 + n)
    ymax = 1.1 * max(float(np.max(s["reference"][sl])), float(np.max(s["stream_aligned"][sl])), 1e-6)

    def poly(tt: np.ndarray, v: np.ndarray, span: tuple[float, float], box: tuple[int, int], vmax: float):
        xs = x0 + (x1 - x0) * (tt - span[0]) / max(span[1] - span[0], 1e-9)
        ys = box[1] - (box[1] - box[0]) * np.clip(v / vmax, 0, 1)
        return np.stack([xs, ys], axis=1).astype(np.int32).reshape(-1, 1, 2)

    span = (float(t[sl][0]), float(t[sl][-1]))
    cv2.rectangle(img, (x0, top[0]), (x1, top[1]), (0, 0, 0), 1)
    for key, col, w in (
        ("stream_as_stamped", (150, 150, 150), 1),
        ("stream_aligned", (0, 140, 255), 2),
        ("reference", (200, 90, 0), 1),
    ):
        cv2.polylines(img, [poly(t[sl], s[key][sl], span, top, ymax)], False, col, w, cv2.LINE_AA)
    rt, rv = s["residual_t_s"], s["residual"]
    rspan = (float(rt[0]), float(rt[-1]))
    rmax = max(float(np.percentile(rv, 99.5)) * 1.2, 1e-6)
    cv2.rectangle(img, (x0, bot[0]), (x1, bot[1]), (0, 0, 0), 1)
    cv2.polylines(img, [poly(rt, rv, rspan, bot, rmax)], False, (60, 60, 60), 1, cv2.LINE_AA)
    for w in res.windows:
        xw = int(x0 + (x1 - x0) * (w["start_s"] - rspan[0]) / max(rspan[1] - rspan[0], 1e-9))
        if x0 <= xw <= x1:
            cv2.line(img, (xw, bot[1]), (xw, bot[1] - 8), (0, 0, 200), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, f"{span[0]:.1f} s", (x0, top[1] + 16), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{span[1]:.1f} s", (x1 - 60, top[1] + 16), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{rspan[0]:.0f} s", (x0, bot[1] + 16), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{rspan[1]:.0f} s", (x1 - 50, bot[1] + 16), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    std = ", ".join(f"{v:.3f}" for v in res.rotation_std_deg)
    draw_text_block(img, [
        f"{res.stream} -> {res.reference}: offset {res.offset_ns * 1e-6:+.3f} ms (std {res.offset_std_ns * 1e-6:.3f}), "
        f"rotation {res.rotation_deg:.3f} deg (std {std} deg), residual RMS {res.residual_rms:.4f} rad/s",
        f"top: |rate| over {span[1] - span[0]:.0f} s (0-{ymax:.2f} rad/s): {res.reference} blue, {res.stream} as "
        "stamped gray, aligned orange",
        f"bottom: residual norm per interval (0-{rmax:.3f} rad/s), windows red"
        + (f"; undetermined: {'; '.join(res.undetermined)}" if res.undetermined else ""),
    ])  # fmt: skip
    return img


def radar_lidar_report_image(
    lidar_xyz: np.ndarray, radar_xyz: np.ndarray, T_init: np.ndarray, T_refined: np.ndarray,
    *, size: int = 900, reach_m: float = 60.0, z_band_m: tuple[float, float] = (-1.5, 1.5),
) -> np.ndarray:  # fmt: skip
    """Bird's-eye view (LiDAR frame, x up, y left, ``reach_m`` around): the LiDAR's points of the height band in grey,
    the radar's detections with the initial extrinsic in red and with the refined one in green."""
    import cv2

    img = np.full((size, size, 3), 255, np.uint8)
    scale = size / (2.0 * reach_m)

    def px(xy: np.ndarray) -> np.ndarray:
        return np.stack([size / 2 - xy[:, 1] * scale, size / 2 - xy[:, 0] * scale], axis=1).astype(np.int32)

    L = np.asarray(lidar_xyz, np.float64)
    L = L[(L[:, 2] >= z_band_m[0]) & (L[:, 2] <= z_band_m[1])]
    u = px(L[:, :2])
    ok = (u[:, 0] >= 0) & (u[:, 0] < size) & (u[:, 1] >= 0) & (u[:, 1] < size)
    img[u[ok, 1], u[ok, 0]] = (150, 150, 150)
    p = np.asarray(radar_xyz, np.float64)
    for T, colour in ((T_init, (0, 0, 230)), (T_refined, (0, 170, 0))):
        q = p @ np.asarray(T)[:3, :3].T + np.asarray(T)[:3, 3]
        for x, y in px(q[:, :2]):
            if 0 <= x < size and 0 <= y < size:
                cv2.circle(img, (int(x), int(y)), 3, colour, 1, cv2.LINE_AA)
    cv2.putText(img, "LiDAR (band)  red: radar, initial  green: radar, refined", (10, 22), cv2.FONT_HERSHEY_SIMPLEX,
                0.55, (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    cv2.putText(img, f"{2 * reach_m:.0f} m across, x up", (10, size - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    return img


def report_path(out: str | Path) -> Path:
    """Where the report picture of a result written to ``out`` goes: beside it, ``out`` with ``.png``."""
    return Path(out).with_suffix(".png")
