"""Frame sources of ``fuse-view``: what it opens, as a sequence of :class:`~sensorfuse.viz.scene.ViewFrame` with
random access (``source.frame(i)``).

- KITTI object folders (:class:`KittiViewSource`): the velodyne scan with intensity, label_2 boxes carried into the
  velodyne frame, camera 2 with its image and the label cross-check of :func:`~sensorfuse.fusion.labels.check_labels`
  (flagged objects red), frusta of the other three cameras.
- Any log the readers open, and simulator output (:class:`LogViewSource`): synchronised on the fly with the plan of
  ``fuse-sync`` (:func:`~sensorfuse.pipelines.sync.plan_log`: the same clocks and partners, nothing written);
  frame ``i`` reads each stream's partner message with the reader's random access (``reader.get``). The reference
  stream's cloud, every camera's image, radar detections with Doppler, the ego trajectory of the pose stream, the
  /tf_static frames and per-stream time errors. Simulator output adds its true object boxes at the reference
  message's true time. Sweeps are shown as recorded (not deskewed; ``fuse-sync`` output is).
- ``fuse-sync`` output folders (:class:`SyncedViewSource`): each frame's files as written (deskewed sweeps), rig.yaml,
  the pose table as trajectory, frames.csv's time errors.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from sensorfuse.errors import FormatError, ValidationError
from sensorfuse.geometry.transforms import invert_transform
from sensorfuse.io.images import read_image_bgr, to_bgr
from sensorfuse.types import Box2D, PointCloud, RadarScan
from sensorfuse.viz.scene import RadarView, ViewCamera, ViewFrame

__all__ = [
    "KittiViewSource",
    "LogViewSource",
    "NuScenesViewSource",
    "SyncedViewSource",
    "ViewSource",
    "open_view",
]


class ViewSource(ABC):
    """Frames to view: ``len(source)``, ``source.frame(i)``, ``source.names`` (one per frame), ``source.cameras``."""

    kind = ""
    names: list[str]
    cameras: list[str]

    def __len__(self) -> int:
        return len(self.names)

    @abstractmethod
    def frame(self, index: int) -> ViewFrame:
        """Frame ``index`` (negative from the end)."""

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise ValidationError(f"{self.path}: frame {index} is out of range; the {self.kind} source has {n} frames")
        return index % n

    def close(self) -> None:
        """Release the files it holds (the reader, if any)."""
        reader = getattr(self, "reader", None)
        if reader is not None and hasattr(reader, "close"):
            reader.close()

    def __enter__(self) -> ViewSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- KITTI object ------------------------------------------------------------------------------------------------------


class KittiViewSource(ViewSource):
    """A KITTI object folder (see the module docstring); the reference frame is ``velodyne``."""

    kind = "kitti"

    def __init__(self, path: str | Path, *, camera: str | None = None, threshold: float = 0.5) -> None:
        from sensorfuse.io.kitti.object import KittiObjectReader

        self.path = Path(path)
        self.reader = KittiObjectReader(self.path)
        self.names = list(self.reader.frames)
        if camera not in (None, "cam2"):
            raise ValidationError(f"{self.path}: camera {camera!r}: a KITTI object folder has images of cam2 only")
        self.cameras = ["cam2"]
        self.threshold = threshold

    def frame(self, index: int) -> ViewFrame:
        from sensorfuse.fusion.labels import boxes_in_frame, check_labels

        i = self._check_index(index)
        r, name = self.reader, self.names[i]
        rig = r.rig_for(i)
        xyz, inten = np.zeros((0, 3)), None
        if r.file("velodyne", i) is not None:
            cloud = r.get("velodyne", i).data
            xyz, inten = np.asarray(cloud.xyz, np.float64), cloud.intensity
        T_velo_cam0 = rig.transform("velodyne", "cam0")
        boxes, pairs = [], []
        if r.file("label_2", i) is not None:
            labels = r.get("label_2", i).data
            for k, (b, bv) in enumerate(zip(labels, boxes_in_frame(labels, T_velo_cam0, "velodyne"), strict=True)):
                oid = f"{name}:{b.attributes.get('line', k)}"
                bv = dataclasses.replace(bv, attributes={**bv.attributes, "object_id": oid})
                bb = b.attributes.get("bbox_2d")
                b2 = None
                if bb is not None and np.all(np.asarray(bb) >= 0):
                    b2 = Box2D(*bb, frame_id="cam2", stamp_ns=b.stamp_ns, label=b.label)
                boxes.append(bv)
                pairs.append((oid, bv, b2))
        cams = []
        for c in ("cam2", "cam0", "cam1", "cam3"):
            s = rig.sensor(c)
            cams.append(ViewCamera(c, s.camera, rig.transform("velodyne", s.frame_id or c)))
        main = cams[0]
        if r.file("image_2", i) is not None:
            main.image = to_bgr(r.get("image_2", i).data)
        if pairs:
            T_cam_velo = main.T_cam_ref
            rows, _ = check_labels(pairs, T_cam_velo, main.camera, threshold=self.threshold, cloud_xyz=xyz)
            main.checks = rows
            main.labels_2d = [(b2, row) for (_, _, b2), row in zip(pairs, rows, strict=True) if b2 is not None]
        axes = {"velodyne": np.eye(4), "cam2": main.T_ref_cam}
        return ViewFrame(i, name, None, "velodyne", xyz, inten, boxes, cams, axes=axes)


def _ego_at(tr: Any, T_body_ref: np.ndarray, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """``(T_ref_world at t (held at the trajectory's ends), the trajectory's positions in the reference frame)``."""
    from sensorfuse.fusion.interpolate import poses_at

    t = int(np.clip(t_ns, tr.stamp_ns[0], tr.stamp_ns[-1]))
    T_ref_world = invert_transform(poses_at(tr, [t]).value[0] @ T_body_ref)
    return T_ref_world, tr.T_world_body[:, :3, 3] @ T_ref_world[:3, :3].T + T_ref_world[:3, 3]


def _sensor_transforms(rig: Any, ref_frame: str) -> dict[str, np.ndarray | None]:
    """sensor name -> ``T_ref_sensor`` (static: looked up once per source), None where the rig does not connect the
    sensor's frame to ``ref_frame`` (said in the frames' notes)."""
    out: dict[str, np.ndarray | None] = {}
    for s in rig.sensors:
        try:
            out[s.name] = rig.transform(ref_frame, s.frame_id or s.name)
        except Exception:  # no path in the transform tree
            out[s.name] = None
    return out


def _body_to_ref(rig: Any, tr: Any, ref_frame: str, notes: list[str]) -> np.ndarray:
    """``T_body_ref`` of a trajectory's body frame; identity (and a note) when the rig does not connect them."""
    try:
        return rig.transform(tr.body_frame, ref_frame)
    except Exception:  # the pose's body is not in the rig: taken as the reference frame, and said
        if tr.body_frame != ref_frame:
            notes.append(f"trajectory of {tr.body_frame}: not connected to {ref_frame}, taken as it")
        return np.eye(4)


_AXES_KINDS = ("lidar", "camera", "radar", "imu")


# -- logs ------------------------------------------------------------------------------------------------------------


class LogViewSource(ViewSource):
    """Any log the readers open, synchronised on the fly (see the module docstring); simulator output folders (with
    ``log/`` and ``ground_truth/``) add their true boxes. The reference frame is the rig's base frame, else the
    reference LiDAR's frame."""

    kind = "log"

    def __init__(self, path: str | Path, *, reference: str | None = None, progress: Any = None) -> None:
        from sensorfuse.io import open as open_log
        from sensorfuse.io.sim_truth import load_ground_truth, sim_log
        from sensorfuse.pipelines.sync import SyncOptions, plan_log

        self.path = Path(path)
        log = sim_log(self.path) or self.path
        self.truth = None
        if log != self.path:
            self.truth = load_ground_truth(self.path)
            self._objects = self.truth.objects()
            self.kind = "sim"
        self.reader = open_log(log)
        try:
            lp = plan_log(self.reader, SyncOptions(reference=reference, imu_propagate="off"), None, progress)
        except BaseException:
            self.reader.close()
            raise
        self.lp, self.plan = lp, lp.plan
        self.by_name = {n: t for t, n in lp.names.items()}
        kinds = {n: self.plan.streams[n].kind for n in self.by_name}
        self.cameras = [n for n, k in kinds.items() if k == "camera" and lp.rig.sensor(n).camera is not None]
        self.lidars = [n for n, k in kinds.items() if k == "lidar"]
        self.radars = [n for n, k in kinds.items() if k == "radar"]
        self.names = [f"{self.plan.reference}:{int(i):06d}" for i in self.plan.ref_index]
        rig = lp.rig
        lidar_frame = rig.sensor(self.lidars[0]).frame_id if self.lidars else None
        self.ref_frame = rig.base_frame or lidar_frame or rig.sensor(self.plan.reference).frame_id
        self.notes = [f"{n}: not deskewed (fuse-sync output is)" for n in self.lidars[:1]]
        self.T_ref = _sensor_transforms(rig, self.ref_frame)
        self.axes = {s.name: T for s in rig.sensors if s.kind in _AXES_KINDS and (T := self.T_ref[s.name]) is not None}
        self._trajectory = self._load_trajectory()

    def _load_trajectory(self) -> Any:
        """The ego trajectory (simulator: the true one) and ``T_body_ref`` (its body frame -> reference frame)."""
        from sensorfuse.pipelines.sync import pose_trajectory

        if self.truth is not None:
            tr = self.truth.trajectory
        elif self.lp.pose_topics:
            topic = self.lp.pose_topics[0]
            tr = pose_trajectory(self.lp.scan.messages.get(topic, []), self.lp.clocks[self.lp.names[topic]].clock)
        else:
            return None
        if tr is None:
            return None
        self._T_body_ref = _body_to_ref(self.lp.rig, tr, self.ref_frame, self.notes)
        return tr

    def _index(self, name: str, i: int) -> int | None:
        if name == self.plan.reference:
            return int(self.plan.ref_index[i])
        a = self.plan.associations.get(name)
        if a is None or a.missing[i]:
            return None
        return int(a.index[i])

    def frame(self, index: int) -> ViewFrame:
        from sensorfuse.fusion.labels import boxes_in_frame

        i = self._check_index(index)
        plan, rig = self.plan, self.lp.rig
        stamp = int(plan.ref_time_ns[i])
        notes = list(self.notes)
        errors = {}
        for n, a in plan.associations.items():
            if not a.missing[i]:
                errors[n] = int(a.dt_ns[i])
        xyz, inten = np.zeros((0, 3)), None
        for n in self.lidars[:1]:
            k = self._index(n, i)
            T = self.T_ref[n]
            if k is None or T is None:
                notes.append(f"{n}: {'no sweep in this frame' if k is None else 'no extrinsic to ' + self.ref_frame}")
                continue
            c: PointCloud = self.reader.get(self.by_name[n], k).data
            xyz = np.asarray(c.xyz, np.float64) @ T[:3, :3].T + T[:3, 3]
            inten = c.intensity
        cams = []
        for n in self.cameras:
            T = self.T_ref[n]
            if T is None:
                notes.append(f"{n}: no extrinsic to {self.ref_frame}")
                continue
            vc = ViewCamera(n, rig.sensor(n).camera, T)
            k = self._index(n, i)
            if k is not None:
                vc.image = to_bgr(self.reader.get(self.by_name[n], k).data)
                vc.stamp_ns = int(plan.reference_ns[n][k])
            cams.append(vc)
        radar = None
        for n in self.radars[:1]:
            k, T = self._index(n, i), self.T_ref[n]
            if k is None or T is None:
                continue
            scan: RadarScan = self.reader.get(self.by_name[n], k).data
            p = np.asarray(scan.xyz, np.float64) @ T[:3, :3].T + T[:3, 3]
            dop = np.asarray(scan.doppler, np.float64) if scan.doppler is not None else np.zeros(len(p))
            radar = RadarView(p, dop, T[:3, 3].copy())
        boxes, traj = [], None
        if self._trajectory is not None:
            t = stamp
            if self.truth is not None:
                t = self._true_time(i)
            T_ref_world, traj = _ego_at(self._trajectory, self._T_body_ref, t)
            if self.truth is not None:
                boxes = boxes_in_frame(self._objects.boxes(t, "world"), T_ref_world, self.ref_frame)
                boxes = [
                    dataclasses.replace(b, attributes={**b.attributes, "object_id": str(b.track_id)}) for b in boxes
                ]
        return ViewFrame(
            i, self.names[i], stamp, self.ref_frame, xyz, inten, boxes, cams, radar, traj, dict(self.axes), errors,
            notes,
        )  # fmt: skip

    def _true_time(self, i: int) -> int:
        """Simulator output: the true time of frame ``i``'s reference message."""
        ref = self.plan.reference
        m = self.truth.messages.get(ref)
        if m is None:
            raise FormatError(f"{self.path}: ground truth has no messages table for the reference stream {ref!r}")
        header = int(self.plan.ref_stamp_ns[i])
        k = np.flatnonzero(m["header_ns"] == header)
        if k.size == 0:
            return int(self.plan.ref_time_ns[i])
        return int(m["true_ns"][k[0]])


# -- fuse-sync output ---------------------------------------------------------------------------------------------


class SyncedViewSource(ViewSource):
    """A ``fuse-sync`` output folder (read by :class:`~sensorfuse.io.synced.SyncedDataset`): each frame's files as
    written — LiDAR sweeps deskewed where fuse-sync deskewed them, images, radar — with the ego trajectory of the
    pose table and the time errors of frames.csv."""

    kind = "synced"

    def __init__(self, path: str | Path) -> None:
        from sensorfuse.io.synced import SyncedDataset

        self.data = SyncedDataset(path)
        self.path, self.rig, self.kinds, self.reference = (
            self.data.path,
            self.data.rig,
            self.data.kinds,
            self.data.reference,
        )
        self.stamps = self.data.stamps_ns
        names = self.rig.sensor_names
        files = self.data.files
        self.cameras = [
            n
            for n, k in self.kinds.items()
            if k == "camera" and n in files and n in names and self.rig.sensor(n).camera
        ]
        self.names = [f"{self.reference}:{int(i):06d}" for i in self.data.index[self.reference]]
        lidars = [n for n, k in self.kinds.items() if k == "lidar" and n in files]
        self.lidar = lidars[0] if lidars else None
        self.radar = next((n for n, k in self.kinds.items() if k == "radar" and n in files), None)
        self.ref_frame = self.rig.base_frame or (self.rig.sensor(self.lidar).frame_id if self.lidar else self.reference)
        self.T_ref = _sensor_transforms(self.rig, self.ref_frame)
        self.axes = {n: T for n, k in self.kinds.items() if k != "pose" and (T := self.T_ref.get(n)) is not None}
        self.notes: list[str] = []
        pose = next((n for n, k in self.kinds.items() if k == "pose" and self.data.has_table(n)), None)
        self.trajectory = None if pose is None else self.data.trajectory(pose)
        if self.trajectory is not None:
            self._T_body_ref = _body_to_ref(self.rig, self.trajectory, self.ref_frame, self.notes)

    def frame(self, index: int) -> ViewFrame:

        from sensorfuse.io.pcd import read_pcd

        i = self._check_index(index)
        stamp = int(self.stamps[i])
        notes, errors = list(self.notes), self.data.time_errors_ns(i)

        def file_of(n: str) -> tuple[Path | None, np.ndarray | None]:
            k = self.data.message(n, i)
            T = self.T_ref.get(n)
            if k < 0 or T is None:
                notes.append(f"{n}: {'no message in this frame' if k < 0 else 'no extrinsic to ' + self.ref_frame}")
                return None, None
            return self.data.file(n, k), T

        xyz, inten = np.zeros((0, 3)), None
        if self.lidar is not None:
            f, T = file_of(self.lidar)
            if f is not None:
                c = read_pcd(f, frame_id=self.lidar)[0]
                xyz = np.asarray(c.xyz, np.float64) @ T[:3, :3].T + T[:3, 3]
                inten = c.intensity
        cams = []
        for n in self.cameras:
            T = self.T_ref.get(n)
            if T is None:
                notes.append(f"{n}: no extrinsic to {self.ref_frame}")
                continue
            vc = ViewCamera(n, self.rig.sensor(n).camera, T)
            f, _ = file_of(n)
            if f is not None:
                vc.image = read_image_bgr(f, n)
            cams.append(vc)
        radar = None
        if self.radar is not None:
            f, T = file_of(self.radar)
            if f is not None:
                c = read_pcd(f, frame_id=self.radar)[0]
                p = np.asarray(c.xyz, np.float64) @ T[:3, :3].T + T[:3, 3]
                dop = np.asarray(c.fields.get("doppler", np.zeros(len(p))), np.float64).ravel()
                radar = RadarView(p, dop, T[:3, 3].copy())
        traj = None
        if self.trajectory is not None:
            _, traj = _ego_at(self.trajectory, self._T_body_ref, stamp)
        return ViewFrame(
            i, self.names[i], stamp, self.ref_frame, xyz, inten, [], cams, radar, traj, dict(self.axes), errors, notes
        )


# -- nuScenes (mmdetection3d info) -------------------------------------------------------------------------------


class NuScenesViewSource(ViewSource):
    """nuScenes keyframes with their annotations, from an mmdetection3d info file or the official tables
    (``v1.0-*/*.json``; the layouts ``fuse-labels`` reads): one frame per keyframe in ``LIDAR_TOP`` (y forward), its
    sweep with intensity and annotated boxes, all six cameras with their images and the label cross-check of
    :func:`~sensorfuse.pipelines.labels.nuscenes_frames` (boxes moved to each camera's time there; the 3D view and the
    wireframes show them at the LiDAR time). The tables hold no 2D boxes: every object is then ``no_2d_box``."""

    kind = "nuscenes"

    def __init__(self, path: str | Path, *, threshold: float = 0.5) -> None:
        from sensorfuse.io.nuscenes.tables import read_nuscenes_samples

        self.path = Path(path)
        self.samples = read_nuscenes_samples(self.path)
        if not self.samples:
            raise FormatError(f"{self.path}: no keyframe (sample) to show")
        self.names = [s["token"][:8] for s in self.samples]
        self.cameras = sorted({ch for s in self.samples for ch in s["cameras"]})
        self.threshold = threshold

    def frame(self, index: int) -> ViewFrame:

        from sensorfuse.fusion.labels import check_labels
        from sensorfuse.io.nuscenes.reader import read_nuscenes_lidar_bin
        from sensorfuse.pipelines.labels import _nuscenes_frames

        i = self._check_index(index)
        s = self.samples[i]
        cloud = read_nuscenes_lidar_bin(self.path / "samples" / "LIDAR_TOP" / Path(s["lidar_path"]).name)
        tok = s["token"][:8]
        boxes = [
            dataclasses.replace(b, attributes={**b.attributes, "object_id": f"{tok}:{b.attributes['index']}"})
            for b in s["boxes"]
        ]
        cams, errors = [], {}
        for lf in _nuscenes_frames(self.path, [s], self.cameras):
            cam = s["cameras"][lf.camera_name]
            vc = ViewCamera(lf.camera_name, lf.camera, invert_transform(lf.T_cam_boxes), stamp_ns=cam["stamp_ns"])
            if lf.image is not None and lf.image.is_file():
                vc.image = read_image_bgr(lf.image, lf.camera_name)
            rows, _ = check_labels(lf.pairs, lf.T_cam_boxes, lf.camera, threshold=self.threshold, cloud_xyz=lf.xyz)
            vc.checks = [dataclasses.replace(r, id=":".join(r.id.split(":")[::2])) for r in rows]  # tok:CH:i -> tok:i
            vc.labels_2d = [(b2, r) for (_, _, b2), r in zip(lf.pairs, rows, strict=True) if b2 is not None]
            errors[lf.camera_name] = int(cam["stamp_ns"] - s["stamp_ns"])
            cams.append(vc)
        notes = ["3D view and wireframes at the LiDAR time; cameras fired up to ~40 ms earlier (see time errors)"]
        axes = {"LIDAR_TOP": np.eye(4)} | {c.name: c.T_ref_cam for c in cams}
        return ViewFrame(
            i, self.names[i], int(s["stamp_ns"]), "LIDAR_TOP", np.asarray(cloud.xyz, np.float64), cloud.intensity,
            boxes, cams, axes=axes, time_errors_ns=errors, notes=notes, forward=1,
        )  # fmt: skip


def open_view(
    path: str | Path, *, camera: str | None = None, threshold: float = 0.5, progress: Any = None
) -> ViewSource:
    """The frame source for ``path``: a KITTI object folder, simulator output or any log the readers open."""
    from sensorfuse.io.nuscenes.tables import has_nuscenes_samples
    from sensorfuse.io.open_log import input_kind

    p = Path(path)
    if not p.exists():
        raise FormatError(f"{p}: no such file or folder")
    kind = "nuscenes-samples" if p.is_dir() and has_nuscenes_samples(p) else input_kind(p)
    if kind == "sim":
        src: ViewSource = LogViewSource(p, progress=progress)
    elif kind == "synced":
        src = SyncedViewSource(p)
    elif kind == "nuscenes-samples":
        src = NuScenesViewSource(p, threshold=threshold)
    elif kind == "kitti-object":
        return KittiViewSource(p, camera=camera, threshold=threshold)
    else:
        src = LogViewSource(p, progress=progress)
    if camera is not None and camera not in src.cameras:
        src.close()
        raise ValidationError(f"{p}: no camera {camera!r}; cameras: {', '.join(src.cameras) or 'none'}")
    return src
