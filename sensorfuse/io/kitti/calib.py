"""KITTI calibration files (velodyne scans: :mod:`sensorfuse.io.kitti.velodyne`).

Two calibration layouts:

- **object** (``calib/000000.txt``): ``P0..P3`` (3x4 rectified projections), ``R0_rect`` (3x3), ``Tr_velo_to_cam``
  and ``Tr_imu_to_velo`` (3x4). A velodyne point projects as ``x ~ P2 @ R0_rect @ Tr_velo_to_cam @ X``.
- **raw** (``2011_09_26/calib_{cam_to_cam,velo_to_cam,imu_to_velo}.txt``): per camera ``S, K, D, R, T`` (unrectified
  intrinsics, Brown-Conrady distortion, extrinsics from cam00) and ``S_rect, R_rect, P_rect``; ``R, T`` velo->cam00;
  ``R, T`` imu->velo.

Both keep ``R0_rect`` and ``P`` explicit (CONVENTIONS.md) and convert to a :class:`~sensorfuse.rig.Rig` whose frames
are named as follows:

=================  ==========================================================================================
frame              meaning
=================  ==========================================================================================
``velodyne``       the LiDAR (x forward, y left, z up)
``imu``            the OXTS unit
``cam00``          raw only: unrectified camera 0 (``cam01``..``cam03`` likewise, with distortion)
``cam0_unrect``    object only: unrectified camera 0 (``Tr_velo_to_cam`` maps velodyne into it)
``cam0``           rectified camera 0 (``R0_rect``/``R_rect_00`` maps the unrectified cam 0 into it)
``cam1..cam3``     rectified cameras: ``cam0`` shifted by the baseline encoded in ``P1..P3`` (pinhole, no distortion)
=================  ==========================================================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensorfuse._checks import check_array
from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.camera import CameraModel
from sensorfuse.geometry.transforms import check_rotation, check_transform
from sensorfuse.io._files import read_text, write_text_atomic
from sensorfuse.rig import Provenance, Rig, Sensor

__all__ = [
    "KittiObjectCalib",
    "KittiRawCalib",
    "KittiRawCamera",
    "kitti_object_calib_from_rig",
    "read_kitti_object_calib",
    "read_kitti_raw_calib",
    "rig_from_kitti_object_calib",
    "rig_from_kitti_raw_calib",
    "write_kitti_object_calib",
    "write_kitti_raw_calib",
]


def _read_kv(path: Path) -> dict[str, str]:
    text = read_text(path, "KITTI calibration file")
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if ":" not in line:
            raise FormatError(f"KITTI calibration file {path}, line {n}: expected 'key: values', got {line[:60]!r}")
        k, v = line.split(":", 1)
        out[k.strip()] = v.strip()
    return out


def _numbers(kv: dict[str, str], key: str, count: int, path: Path) -> np.ndarray:
    if key not in kv:
        raise FormatError(f"KITTI calibration file {path}: missing key {key!r} (has: {', '.join(kv)})")
    try:
        vals = np.array([float(x) for x in kv[key].split()], dtype=np.float64)
    except ValueError:
        raise FormatError(f"KITTI calibration file {path}: {key} holds a value that is not a number") from None
    if vals.size != count:
        raise FormatError(f"KITTI calibration file {path}: {key} has {vals.size} values, expected {count}")
    return vals


def _rigid_from_3x4(M: np.ndarray, name: str, path: Path | str) -> np.ndarray:
    T = np.eye(4)
    T[:3, :] = M.reshape(3, 4)
    try:
        return check_transform(T, name)
    except ValidationError as exc:
        raise FormatError(f"KITTI calibration file {path}: {exc}") from None


def _fmt(values: np.ndarray) -> str:
    return " ".join(f"{v:.12e}" for v in np.asarray(values, dtype=np.float64).ravel())


def _K_and_baseline(P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a rectified 3x4 projection ``P = K [I | t]`` into ``K`` and ``t`` (camera offset from cam0 rect)."""
    K = P[:, :3].copy()
    if abs(K[1, 0]) > 1e-9 or abs(K[2, 0]) > 1e-9 or abs(K[2, 1]) > 1e-9 or abs(K[2, 2] - 1.0) > 1e-9:
        raise ValidationError(f"P = {P.tolist()} is not of the form K [I | t] with upper-triangular K")
    return K, np.linalg.solve(K, P[:, 3])


@dataclass(frozen=True, eq=False)
class KittiObjectCalib:
    """A KITTI object ``calib/*.txt``.

    Attributes:
        P: (4, 3, 4) ``P0..P3``, rectified camera projections (applied to rectified cam0 coordinates).
        R0_rect: (3, 3) rectifying rotation of camera 0.
        Tr_velo_to_cam: (4, 4) velodyne -> unrectified cam0.
        Tr_imu_to_velo: (4, 4) IMU -> velodyne.
    """

    P: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    Tr_imu_to_velo: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "P", check_array(self.P, "P", shape=(4, 3, 4), dtype=np.float64, finite=True))
        object.__setattr__(self, "R0_rect", check_rotation(self.R0_rect, "R0_rect"))
        object.__setattr__(self, "Tr_velo_to_cam", check_transform(self.Tr_velo_to_cam, "Tr_velo_to_cam"))
        object.__setattr__(self, "Tr_imu_to_velo", check_transform(self.Tr_imu_to_velo, "Tr_imu_to_velo"))

    @property
    def P2(self) -> np.ndarray:
        return self.P[2]

    @property
    def R0_rect_4x4(self) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = self.R0_rect
        return T

    @property
    def T_cam0rect_velo(self) -> np.ndarray:
        """Velodyne -> rectified camera 0: ``R0_rect @ Tr_velo_to_cam``."""
        return self.R0_rect_4x4 @ self.Tr_velo_to_cam

    @property
    def T_velo_imu(self) -> np.ndarray:
        return self.Tr_imu_to_velo

    def T_camrect_cam0rect(self, i: int) -> np.ndarray:
        """Rectified cam0 -> rectified cam i (a pure translation, the baseline in ``P_i``)."""
        _, t = _K_and_baseline(self.P[i])
        T = np.eye(4)
        T[:3, 3] = t
        return T

    def K(self, i: int) -> np.ndarray:
        return _K_and_baseline(self.P[i])[0]

    def velo_to_image(self, i: int = 2) -> np.ndarray:
        """The 3x4 matrix ``P_i @ R0_rect @ Tr_velo_to_cam`` mapping homogeneous velodyne points to pixels."""
        return self.P[i] @ self.T_cam0rect_velo


def read_kitti_object_calib(path: str | os.PathLike[str]) -> KittiObjectCalib:
    """Read a KITTI object calibration file.

    Raises:
        FormatError: missing file or key, wrong value count, or a transform that is not rigid.
    """
    path = Path(path)
    kv = _read_kv(path)
    P = np.stack([_numbers(kv, f"P{i}", 12, path).reshape(3, 4) for i in range(4)])
    R0 = _numbers(kv, "R0_rect", 9, path).reshape(3, 3)
    try:
        return KittiObjectCalib(
            P=P,
            R0_rect=R0,
            Tr_velo_to_cam=_rigid_from_3x4(_numbers(kv, "Tr_velo_to_cam", 12, path), "Tr_velo_to_cam", path),
            Tr_imu_to_velo=_rigid_from_3x4(_numbers(kv, "Tr_imu_to_velo", 12, path), "Tr_imu_to_velo", path),
        )
    except ValidationError as exc:
        raise FormatError(f"KITTI calibration file {path}: {exc}") from None


def write_kitti_object_calib(calib: KittiObjectCalib, path: str | os.PathLike[str]) -> Path:
    """Write a KITTI object calibration file (12 significant digits; the originals have 7)."""
    lines = [f"P{i}: {_fmt(calib.P[i])}" for i in range(4)]
    lines.append(f"R0_rect: {_fmt(calib.R0_rect)}")
    lines.append(f"Tr_velo_to_cam: {_fmt(calib.Tr_velo_to_cam[:3])}")
    lines.append(f"Tr_imu_to_velo: {_fmt(calib.Tr_imu_to_velo[:3])}")
    return write_text_atomic(Path(path), "\n".join(lines) + "\n")


def rig_from_kitti_object_calib(
    calib: KittiObjectCalib, image_size: tuple[int, int], *, name: str = "kitti", source: str | None = None
) -> Rig:
    """A rig with ``velodyne``, ``imu`` and the rectified cameras ``cam0..cam3`` (pinhole, from ``P0..P3``).

    Args:
        calib: the parsed calib file.
        image_size: ``(width, height)`` of the images (the object calib does not store it).
        name: rig name.
        source: file the calibration came from (provenance).
    """
    w, h = image_size
    prov = Provenance(method="KITTI object calibration", data=source)
    sensors = [
        Sensor(name="velodyne", kind="lidar", rate_hz=10.0, provenance=prov),
        Sensor(name="imu", kind="imu", rate_hz=100.0, provenance=prov),
    ]
    for i in range(4):
        cam = CameraModel(calib.K(i), [], "pinhole", w, h)
        sensors.append(Sensor(name=f"cam{i}", kind="camera", rate_hz=10.0, camera=cam, provenance=prov))
    rig = Rig(name=name, sensors=tuple(sensors), base_frame="velodyne", provenance=prov)
    rig = rig.with_extrinsic("cam0_unrect", "velodyne", calib.Tr_velo_to_cam, prov)
    rig = rig.with_extrinsic("cam0", "cam0_unrect", calib.R0_rect_4x4, prov)
    rig = rig.with_extrinsic("velodyne", "imu", calib.Tr_imu_to_velo, prov)
    for i in range(1, 4):
        rig = rig.with_extrinsic(f"cam{i}", "cam0", calib.T_camrect_cam0rect(i), prov)
    return rig


def kitti_object_calib_from_rig(rig: Rig, *, velodyne: str = "velodyne", imu: str = "imu") -> KittiObjectCalib:
    """Export a rig to the KITTI object layout: needs cameras ``cam0..cam3`` (pinhole), ``cam0_unrect``, ``velodyne``
    and ``imu`` frames as produced by :func:`rig_from_kitti_object_calib` (or by a calibration that updated it).

    Raises:
        TopicNotFound / TransformError: a camera or a frame is missing.
        ValidationError: a camera has distortion, or rectified cameras are rotated against cam0.
    """
    Tr = rig.transform("cam0_unrect", velodyne)
    R0 = rig.transform("cam0", "cam0_unrect")
    if np.linalg.norm(R0[:3, 3]) > 1e-9:
        raise ValidationError("cam0_unrect -> cam0 must be a pure rotation (R0_rect) to export KITTI object calib")
    P = np.zeros((4, 3, 4))
    for i in range(4):
        cam = rig.sensor(f"cam{i}").camera
        assert cam is not None
        if cam.model != "pinhole":
            raise ValidationError(f"cam{i}: KITTI object calibration holds rectified pinhole cameras, got {cam.model}")
        T = rig.transform(f"cam{i}", "cam0")
        if np.abs(T[:3, :3] - np.eye(3)).max() > 1e-9:
            raise ValidationError(f"cam{i}: rectified cameras must share cam0's orientation to export P{i}")
        P[i] = cam.K @ T[:3, :]
    return KittiObjectCalib(P=P, R0_rect=R0[:3, :3], Tr_velo_to_cam=Tr, Tr_imu_to_velo=rig.transform(velodyne, imu))


@dataclass(frozen=True, eq=False)
class KittiRawCamera:
    """One camera of ``calib_cam_to_cam.txt``: unrectified (S, K, D, R, T) and rectified (S_rect, R_rect, P_rect)."""

    S: np.ndarray
    K: np.ndarray
    D: np.ndarray
    R: np.ndarray
    T: np.ndarray
    S_rect: np.ndarray
    R_rect: np.ndarray
    P_rect: np.ndarray

    @property
    def T_cam_cam00(self) -> np.ndarray:
        """cam00 -> this camera (unrectified): ``[R | T]``."""
        M = np.eye(4)
        M[:3, :3], M[:3, 3] = self.R, self.T
        return M

    def camera_model(self) -> CameraModel:
        """Unrectified Brown-Conrady model (k1, k2, p1, p2, k3)."""
        return CameraModel(self.K, self.D, "brown_conrady", int(self.S[0]), int(self.S[1]))

    def rectified_camera_model(self) -> CameraModel:
        return CameraModel(_K_and_baseline(self.P_rect)[0], [], "pinhole", int(self.S_rect[0]), int(self.S_rect[1]))


@dataclass(frozen=True, eq=False)
class KittiRawCalib:
    """The three raw calibration files of one KITTI recording day."""

    cameras: tuple[KittiRawCamera, ...]
    T_cam00_velo: np.ndarray
    T_velo_imu: np.ndarray
    corner_dist: float = 0.0
    calib_time: dict[str, str] = field(default_factory=dict)
    delta_f: np.ndarray = field(default_factory=lambda: np.zeros(2))
    delta_c: np.ndarray = field(default_factory=lambda: np.zeros(2))

    @property
    def T_cam0rect_velo(self) -> np.ndarray:
        """Velodyne -> rectified camera 0 (``R_rect_00 @ [R|T]``), equal to the object format's product."""
        R = np.eye(4)
        R[:3, :3] = self.cameras[0].R_rect
        return R @ self.T_cam00_velo

    def to_object_calib(self) -> KittiObjectCalib:
        """The object-format calibration of the same day (P_rect_0i, R_rect_00, velo->cam, imu->velo)."""
        return KittiObjectCalib(
            P=np.stack([c.P_rect for c in self.cameras]),
            R0_rect=self.cameras[0].R_rect,
            Tr_velo_to_cam=self.T_cam00_velo,
            Tr_imu_to_velo=self.T_velo_imu,
        )


_RAW_FILES = ("calib_cam_to_cam.txt", "calib_velo_to_cam.txt", "calib_imu_to_velo.txt")


def read_kitti_raw_calib(folder: str | os.PathLike[str]) -> KittiRawCalib:
    """Read ``calib_cam_to_cam.txt``, ``calib_velo_to_cam.txt`` and ``calib_imu_to_velo.txt`` from a day folder.

    Raises:
        FormatError: a file or key is missing or malformed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(f"KITTI raw calibration folder {folder}: not a directory")
    cc_path, vc_path, iv_path = (folder / f for f in _RAW_FILES)
    cc, vc, iv = _read_kv(cc_path), _read_kv(vc_path), _read_kv(iv_path)
    cams = []
    n_cams = 1 + max((i for i in range(1, 10) if f"S_{i:02d}" in cc), default=0)  # KITTI has 4; others may have fewer
    for i in range(n_cams):
        s = f"_{i:02d}"
        cams.append(
            KittiRawCamera(
                S=_numbers(cc, "S" + s, 2, cc_path),
                K=_numbers(cc, "K" + s, 9, cc_path).reshape(3, 3),
                D=_numbers(cc, "D" + s, 5, cc_path),
                R=_numbers(cc, "R" + s, 9, cc_path).reshape(3, 3),
                T=_numbers(cc, "T" + s, 3, cc_path),
                S_rect=_numbers(cc, "S_rect" + s, 2, cc_path),
                R_rect=_numbers(cc, "R_rect" + s, 9, cc_path).reshape(3, 3),
                P_rect=_numbers(cc, "P_rect" + s, 12, cc_path).reshape(3, 4),
            )
        )
    T_cv = np.eye(4)
    T_cv[:3, :3], T_cv[:3, 3] = _numbers(vc, "R", 9, vc_path).reshape(3, 3), _numbers(vc, "T", 3, vc_path)
    T_vi = np.eye(4)
    T_vi[:3, :3], T_vi[:3, 3] = _numbers(iv, "R", 9, iv_path).reshape(3, 3), _numbers(iv, "T", 3, iv_path)
    try:
        T_cv = check_transform(T_cv, "velo_to_cam [R|T]")
        T_vi = check_transform(T_vi, "imu_to_velo [R|T]")
    except ValidationError as exc:
        raise FormatError(f"KITTI raw calibration {folder}: {exc}") from None
    times = {name: kv["calib_time"] for name, kv in zip(_RAW_FILES, (cc, vc, iv), strict=False) if "calib_time" in kv}
    return KittiRawCalib(
        cameras=tuple(cams),
        T_cam00_velo=T_cv,
        T_velo_imu=T_vi,
        corner_dist=float(cc.get("corner_dist", "0")),
        calib_time=times,
        delta_f=_numbers(vc, "delta_f", 2, vc_path) if "delta_f" in vc else np.zeros(2),
        delta_c=_numbers(vc, "delta_c", 2, vc_path) if "delta_c" in vc else np.zeros(2),
    )


def write_kitti_raw_calib(calib: KittiRawCalib, folder: str | os.PathLike[str]) -> Path:
    """Write the three raw calibration files into ``folder`` (created if needed)."""
    folder = Path(folder)
    t = calib.calib_time
    cc = [f"calib_time: {t.get(_RAW_FILES[0], 'unknown')}", f"corner_dist: {calib.corner_dist:.6e}"]
    for i, c in enumerate(calib.cameras):
        s = f"_{i:02d}"
        cc += [
            f"S{s}: {_fmt(c.S)}",
            f"K{s}: {_fmt(c.K)}",
            f"D{s}: {_fmt(c.D)}",
            f"R{s}: {_fmt(c.R)}",
            f"T{s}: {_fmt(c.T)}",
            f"S_rect{s}: {_fmt(c.S_rect)}",
            f"R_rect{s}: {_fmt(c.R_rect)}",
            f"P_rect{s}: {_fmt(c.P_rect)}",
        ]
    write_text_atomic(folder / _RAW_FILES[0], "\n".join(cc) + "\n")
    vc = [
        f"calib_time: {t.get(_RAW_FILES[1], 'unknown')}",
        f"R: {_fmt(calib.T_cam00_velo[:3, :3])}",
        f"T: {_fmt(calib.T_cam00_velo[:3, 3])}",
        f"delta_f: {_fmt(calib.delta_f)}",
        f"delta_c: {_fmt(calib.delta_c)}",
    ]
    write_text_atomic(folder / _RAW_FILES[1], "\n".join(vc) + "\n")
    iv = [
        f"calib_time: {t.get(_RAW_FILES[2], 'unknown')}",
        f"R: {_fmt(calib.T_velo_imu[:3, :3])}",
        f"T: {_fmt(calib.T_velo_imu[:3, 3])}",
    ]
    write_text_atomic(folder / _RAW_FILES[2], "\n".join(iv) + "\n")
    return folder


def rig_from_kitti_raw_calib(calib: KittiRawCalib, *, name: str = "kitti_raw", source: str | None = None) -> Rig:
    """A rig with the real sensors (``velodyne``, ``imu``, unrectified ``cam00..cam03`` with distortion) and the
    rectified cameras ``cam0..cam3`` (pinhole) of the object format, joined through ``cam00``."""
    prov = Provenance(method="KITTI raw calibration", data=source, date=calib.calib_time.get(_RAW_FILES[0]))
    sensors = [
        Sensor(name="velodyne", kind="lidar", rate_hz=10.0, provenance=prov),
        Sensor(name="imu", kind="imu", rate_hz=100.0, provenance=prov),
    ]
    for i, c in enumerate(calib.cameras):
        sensors.append(
            Sensor(name=f"cam{i:02d}", kind="camera", rate_hz=10.0, camera=c.camera_model(), provenance=prov)
        )
    for i, c in enumerate(calib.cameras):
        sensors.append(
            Sensor(name=f"cam{i}", kind="camera", rate_hz=10.0, camera=c.rectified_camera_model(), provenance=prov)
        )
    rig = Rig(name=name, sensors=tuple(sensors), base_frame="velodyne", provenance=prov)
    rig = rig.with_extrinsic("cam00", "velodyne", calib.T_cam00_velo, prov)
    rig = rig.with_extrinsic("velodyne", "imu", calib.T_velo_imu, prov)
    for i in range(1, len(calib.cameras)):
        rig = rig.with_extrinsic(f"cam{i:02d}", "cam00", calib.cameras[i].T_cam_cam00, prov)
    R = np.eye(4)
    R[:3, :3] = calib.cameras[0].R_rect
    rig = rig.with_extrinsic("cam0", "cam00", R, prov)
    for i in range(1, len(calib.cameras)):
        T = np.eye(4)
        T[:3, 3] = _K_and_baseline(calib.cameras[i].P_rect)[1]
        rig = rig.with_extrinsic(f"cam{i}", "cam0", T, prov)
    return rig
