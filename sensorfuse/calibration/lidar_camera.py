"""LiDAR -> camera extrinsics without a target: align the LiDAR's depth edges with the image's edges.

For each frame, the LiDAR points on the near side of a depth discontinuity (a return much nearer than its neighbour
on the same ring) are the edge points; the image gives an edge map (Canny) turned into an attraction field
``exp(-d / sigma)`` of the distance ``d`` to the nearest image edge. The cost of an extrinsic is the weighted mean
attraction of the projected edge points over all frames (points landing outside the image count as 0). It is
minimised from the initial extrinsic with Powell's method over a small rotation and translation, coarse to fine in
``sigma`` (wide fields first, so the search sees edges far from where the initial guess puts them).

The confidence figure comes from the cost landscape at the result. Along each of the six parameter axes, the cost
is probed on both sides at the final scale; the figure is the share of axes whose cost rises on both sides, and the
mean relative rise. A converged result sits in a clear bowl. A failed one sits on a slope or a plateau. Data that
cannot constrain the extrinsic is refused with a CalibrationError before any search: too few edge points in view,
or an image without edges.

The refined transform may sit between fixed ones: ``T_cam_lidar = T_pre @ X @ T_post`` (KITTI: ``T_pre = P2's
baseline @ R0_rect``, ``X = Tr_velo_to_cam``), and only ``X`` changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sensorfuse.errors import CalibrationError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import se3_exp, transform_difference

__all__ = [
    "EdgeFrame",
    "TargetlessResult",
    "edge_frame",
    "frame_scores",
    "image_edge_distance",
    "lidar_edge_points",
    "refine_targetless",
    "reweight_intensity_edges",
]

#: a return this much nearer than a ring neighbour is an edge point, m
DEPTH_JUMP_M = 1.0
#: ring neighbours further apart than this in azimuth are not neighbours, rad
MAX_NEIGHBOUR_GAP = np.radians(0.6)
#: weight of an intensity edge (a depth edge weighs 1-1.7). Intensity edges are mostly road markings: near the
#: camera and low in the image, where a shift along the optical axis moves them most. On KITTI they put the camera
#: 7-12 cm further back along its axis than the official calibration (each frame probed alone; depth edges 6-10 cm).
#: Measured, ten seeded KITTI trials: weight 0.7 -> 8 of 10 within 0.3 deg, 6.6-7.6 cm along the axis; 0.2 -> 10 of
#: 10, 4.3-5.5 cm; 0.1 and 0 -> wrong minima taken or refused.
INTENSITY_EDGE_WEIGHT = 0.2
#: fewer edge points in view (all frames) than this cannot constrain six parameters
MIN_EDGE_POINTS = 300
SIGMAS_PX = (8.0, 4.0, 2.0)
#: the six searched parameters, in the camera frame: rotation about x, y, z, translation along x, y, z (the optical axis)
AXES = ("rx", "ry", "rz", "tx", "ty", "tz")
AXIS_NAMES = {"rx": "rotation about the camera's x axis (pitch)", "ry": "rotation about its y axis (yaw)",
              "rz": "rotation about its optical axis (roll)", "tx": "translation across (camera x)",
              "ty": "translation up/down (camera y)", "tz": "translation along the optical axis (camera z)"}  # fmt: skip
#: an axis whose probes (0.25 deg / 3 cm) raise the cost by less than this (relative) is reported as weakly observed
WEAK_AXIS_RISE = 0.012
#: The profile interval of each component: the range around the result where the alignment score stays within
#: ``PROFILE_RISE`` (relative) of its value at the result, stepped by 0.05 deg / 0.5 cm up to 1 deg / 10 cm.
PROFILE_RISE = 0.005
PROFILE_STEP = (np.radians(0.05), 0.005)
PROFILE_MAX = (np.radians(1.0), 0.10)


def axis_unit(axis: str) -> tuple[str, float]:
    """How a component of ``AXES`` is shown: ``("deg", factor from rad)`` for rotations, ``("cm", from m)`` else."""
    return ("deg", float(np.degrees(1.0))) if axis.startswith("r") else ("cm", 100.0)


def _ring_neighbours(az: np.ndarray, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the point of the next ring up and of the next ring down nearest in azimuth (within
    MAX_NEIGHBOUR_GAP), or -1: ``(up, down)``."""
    order = np.lexsort((az, ring))
    rs, azs = ring[order], az[order]
    rings, starts = np.unique(rs, return_index=True)
    ends = np.r_[starts[1:], rs.size]
    where = {int(g): k for k, g in enumerate(rings)}
    out = []
    for step in (+1, -1):
        nb = np.full(az.shape, -1, np.int64)
        for k, g in enumerate(rings):
            o = where.get(int(g) + step)
            if o is None:
                continue
            a0, a1 = azs[starts[k] : ends[k]], azs[starts[o] : ends[o]]
            if a1.size == 1:
                j = np.zeros(a0.size, np.int64)
            else:
                j = np.clip(np.searchsorted(a1, a0), 1, a1.size - 1)
                j = np.where(np.abs(a1[j - 1] - a0) < np.abs(a1[j] - a0), j - 1, j)
            ok = np.abs(a1[j] - a0) < MAX_NEIGHBOUR_GAP
            nb[order[starts[k] : ends[k]][ok]] = order[starts[o] : ends[o]][j[ok]]
        out.append(nb)
    return out[0], out[1]


def _cross_ring_edges(r: np.ndarray, az: np.ndarray, ring: np.ndarray, jump_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth edges between adjacent rings (horizontal contours: roofs, car tops, the top of a pole). A point and its
    neighbour in the next ring (nearest in azimuth) more than ``jump_m`` apart in range, and more than three times the
    range step to the previous ring (the ground, seen at a grazing angle, steps by metres from ring to ring, smoothly);
    the nearer point itself: ``(its index, weight)``.

    Not the bisector of the two rays, as for the ring neighbours: most horizontal contours a roof-mounted LiDAR sees
    are the tops of things below it (car roofs, walls, fences), hit at a grazing angle from above, so the nearer
    point lies on the top surface, short of its far edge, and a camera mounted lower sees that surface nearly edge-on:
    the point projects onto the contour. A point on the bisector at the nearer range floats above the surface and,
    seen from the lower camera, above the contour (simulator, true extrinsic: 2.4 px above on average, against 0.4 px
    for the nearer point), which tilted the refined pitch by -0.2 deg. Contours seen from below (a sign above the
    LiDAR) are placed up to one ring spacing low."""
    up, down = _ring_neighbours(az, ring)
    i = np.flatnonzero(up >= 0)
    j = up[i]
    d = r[j] - r[i]
    h = down[i]
    prev = np.where(h >= 0, np.abs(r[i] - r[np.maximum(h, 0)]), 0.0)
    m = (np.abs(d) > jump_m) & (np.abs(d) > 3.0 * prev)
    i, j, d = i[m], j[m], d[m]
    near = np.where(d > 0, i, j)
    return near, np.sqrt(np.minimum(np.abs(d), 3.0))


def lidar_edge_points(
    xyz: np.ndarray,
    intensity: np.ndarray | None = None,
    *,
    ring: np.ndarray | None = None,
    jump_m: float = DEPTH_JUMP_M,
    intensity_jump: float = 0.25,
    return_index: bool = False,
    return_kind: bool = False,
) -> tuple[np.ndarray, ...]:
    """Edge points of a spinning-LiDAR sweep stored ring by ring in firing order (KITTI, most drivers):
    ``(points (M, 3), weights (M,))``, and with ``return_index`` the index of the cloud point each edge point comes
    from (the nearer one of a depth edge; the first of an intensity edge) to take its time, and with ``return_kind``
    (last) whether each is an intensity edge.

    Depth edges: of two ring neighbours (adjacent in storage order, within 0.6 deg of azimuth) more than ``jump_m``
    apart in range, the nearer one, moved half the angular step towards the other (the occluding contour lies between
    the two rays); weight sqrt(jump) capped at 3 m. Intensity edges (with ``intensity``): neighbours at one range
    whose intensities differ by more than ``intensity_jump`` (of the 1st-99th percentile span): their midpoint, weight
    ``INTENSITY_EDGE_WEIGHT`` (lane markings, signs). With ``ring`` (the laser index of each point), depth edges
    between adjacent rings too: horizontal contours, which ring neighbours cannot see (without them a scene of poles
    and walls leaves the pitch nearly free).

    The cloud must be as measured, not deskewed: the angular step between two neighbours is the sensor's own only
    in the frame they were fired from. Move the edge points afterwards (:func:`edge_frame`'s ``move``)."""
    P = np.asarray(xyz, np.float64)
    if P.ndim != 2 or P.shape[1] != 3:
        raise ValidationError(f"xyz: expected (N, 3), got {P.shape}")
    if P.shape[0] < 3:
        out: tuple[np.ndarray, ...] = (np.zeros((0, 3)), np.zeros(0))
        out += (np.zeros(0, np.int64),) if return_index else ()
        return out + ((np.zeros(0, bool),) if return_kind else ())
    r = np.linalg.norm(P, axis=1)
    az = np.arctan2(P[:, 1], P[:, 0])
    step = np.angle(np.exp(1j * np.diff(az)))
    near = np.abs(step) < MAX_NEIGHBOUR_GAP
    d = np.diff(r)
    pts, w, src = [], [], []
    n_int = 0  # intensity edges: appended last
    a = np.flatnonzero(near & (d > jump_m))  # i near, i + 1 far
    b = np.flatnonzero(near & (-d > jump_m))  # i far, i + 1 near
    for idx, half in ((a, 0.5 * step[a]), (b + 1, -0.5 * step[b])):
        c, s = np.cos(half), np.sin(half)
        p = P[idx]
        pts.append(np.c_[c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1], p[:, 2]])
        src.append(idx)
    w += [np.sqrt(np.minimum(d[a], 3.0)), np.sqrt(np.minimum(-d[b], 3.0))]
    if ring is not None:
        vi, vw = _cross_ring_edges(r, az, np.asarray(ring), jump_m)
        pts.append(P[vi])
        w.append(vw)
        src.append(vi)
    if intensity is not None:
        v = np.asarray(intensity, np.float64)
        lo, hi = np.nanpercentile(v, [1, 99]) if v.size else (0.0, 1.0)
        dv = np.diff(v) / max(hi - lo, 1e-9)
        i = np.flatnonzero(near & (np.abs(dv) > intensity_jump) & (np.abs(d) < 0.1))
        pts.append(0.5 * (P[i] + P[i + 1]))
        w.append(np.full(i.size, INTENSITY_EDGE_WEIGHT))
        src.append(i)
        n_int = i.size
    out = (np.vstack(pts), np.concatenate(w))
    out += (np.concatenate(src).astype(np.int64),) if return_index else ()
    if return_kind:
        kind = np.zeros(out[1].size, bool)
        kind[out[1].size - n_int :] = True
        out += (kind,)
    return out


def image_edge_distance(
    image: np.ndarray, *, blur_px: float = 1.2, low: float | None = None, high: float | None = None
) -> np.ndarray:
    """Distance (px, float32) of every pixel to the nearest image edge (Canny on the blurred gray image; thresholds
    from its median unless given). Inf everywhere for an image without edges."""
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValidationError(f"image: expected 8-bit, got {img.dtype}")
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    blur = cv2.GaussianBlur(gray, (0, 0), blur_px)
    med = float(np.median(blur))
    lo = max(0.0, 0.66 * med) if low is None else low
    hi = min(255.0, 1.33 * med) if high is None else high
    edges = cv2.Canny(blur, lo, hi)
    if edges.mean() < 0.002 * 255:
        return np.full(gray.shape, np.inf, np.float32)
    return cv2.distanceTransform((edges == 0).astype(np.uint8), cv2.DIST_L2, 5)


@dataclass
class EdgeFrame:
    """One frame prepared for the edge alignment: LiDAR edge points (in the LiDAR frame) with weights, and the
    image's edge distance map."""

    points: np.ndarray
    weights: np.ndarray
    distance: np.ndarray
    name: str = ""
    intensity: np.ndarray | None = None  # (M,) bool: intensity edges (the rest are depth edges); None: not known


def reweight_intensity_edges(frames: list[EdgeFrame], weight: float) -> list[EdgeFrame]:
    """The frames with their intensity edges weighted ``weight`` (frames that do not know their edge kinds are
    returned as they are)."""
    out = []
    for f in frames:
        if f.intensity is not None and f.intensity.any():
            f = replace(f, weights=np.where(f.intensity, weight, f.weights))
        out.append(f)
    return out


def edge_frame(
    xyz: np.ndarray,
    image: np.ndarray,
    intensity: np.ndarray | None = None,
    *,
    name: str = "",
    max_range_m: float = 60.0,
    jump_m: float = DEPTH_JUMP_M,
    ring: np.ndarray | None = None,
    move: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    **edge_options: Any,
) -> EdgeFrame:
    """Prepare one frame (see :class:`EdgeFrame`) from a sweep as measured; ``ring`` adds the cross-ring edges.
    ``move(points, index)`` moves the edge points after they are found, given the index of the cloud point each came
    from: deskewing them to the image's time by that point's time. Deskewing the cloud before finding its edges
    would be wrong: it changes the angle between a near and a far neighbour by the ego motion's parallax (at 10 m/s,
    10 ms from the image, up to ~0.2 deg between points at 10 and 50 m, more than the step between two columns), and
    the edge is placed half that angle off."""
    pts, w, src, kind = lidar_edge_points(xyz, intensity, ring=ring, jump_m=jump_m, return_index=True, return_kind=True)
    if move is not None and len(src):
        pts = np.asarray(move(pts, src), np.float64)
    keep = np.linalg.norm(pts, axis=1) < max_range_m
    return EdgeFrame(pts[keep], w[keep], image_edge_distance(image, **edge_options), name, kind[keep])


@dataclass
class TargetlessResult:
    """A targetless LiDAR -> camera refinement.

    Attributes:
        T_cam_lidar: the refined full transform; ``X``: the refined part (``T_pre @ X @ T_post``).
        change_deg, change_m: rotation / translation from the initial ``X``.
        score: final mean edge attraction (0..1) at the finest scale; ``score_init`` the same at the initial guess.
        confidence: share of the one-sided probes (2 per searched axis: 12 for all six) around the result where the
            cost rises.
        sharpness: mean relative cost rise of those probes.
        converged: ``confidence == 1`` and ``sharpness >= min_sharpness``.
        axis_rise: per searched axis (``AXES``: rotation about the camera's x, y, z, translation along them), the mean
            relative cost rise of its two probes: how firmly the data hold that component. Below ``WEAK_AXIS_RISE``
            the result says so in ``notes`` (KITTI's six frames: the translation along the optical axis).
        edge_points: LiDAR edge points in view at the result.
        evaluations: cost evaluations.
    """

    T_cam_lidar: np.ndarray
    X: np.ndarray
    change_deg: float
    change_m: float
    score: float
    score_init: float
    confidence: float
    sharpness: float
    converged: bool
    edge_points: int
    evaluations: int
    notes: list[str] = field(default_factory=list)
    axis_rise: dict[str, float] = field(default_factory=dict)
    #: per searched axis, ``(below, above)``: how far (rad or m, along the search parameter) the component can move
    #: from the result with the score within PROFILE_RISE of it; at the profile's limit the true extent is larger
    axis_interval: dict[str, tuple[float, float]] = field(default_factory=dict)

    def quality(self) -> dict[str, Any]:
        return (
            {
                "score": round(self.score, 4),
                "score_init": round(self.score_init, 4),
                "confidence": round(self.confidence, 3),
                "sharpness": round(self.sharpness, 4),
                "converged": self.converged,
                "change_deg": round(self.change_deg, 4),
                "change_m": round(self.change_m, 4),
                "edge_points": self.edge_points,
            }
            | {f"rise_{k}": round(v, 4) for k, v in self.axis_rise.items()}
            | self._interval_quality()
        )

    def _interval_quality(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, (lo, hi) in self.axis_interval.items():
            unit, f = axis_unit(k)
            out[f"interval_{k}_{unit}_below"] = round(lo * f, 3)
            out[f"interval_{k}_{unit}_above"] = round(hi * f, 3)
        return out


class _Cost:
    def __init__(
        self,
        frames: list[EdgeFrame],
        camera: CameraModel,
        pre: np.ndarray,
        X0: np.ndarray,
        post: np.ndarray,
        sigma: float,
    ):
        self.frames, self.camera, self.pre, self.X0 = frames, camera, pre, X0
        self.pts = [(post[:3, :3] @ f.points.T).T + post[:3, 3] for f in frames]
        self.n = 0
        self.set_sigma(sigma)

    def set_sigma(self, sigma: float) -> None:
        self.fields = [np.exp(-f.distance / sigma).astype(np.float32) for f in self.frames]

    def X(self, p: np.ndarray) -> np.ndarray:
        return se3_exp(p) @ self.X0

    def __call__(self, p: np.ndarray) -> float:
        return -self.score(p)[0]

    def score(self, p: np.ndarray) -> tuple[float, int]:
        import cv2

        self.n += 1
        T = self.pre @ self.X(p)
        total, wsum, inview = 0.0, 0.0, 0
        cam = self.camera
        pinhole = cam.model == "pinhole"
        K = cam.K
        for P, f, field_ in zip(self.pts, self.frames, self.fields, strict=True):
            Pc = P @ T[:3, :3].T + T[:3, 3]
            if pinhole:  # the common rectified case, without the general model's checks: ~2x faster
                z = Pc[:, 2]
                front = z > 0.1
                zs = np.where(front, z, 1.0)
                uv = np.c_[
                    K[0, 0] * Pc[:, 0] / zs + K[0, 1] * Pc[:, 1] / zs + K[0, 2], K[1, 1] * Pc[:, 1] / zs + K[1, 2]
                ]
                ok = front
            else:
                uv, ok = cam._project(Pc)
            ok &= (
                (uv[:, 0] >= -0.5) & (uv[:, 0] <= cam.width - 0.5) & (uv[:, 1] >= -0.5) & (uv[:, 1] <= cam.height - 0.5)
            )
            wsum += f.weights.sum()
            if ok.any():
                m = uv[ok].astype(np.float32)
                vals = cv2.remap(field_, m[:, 0:1], m[:, 1:2], cv2.INTER_LINEAR)[:, 0]
                total += float(vals @ f.weights[ok])
                inview += int(ok.sum())
        return (total / wsum if wsum > 0 else 0.0), inview


def frame_scores(
    frames: list[EdgeFrame], camera: CameraModel, T_pre: np.ndarray, X: np.ndarray, post: np.ndarray, sigma: float
) -> np.ndarray:
    """The edge-alignment score of each frame alone at ``T_pre @ X @ post`` (edge fields of width ``sigma`` px)."""
    return np.array([_Cost([f], camera, T_pre, X, post, sigma).score(np.zeros(6))[0] for f in frames])


def refine_targetless(
    frames: list[EdgeFrame],
    camera: CameraModel,
    X_init: np.ndarray,
    *,
    T_pre: np.ndarray | None = None,
    T_post: np.ndarray | None = None,
    sigmas: tuple[float, ...] = SIGMAS_PX,
    probe_deg: float = 0.25,
    probe_m: float = 0.03,
    min_sharpness: float = 0.024,
    require_convergence: bool = True,
    max_rotation_deg: float = 3.0,
    max_translation_m: float = 0.15,
    multi_start: bool = True,
    start_deg: float = 1.5,
    axes: tuple[int, ...] = (0, 1, 2, 3, 4, 5),
) -> TargetlessResult:
    """Refine ``X`` in ``T_cam_lidar = T_pre @ X @ T_post`` by edge alignment over ``frames`` (see the module
    docstring). ``multi_start``: restart from rotated guesses when the first result is not a clear bowl. ``axes``
    picks the parameters searched (0-2 rotation, 3-5 translation, in ``X``'s target frame:
    the camera); the others keep the initial value.

    Raises:
        CalibrationError: too few LiDAR edge points in view at the initial guess, images without edges, or (with
            ``require_convergence``) no clear minimum near the initial guess.
    """
    from scipy.optimize import minimize

    pre = np.eye(4) if T_pre is None else np.asarray(T_pre, np.float64)
    post = np.eye(4) if T_post is None else np.asarray(T_post, np.float64)
    X0 = np.asarray(X_init, np.float64)
    if not frames:
        raise CalibrationError("no frame to calibrate from: give frames with a LiDAR sweep and its camera image")
    flat = [f.name or str(k) for k, f in enumerate(frames) if not np.isfinite(f.distance).any()]
    if len(flat) == len(frames):
        raise CalibrationError(
            "no image edges in any frame (featureless or blank images); targetless calibration needs scenes with "
            "structure: poles, building corners, cars, at several distances"
        )
    cost = _Cost(frames, camera, pre, X0, post, sigmas[0])
    p = np.zeros(6)
    _, inview = cost.score(p)
    if inview < MIN_EDGE_POINTS:
        raise CalibrationError(
            f"only {inview} LiDAR depth-edge points project into the image at the initial extrinsic (need "
            f"{MIN_EDGE_POINTS}): the scene has too little 3D structure in the camera's view, or the initial guess "
            "is far off (check its frames and units)"
        )
    scale = np.array([1.0, 1.0, 1.0, 10.0, 10.0, 10.0])  # 1 unit = 1 rad or 0.1 m: comparable steps for Powell
    lim = np.r_[np.full(3, np.radians(max_rotation_deg)), np.full(3, max_translation_m)] * scale
    bounds = list(zip(-lim, lim, strict=True))  # the search stays near the initial guess: no runaway solutions

    free = list(axes)  # the parameters searched (rotation x y z, translation x y z); the others stay at the guess

    def search(q: np.ndarray, maxfev: int) -> tuple[np.ndarray, float]:
        """Powell from ``q``; returns the best point it evaluated. SciPy's bounded Powell takes each line
        minimum as found, even when it is worse than where the line started: on a rough cost it can end uphill
        (on the simulator, from the true extrinsic to a basin 1.1 deg off with a 20 % lower score)."""
        base = q * scale
        best = [q, cost(q)]

        def f(x: np.ndarray) -> float:
            y = base.copy()
            y[free] = x
            p = y / scale
            v = cost(p)
            if v < best[1]:
                best[:] = [p, v]
            return v

        minimize(
            f, base[free], method="Powell", bounds=[bounds[i] for i in free],
            options={"xtol": 1e-4, "ftol": 1e-6, "maxfev": maxfev},
        )  # fmt: skip
        return best[0], float(best[1])

    def coarse_to_fine(q: np.ndarray) -> np.ndarray:
        for sigma in sigmas:
            cost.set_sigma(sigma)
            q, _ = search(q, 4000)
        return q

    def landscape(q: np.ndarray) -> tuple[float, float, float, dict[str, float]]:
        """(score, share of the probes (two per searched axis) where the cost rises, mean relative rise, mean
        relative rise per searched axis) at the finest scale."""
        cost.set_sigma(sigmas[-1])
        f0 = cost(q)
        rises = []
        for k in free:
            for sgn in (-1.0, 1.0):
                qq = q.copy()
                qq[k] += sgn * (np.radians(probe_deg) if k < 3 else probe_m)
                rises.append((cost(qq) - f0) / max(abs(f0), 1e-9))
        r = np.array(rises)
        per_axis = {AXES[k]: float(r[2 * i : 2 * i + 2].mean()) for i, k in enumerate(free)}
        return -f0, float((r > 0).mean()), float(r.mean()), per_axis

    # from the initial guess; when the result is not a clear bowl, again from the guess rotated by +-start_deg
    # about each axis, keeping the best final score (a wrong basin scores lower at the finest scale)
    starts = [np.zeros(6)]
    for k in range(3 if multi_start else 0):
        for sgn in (-1.0, 1.0):
            q = np.zeros(6)
            q[k] = sgn * np.radians(start_deg)
            starts.append(q)
    best: tuple[np.ndarray, float, float, float, dict[str, float]] | None = None
    tried = 0
    for q in starts:
        cand = coarse_to_fine(q)
        tried += 1
        sc, conf, sharp, per_axis = landscape(cand)
        if best is None or sc > best[1]:
            best = (cand, sc, conf, sharp, per_axis)
        if conf == 1.0 and sharp >= min_sharpness:
            break
    p, best_score, confidence, sharpness, axis_rise = best  # type: ignore[misc]  # starts is never empty

    # the profile of the score along each searched axis: where it stays within PROFILE_RISE of the result's
    cost.set_sigma(sigmas[-1])
    f_best = -best_score  # the cost at p on this scale, as landscape() found it
    axis_interval: dict[str, tuple[float, float]] = {}
    for k in free:
        step, top = PROFILE_STEP[k >= 3], PROFILE_MAX[k >= 3]
        ends = []
        for sgn in (-1.0, 1.0):
            reach = 0
            for i in range(1, round(top / step) + 1):
                qq = p.copy()
                qq[k] += sgn * i * step
                if (cost(qq) - f_best) / max(abs(f_best), 1e-9) > PROFILE_RISE:
                    break
                reach = i
            ends.append(reach * step)
        axis_interval[AXES[k]] = (ends[0], ends[1])
    final, inview = cost.score(p)
    X = cost.X(p)
    dR, dt = transform_difference(X, X0)
    s_init = cost.score(np.zeros(6))[0]
    notes = [f"frames without image edges: {', '.join(flat)}"] if flat else []
    if tried > 1:
        notes.append(f"{tried} starts searched (the first result was not a clear minimum)")
    for k, v in axis_rise.items():
        if v < WEAK_AXIS_RISE:
            step = f"{probe_deg:g} deg" if k.startswith("r") else f"{probe_m * 100:g} cm"
            notes.append(
                f"{AXIS_NAMES[k]} is weakly observed: {step} either way changes the alignment score by {v * 100:.1f} % on "
                f"average (below {WEAK_AXIS_RISE * 100:g} %); trust that component least, or add frames with "
                "structure near the camera and towards the image sides"
            )
    res = TargetlessResult(
        pre @ X @ post, X, dR, dt, final, s_init, confidence, sharpness,
        confidence == 1.0 and sharpness >= min_sharpness, inview, cost.n, notes, axis_rise, axis_interval,
    )  # fmt: skip
    if require_convergence and not res.converged:
        raise CalibrationError(
            f"no clear minimum of the edge alignment within {max_rotation_deg:g} deg / {max_translation_m * 100:g} cm "
            f"of the initial extrinsic (best: {dR:.2f} deg / {dt * 100:.1f} cm from it, confidence {confidence:.2f} "
            f"(need 1: the cost rising on every side), sharpness {sharpness:.4f} (need >= {min_sharpness})): the "
            "initial guess is likely too far off (bring it within "
            "~2 deg / 10 cm, e.g. from the CAD drawing or a target-based calibration), or the frames hold too little "
            "structure near the camera: add frames with poles, walls, cars at 5-20 m"
        )
    return res
