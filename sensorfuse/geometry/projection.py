"""Point clouds into images: numba kernels for transform + projection (pinhole, Brown-Conrady, Kannala-Brandt) and a
z-buffer, with the numpy reference (:meth:`CameraModel.project <sensorfuse.geometry.camera.CameraModel.project>`)
beside them.

``project_cloud(points, T_cam_src, camera)`` returns, per point, the pixel coordinates, the depth (z in the camera
frame) and a validity mask with the same rules as the reference: in front of the camera (pinhole, Brown-Conrady), or
inside the monotonic angle range (Kannala-Brandt); inside the distortion model's monotonic radius, so strong
distortion never folds far-off points back into the image; inside the image ``[-0.5, W - 0.5) x [-0.5, H - 0.5)``;
finite input. Invalid points get NaN pixel coordinates.

With ``zbuffer=True`` it also returns the sparse depth image (nearest depth per pixel, 0 where no point lands; each
point covers the ``(2 * splat + 1)^2`` pixels around its own; depth is z, or the range for Kannala-Brandt, whose field
of view reaches past 90 degrees) and, per point, whether it is visible: its depth is
within ``occlusion_tol`` (relative) of the nearest depth at its pixel, so a point hidden behind a nearer surface is not
painted onto it. The z-buffer runs serially over the points: the result does not depend on thread scheduling.

Precision: float64 points are projected in float64 (equal to the reference to ~1e-12 px). float32 points (what the
readers return) are transformed in float64 and projected in float32 (16 SIMD lanes instead of 8): within ~3e-4 px
of the float64 result.

The kernels are compiled on first use and cached on disk (``cache=True``): a second process loads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

import sensorfuse.geometry._numba  # noqa: F401 - threading layer before any parallel kernel
from sensorfuse.errors import ValidationError
from sensorfuse.geometry.camera import CameraModel, project_points
from sensorfuse.geometry.transforms import check_transform

__all__ = [
    "Projection",
    "box_to_image",
    "colourise",
    "points_in_boxes",
    "points_in_boxes_numpy",
    "points_in_image_box",
    "project_cloud",
    "project_cloud_numpy",
    "ray_box_entry",
    "sample_bilinear",
    "zbuffer_numpy",
]

_MODEL_ID = {"pinhole": 0, "brown_conrady": 1, "kannala_brandt": 2}


@dataclass(frozen=True, eq=False)
class Projection:
    """Result of :func:`project_cloud`.

    Attributes:
        uv: (N, 2) pixel coordinates (NaN where not valid).
        depth: (N,) z in the camera frame, m (for every finite point, valid or not).
        valid: (N,) in front, inside the model's valid range and inside the image.
        visible: (N,) valid and not hidden behind a nearer point at its pixel (None without z-buffer).
        depth_image: (H, W) float32 nearest depth per pixel (z; range for Kannala-Brandt), 0 where empty (None
            without z-buffer).
    """

    uv: np.ndarray
    depth: np.ndarray
    valid: np.ndarray
    visible: np.ndarray | None = None
    depth_image: np.ndarray | None = None


_SUB = 512  # points per inner batch: small SoA scratch arrays the compiler can vectorise over (they alias nothing)


@nb.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _project_range(
    lo: int,
    hi: int,
    P: np.ndarray,
    T: np.ndarray,
    model: int,
    cam: np.ndarray,
    c: np.ndarray,
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    packed: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> int:
    """Points ``lo:hi``: transform by T (3x4, camera <- source), project, mask; writes uv, depth (z), dist (range,
    Kannala-Brandt only) and valid into ``out``; ``cam`` = fx, skew, cx, fy, cy, the model's valid radius, width,
    height, then the constants 1, 2, 0.5, 0, inf, NaN; ``c`` the distortion (8, OpenCV order). The transform runs
    in float64 (``T``); its result is rounded once to the dtype of ``cam`` and ``c`` (float32 or float64), in which
    the projection runs (every constant comes from ``cam``, so no float64 literal widens a float32 expression). With non-empty ``packed`` (index, pixel, key: int32 (int64 beyond 2**31
    points or pixels), int32, float32 arrays of N), the valid points are also packed into ``packed[lo:lo + count]``
    for the z-buffer: their index, pixel (row * width + column) and depth key (z; the range for Kannala-Brandt).
    Returns the valid count.

    In batches of ``_SUB``: gather into local arrays, a branch-free arithmetic loop over them (SIMD; every point is
    computed and the mask decides), then the scatter into the outputs. NaN/inf inputs fail the finiteness test
    (comparisons with NaN are false)."""
    uv, depth, dist, valid = out
    p_index, p_pixel, p_key = packed
    pack = p_index.shape[0] > 0
    fx, skew, cx, fy, cy, r_max = cam[0], cam[1], cam[2], cam[3], cam[4], cam[5]
    width, height = int(cam[6]), int(cam[7])
    one, two, half, zero, inf, nan = cam[8], cam[9], cam[10], cam[11], cam[12], cam[13]
    r2_max = r_max * r_max
    px_lo, u_hi, v_hi = -half, cam[6] - half, cam[7] - half
    t00, t01, t02, t03 = T[0, 0], T[0, 1], T[0, 2], T[0, 3]
    t10, t11, t12, t13 = T[1, 0], T[1, 1], T[1, 2], T[1, 3]
    t20, t21, t22, t23 = T[2, 0], T[2, 1], T[2, 2], T[2, 3]
    k1, k2, p1, p2, k3, k4, k5, k6 = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    xs = np.empty(_SUB, cam.dtype)
    ys = np.empty(_SUB, cam.dtype)
    zs = np.empty(_SUB, cam.dtype)
    rs = np.empty(_SUB, cam.dtype)
    ok = np.empty(_SUB, np.bool_)
    count = 0
    at = lo  # next slot in ``packed``
    for s in range(lo, hi, _SUB):
        m = min(_SUB, hi - s)
        for j in range(m):
            xs[j] = P[s + j, 0]
            ys[j] = P[s + j, 1]
            zs[j] = P[s + j, 2]
        for j in range(m):  # the transform in float64 (T is float64), rounded once into the scratch's dtype
            px, py, pz = xs[j], ys[j], zs[j]
            xs[j] = t00 * px + t01 * py + t02 * pz + t03
            ys[j] = t10 * px + t11 * py + t12 * pz + t13
            zs[j] = t20 * px + t21 * py + t22 * pz + t23
        # after the arithmetic loop (one per model, so each is a straight SIMD loop): xs, ys = u, v; zs = z
        if model == 1:  # Brown-Conrady (OpenCV rational + tangential)
            for j in range(m):
                X, Y, Z = xs[j], ys[j], zs[j]
                iz = one / Z
                x = X * iz
                y = Y * iz
                r2 = x * x + y * y
                g = (one + r2 * (k1 + r2 * (k2 + r2 * k3))) / (one + r2 * (k4 + r2 * (k5 + r2 * k6)))
                xy2 = two * x * y
                xd = x * g + p1 * xy2 + p2 * (r2 + two * x * x)
                yd = y * g + p1 * (r2 + two * y * y) + p2 * xy2
                u = fx * xd + skew * yd + cx
                v = fy * yd + cy
                fin = (abs(X) < inf) & (abs(Y) < inf) & (abs(Z) < inf)
                ok[j] = fin & (zero < Z) & (r2 <= r2_max) & (u >= px_lo) & (u < u_hi) & (v >= px_lo) & (v < v_hi)
                xs[j] = u
                ys[j] = v
                zs[j] = Z
        elif model == 0:  # pinhole
            for j in range(m):
                X, Y, Z = xs[j], ys[j], zs[j]
                iz = one / Z
                u = fx * (X * iz) + skew * (Y * iz) + cx
                v = fy * (Y * iz) + cy
                fin = (abs(X) < inf) & (abs(Y) < inf) & (abs(Z) < inf)
                ok[j] = fin & (zero < Z) & (u >= px_lo) & (u < u_hi) & (v >= px_lo) & (v < v_hi)
                xs[j] = u
                ys[j] = v
                zs[j] = Z
        else:  # Kannala-Brandt: angle from the axis, valid up to the model's monotonic angle; rs = range
            for j in range(m):
                X, Y, Z = xs[j], ys[j], zs[j]
                rxy = np.sqrt(X * X + Y * Y)
                rs[j] = np.sqrt(X * X + Y * Y + Z * Z)
                theta = np.arctan2(rxy, Z)
                t2 = theta * theta
                td = theta * (one + t2 * (k1 + t2 * (k2 + t2 * (p1 + t2 * p2))))
                sc = td / rxy if rxy > zero else zero
                u = fx * (X * sc) + skew * (Y * sc) + cx
                v = fy * (Y * sc) + cy
                fin = (abs(X) < inf) & (abs(Y) < inf) & (abs(Z) < inf)
                good = fin & (theta <= r_max) & ((rxy > zero) | (zero < Z))
                ok[j] = good & (u >= px_lo) & (u < u_hi) & (v >= px_lo) & (v < v_hi)
                xs[j] = u
                ys[j] = v
                zs[j] = Z
        for j in range(m):
            depth[s + j] = zs[j]
            valid[s + j] = ok[j]
        if model == 2:
            for j in range(m):
                dist[s + j] = rs[j]
        for j in range(m):  # branch-free: the mask selects (a NaN or huge u, v is never used)
            good = ok[j]
            uv[s + j, 0] = xs[j] if good else nan
            uv[s + j, 1] = ys[j] if good else nan
            count += good
        if pack:  # valid points come in runs (a sweep is stored in firing order): the branch predicts well
            key = rs if model == 2 else zs
            for j in range(m):
                if ok[j]:
                    cu = min(max(xs[j] + 0.5, 0.0), width - 1.0)  # >= 0: truncation is the floor
                    cv = min(max(ys[j] + 0.5, 0.0), height - 1.0)
                    p_index[at] = s + j
                    p_pixel[at] = int(cv) * width + int(cu)
                    p_key[at] = key[j]
                    at += 1
    return count


_BLOCK = 8192


@nb.njit(cache=True, nogil=True, parallel=True)
def _project_kernel(
    P: np.ndarray,
    T: np.ndarray,
    model: int,
    cam: np.ndarray,
    c: np.ndarray,
    out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    packed: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> np.ndarray:
    """:func:`_project_range` over blocks of ``_BLOCK`` points in parallel (the points are independent); returns
    the valid count per block."""
    n = P.shape[0]
    blocks = (n + _BLOCK - 1) // _BLOCK
    counts = np.zeros(blocks, np.int64)
    for b in nb.prange(blocks):
        lo = b * _BLOCK
        hi = min(lo + _BLOCK, n)
        counts[b] = _project_range(lo, hi, P, T, model, cam, c, out, packed)
    return counts


@nb.njit(cache=True, nogil=True)
def _zbuffer_kernel(
    packed: tuple[np.ndarray, np.ndarray, np.ndarray],
    counts: np.ndarray,
    splat: int,
    tol: float,
    image: np.ndarray,
    visible: np.ndarray,
) -> None:
    """Nearest depth per pixel (splatted) from the valid points packed by :func:`_project_range` (block ``b``'s
    ``counts[b]`` points from ``b * _BLOCK``), then per valid point whether its depth is within ``tol`` (relative)
    of the nearest at its pixel (``visible`` starts all false). Serial, in point order, so deterministic (and a
    parallel pass for the visibility costs more in thread start-up than it saves on 2 cores)."""
    p_index, p_pixel, p_key = packed
    h, w = image.shape
    flat = image.ravel()
    for b in range(counts.shape[0]):
        for a in range(b * _BLOCK, b * _BLOCK + counts[b]):
            k = p_pixel[a]
            d = p_key[a]
            if splat == 0:
                cur = flat[k]
                if cur == 0.0 or d < cur:
                    flat[k] = d
                continue
            cu = k % w
            cv = k // w
            for r in range(max(cv - splat, 0), min(cv + splat + 1, h)):
                for q in range(max(cu - splat, 0), min(cu + splat + 1, w)):
                    cur = image[r, q]
                    if cur == 0.0 or d < cur:
                        image[r, q] = d
    scale = 1.0 + tol
    for b in range(counts.shape[0]):
        for a in range(b * _BLOCK, b * _BLOCK + counts[b]):
            visible[p_index[a]] = np.float64(p_key[a]) <= np.float64(flat[p_pixel[a]]) * scale


def _inputs(points: object, T_cam_src: object, splat: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The checked points and 4x4 transform of :func:`project_cloud` and its numpy reference."""
    P = _check_points(points, what)
    T = check_transform(T_cam_src, "T_cam_src")
    if T.shape != (4, 4):
        raise ValidationError(f"T_cam_src: expected one 4x4 transform, got shape {T.shape}")
    if splat < 0:
        raise ValidationError(f"splat: expected >= 0 pixels, got {splat}")
    return P, T


def _check_points(points: object, what: str) -> np.ndarray:
    P = np.asarray(points)
    if P.ndim != 2 or P.shape[1] != 3:
        raise ValidationError(f"{what}: expected (N, 3) points, got shape {P.shape}")
    if P.dtype not in (np.float32, np.float64):
        if P.dtype.kind not in "fiu":
            raise ValidationError(f"{what}: expected float points, got dtype {P.dtype}")
        P = P.astype(np.float64)
    return P


def project_cloud(
    points: object,
    T_cam_src: object,
    camera: CameraModel,
    *,
    zbuffer: bool = False,
    splat: int = 0,
    occlusion_tol: float = 0.02,
    what: str = "points",
) -> Projection:
    """Project (N, 3) points from a source frame (LiDAR) into ``camera`` with the numba kernels (see the module
    docstring). float32 or float64 points, any strides; others are converted, non-numeric ones refused.

    Raises:
        ValidationError: wrong shapes or dtypes, a non-rigid transform, a negative splat.
    """
    P, T = _inputs(points, T_cam_src, splat, what)
    n = P.shape[0]
    uv = np.empty((n, 2))
    depth = np.empty(n)
    dist = np.empty(n if camera.model == "kannala_brandt" else 0)
    valid = np.empty(n, np.bool_)
    m = n if zbuffer else 0  # the valid points packed for the z-buffer: index, pixel, depth key
    index_t = np.int32 if max(n, camera.width * camera.height) < 2**31 else np.int64
    packed = (np.empty(m, index_t), np.empty(m, index_t), np.empty(m, np.float32))
    K = camera.K
    c = camera._bc  # the distortion padded to 8 coefficients (OpenCV order; Kannala-Brandt uses the first 4)
    model = _MODEL_ID[camera.model]
    r_max = camera.max_undistorted_radius if model else np.inf
    # float32 points: the transform in float64, the projection (division, distortion) in float32: 16 SIMD lanes
    # instead of 8, ~1e-4 px from float64 (<= 1e-3 px)
    dt = np.float32 if P.dtype == np.float32 else np.float64
    params = np.array([K[0, 0], K[0, 1], K[0, 2], K[1, 1], K[1, 2], r_max, camera.width, camera.height,
                       1.0, 2.0, 0.5, 0.0, np.inf, np.nan], dt)  # fmt: skip
    T34 = np.ascontiguousarray(T[:3], np.float64)
    counts = _project_kernel(P, T34, model, params, c.astype(dt), (uv, depth, dist, valid), packed)
    if not zbuffer:
        return Projection(uv, depth, valid)
    image = np.zeros((camera.height, camera.width), np.float32)
    visible = np.zeros(n, np.bool_)
    # a fisheye sees points with z <= 0: occlusion by range along the ray (the key packed for Kannala-Brandt)
    _zbuffer_kernel(packed, counts, int(splat), float(occlusion_tol), image, visible)
    return Projection(uv, depth, valid, visible, image)


def project_cloud_numpy(
    points: object,
    T_cam_src: object,
    camera: CameraModel,
    *,
    zbuffer: bool = False,
    splat: int = 0,
    occlusion_tol: float = 0.02,
) -> Projection:
    """The vectorised numpy reference of :func:`project_cloud` (same rules, same outputs), for tests and benchmarks."""
    P, T = _inputs(points, T_cam_src, splat, "points")
    uv, depth, valid = project_points(P, T, camera)  # the one numpy projection
    uv[~valid] = np.nan
    if not zbuffer:
        return Projection(uv, depth, valid)
    key = (
        np.linalg.norm(P.astype(np.float64) @ T[:3, :3].T + T[:3, 3], axis=1)
        if camera.model == "kannala_brandt"
        else depth
    )
    image, visible = zbuffer_numpy(uv, key, valid, camera.width, camera.height, splat, occlusion_tol)
    return Projection(uv, depth, valid, visible, image)


def zbuffer_numpy(
    uv: np.ndarray,
    depth: np.ndarray,
    valid: np.ndarray,
    width: int,
    height: int,
    splat: int = 0,
    occlusion_tol: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest depth per pixel (``np.minimum.at``) and per-point visibility: the numpy reference of the kernel."""
    idx = np.flatnonzero(valid)
    cu = np.floor(uv[idx, 0] + 0.5).astype(np.int64)
    cv = np.floor(uv[idx, 1] + 0.5).astype(np.int64)
    d = depth[idx].astype(np.float32)
    flat = np.full(height * width, np.inf, np.float32)
    for dv in range(-splat, splat + 1):
        for du in range(-splat, splat + 1):
            r, q = cv + dv, cu + du
            inside = (r >= 0) & (r < height) & (q >= 0) & (q < width)
            np.minimum.at(flat, r[inside] * width + q[inside], d[inside])
    image = np.where(np.isinf(flat), np.float32(0.0), flat).reshape(height, width)
    visible = np.zeros(valid.shape, bool)
    visible[idx] = d.astype(np.float64) <= image[cv, cu].astype(np.float64) * (1.0 + occlusion_tol)
    return image, visible


# -- colour ----------------------------------------------------------------------------------------------------------


@nb.njit(cache=True, nogil=True)
def _bilinear_kernel(image: np.ndarray, uv: np.ndarray, mask: np.ndarray, out: np.ndarray) -> None:
    """Bilinear samples of ``image`` (H, W, C) at ``uv`` where ``mask``; pixel centres at integers, edges clamped."""
    h, w, nc = image.shape
    for i in range(uv.shape[0]):
        if not mask[i]:
            continue
        u = min(max(uv[i, 0], 0.0), w - 1.0)
        v = min(max(uv[i, 1], 0.0), h - 1.0)
        u0 = min(int(u), w - 2) if w > 1 else 0
        v0 = min(int(v), h - 2) if h > 1 else 0
        fu = u - u0
        fv = v - v0
        u1 = min(u0 + 1, w - 1)
        v1 = min(v0 + 1, h - 1)
        for ch in range(nc):
            top = image[v0, u0, ch] * (1.0 - fu) + image[v0, u1, ch] * fu
            bottom = image[v1, u0, ch] * (1.0 - fu) + image[v1, u1, ch] * fu
            out[i, ch] = top * (1.0 - fv) + bottom * fv


def sample_bilinear(image: object, uv: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(N, C) float32 bilinear samples of an (H, W) or (H, W, C) image at pixel coordinates ``uv`` (NaN where
    ``mask`` is False)."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ValidationError(f"image: expected (H, W) or (H, W, C), got shape {img.shape}")
    uv = np.asarray(uv, np.float64)
    if uv.ndim != 2 or uv.shape[1] != 2:
        raise ValidationError(f"uv: expected (N, 2), got shape {uv.shape}")
    m = np.isfinite(uv).all(axis=1) if mask is None else np.asarray(mask, bool) & np.isfinite(uv).all(axis=1)
    out = np.full((uv.shape[0], img.shape[2]), np.nan, np.float32)
    _bilinear_kernel(np.ascontiguousarray(img), uv, m, out)
    return out


def colourise(
    points: object,
    views: list[tuple[object, CameraModel, object]],
    *,
    splat: int = 1,
    occlusion_tol: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """Colours of a cloud from one or several images: ``views`` = ``[(T_cam_src, camera, image), ...]``.

    Each point takes the bilinear colour of the first view in which it is *visible* (valid and not hidden behind a
    nearer point, z-buffer with ``splat``), so a wall behind a car is not painted with the car. Returns
    ``(colours (N, C) float32, NaN where no view sees the point; view index (N,) int, -1 for none)``.

    Raises:
        ValidationError: an image whose size is not its camera model's.
    """
    P = _check_points(points, "points")
    n = P.shape[0]
    colours: np.ndarray | None = None
    which = np.full(n, -1, np.int64)
    for k, (T, cam, image) in enumerate(views):
        img = np.asarray(image)
        if img.shape[:2] != (cam.height, cam.width):
            raise ValidationError(
                f"view {k}: image is {img.shape[1]}x{img.shape[0]}, the camera model {cam.width}x{cam.height}"
            )
        proj = project_cloud(P, T, cam, zbuffer=True, splat=splat, occlusion_tol=occlusion_tol)
        take = proj.visible & (which < 0)
        c = sample_bilinear(img, proj.uv, take)
        if colours is None:
            colours = np.full((n, c.shape[1]), np.nan, np.float32)
        elif c.shape[1] != colours.shape[1]:
            raise ValidationError(f"view {k}: {c.shape[1]} channels, the first view has {colours.shape[1]}")
        colours[take] = c[take]
        which[take] = k
    if colours is None:
        colours = np.full((n, 3), np.nan, np.float32)
    return colours, which


# -- boxes -----------------------------------------------------------------------------------------------------------


@nb.njit(cache=True, nogil=True)
def _in_boxes_kernel(
    P: np.ndarray, centers: np.ndarray, half: np.ndarray, R: np.ndarray, radius: np.ndarray, first: np.ndarray,
    counts: np.ndarray,
) -> None:  # fmt: skip
    nb_ = centers.shape[0]
    for i in range(P.shape[0]):
        px, py, pz = float(P[i, 0]), float(P[i, 1]), float(P[i, 2])
        first[i] = -1
        for b in range(nb_):
            dx = px - centers[b, 0]
            dy = py - centers[b, 1]
            dz = pz - centers[b, 2]
            if dx * dx + dy * dy + dz * dz > radius[b]:
                continue
            # box frame coordinates: R^T d
            x = R[b, 0, 0] * dx + R[b, 1, 0] * dy + R[b, 2, 0] * dz
            y = R[b, 0, 1] * dx + R[b, 1, 1] * dy + R[b, 2, 1] * dz
            z = R[b, 0, 2] * dx + R[b, 1, 2] * dy + R[b, 2, 2] * dz
            if abs(x) <= half[b, 0] and abs(y) <= half[b, 1] and abs(z) <= half[b, 2]:
                counts[b] += 1
                if first[i] < 0:
                    first[i] = b


def _box_arrays(boxes: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not boxes:
        return np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3, 3))
    return (
        np.array([b.center for b in boxes], np.float64),
        np.array([b.size for b in boxes], np.float64) / 2.0,
        np.array([b.rotation for b in boxes], np.float64),
    )


def points_in_boxes(points: object, boxes: list) -> tuple[np.ndarray, np.ndarray]:
    """Which oriented :class:`~sensorfuse.types.Box3D` (in the points' frame) holds each point, for many boxes at
    once: ``(first box index (N,) int64, -1 for none; points per box (B,) int64)`` (a point in two overlapping boxes
    counts for both). Faces are inclusive."""
    P = _check_points(points, "points")
    centers, half, R = _box_arrays(boxes)
    radius = (half * half).sum(axis=1) * (1 + 1e-9)
    first = np.empty(P.shape[0], np.int64)
    counts = np.zeros(len(boxes), np.int64)
    _in_boxes_kernel(P, centers, half, R, radius, first, counts)
    return first, counts


def points_in_boxes_numpy(points: object, boxes: list) -> tuple[np.ndarray, np.ndarray]:
    """The numpy reference of :func:`points_in_boxes` (one vectorised pass per box)."""
    P = _check_points(points, "points").astype(np.float64)
    centers, half, R = _box_arrays(boxes)
    first = np.full(P.shape[0], -1, np.int64)
    counts = np.zeros(len(boxes), np.int64)
    for b in range(len(boxes)):
        local = (P - centers[b]) @ R[b]
        inside = (np.abs(local) <= half[b]).all(axis=1)
        counts[b] = int(inside.sum())
        first[inside & (first < 0)] = b
    return first, counts


def ray_box_entry(origin: object, dirs: object, box: object) -> np.ndarray:
    """Where rays from ``origin`` (3,) along ``dirs`` (N, 3) (both in the box's frame) enter an oriented
    :class:`~sensorfuse.types.Box3D`: the ray parameter (distance for unit directions; 0 when the origin is inside),
    ``inf`` where a ray misses the box or meets it only behind the origin (slab test)."""
    o = box.rotation.T @ (np.asarray(origin, np.float64) - box.center)
    d = np.asarray(dirs, np.float64) @ box.rotation
    h = 0.5 * box.size
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = (-h - o) / d
        tb = (h - o) / d
    near = np.minimum(ta, tb)
    far = np.maximum(ta, tb)
    parallel = d == 0.0  # a ray parallel to a slab: inside it everywhere or nowhere
    inside = np.abs(o) <= h
    near = np.where(parallel, np.where(inside, -np.inf, np.inf), near)
    far = np.where(parallel, np.where(inside, np.inf, -np.inf), far)
    t0 = near.max(axis=1)
    t1 = far.min(axis=1)
    hit = (t1 >= np.maximum(t0, 0.0)) & np.isfinite(d).all(axis=1)
    return np.where(hit, np.maximum(t0, 0.0), np.inf)


def box_to_image(
    corners_cam: np.ndarray, camera: CameraModel, *, near_m: float = 0.1, samples: int = 16
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The 2D box of a 3D box given by its (8, 3) corners in the camera frame (order of
    :meth:`Box3D.corners <sensorfuse.types.Box3D.corners>`).

    The 12 edges are clipped at the plane ``z = near_m`` (pinhole, Brown-Conrady: a box partly behind the camera
    keeps only the part in front, so its 2D box does not jump across the image) and sampled ``samples`` times each,
    since distortion bends straight edges; the samples' projections span the box. Returns ``(unclipped xyxy, xyxy
    clipped to the image)``, either None when nothing projects (behind the camera, outside the model's range, or,
    for the clipped one, outside the image). ``1 - area(clipped) / area(unclipped)`` is the truncation.
    """
    C = np.asarray(corners_cam, np.float64)
    if C.shape != (8, 3):
        raise ValidationError(f"corners_cam: expected (8, 3), got {C.shape}")
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]])
    a, b = C[edges[:, 0]], C[edges[:, 1]]
    if camera.model != "kannala_brandt":
        za, zb = a[:, 2], b[:, 2]
        keep = (za >= near_m) | (zb >= near_m)
        a, b, za, zb = a[keep], b[keep], za[keep], zb[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(za != zb, (near_m - za) / (zb - za), 0.0)
        cut = np.clip(t, 0.0, 1.0)[:, None]
        a_new = np.where((za < near_m)[:, None], a + cut * (b - a), a)
        b_new = np.where((zb < near_m)[:, None], a + cut * (b - a), b)
        a, b = a_new, b_new
    if a.shape[0] == 0:
        return None, None
    s = np.linspace(0.0, 1.0, max(int(samples), 2))
    pts = (a[:, None, :] + s[None, :, None] * (b - a)[:, None, :]).reshape(-1, 3)
    uv, ok = camera._project(pts)
    if not ok.any():
        return None, None
    uv = uv[ok]
    full = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
    lo, hi_u, hi_v = -0.5, camera.width - 0.5, camera.height - 0.5
    if full[0] >= lo and full[1] >= lo and full[2] <= hi_u and full[3] <= hi_v:
        return full, full.copy()
    # partly outside: the box of (outline inside the image), not the full box cut to the image — an outline that
    # leaves the image slanted (or bent by distortion) spans less of the border than its bounding box does
    inside = _outline_in_rect(uv, lo, lo, hi_u, hi_v)
    if inside is None:
        return full, None
    clipped = np.array([inside[:, 0].min(), inside[:, 1].min(), inside[:, 0].max(), inside[:, 1].max()])
    if clipped[0] >= clipped[2] or clipped[1] >= clipped[3]:
        return full, None
    return full, clipped


def _outline_in_rect(uv: np.ndarray, u0: float, v0: float, u1: float, v1: float) -> np.ndarray | None:
    """The convex hull of 2D points (the outline of a projected box: convex for a pinhole camera, and the edges are
    sampled densely, so it follows a distorted outline closely) cut to the rectangle ``[u0, u1] x [v0, v1]``
    (``cv2.intersectConvexConvex``); None when nothing of it is inside."""
    import cv2

    hull = cv2.convexHull(np.ascontiguousarray(uv, np.float32))
    rect = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], np.float32)
    if hull.shape[0] < 3:
        return None
    area, poly = cv2.intersectConvexConvex(hull, rect)
    if poly is None or area <= 0.0:
        return None
    return poly.reshape(-1, 2).astype(np.float64)


def points_in_image_box(proj: Projection, xyxy: object, *, visible_only: bool = True) -> np.ndarray:
    """Indices of the points whose projection falls in a 2D box ``(xmin, ymin, xmax, ymax)``: the frustum of the
    box (only points the z-buffer found visible, unless ``visible_only=False``)."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(xyxy, np.float64).ravel()[:4])
    m = proj.visible if visible_only and proj.visible is not None else proj.valid
    u, v = proj.uv[:, 0], proj.uv[:, 1]
    with np.errstate(invalid="ignore"):
        inside = m & (u >= x0) & (u <= x1) & (v >= y0) & (v <= y1)
    return np.flatnonzero(inside)
