"""The simulator's ``ground_truth/`` folder (schema in docs/simulator.md) and a loader for it.

::

    ground_truth/
      truth.yaml            config, seed, time range, world origin, per stream: topic, clock, faults, counts, events
      rig.yaml              the true rig (sensorfuse rig file, clocks included)
      trajectory.csv        t_ns, T_world_base (x y z qx qy qz qw), v_world, omega_body, a_world at 200 Hz
      objects.csv           t_ns, instance, track_id, label, centre xyz, size lwh, yaw, quaternion xyzw — labelled
                            objects at 100 Hz (cars and pedestrians turn about z only; the held board tilts)
      instances.csv         instance id -> kind, label, track id (the ids in instance images and radar truth)
      messages/NAME.csv     every produced message: seq, true_ns, header_ns, log_ns, event, burst
      radar.csv             per detection: seq, instance (0 = clutter), true_doppler_mps
      cameras/NAME/SEQ_depth.png     uint16 z-depth in mm (0 = nothing hit, 65535 = 65.535 m or farther)
      cameras/NAME/SEQ_instance.png  uint16 instance id (0 = sky)

Per-point LiDAR truth is not stored: ``World.lidar_sweep(...).instance`` reproduces it from the same seed.
"""

from __future__ import annotations

import csv
import io as _io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from sensorfuse.io._files import write_text_atomic
from sensorfuse.io._yaml import read_yaml, write_yaml
from sensorfuse.io.rigfile import load_rig, save_rig
from sensorfuse.rig import Rig
from sensorfuse.types import Box3D, PoseTrajectory

__all__ = [
    "GroundTruth",
    "TruthObjects",
    "TruthWriter",
    "is_sim_output",
    "load_ground_truth",
    "sim_log",
]

TRAJECTORY_RATE_HZ = 200.0
OBJECT_RATE_HZ = 100.0


def _csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _f(x: float) -> str:
    return repr(float(x))  # shortest round-trip representation: exact


class TruthWriter:
    """Collects the truth while :func:`~sensorfuse.sim.simulate` runs and writes it."""

    def __init__(self, root: Path, cfg, sim_rig, scene, ego, world, streams) -> None:
        self.root, self.cfg, self.sim_rig, self.scene, self.ego, self.world, self.streams = (
            root,
            cfg,
            sim_rig,
            scene,
            ego,
            world,
            streams,
        )
        root.mkdir(parents=True, exist_ok=True)
        save_rig(sim_rig.rig, root / "rig.yaml")
        self._radar: list[list[object]] = []
        self._write_trajectory()
        self._write_objects()

    def _write_trajectory(self) -> None:
        cfg = self.cfg
        step = round(1e9 / TRAJECTORY_RATE_HZ)
        t_ns = np.arange(cfg.start_ns, cfg.end_ns + 1, step, dtype=np.int64)
        t = self.world.t_s(t_ns)
        T = self.ego.pose(t)
        q = Rotation.from_matrix(T[:, :3, :3]).as_quat()
        v, w, a = self.ego.velocity_world(t), self.ego.omega_body(t), self.ego.accel_world(t)
        rows = [
            [int(t_ns[i]), *map(_f, T[i, :3, 3]), *map(_f, q[i]), *map(_f, v[i]), *map(_f, w[i]), *map(_f, a[i])]
            for i in range(t_ns.size)
        ]
        hdr = ["t_ns", "x", "y", "z", "qx", "qy", "qz", "qw", "vx", "vy", "vz", "wx", "wy", "wz", "ax", "ay", "az"]
        _csv(self.root / "trajectory.csv", hdr, rows)

    def _write_objects(self) -> None:
        cfg = self.cfg
        step = round(1e9 / OBJECT_RATE_HZ)
        t_ns = np.arange(cfg.start_ns, cfg.end_ns + 1, step, dtype=np.int64)
        t = self.world.t_s(t_ns)
        rows = []
        for obj in self.scene.dynamic_objects:
            T = obj.pose(t)
            yaw = np.arctan2(T[:, 1, 0], T[:, 0, 0])
            q = Rotation.from_matrix(T[:, :3, :3]).as_quat()
            for i in range(t_ns.size):
                rows.append(
                    [int(t_ns[i]), obj.instance_id, obj.track_id if obj.track_id is not None else "", obj.label]
                    + [_f(x) for x in T[i, :3, 3]]
                    + [_f(x) for x in obj.size]
                    + [_f(yaw[i])]
                    + [_f(x) for x in q[i]]
                )
        rows.sort(key=lambda r: (r[0], r[1]))
        hdr = ["t_ns", "instance", "track_id", "label", "cx", "cy", "cz", "l", "w", "h", "yaw", "qx", "qy", "qz", "qw"]
        _csv(self.root / "objects.csv", hdr, rows)
        inst = [
            [o.instance_id, o.kind, o.label or "", o.track_id if o.track_id is not None else ""]
            for o in self.scene.objects
        ]
        _csv(self.root / "instances.csv", ["instance", "kind", "label", "track_id"], inst)

    def radar(self, seq: int, det) -> None:
        for inst, d in zip(det.instance.tolist(), det.true_doppler.tolist(), strict=True):
            self._radar.append([seq, inst, "" if d != d else repr(d)])

    def camera(self, name: str, seq: int, true_ns: int, header_ns: int, depth: np.ndarray, inst: np.ndarray) -> None:
        every = self.cfg.truth_images_every
        if not every or seq % every:
            return
        import cv2

        d = self.root / "cameras" / name
        d.mkdir(parents=True, exist_ok=True)
        mm = np.where(np.isfinite(depth), np.minimum(np.rint(depth * 1000.0), 65535), 0).astype(np.uint16)
        cv2.imwrite(str(d / f"{seq:06d}_depth.png"), mm)
        cv2.imwrite(str(d / f"{seq:06d}_instance.png"), inst)

    def finish(self) -> None:
        cfg, streams = self.cfg, self.streams
        rig = self.sim_rig.rig
        out: dict[str, object] = {
            "schema": 1,
            "generator": "sensorfuse.sim",
            "config": _config_dict(cfg),
            "start_ns": cfg.start_ns,
            "end_ns": cfg.end_ns,
            "world_frame": "world (local ENU)",
            "origin_lla": list(self.scene.origin_lla),
            "reference_clock": "true time = recorder clock (log_ns) = /odom header",
            "streams": {},
            "extrinsic_steps": [asdict(s) for s in cfg.extrinsic_steps],
        }
        if self.scene.board is not None:
            b = self.scene.board
            out["board"] = {
                "pattern": b.pattern,
                "squares": list(b.squares),
                "square_m": b.square_m,
                "margin_m": b.margin_m,
                "instance": self.scene.board_object.instance_id,
            }
        (self.root / "messages").mkdir(exist_ok=True)
        for name, plan in streams.plans.items():
            sensor = rig.sensor(name) if name != "odom" else None
            f = streams.faults[name]
            ev = plan.event
            entry = {
                "topic": sensor.topic if sensor else "/odom",
                "kind": sensor.kind if sensor else "odometry",
                "clock": {
                    "offset_ns": int(sensor.clock.offset_ns) if sensor else 0,
                    "drift_ppm": float(sensor.clock.drift_ppm) if sensor else 0.0,
                    "epoch_ns": sensor.clock.epoch_ns if sensor else None,
                },
                "faults": f.to_dict(),
                "produced": int((ev != "duplicate").sum()),
                "written": int((ev != "dropped").sum()),
                "dropped_header_ns": [int(x) for x in plan.header_ns[ev == "dropped"]],
                "duplicated_header_ns": [int(x) for x in plan.header_ns[ev == "duplicate"]],
                "reordered_header_ns": [int(x) for x in plan.header_ns[ev == "reordered"]],
            }
            if name == "gnss":
                entry["time_base"] = "gps (ns since 1980-01-06, no leap seconds); clock.offset_ns maps it to UTC"
            out["streams"][name] = entry
            rows = [
                [
                    int(plan.seq[i]),
                    int(plan.true_ns[i]),
                    int(plan.header_ns[i]),
                    int(plan.log_ns[i]),
                    ev[i],
                    int(plan.burst[i]),
                ]
                for i in range(plan.seq.size)
            ]
            _csv(
                self.root / "messages" / f"{name}.csv",
                ["seq", "true_ns", "header_ns", "log_ns", "event", "burst"],
                rows,
            )
        _csv(self.root / "radar.csv", ["seq", "instance", "true_doppler_mps"], self._radar)
        write_yaml(out, self.root / "truth.yaml", header="# sensorfuse simulator ground truth (docs/simulator.md)\n")


def _config_dict(cfg) -> dict:
    d = asdict(cfg)
    d["stream_faults"] = {k: dict(v) for k, v in cfg.stream_faults.items()}
    for v in d["stream_faults"].values():
        if "bursts" in v:
            v["bursts"] = [b if isinstance(b, dict) else asdict(b) for b in v["bursts"]]
    return d


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """A loaded ``ground_truth/`` folder."""

    root: Path
    truth: dict
    rig: Rig
    trajectory: PoseTrajectory
    messages: dict[str, dict[str, np.ndarray]]

    def stream(self, name: str) -> dict:
        return self.truth["streams"][name]

    def objects(self) -> TruthObjects:
        """The labelled objects of ``objects.csv`` (boxes at any time in the log)."""
        return TruthObjects.load(self.root / "objects.csv")

    def instance_images(self, camera: str) -> list[tuple[int, Path]]:
        """``(seq, path)`` of every instance image of ``camera`` (``cameras/NAME/SEQ_instance.png``), by seq."""
        files = (self.root / "cameras" / camera).glob("*_instance.png")
        return sorted((int(f.name.split("_")[0]), f) for f in files)


def sim_log(path: str | Path) -> Path | None:
    """The log of simulator output ``OUT`` (``OUT/log``: a file or a rosbag2/KITTI folder), None if ``path`` is
    not simulator output."""
    p = Path(path)
    return p / "log" if (p / "ground_truth" / "truth.yaml").is_file() else None


def is_sim_output(path: str | Path) -> bool:
    """Simulator output (``OUT`` with ``ground_truth/truth.yaml``) or its ``ground_truth`` folder."""
    p = Path(path)
    return p.is_dir() and ((p / "ground_truth" / "truth.yaml").is_file() or (p / "truth.yaml").is_file())


class TruthObjects:
    """The simulator's labelled boxes over time: :meth:`boxes` interpolates each object between the 100 Hz rows of
    ``objects.csv`` (linear centre, SLERP between the rows' orientations; logs from before the quaternion columns:
    yaw about z). Objects without a track id (the calibration board) get ``track_id = "instance N"``; every box
    carries ``attributes["instance"]``, its id in the instance images."""

    def __init__(self, rows: dict[int, tuple[str, object, np.ndarray, np.ndarray, np.ndarray]]) -> None:
        self._rows = rows  # instance -> (label, track_id, t_ns (M,), centre+size (M, 6), quaternions xyzw (M, 4))

    @classmethod
    def load(cls, path: Path) -> TruthObjects:
        with open(path, newline="") as fh:
            recs = list(csv.DictReader(fh))
        by: dict[int, list[dict]] = {}
        for r in recs:
            by.setdefault(int(r["instance"]), []).append(r)
        rows = {}
        for inst, rs in by.items():
            rs.sort(key=lambda r: int(r["t_ns"]))
            t = np.array([int(r["t_ns"]) for r in rs], np.int64)
            v = np.array([[float(r[k]) for k in ("cx", "cy", "cz", "l", "w", "h")] for r in rs])
            if "qx" in rs[0]:
                q = np.array([[float(r[k]) for k in ("qx", "qy", "qz", "qw")] for r in rs])
            else:
                q = Rotation.from_euler("z", np.array([[float(r["yaw"])] for r in rs])).as_quat()
            track = rs[0]["track_id"]
            rows[inst] = (rs[0]["label"], int(track) if track else f"instance {inst}", t, v, q)
        return cls(rows)

    def boxes(self, t_ns: int, frame_id: str = "world") -> list[Box3D]:
        """Every object whose rows cover ``t_ns``, in the world frame, ``stamp_ns = t_ns``."""
        out = []
        for inst, (label, track, t, v, q) in self._rows.items():
            if t.size == 0 or t_ns < t[0] or t_ns > t[-1]:
                continue
            j = min(int(np.searchsorted(t, t_ns, side="right")) - 1, t.size - 1)
            k = min(j + 1, t.size - 1)
            f = 0.0 if k == j else (t_ns - int(t[j])) / float(t[k] - t[j])
            x = v[j] + f * (v[k] - v[j])
            rel = (Rotation.from_quat(q[j]).inv() * Rotation.from_quat(q[k])).as_rotvec()
            R = (Rotation.from_quat(q[j]) * Rotation.from_rotvec(f * rel)).as_matrix()
            out.append(
                Box3D(x[:3], x[3:6], R, frame_id, int(t_ns), label, track_id=track, attributes={"instance": inst})
            )
        return out


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Load a simulator ground truth folder (``OUT/ground_truth`` or ``OUT``)."""
    root = Path(path)
    if (root / "ground_truth").is_dir():
        root = root / "ground_truth"
    truth = read_yaml(root / "truth.yaml", "simulator truth")
    rig = load_rig(root / "rig.yaml")
    tr = np.loadtxt(root / "trajectory.csv", delimiter=",", skiprows=1, dtype=np.float64)
    t_ns = np.loadtxt(root / "trajectory.csv", delimiter=",", skiprows=1, usecols=0, dtype=np.int64)
    T = np.tile(np.eye(4), (tr.shape[0], 1, 1))
    T[:, :3, :3] = Rotation.from_quat(tr[:, 4:8]).as_matrix()
    T[:, :3, 3] = tr[:, 1:4]
    messages = {}
    for f in sorted((root / "messages").glob("*.csv")):
        with open(f, newline="") as fh:
            rows = list(csv.DictReader(fh))
        messages[f.stem] = {
            k: np.array([r[k] for r in rows], dtype=str if k == "event" else np.int64)
            for k in ("seq", "true_ns", "header_ns", "log_ns", "event", "burst")
        }
    return GroundTruth(root, truth, rig, PoseTrajectory(t_ns, T, "world", "base_link"), messages)
