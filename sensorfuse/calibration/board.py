"""Calibration boards: the board description (chessboard, ChArUco, AprilGrid), corner detection in an image and
the board's pose from one detection (PnP through any camera model). Used by the intrinsics and by the LiDAR-camera
target calibration, so that neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sensorfuse.errors import ValidationError
from sensorfuse.geometry.camera import CameraModel

__all__ = ["Board", "BoardDetection", "BoardPose", "board_pose", "detect_board"]


_SUBPIX = (11, 11)


@dataclass(frozen=True)
class Board:
    """A planar calibration target.

    Attributes:
        kind: ``chessboard`` (``cols`` x ``rows`` inner corners), ``charuco`` (``cols`` x ``rows`` squares, markers
            of ``marker_m`` from ``dictionary``) or ``aprilgrid`` (``cols`` x ``rows`` AprilTags of ``square_m``
            with ``spacing`` x ``square_m`` between them, Kalibr's layout, dictionary ``DICT_APRILTAG_36h11``).
        square_m: square (tag) size, m.
    """

    kind: str
    cols: int
    rows: int
    square_m: float
    marker_m: float | None = None
    dictionary: str | None = None
    spacing: float = 0.3

    def __post_init__(self) -> None:
        if self.kind not in ("chessboard", "charuco", "aprilgrid"):
            raise ValidationError(f"board kind {self.kind!r}: expected chessboard, charuco or aprilgrid")
        if self.cols < 2 or self.rows < 2 or not self.square_m > 0:
            raise ValidationError(
                f"board {self.cols}x{self.rows}, square {self.square_m} m: need >= 2x2 and a size > 0"
            )
        if self.kind == "charuco" and not (self.marker_m and 0 < self.marker_m < self.square_m):
            raise ValidationError(f"ChArUco board: marker size {self.marker_m} must be in (0, square size)")

    @classmethod
    def parse(cls, text: str) -> Board:
        """``chessboard:9x6:0.025``, ``charuco:7x5:0.04:0.03[:DICT_5X5_100]``, ``aprilgrid:6x6:0.088[:0.3]``."""
        parts = text.split(":")
        try:
            kind = parts[0]
            cols, rows = (int(v) for v in parts[1].lower().split("x"))
            square = float(parts[2])
            if kind == "charuco":
                return cls(kind, cols, rows, square, float(parts[3]), parts[4] if len(parts) > 4 else "DICT_5X5_100")
            if kind == "aprilgrid":
                return cls(
                    kind, cols, rows, square, None, "DICT_APRILTAG_36h11", float(parts[3]) if len(parts) > 3 else 0.3
                )
            return cls(kind, cols, rows, square)
        except (IndexError, ValueError):
            raise ValidationError(
                f"board {text!r}: expected chessboard:COLSxROWS:SQUARE_M, charuco:COLSxROWS:SQUARE_M:MARKER_M[:DICT] "
                "or aprilgrid:COLSxROWS:TAG_M[:SPACING]"
            ) from None

    def _aruco(self) -> Any:
        import cv2

        name = self.dictionary or ("DICT_APRILTAG_36h11" if self.kind == "aprilgrid" else "DICT_5X5_100")
        if not hasattr(cv2.aruco, name):
            raise ValidationError(f"board dictionary {name!r} is not an OpenCV aruco dictionary")
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, name))
        if self.kind == "charuco":
            return cv2.aruco.CharucoBoard((self.cols, self.rows), self.square_m, self.marker_m, d)
        return cv2.aruco.GridBoard((self.cols, self.rows), self.square_m, self.spacing * self.square_m, d)

    def object_points(self) -> np.ndarray:
        """(N, 3) corner positions on the board (z = 0), in detection id order."""
        if self.kind == "chessboard":
            g = np.mgrid[0 : self.cols, 0 : self.rows].T.reshape(-1, 2)
            return np.c_[g * self.square_m, np.zeros(len(g))]
        b = self._aruco()
        if self.kind == "charuco":
            return np.asarray(b.getChessboardCorners(), np.float64).reshape(-1, 3)
        return np.asarray(b.getObjPoints(), np.float64).reshape(-1, 3)

    def image(self, pixels_per_m: float = 2000.0, margin_px: int = 40) -> np.ndarray:
        """The board drawn as an 8-bit image (for printing, and for synthetic tests)."""
        import cv2

        if self.kind == "chessboard":
            sq = round(self.square_m * pixels_per_m)
            tiles = (np.indices((self.rows + 1, self.cols + 1)).sum(axis=0) % 2 == 0).astype(np.uint8) * 255
            img = cv2.resize(tiles, ((self.cols + 1) * sq, (self.rows + 1) * sq), interpolation=cv2.INTER_NEAREST)
            return cv2.copyMakeBorder(img, margin_px, margin_px, margin_px, margin_px, cv2.BORDER_CONSTANT, value=255)
        b = self._aruco()
        if self.kind == "charuco":
            w_m, h_m = self.cols * self.square_m, self.rows * self.square_m
        else:
            gap = self.spacing * self.square_m
            w_m, h_m = self.cols * (self.square_m + gap) - gap, self.rows * (self.square_m + gap) - gap
        size = (round(w_m * pixels_per_m) + 2 * margin_px, round(h_m * pixels_per_m) + 2 * margin_px)
        return b.generateImage(size, marginSize=margin_px)


@dataclass(frozen=True, eq=False)
class BoardDetection:
    """The corners found in one view: ``ids`` (K,), ``image_points`` (K, 2) px, ``object_points`` (K, 3) m."""

    view: str
    ids: np.ndarray
    image_points: np.ndarray
    object_points: np.ndarray


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValidationError(f"image: expected 8-bit, got {img.dtype}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def detect_board(image: np.ndarray, board: Board, *, view: str = "", subpix: bool = True) -> BoardDetection | None:
    """Find ``board`` in an 8-bit image; None when it is not there (or too little of it: < 6 corners).

    Chessboards: ``findChessboardCorners`` (adaptive threshold, normalise) refined by ``cornerSubPix`` (11x11 window,
    30 iterations / 0.001 px) unless ``subpix=False``. ChArUco and AprilGrid: OpenCV's detectors (ChArUco corners are
    refined by OpenCV itself; AprilTag corners by the AprilTag refinement, moved to OpenCV's pixel-centre convention)."""
    import cv2

    gray = _gray(image)
    if board.kind == "chessboard":
        flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
        ok, corners = cv2.findChessboardCorners(gray, (board.cols, board.rows), flags=flags)
        if not ok:
            return None
        if subpix:
            crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.001)
            corners = cv2.cornerSubPix(gray, corners, _SUBPIX, (-1, -1), crit)
        ids = np.arange(board.cols * board.rows)
        return BoardDetection(view, ids, corners.reshape(-1, 2).astype(np.float64), board.object_points())
    b = board._aruco()
    if board.kind == "charuco":
        corners, ids, _, _ = cv2.aruco.CharucoDetector(b).detectBoard(gray)
        if ids is None or len(ids) < 6:
            return None
        ids = ids.ravel()
        return BoardDetection(view, ids, corners.reshape(-1, 2).astype(np.float64), board.object_points()[ids])
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_APRILTAG
    det = cv2.aruco.ArucoDetector(b.getDictionary(), params)
    mcorners, mids, _ = det.detectMarkers(gray)
    if mids is None or len(mids) < 2:
        return None
    # the AprilTag refinement reports corners with (0, 0) at the top-left corner of the first pixel; OpenCV's
    # calibration puts it at that pixel's centre: -0.5 px (rendered boards: 0.46 px bias before, 0.04 px after;
    # cornerSubPix on these L-shaped corners is unbiased but 2.6x noisier)
    mcorners = tuple(c - 0.5 for c in mcorners)
    obj, img = b.matchImagePoints(mcorners, mids)
    if obj is None or len(obj) < 6:
        return None
    ids = (mids.ravel()[:, None] * 4 + np.arange(4)).ravel()
    return BoardDetection(view, ids, img.reshape(-1, 2).astype(np.float64), obj.reshape(-1, 3).astype(np.float64))


@dataclass(frozen=True, eq=False)
class BoardPose:
    """One image's board pose: ``T_cam_board`` maps board coordinates (corners on z = 0) into the camera frame."""

    stamp_ns: int
    T_cam_board: np.ndarray
    rms_px: float
    corners: int
    view: str = ""


def board_pose(det: BoardDetection, camera: CameraModel, stamp_ns: int, *, max_rms_px: float = 1.0) -> BoardPose | None:
    """The board pose of one detection by PnP on the undistorted bearings (any camera model), refined by
    Levenberg-Marquardt; None when the corners do not fit a plane pose within ``max_rms_px``."""
    import cv2

    rays, ok = camera.unproject(det.image_points)
    if ok.sum() < 6:
        return None
    obj = det.object_points[ok].astype(np.float64)
    norm = (rays[ok, :2] / rays[ok, 2:3]).astype(np.float64)
    I3 = np.eye(3)
    found, rvec, tvec = cv2.solvePnP(obj, norm, I3, None, flags=cv2.SOLVEPNP_IPPE)
    if not found:
        return None
    rvec, tvec = cv2.solvePnPRefineLM(obj, norm, I3, None, rvec, tvec)
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(rvec)[0]
    T[:3, 3] = tvec.ravel()
    Pc = obj @ T[:3, :3].T + T[:3, 3]
    uv, valid = camera.project(Pc)
    if not valid.all():
        return None
    rms = float(np.sqrt(np.mean(np.sum((uv - det.image_points[ok]) ** 2, axis=1))))
    if rms > max_rms_px or T[2, 3] <= 0:
        return None
    return BoardPose(int(stamp_ns), T, rms, int(ok.sum()), det.view)
