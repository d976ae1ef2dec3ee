"""Camera intrinsics from views of a planar target: chessboard, ChArUco, or a grid of AprilTags (Kalibr's AprilGrid
layout), for the pinhole / Brown-Conrady model (``cv2.calibrateCameraExtended``) and the Kannala-Brandt fisheye
model (``cv2.fisheye.calibrate``).

Every result carries its quality figures (:class:`IntrinsicsResult`): RMS and per-view reprojection errors, the views
rejected as outliers and why, one-sigma parameter uncertainties, a leave-one-view-out reprojection error (each view
predicted by a calibration that did not see it: the error a new image will have), and the image coverage of the
corners. Too few views, a board never found, boards all at one tilt and too little coverage for the distortion terms
raise :class:`~sensorfuse.errors.CalibrationError` or add a warning that says what data would fix it.

Detection uses OpenCV (``findChessboardCorners`` + ``cornerSubPix``, ``aruco.CharucoDetector``,
``aruco.ArucoDetector`` with the AprilTag 36h11 dictionary); no file format is known here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorfuse.calibration.board import BoardDetection, board_pose
from sensorfuse.errors import CalibrationError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import invert_transform, se3_exp

__all__ = ["IntrinsicsResult", "calibrate_intrinsics", "coverage", "stereo_extrinsics"]


#: below this many views a calibration is refused; below GOOD_VIEWS it warns
MIN_VIEWS = 4


GOOD_VIEWS = 10


#: share of the image cells (GRID x GRID) holding a corner below which the distortion terms are flagged
GOOD_COVERAGE = 0.5


GRID = (8, 6)


#: boards whose normals all lie within this many degrees of one another cannot fix the focal length
MIN_TILT_SPREAD_DEG = 10.0


def coverage(
    detections: Iterable[BoardDetection], size: tuple[int, int], grid: tuple[int, int] = GRID
) -> tuple[float, np.ndarray]:
    """Share of the image's ``grid`` cells (columns x rows) holding at least one corner, and the per-cell corner
    counts (rows, columns)."""
    w, h = size
    counts = np.zeros((grid[1], grid[0]), np.int64)
    for d in detections:
        c = np.clip((d.image_points[:, 0] / w * grid[0]).astype(int), 0, grid[0] - 1)
        r = np.clip((d.image_points[:, 1] / h * grid[1]).astype(int), 0, grid[1] - 1)
        np.add.at(counts, (r, c), 1)
    return float((counts > 0).mean()), counts


@dataclass
class IntrinsicsResult:
    """A camera calibration and its quality figures.

    Attributes:
        camera: the intrinsics.
        rms_px: RMS reprojection error over the used views' corners.
        per_view_rms_px: view -> its RMS (used views).
        rejected: view -> why it was left out (outlier, board not found).
        std: one-sigma uncertainties of ``fx fy cx cy`` and the distortion terms (OpenCV's estimate from the
            Jacobian, scaled by the residual).
        loo_rms_px: leave-one-view-out RMS over every view with the board: each used view predicted (PnP pose, then
            reprojection) by the calibration of the other used views, each rejected view by the final calibration,
            which never saw it (None if skipped).
        coverage: share of the image cells with a corner; ``coverage_grid`` the per-cell counts.
        views: view names used; ``poses``: view -> (4, 4) T_cam_board.
        warnings: what limits the result and what data would fix it.
    """

    camera: CameraModel
    rms_px: float
    per_view_rms_px: dict[str, float]
    rejected: dict[str, str]
    std: dict[str, float]
    loo_rms_px: float | None
    coverage: float
    coverage_grid: np.ndarray
    views: list[str]
    poses: dict[str, np.ndarray] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def quality(self) -> dict[str, Any]:
        """The figures as plain data (for the rig file's provenance and ``--json``)."""
        return {
            "rms_px": round(self.rms_px, 4),
            "loo_rms_px": None if self.loo_rms_px is None else round(self.loo_rms_px, 4),
            "views_used": len(self.views),
            "views_rejected": dict(self.rejected),
            "coverage": round(self.coverage, 3),
            "std": {k: float(f"{v:.3g}") for k, v in self.std.items()},
            "per_view_rms_px": {k: round(v, 4) for k, v in self.per_view_rms_px.items()},
            "warnings": list(self.warnings),
        }


_PARAMS = {
    "brown_conrady": ["fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3"],
    "kannala_brandt": ["fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"],
}


def _solve(dets: list[BoardDetection], size: tuple[int, int], model: str, flags: int) -> tuple:
    """One OpenCV calibration: (rms, K, dist, rvecs, tvecs, std of the intrinsics or None, per-view rms)."""
    import cv2

    obj = [d.object_points.astype(np.float32) for d in dets]
    img = [d.image_points.astype(np.float32) for d in dets]
    if model == "kannala_brandt":
        ns = cv2.fisheye if hasattr(cv2.fisheye, "CALIB_RECOMPUTE_EXTRINSIC") else cv2  # OpenCV 4 / 5
        f = flags or (ns.CALIB_RECOMPUTE_EXTRINSIC | ns.CALIB_FIX_SKEW)
        crit = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-9)
        try:
            rms, K, D, rv, tv = cv2.fisheye.calibrate(
                [o.reshape(1, -1, 3).astype(np.float64) for o in obj],  # (1, N, 3): OpenCV 5 refuses (N, 1, 3)
                [i.reshape(1, -1, 2).astype(np.float64) for i in img],
                size, np.eye(3), np.zeros(4), flags=f, criteria=crit,
            )  # fmt: skip
        except cv2.error as exc:
            raise CalibrationError(
                f"fisheye calibration failed ({str(exc).strip().splitlines()[-1]}); a view is ill-conditioned: add "
                "views with the board larger and less tilted, or drop the worst view"
            ) from None
        per = [_view_rms(d, K, D.ravel(), r, t, model) for d, r, t in zip(dets, rv, tv, strict=True)]
        return rms, K, D.ravel(), rv, tv, None, np.array(per)
    rms, K, D, rv, tv, std_in, _std_ex, per = cv2.calibrateCameraExtended(obj, img, size, None, None, flags=flags)
    return rms, K, D.ravel(), rv, tv, std_in.ravel(), per.ravel()


def _view_rms(d: BoardDetection, K: np.ndarray, D: np.ndarray, rvec: Any, tvec: Any, model: str) -> float:
    import cv2

    if model == "kannala_brandt":
        p, _ = cv2.fisheye.projectPoints(d.object_points.reshape(-1, 1, 3), rvec, tvec, K, D)
    else:
        p, _ = cv2.projectPoints(d.object_points, rvec, tvec, K, D)
    return float(np.sqrt(np.mean(np.sum((p.reshape(-1, 2) - d.image_points) ** 2, axis=1))))


def _predict_rms(d: BoardDetection, K: np.ndarray, D: np.ndarray, model: str) -> float:
    """The RMS of a view the calibration did not see: its board pose from PnP with (K, D), then the reprojection."""
    import cv2

    if model == "kannala_brandt":
        und = cv2.fisheye.undistortPoints(d.image_points.reshape(-1, 1, 2), K, D)
        ok, rv, tv = cv2.solvePnP(d.object_points, und, np.eye(3), None)
    else:
        ok, rv, tv = cv2.solvePnP(d.object_points, d.image_points, K, D)
    if not ok:
        return float("nan")
    return _view_rms(d, K, D, rv, tv, model)


def _tilt_spread_deg(rvecs: list) -> float:
    from scipy.spatial.transform import Rotation

    normals = np.array([Rotation.from_rotvec(np.ravel(r)).as_matrix()[:, 2] for r in rvecs])
    cos = np.clip(normals @ normals.T, -1.0, 1.0)
    return float(np.degrees(np.arccos(cos.min())))


def fixed_k3_flags() -> int:
    """OpenCV's flags that hold k3 at 0 (Kalibr's radtan model has k1 k2 p1 p2 only)."""
    import cv2

    return int(cv2.CALIB_FIX_K3)


def calibrate_intrinsics(
    detections: list[BoardDetection | None],
    image_size: tuple[int, int],
    *,
    model: str = "brown_conrady",
    flags: int = 0,
    reject: bool = True,
    reject_factor: float = 3.0,
    reject_min_px: float = 0.5,
    leave_one_out: bool = True,
    names: list[str] | None = None,
) -> IntrinsicsResult:
    """Calibrate one camera from its board detections (None for views where the board was not found).

    Args:
        detections: per view (in order), from :func:`detect_board`.
        image_size: (width, height).
        model: ``brown_conrady`` (k1 k2 p1 p2 k3; ``pinhole`` = all fixed at 0) or ``kannala_brandt``.
        flags: OpenCV calibration flags (``cv2.CALIB_*``; for the fisheye model OpenCV 4's ``cv2.fisheye.CALIB_*``, in ``cv2`` in OpenCV 5), passed as given.
        reject: leave out, one at a time, the worst view while its RMS exceeds ``reject_factor`` x the median of
            the others and ``reject_min_px`` (each rejection is reported).
        leave_one_out: compute the leave-one-view-out RMS (one extra calibration per view).

    Raises:
        CalibrationError: fewer than 4 views with the board, boards all at one tilt, an unsolvable calibration.
    """
    import cv2

    if model not in ("brown_conrady", "pinhole", "kannala_brandt"):
        raise ValidationError(f"model {model!r}: expected pinhole, brown_conrady or kannala_brandt")
    w, h = (int(v) for v in image_size)
    names = names or [d.view if d is not None and d.view else f"view{k}" for k, d in enumerate(detections)]
    rejected = {n: "board not found" for n, d in zip(names, detections, strict=True) if d is None}
    dets = [d for d in detections if d is not None]
    views = [n for n, d in zip(names, detections, strict=True) if d is not None]
    if model == "pinhole":
        flags |= cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST
    solver_model = "kannala_brandt" if model == "kannala_brandt" else "brown_conrady"

    if len(dets) < MIN_VIEWS:
        raise CalibrationError(
            f"only {len(dets)} view(s) with the board ({len(rejected)} without it); intrinsics need at least "
            f"{MIN_VIEWS}, better {GOOD_VIEWS}+: take more images with the whole board visible, at different "
            "distances, tilts and image positions"
        )
    sol = _solve(dets, (w, h), solver_model, flags)
    outliers: list[BoardDetection] = []
    while reject and len(dets) > MIN_VIEWS:
        per = sol[6]
        k = int(np.argmax(per))
        others = np.delete(per, k)
        limit = max(reject_factor * float(np.median(others)), reject_min_px)
        if per[k] <= limit:
            break
        rejected[views[k]] = (
            f"outlier: {per[k]:.3f} px RMS > {limit:.3f} px ({reject_factor:g} x the median of the others)"
        )
        outliers.append(dets[k])
        del dets[k], views[k]
        sol = _solve(dets, (w, h), solver_model, flags)
    rms, K, D, rv, tv, std_in, per = sol
    spread = _tilt_spread_deg(rv)
    if spread < MIN_TILT_SPREAD_DEG:
        raise CalibrationError(
            f"the board has nearly the same tilt in every view (normals within {spread:.1f} deg); the focal length "
            f"is not observable: add views with the board tilted 20-45 deg about different axes"
        )
    warnings = []
    cov, grid = coverage(dets, (w, h))
    if len(dets) < GOOD_VIEWS:
        warnings.append(f"{len(dets)} views: distortion terms are poorly constrained below {GOOD_VIEWS}; add views")
    if cov < GOOD_COVERAGE:
        warnings.append(
            f"corners cover {cov:.0%} of the image ({GRID[0]}x{GRID[1]} cells); the distortion is extrapolated near "
            "the uncovered borders and corners: add views with the board there"
        )
    loo = None
    if leave_one_out and len(dets) > MIN_VIEWS:
        sq, n = 0.0, 0
        for k in range(len(dets)):
            rest = dets[:k] + dets[k + 1 :]
            _, Kk, Dk, *_ = _solve(rest, (w, h), solver_model, flags)
            e = _predict_rms(dets[k], Kk, Dk, solver_model)
            sq += e**2 * len(dets[k].ids)
            n += len(dets[k].ids)
        for d in outliers:  # the final calibration never saw them
            sq += _predict_rms(d, K, D, solver_model) ** 2 * len(d.ids)
            n += len(d.ids)
        loo = float(np.sqrt(sq / n))
    params = _PARAMS[solver_model]
    std = {}
    if std_in is not None:
        std = {p: float(v) for p, v in zip(params, std_in, strict=False)}
    if model == "brown_conrady" or model == "pinhole":
        dist = D[:5] if model == "brown_conrady" else np.zeros(0)
        cam = CameraModel(K, dist, model, w, h)
    else:
        cam = CameraModel(K, D[:4], "kannala_brandt", w, h)
    poses = {}
    for name, r, t in zip(views, rv, tv, strict=True):
        T = np.eye(4)
        T[:3, :3] = cv2.Rodrigues(np.asarray(r, np.float64))[0]
        T[:3, 3] = np.ravel(t)
        poses[name] = T
    return IntrinsicsResult(
        cam, float(rms), dict(zip(views, map(float, per), strict=True)), rejected, std, loo, cov, grid, views, poses,
        warnings,
    )  # fmt: skip


def stereo_extrinsics(
    left: list[BoardDetection | None],
    right: list[BoardDetection | None],
    cam_left: CameraModel,
    cam_right: CameraModel,
) -> tuple[np.ndarray, float, int]:
    """``(T_right_left (4, 4), RMS px, pairs used)`` from views where both cameras found the board (same ids),
    intrinsics held fixed: ``cv2.stereoCalibrate`` with ``CALIB_FIX_INTRINSIC`` for pinhole / Brown-Conrady pairs;
    with a fisheye (Kannala-Brandt) camera on either side, a joint least-squares fit of the extrinsic and every
    board pose to the corners of both images through each camera's own model (OpenCV's fisheye.stereoCalibrate
    takes two fisheye cameras only, and often fails to converge)."""
    import cv2

    obj, il, ir = [], [], []
    for a, b in zip(left, right, strict=True):
        if a is None or b is None:
            continue
        common, ia, ib = np.intersect1d(a.ids, b.ids, return_indices=True)
        if len(common) < 6:
            continue
        obj.append(a.object_points[ia].astype(np.float32))
        il.append(a.image_points[ia].astype(np.float32))
        ir.append(b.image_points[ib].astype(np.float32))
    if len(obj) < MIN_VIEWS - 1:
        raise CalibrationError(
            f"{len(obj)} view pair(s) with the board in both cameras; stereo extrinsics need at least {MIN_VIEWS - 1}"
        )
    if cam_left.model == "kannala_brandt" or cam_right.model == "kannala_brandt":
        return _stereo_any_model(obj, il, ir, cam_left, cam_right)
    rms, *_, R, t, _E, _F = cv2.stereoCalibrate(
        obj,
        il,
        ir,
        cam_left.K,
        cam_left.dist,
        cam_right.K,
        cam_right.dist,
        cam_left.size,
        flags=cv2.CALIB_FIX_INTRINSIC,
    )
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, np.ravel(t)
    return T, float(rms), len(obj)


def _stereo_any_model(
    obj: list[np.ndarray], il: list[np.ndarray], ir: list[np.ndarray], cam_l: CameraModel, cam_r: CameraModel
) -> tuple[np.ndarray, float, int]:
    """Stereo extrinsics for any pair of camera models: board poses by PnP on each camera's bearings, the median
    relative pose as the start, then all board poses (left camera) and the extrinsic refined jointly on the
    reprojection errors of both images. Views whose RMS exceeds 3x the median (and 1 px) are left out and the fit
    repeated; the pair count returned says how many were used."""
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    poses_l, rel = [], []
    for o, a, b in zip(obj, il, ir, strict=True):
        ids = np.arange(len(o))
        pl = board_pose(BoardDetection("", ids, a.astype(np.float64), o.astype(np.float64)), cam_l, 0, max_rms_px=5.0)
        pr = board_pose(BoardDetection("", ids, b.astype(np.float64), o.astype(np.float64)), cam_r, 0, max_rms_px=5.0)
        if pl is None or pr is None:
            raise CalibrationError("a board view fits no plane pose in one of the cameras: check the intrinsics")
        poses_l.append(pl.T_cam_board)
        rel.append(pr.T_cam_board @ invert_transform(pl.T_cam_board))
    R0 = Rotation.from_matrix(np.array([T[:3, :3] for T in rel])).mean()
    t0 = np.median(np.array([T[:3, 3] for T in rel]), axis=0)

    x0 = np.r_[R0.as_rotvec(), t0]
    for T in poses_l:
        x0 = np.r_[x0, Rotation.from_matrix(T[:3, :3]).as_rotvec(), T[:3, 3]]

    def residuals(x: np.ndarray) -> np.ndarray:
        E = se3_exp(x[:6])
        out = []
        for k, (o, a, b) in enumerate(zip(obj, il, ir, strict=True)):
            B = se3_exp(x[6 + 6 * k : 12 + 6 * k])
            Pl = o @ B[:3, :3].T + B[:3, 3]
            Pr = Pl @ E[:3, :3].T + E[:3, 3]
            ul, _ = cam_l.project(Pl)
            ur, _ = cam_r.project(Pr)
            out += [np.nan_to_num(ul - a, nan=100.0).ravel(), np.nan_to_num(ur - b, nan=100.0).ravel()]
        return np.concatenate(out)

    res = least_squares(residuals, x0, x_scale="jac")
    # a view whose corners were found out of order or on a false pattern in one camera: left out, solved again
    sizes = np.cumsum([0] + [2 * o.shape[0] for o in obj for _ in (0, 1)])
    per = np.array([np.sqrt(np.mean(res.fun[sizes[k] : sizes[k + 1]] ** 2) * 2) for k in range(2 * len(obj))])
    per_view = per.reshape(-1, 2).max(axis=1)
    bad = per_view > max(3 * np.median(per_view), 1.0)
    if bad.any() and (~bad).sum() >= MIN_VIEWS - 1:
        keep = np.flatnonzero(~bad)
        return _stereo_any_model([obj[k] for k in keep], [il[k] for k in keep], [ir[k] for k in keep], cam_l, cam_r)
    rms = float(np.sqrt(np.mean(res.fun.reshape(-1, 2) ** 2 * 2)))
    return se3_exp(res.x[:6]), rms, len(obj)
