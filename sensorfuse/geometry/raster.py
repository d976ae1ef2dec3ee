"""A ray-exact triangle rasteriser for any camera model (numba).

Every pixel's viewing ray comes from :meth:`CameraModel.unproject` (the same distortion code the projection uses),
so lens distortion is exact: a straight 3D edge is curved in the image exactly as the model says, which a classic
rasteriser that projects vertices and interpolates in image space gets wrong. Per frame:

1. each triangle (camera frame) is clipped at ``z = near`` and bounded in the normalised image plane ``(x/z, y/z)``;
2. the image is cut into 16x16-pixel tiles whose normalised-plane bounds are precomputed per camera; a triangle is
   tested only against the pixels of the tiles its bound overlaps (tiles grouped 8x8 into super-tiles);
3. each tested pixel intersects its own ray with the triangle (Moller-Trumbore): the nearest hit wins, ties go to
   the lower triangle index, so the result is what a ray caster returns and does not depend on thread scheduling
   (the parallel loop runs over super-tiles, each owning its pixels).

:func:`shade` then samples material textures with several rays per pixel (anti-aliasing) by intersecting them with
the plane of the triangle hit by the pixel's centre ray.

The reference implementation for this kernel is ray casting the same rays with Open3D's ``RaycastingScene``
(``tests/test_raster.py``), not a numpy re-implementation: that is the ground truth it must agree with.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numba as nb
import numpy as np

import sensorfuse.geometry._numba  # noqa: F401 - threading layer before any parallel kernel
from sensorfuse.errors import ValidationError
from sensorfuse.geometry.camera import CameraModel

__all__ = ["TILE", "CameraRays", "camera_rays", "rasterize", "shade"]


TILE = 16  # pixels per tile side
SUPER = 8  # tiles per super-tile side
NEAR_M = 0.01


@dataclass(frozen=True, eq=False)
class CameraRays:
    """Per-pixel unit rays of a camera and the tile bounds the rasteriser uses. Build once per camera."""

    camera: CameraModel
    rays: np.ndarray  # (H, W, 3) float64 unit rays of pixel centres (NaN where the model is not valid)
    samples: int  # anti-aliasing samples per pixel side (samples x samples rays for supersampled materials)
    tile_bounds: np.ndarray  # (TY, TX, 4) min x/z, max x/z, min y/z, max y/z; NaN for tiles with no valid pixel
    super_bounds: np.ndarray  # (SY, SX, 4)


def _bounds(nx: np.ndarray, ny: np.ndarray, size: int) -> np.ndarray:
    H, W = nx.shape
    th, tw = -(-H // size), -(-W // size)
    pad = ((0, th * size - H), (0, tw * size - W))
    bx = np.pad(nx, pad, constant_values=np.nan).reshape(th, size, tw, size)
    by = np.pad(ny, pad, constant_values=np.nan).reshape(th, size, tw, size)
    with warnings.catch_warnings():  # tiles without a valid pixel give NaN bounds (never overlap), not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack(
            [
                np.nanmin(bx, axis=(1, 3)),
                np.nanmax(bx, axis=(1, 3)),
                np.nanmin(by, axis=(1, 3)),
                np.nanmax(by, axis=(1, 3)),
            ],
            axis=-1,
        )


def camera_rays(camera: CameraModel, samples: int = 4) -> CameraRays:
    """Unit rays of pixel centres and the tile bounds; ``samples`` per side for anti-aliased materials (their sub-pixel
    rays are made in the kernel from the centre rays' local derivative in the normalised plane).

    Raises:
        ValidationError: the camera sees rays at or beyond 90 deg off-axis (the normalised plane cannot hold them).
    """
    W, H = camera.width, camera.height
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rays, valid = camera.unproject(np.stack([u.ravel(), v.ravel()], axis=1))
    rays = np.where(valid[:, None], rays, np.nan).reshape(H, W, 3)
    if np.nanmin(rays[..., 2]) < 1e-3:
        raise ValidationError(
            f"camera {camera!r} sees rays 90 deg or more off its axis; the rasteriser handles fields of view < 180 deg"
        )
    nx, ny = rays[..., 0] / rays[..., 2], rays[..., 1] / rays[..., 2]
    tiles = _bounds(nx, ny, TILE)
    supers = _bounds(nx, ny, TILE * SUPER)
    return CameraRays(camera, np.ascontiguousarray(rays), samples, tiles, supers)


def _triangle_bounds(tri: np.ndarray, near: float, out: np.ndarray) -> bool:
    """Normalised-plane bounding box of the part of ``tri`` (3, 3) with z >= near; False if none."""
    xmin = ymin = np.inf
    xmax = ymax = -np.inf
    any_in = False
    for i in range(3):
        a = tri[i]
        b = tri[(i + 1) % 3]
        if a[2] >= near:
            any_in = True
            x, y = a[0] / a[2], a[1] / a[2]
            xmin, xmax, ymin, ymax = min(xmin, x), max(xmax, x), min(ymin, y), max(ymax, y)
        if (a[2] - near) * (b[2] - near) < 0.0:
            s = (near - a[2]) / (b[2] - a[2])
            x = (a[0] + s * (b[0] - a[0])) / near
            y = (a[1] + s * (b[1] - a[1])) / near
            xmin, xmax, ymin, ymax = min(xmin, x), max(xmax, x), min(ymin, y), max(ymax, y)
    out[0], out[1], out[2], out[3] = xmin, xmax, ymin, ymax
    return any_in


def _overlaps(b: np.ndarray, tb: np.ndarray) -> bool:
    # NaN tile bounds (no valid pixel) compare False -> no overlap
    return tb[0] <= b[1] and tb[1] >= b[0] and tb[2] <= b[3] and tb[3] >= b[2]


def _rasterize(tris: np.ndarray, rays: np.ndarray, tile_bounds: np.ndarray, super_bounds: np.ndarray, near: float):
    H, W = rays.shape[0], rays.shape[1]
    T = tris.shape[0]
    tb = np.empty((T, 4))
    ok = np.zeros(T, np.bool_)
    for k in nb.prange(T):
        ok[k] = _triangle_bounds(tris[k], near, tb[k])
    dist = np.full((H, W), np.inf)
    index = np.full((H, W), -1, np.int32)
    SY, SX = super_bounds.shape[0], super_bounds.shape[1]
    TY, TX = tile_bounds.shape[0], tile_bounds.shape[1]
    for s in nb.prange(SY * SX):
        sy, sx = s // SX, s % SX
        if not _overlaps_any(super_bounds[sy, sx]):
            continue
        for k in range(T):
            if not ok[k] or not _overlaps(tb[k], super_bounds[sy, sx]):
                continue
            v0 = tris[k, 0]
            e1 = tris[k, 1] - v0
            e2 = tris[k, 2] - v0
            for ty in range(sy * SUPER, min((sy + 1) * SUPER, TY)):
                for tx in range(sx * SUPER, min((sx + 1) * SUPER, TX)):
                    if not _overlaps(tb[k], tile_bounds[ty, tx]):
                        continue
                    for y in range(ty * TILE, min((ty + 1) * TILE, H)):
                        for x in range(tx * TILE, min((tx + 1) * TILE, W)):
                            d = rays[y, x]
                            # Moller-Trumbore, ray origin at the camera centre
                            px = d[1] * e2[2] - d[2] * e2[1]
                            py = d[2] * e2[0] - d[0] * e2[2]
                            pz = d[0] * e2[1] - d[1] * e2[0]
                            det = e1[0] * px + e1[1] * py + e1[2] * pz
                            if det == 0.0 or det != det:
                                continue
                            inv = 1.0 / det
                            sx_, sy_, sz_ = -v0[0], -v0[1], -v0[2]
                            u = (sx_ * px + sy_ * py + sz_ * pz) * inv
                            if u < 0.0 or u > 1.0:
                                continue
                            qx = sy_ * e1[2] - sz_ * e1[1]
                            qy = sz_ * e1[0] - sx_ * e1[2]
                            qz = sx_ * e1[1] - sy_ * e1[0]
                            v = (d[0] * qx + d[1] * qy + d[2] * qz) * inv
                            if v < 0.0 or u + v > 1.0:
                                continue
                            t = (e2[0] * qx + e2[1] * qy + e2[2] * qz) * inv
                            if t * d[2] < near:
                                continue
                            if t < dist[y, x]:
                                dist[y, x] = t
                                index[y, x] = k
    return dist, index


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _overlaps_any(b: np.ndarray) -> bool:
    return b[0] == b[0]  # not NaN: the super-tile has valid pixels


def _shade(
    tris,
    uv,
    material,
    index,
    rays,
    n_side,
    mat_texture,
    mat_texel,
    mat_wrap,
    mat_super,
    tex_data,
    tex_offset,
    tex_shape,
    tri_bgr,
    sky_bgr,
    noise_std,
    noise_seed,
    gauss,
):
    H, W = index.shape
    T = tris.shape[0]
    # per-triangle constants: normal, plane offset, barycentric Gram matrix
    pre = np.empty((T, 12))
    for k in nb.prange(T):
        v0 = tris[k, 0]
        e1x, e1y, e1z = tris[k, 1, 0] - v0[0], tris[k, 1, 1] - v0[1], tris[k, 1, 2] - v0[2]
        e2x, e2y, e2z = tris[k, 2, 0] - v0[0], tris[k, 2, 1] - v0[1], tris[k, 2, 2] - v0[2]
        nx, ny, nz = e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x
        d00 = e1x * e1x + e1y * e1y + e1z * e1z
        d01 = e1x * e2x + e1y * e2y + e1z * e2z
        d11 = e2x * e2x + e2y * e2y + e2z * e2z
        pre[k, 0], pre[k, 1], pre[k, 2] = nx, ny, nz
        pre[k, 3] = nx * v0[0] + ny * v0[1] + nz * v0[2]
        pre[k, 4], pre[k, 5], pre[k, 6] = e1x, e1y, e1z
        pre[k, 7], pre[k, 8], pre[k, 9] = e2x, e2y, e2z
        pre[k, 10] = d01
        den = d00 * d11 - d01 * d01
        pre[k, 11] = 1.0 / den
    out = np.empty((H, W, 3), np.uint8)
    for y in nb.prange(H):
        for x in range(W):
            k = index[y, x]
            nz = 0.0
            if noise_std > 0.0:
                h = _splitmix64(np.uint64(noise_seed) ^ np.uint64(y * W + x))
                nz = gauss[h & np.uint64(gauss.size - 1)] * noise_std
            if k < 0:
                for c in range(3):
                    out[y, x, c] = min(max(int(np.floor(sky_bgr[c] + nz + 0.5)), 0), 255)
                continue
            nx, ny, nz, nv0 = pre[k, 0], pre[k, 1], pre[k, 2], pre[k, 3]
            e1x, e1y, e1z = pre[k, 4], pre[k, 5], pre[k, 6]
            e2x, e2y, e2z = pre[k, 7], pre[k, 8], pre[k, 9]
            d01, inv_den = pre[k, 10], pre[k, 11]
            d00 = e1x * e1x + e1y * e1y + e1z * e1z
            d11 = e2x * e2x + e2y * e2y + e2z * e2z
            m = material[k]
            ti = mat_texture[m]
            th, tw = tex_shape[ti, 0], tex_shape[ti, 1]
            off = tex_offset[ti]
            inv_texel = 1.0 / mat_texel[m]
            if th * tw == 1:
                val = tex_data[off] / 255.0
                for c in range(3):
                    out[y, x, c] = min(max(int(np.floor(val * tri_bgr[k, c] + nz + 0.5)), 0), 255)
                continue
            n_s = n_side * n_side if mat_super[m] else 1
            if n_s > 1:
                # normalised-plane coordinates of this pixel's ray and their derivatives along x and y
                xl, xr = max(x - 1, 0), min(x + 1, W - 1)
                yu, yd = max(y - 1, 0), min(y + 1, H - 1)
                cz = rays[y, x, 2]
                ax, ay = rays[y, x, 0] / cz, rays[y, x, 1] / cz
                dxx = (rays[y, xr, 0] / rays[y, xr, 2] - rays[y, xl, 0] / rays[y, xl, 2]) / (xr - xl)
                dyx = (rays[y, xr, 1] / rays[y, xr, 2] - rays[y, xl, 1] / rays[y, xl, 2]) / (xr - xl)
                dxy = (rays[yd, x, 0] / rays[yd, x, 2] - rays[yu, x, 0] / rays[yu, x, 2]) / (yd - yu)
                dyy = (rays[yd, x, 1] / rays[yd, x, 2] - rays[yu, x, 1] / rays[yu, x, 2]) / (yd - yu)
            acc = 0.0
            for s in range(n_s):
                if n_s == 1:
                    dx, dy, dz = rays[y, x, 0], rays[y, x, 1], rays[y, x, 2]
                else:
                    ox = (s % n_side + 0.5) / n_side - 0.5
                    oy = (s // n_side + 0.5) / n_side - 0.5
                    dx, dy, dz = ax + ox * dxx + oy * dxy, ay + ox * dyx + oy * dyy, 1.0
                nd = nx * dx + ny * dy + nz * dz
                if nd == 0.0:
                    continue
                t = nv0 / nd
                px, py, pz = t * dx - tris[k, 0, 0], t * dy - tris[k, 0, 1], t * dz - tris[k, 0, 2]
                d20 = px * e1x + py * e1y + pz * e1z
                d21 = px * e2x + py * e2y + pz * e2z
                b1 = (d11 * d20 - d01 * d21) * inv_den
                b2 = (d00 * d21 - d01 * d20) * inv_den
                b0 = 1.0 - b1 - b2
                uu = (b0 * uv[k, 0, 0] + b1 * uv[k, 1, 0] + b2 * uv[k, 2, 0]) * inv_texel
                vv = (b0 * uv[k, 0, 1] + b1 * uv[k, 1, 1] + b2 * uv[k, 2, 1]) * inv_texel
                c = int(np.floor(uu))
                r = int(np.floor(vv))
                if mat_wrap[m]:
                    c %= tw
                    r %= th
                else:
                    c = min(max(c, 0), tw - 1)
                    r = min(max(r, 0), th - 1)
                acc += tex_data[off + r * tw + c]
            val = acc / (255.0 * n_s)
            for c in range(3):
                out[y, x, c] = min(max(int(np.floor(val * tri_bgr[k, c] + nz + 0.5)), 0), 255)
    return out


def _splitmix64(x: np.uint64) -> np.uint64:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


# Pixel noise: a fixed table of 2^13 standard normal numbers (32 KB, stays in cache) indexed by a counter-based hash
# of (frame seed, pixel), so the noise is the same for any thread schedule and costs one hash and one load per pixel.
_GAUSS = np.random.default_rng(20261123).standard_normal(1 << 13).astype(np.float32)


_triangle_bounds = nb.njit(cache=True)(_triangle_bounds)
_overlaps = nb.njit(cache=True)(_overlaps)
_overlaps_any = nb.njit(cache=True)(_overlaps_any)
_dot = nb.njit(cache=True)(_dot)
_splitmix64 = nb.njit(cache=True)(_splitmix64)
_rasterize_parallel = nb.njit(cache=True, parallel=True)(_rasterize)
_rasterize_serial = nb.njit(cache=True)(_rasterize)
_shade_parallel = nb.njit(cache=True, parallel=True)(_shade)


def rasterize(
    triangles_cam: np.ndarray, rays: CameraRays, *, near: float = NEAR_M, parallel: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest triangle per pixel.

    Args:
        triangles_cam: (T, 3, 3) vertices in the camera frame (x right, y down, z forward), metres.
        rays: the camera's :class:`CameraRays`.
        near: hits closer than this depth (m) are ignored.
        parallel: run over super-tiles in parallel (same result as serial).

    Returns:
        ``(depth, index)``: (H, W) float32 z-depth in metres (``inf`` where nothing is hit) and (H, W) int32 index
        of the triangle seen (-1 for none).
    """
    tris = np.ascontiguousarray(triangles_cam, dtype=np.float64)
    if tris.ndim != 3 or tris.shape[1:] != (3, 3):
        raise ValidationError(f"triangles_cam: expected (T, 3, 3), got {tris.shape}")
    fn = _rasterize_parallel if parallel else _rasterize_serial
    dist, index = fn(tris, rays.rays, rays.tile_bounds, rays.super_bounds, float(near))
    with np.errstate(invalid="ignore"):
        depth = (dist * rays.rays[..., 2]).astype(np.float32)
    depth[index < 0] = np.inf
    return depth, index


def shade(
    triangles_cam: np.ndarray,
    uv_m: np.ndarray,
    material: np.ndarray,
    index: np.ndarray,
    rays: CameraRays,
    textures: list[np.ndarray],
    texture_of: np.ndarray,
    texel_m: np.ndarray,
    wrap: np.ndarray,
    supersample: np.ndarray,
    triangle_bgr: np.ndarray,
    sky_bgr: np.ndarray,
    noise_std: float = 0.0,
    noise_seed: int = 0,
) -> np.ndarray:
    """A bgr8 image: per pixel, the mean texture value (0..1) over its sub-pixel samples on the triangle its centre
    sees, times that triangle's colour ``triangle_bgr`` (T, 3) (0..255, lighting included), plus Gaussian noise of
    ``noise_std`` grey levels (the same on all channels, drawn from a counter-based generator seeded with
    ``noise_seed``, so parallel runs are reproducible); ``sky_bgr`` where nothing is hit.

    ``uv_m`` (T, 3, 2) are per-vertex texture coordinates in metres; per material ``texture_of`` (index into
    ``textures``), ``texel_m`` (metres per texel) and ``wrap`` (repeat, else clamp to the edge) and ``supersample`` (average the camera's sub-pixel rays — for
    edges that must be sub-pixel accurate, like a calibration pattern — else sample the centre ray only).
    """
    data = np.concatenate([t.ravel() for t in textures]).astype(np.float32)
    sizes = np.array([t.size for t in textures])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    shapes = np.array([t.shape for t in textures], dtype=np.int64)
    return _shade_parallel(
        np.ascontiguousarray(triangles_cam, dtype=np.float64),
        np.ascontiguousarray(uv_m, dtype=np.float64),
        np.ascontiguousarray(material, dtype=np.int64),
        index,
        rays.rays,
        rays.samples,
        np.ascontiguousarray(texture_of, dtype=np.int64),
        np.ascontiguousarray(texel_m, dtype=np.float64),
        np.ascontiguousarray(wrap, dtype=np.bool_),
        np.ascontiguousarray(supersample, dtype=np.bool_),
        data,
        offsets,
        shapes,
        np.ascontiguousarray(triangle_bgr, dtype=np.float64),
        np.ascontiguousarray(sky_bgr, dtype=np.float64),
        float(noise_std),
        int(noise_seed) & 0x7FFFFFFFFFFFFFFF,
        _GAUSS,
    )
