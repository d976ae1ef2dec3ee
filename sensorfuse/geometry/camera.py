"""Camera models: pinhole, Brown-Conrady (OpenCV) and Kannala-Brandt (OpenCV fisheye), in float64 numpy.

Camera frame: x right, y down, z forward (OpenCV). Pixel centres sit at integer coordinates, so the image covers
``[-0.5, width - 0.5) x [-0.5, height - 0.5)``.

``project`` follows ``cv2.projectPoints`` / ``cv2.fisheye.projectPoints`` exactly where the model is valid, and
*masks* what those functions would fold back into the image:

- points behind the camera (``z <= 0``) for pinhole and Brown-Conrady;
- points beyond the radius where the radial distortion stops being monotonic (e.g. ``k1 = -0.5`` turns back at
  ``r = 0.816``: OpenCV maps a point at ``r = 2`` to the opposite side of the image);
- for Kannala-Brandt, angles beyond the monotonic range of ``theta_d(theta)`` (points behind the camera are valid
  while ``theta`` stays inside that range: fisheye lenses see past 90 degrees).

Masked points get ``NaN`` pixel coordinates and ``False`` in the validity mask. ``unproject`` inverts the model
(Newton iterations, vectorised) and returns unit bearing rays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sensorfuse._checks import check_array
from sensorfuse.errors import ValidationError
from sensorfuse.geometry.transforms import check_transform

__all__ = ["CAMERA_MODELS", "CameraModel", "camera_model_name", "project_points"]

#: The model names sensorfuse uses (CONVENTIONS.md).
CAMERA_MODELS = ("pinhole", "brown_conrady", "kannala_brandt")

# Names formats use for the same models (ROS CameraInfo, Kalibr, EuRoC, OpenCV).
_MODEL_ALIASES = {
    "pinhole": "pinhole",
    "none": "pinhole",
    "brown_conrady": "brown_conrady",
    "plumb_bob": "brown_conrady",
    "rational_polynomial": "brown_conrady",
    "radtan": "brown_conrady",
    "radial-tangential": "brown_conrady",
    "radial_tangential": "brown_conrady",
    "opencv": "brown_conrady",
    "kannala_brandt": "kannala_brandt",
    "equidistant": "kannala_brandt",
    "equi": "kannala_brandt",
    "fisheye": "kannala_brandt",
}

# Number of distortion coefficients each model accepts.
_DIST_LENGTHS = {"pinhole": (0, 4, 5, 8), "brown_conrady": (4, 5, 8), "kannala_brandt": (4,)}

_NEWTON_ITERS = 40
_NEWTON_TOL = 1e-11  # residual in normalised image units (~1e-8 px at f = 1000 px)


def camera_model_name(name: str) -> str:
    """Map a format's model name (``plumb_bob``, ``radtan``, ``equidistant``, ...) to sensorfuse's name.

    Raises:
        ValidationError: unknown name; the message lists the known ones.
    """
    key = str(name).strip().lower()
    if key not in _MODEL_ALIASES:
        raise ValidationError(f"camera model {name!r} is not supported; known: {', '.join(sorted(_MODEL_ALIASES))}")
    return _MODEL_ALIASES[key]


@dataclass(frozen=True, eq=False)
class CameraModel:
    """Intrinsics of one camera.

    Attributes:
        K: (3, 3) camera matrix ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``.
        dist: distortion coefficients in OpenCV order: Brown-Conrady ``k1, k2, p1, p2[, k3[, k4, k5, k6]]``,
            Kannala-Brandt ``k1, k2, k3, k4``; empty (or all zero) for pinhole.
        model: ``"pinhole"``, ``"brown_conrady"`` or ``"kannala_brandt"`` (aliases such as ``plumb_bob`` accepted).
        width, height: image size in pixels.
    """

    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(0))
    model: str = "pinhole"
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        model = camera_model_name(self.model)
        K = check_array(self.K, "K", shape=(3, 3), dtype=np.float64, finite=True)
        if not np.allclose(K[2], [0.0, 0.0, 1.0]) or K[1, 0] != 0.0:
            raise ValidationError(f"K: expected [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {K.tolist()}")
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise ValidationError(f"K: focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}")
        dist = check_array(self.dist, "dist", dtype=np.float64, finite=True).ravel()
        if dist.size not in _DIST_LENGTHS[model]:
            raise ValidationError(
                f"dist: model {model!r} takes {' or '.join(map(str, _DIST_LENGTHS[model]))} coefficients, "
                f"got {dist.size}"
            )
        if model == "pinhole" and np.any(dist != 0):
            raise ValidationError(f"dist: a pinhole model has no distortion, got {dist.tolist()}; use brown_conrady")
        for attr in ("width", "height"):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValidationError(f"{attr}: expected a positive integer number of pixels, got {v!r}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "dist", dist if model != "pinhole" else np.zeros(0))
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    # -- convenient views --------------------------------------------------------------------------------

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return (self.width, self.height)

    def __repr__(self) -> str:
        return (
            f"CameraModel(model={self.model!r}, {self.width}x{self.height}, fx={self.fx:.4f}, fy={self.fy:.4f}, "
            f"cx={self.cx:.4f}, cy={self.cy:.4f}, dist={np.round(self.dist, 8).tolist()})"
        )

    def equals(self, other: CameraModel, *, atol: float = 0.0) -> bool:
        """True if both models have the same name, size, K and distortion (within ``atol``)."""
        return (
            self.model == other.model
            and self.size == other.size
            and self.dist.shape == other.dist.shape
            and bool(np.allclose(self.K, other.K, atol=atol, rtol=0))
            and bool(np.allclose(self.dist, other.dist, atol=atol, rtol=0))
        )

    # -- validity range of the distortion ---------------------------------------------------------------

    @cached_property
    def _bc(self) -> np.ndarray:
        """Brown-Conrady coefficients padded to k1, k2, p1, p2, k3, k4, k5, k6."""
        c = np.zeros(8)
        c[: self.dist.size] = self.dist
        return c

    @cached_property
    def max_undistorted_radius(self) -> float:
        """Largest valid radius (``r = |(x/z, y/z)|``, or the angle ``theta`` in rad for Kannala-Brandt).

        Beyond it the radial distortion is no longer increasing, so points there would fold back into the image.
        For a model monotonic everywhere this is the end of the search range (89.99 deg, or 180 deg for
        Kannala-Brandt).
        """
        if self.model == "kannala_brandt":
            theta = np.linspace(0.0, np.pi, 400_001)
            f = _kb_theta_d(theta, self.dist)
            grid = theta
        elif self.model == "brown_conrady":
            grid = np.tan(np.linspace(0.0, np.radians(89.99), 400_001))
            r2 = grid * grid
            num, den = _bc_num_den(r2, self._bc)
            bad_den = den <= 0.0
            f = np.where(bad_den, -np.inf, grid * num / np.where(bad_den, 1.0, den))
        else:
            return float(np.tan(np.radians(89.99)))
        stop = np.flatnonzero(np.diff(f) <= 0.0)
        if stop.size == 0:
            return float(grid[-1])
        return float(grid[stop[0]])

    # -- projection -----------------------------------------------------------------------------------------

    def project(self, points_cam: object) -> tuple[np.ndarray, np.ndarray]:
        """Project points given in this camera's frame.

        Args:
            points_cam: (N, 3) points, camera frame (x right, y down, z forward).

        Returns:
            ``(uv (N, 2) float64, valid (N,) bool)``; ``uv`` is NaN where ``valid`` is False (behind the camera or
            outside the distortion model's monotonic range). Whether a pixel is inside the image is a separate
            question: see :meth:`in_image`.
        """
        P = check_array(points_cam, "points_cam", shape=(None, 3), dtype=np.float64)
        return self._project(P)

    def _project(self, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, Y, Z = P[:, 0], P[:, 1], P[:, 2]
        finite = np.isfinite(X) & np.isfinite(Y) & np.isfinite(Z)  # same as isfinite(P).all(1), ~15x faster
        if self.model == "kannala_brandt":
            rxy = np.hypot(X, Y)
            theta = np.arctan2(rxy, Z)
            valid = finite & (theta <= self.max_undistorted_radius) & ((rxy > 0) | (Z > 0))
            theta_d = _kb_theta_d(theta, self.dist)
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.where(rxy > 0, theta_d / rxy, 0.0)
            xd, yd = X * scale, Y * scale
        else:
            valid = finite & (Z > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                x, y = X / Z, Y / Z
            if self.model == "brown_conrady":
                r2 = x * x + y * y
                valid &= r2 <= self.max_undistorted_radius**2
                xd, yd = _bc_distort(x, y, self._bc)
            else:
                xd, yd = x, y
        K = self.K
        uv = np.empty((P.shape[0], 2))
        uv[:, 0] = K[0, 0] * xd + K[0, 1] * yd + K[0, 2]
        uv[:, 1] = K[1, 1] * yd + K[1, 2]
        uv[~valid] = np.nan
        return uv, valid

    def unproject(self, uv: object) -> tuple[np.ndarray, np.ndarray]:
        """Bearing rays of pixels.

        Args:
            uv: (N, 2) pixel coordinates.

        Returns:
            ``(rays (N, 3) unit vectors in the camera frame, valid (N,) bool)``; invalid rays are NaN (the pixel
            lies outside what the model can produce, or the inversion did not converge).
        """
        uv = check_array(uv, "uv", shape=(None, 2), dtype=np.float64)
        K = self.K
        yd = (uv[:, 1] - K[1, 2]) / K[1, 1]
        xd = (uv[:, 0] - K[0, 2] - K[0, 1] * yd) / K[0, 0]
        finite = np.isfinite(uv).all(axis=1)
        rays = np.empty((uv.shape[0], 3))
        if self.model == "kannala_brandt":
            theta_d = np.hypot(xd, yd)
            theta, ok = _kb_invert(theta_d, self.dist, self.max_undistorted_radius)
            with np.errstate(invalid="ignore", divide="ignore"):
                s = np.where(theta_d > 0, np.sin(theta) / theta_d, 0.0)
            rays[:, 0], rays[:, 1], rays[:, 2] = xd * s, yd * s, np.cos(theta)
        else:
            if self.model == "brown_conrady":
                x, y, ok = _bc_undistort(xd, yd, self._bc, self.max_undistorted_radius)
            else:
                x, y, ok = xd, yd, np.ones(xd.shape, dtype=bool)
            n = np.sqrt(x * x + y * y + 1.0)
            rays[:, 0], rays[:, 1], rays[:, 2] = x / n, y / n, 1.0 / n
        valid = finite & ok
        rays[~valid] = np.nan
        return rays, valid

    def in_image(self, uv: object, *, margin: float = 0.0) -> np.ndarray:
        """Mask of pixel coordinates inside the image (``[-0.5, W - 0.5) x [-0.5, H - 0.5)``, shrunk by margin)."""
        uv = check_array(uv, "uv", shape=(None, 2), dtype=np.float64)
        u, v = uv[:, 0], uv[:, 1]
        with np.errstate(invalid="ignore"):
            return (
                (u >= -0.5 + margin)
                & (u < self.width - 0.5 - margin)
                & (v >= -0.5 + margin)
                & (v < self.height - 0.5 - margin)
            )


# -- Brown-Conrady -------------------------------------------------------------------------------------------


def _bc_num_den(r2: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k1, k2, _, _, k3, k4, k5, k6 = c
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    return num, den


def _bc_distort(x: np.ndarray, y: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's rational radial + tangential distortion (cv::projectPoints without thin prism / tilt)."""
    p1, p2 = c[2], c[3]
    r2 = x * x + y * y
    num, den = _bc_num_den(r2, c)
    g = num / den
    xy2 = 2.0 * x * y
    xd = x * g + p1 * xy2 + p2 * (r2 + 2.0 * x * x)
    yd = y * g + p1 * (r2 + 2.0 * y * y) + p2 * xy2
    return xd, yd


def _bc_undistort(
    xd: np.ndarray, yd: np.ndarray, c: np.ndarray, r_max: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Invert ``_bc_distort`` by damped Newton iterations (vectorised 2x2 solves)."""
    k1, k2, p1, p2, k3, k4, k5, k6 = c
    x, y = xd.copy(), yd.copy()
    active = np.isfinite(x) & np.isfinite(y)
    x[~active] = 0.0
    y[~active] = 0.0
    for _ in range(_NEWTON_ITERS):
        r2 = x * x + y * y
        num, den = _bc_num_den(r2, c)
        g = num / den
        dnum = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
        dden = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2)
        dg = (dnum * den - num * dden) / (den * den)  # d g / d r2
        fx = x * g + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x) - xd
        fy = y * g + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y - yd
        a = g + 2.0 * x * x * dg + 2.0 * p1 * y + 6.0 * p2 * x
        b = 2.0 * x * y * dg + 2.0 * p1 * x + 2.0 * p2 * y
        d = g + 2.0 * y * y * dg + 6.0 * p1 * y + 2.0 * p2 * x
        det = a * d - b * b
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = (d * fx - b * fy) / det
            dy = (a * fy - b * fx) / det
        dx = np.where(np.isfinite(dx), dx, 0.0)
        dy = np.where(np.isfinite(dy), dy, 0.0)
        x -= dx
        y -= dy
        if max(np.max(np.abs(dx), initial=0.0), np.max(np.abs(dy), initial=0.0)) < 1e-13:
            break  # converged everywhere (the final residual check below decides validity)
        # keep the iterate inside the monotonic range so it cannot converge to a folded-back solution
        r = np.hypot(x, y)
        over = r > r_max
        if np.any(over):
            s = r_max / r[over]
            x[over] *= s
            y[over] *= s
    xr, yr = _bc_distort(x, y, c)
    err = np.hypot(xr - xd, yr - yd)
    ok = active & (err < _NEWTON_TOL * np.maximum(1.0, np.hypot(xd, yd)))
    ok &= x * x + y * y <= r_max * r_max
    return x, y, ok


# -- Kannala-Brandt -----------------------------------------------------------------------------------------


def _kb_theta_d(theta: np.ndarray, k: np.ndarray) -> np.ndarray:
    t2 = theta * theta
    return theta * (1.0 + t2 * (k[0] + t2 * (k[1] + t2 * (k[2] + t2 * k[3]))))


def _kb_invert(theta_d: np.ndarray, k: np.ndarray, theta_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``theta_d(theta) = theta_d`` for theta in ``[0, theta_max]`` by Newton iterations."""
    theta = np.clip(np.where(np.isfinite(theta_d), theta_d, 0.0), 0.0, theta_max)
    for _ in range(_NEWTON_ITERS):
        t2 = theta * theta
        f = _kb_theta_d(theta, k) - theta_d
        df = 1.0 + t2 * (3.0 * k[0] + t2 * (5.0 * k[1] + t2 * (7.0 * k[2] + t2 * 9.0 * k[3])))
        with np.errstate(divide="ignore", invalid="ignore"):
            step = f / df
        theta = np.clip(theta - np.where(np.isfinite(step), step, 0.0), 0.0, theta_max)
    err = np.abs(_kb_theta_d(theta, k) - theta_d)
    ok = np.isfinite(theta_d) & (err < _NEWTON_TOL * np.maximum(1.0, theta_d))
    return theta, ok


# -- convenience ---------------------------------------------------------------------------------------------


def project_points(
    points_src: object, T_cam_src: object, camera: CameraModel, *, require_in_image: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project points from a source frame (e.g. the LiDAR) into a camera.

    Args:
        points_src: (N, 3) points in the source frame.
        T_cam_src: 4x4 transform from the source frame into the camera frame.
        camera: the camera model.
        require_in_image: also mask points that land outside the image.

    Returns:
        ``(uv (N, 2), depth (N,) z in the camera frame in m, mask (N,) bool)``.
    """
    T = check_transform(T_cam_src, "T_cam_src")
    if T.shape != (4, 4):
        raise ValidationError(f"T_cam_src: expected one 4x4 transform, got shape {T.shape}")
    P = check_array(points_src, "points_src", shape=(None, 3), dtype=np.float64)
    P_cam = P @ T[:3, :3].T + T[:3, 3]  # source frame -> camera frame
    uv, valid = camera._project(P_cam)
    if require_in_image:
        valid &= camera.in_image(uv)
    return uv, P_cam[:, 2], valid
