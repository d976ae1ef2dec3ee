"""Generate a drive log and its ground truth: :func:`simulate`.

Messages are generated in true-time order and recorded in record-time order (a small heap holds each message until
no later-generated one can be recorded before it), so a whole log is never held in memory. Each stream draws from
its own seeded random generator, so the same seed gives byte-identical logs.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sensorfuse.errors import ValidationError
from sensorfuse.geometry.transforms import transform_from
from sensorfuse.io.messages import CameraInfo, Odometry, TransformStamped
from sensorfuse.io.ros.writer import LOG_FORMATS, LogWriter, log_path
from sensorfuse.sim.rigs import BASE_FRAME, RIG_NAMES, SimRig, preset_rig, without_noise
from sensorfuse.sim.scene import BOARD_PATTERNS, build_scene
from sensorfuse.sim.sensors import World, enu_to_lla
from sensorfuse.sim.timing import StreamFaults, StreamPlan, merge_faults, plan_stream, realistic_faults
from sensorfuse.sim.trajectory import MOTIONS, EgoTrajectory
from sensorfuse.types import CompressedImage, GnssFix, Image, ImuSamples, PointCloud, RadarScan
from sensorfuse.units import gps_ns_from_utc_ns

__all__ = ["FORMATS", "ExtrinsicStep", "SimConfig", "SimResult", "simulate"]

FORMATS = (*LOG_FORMATS, "kitti")
IMAGE_FORMATS = ("jpeg", "png", "raw")

#: nominal transport latency after the end of acquisition, per sensor kind (always present unless overridden)
NOMINAL_LATENCY_NS = {
    "lidar": 8_000_000,
    "camera": 12_000_000,
    "imu": 1_000_000,
    "radar": 15_000_000,
    "gnss": 25_000_000,
}
#: camera readout after the end of exposure; radar processing after the scan instant
CAMERA_READOUT_NS = 10_000_000
RADAR_PROCESSING_NS = 30_000_000
#: trigger phase of each camera (ns after the start), so cameras do not fire together
CAMERA_PHASE_NS = (5_000_000, 17_000_000, 29_000_000)


@dataclass(frozen=True)
class ExtrinsicStep:
    """At ``at_s`` (s after the start) sensor ``sensor`` physically moves by ``T_delta`` (applied in the sensor
    frame: ``T_base_sensor_after = T_base_sensor @ T_delta``); /tf_static keeps the original (a calibration drift)."""

    sensor: str
    at_s: float
    translation_m: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def T_delta(self) -> np.ndarray:
        from scipy.spatial.transform import Rotation

        return transform_from(
            Rotation.from_euler("ZYX", self.rpy_deg[::-1], degrees=True).as_matrix(), self.translation_m
        )


@dataclass(frozen=True)
class SimConfig:
    """Everything that defines a simulated log (with the seed, it fixes every byte)."""

    duration_s: float = 10.0
    seed: int = 0
    rig: str = "small"
    format: str = "mcap"
    speed_mps: float = 10.0
    motion: str = "drive"  # excitation profile: one of trajectory.MOTIONS
    noise: bool = True
    board: str = "checkerboard"
    n_cars: int = 3
    n_pedestrians: int = 2
    image_format: str = "jpeg"
    jpeg_quality: int = 90
    start_ns: int = 1_700_000_000_000_000_000
    faults: str = "none"  # none | realistic: preset applied under the per-sensor overrides below
    stream_faults: Mapping[str, Mapping[str, object]] = field(default_factory=dict)  # sensor -> StreamFaults fields
    extrinsic_steps: tuple[ExtrinsicStep, ...] = ()
    truth_images_every: int = 10  # write depth/instance images for every N-th camera frame (0: none)
    nominal_latency: bool = True

    def __post_init__(self) -> None:
        if self.rig not in RIG_NAMES:
            raise ValidationError(f"rig {self.rig!r}: expected one of {', '.join(RIG_NAMES)}")
        if self.format not in FORMATS:
            raise ValidationError(f"format {self.format!r}: expected one of {', '.join(FORMATS)}")
        if self.image_format not in IMAGE_FORMATS:
            raise ValidationError(f"image format {self.image_format!r}: expected one of {', '.join(IMAGE_FORMATS)}")
        if self.board not in BOARD_PATTERNS:
            raise ValidationError(f"board {self.board!r}: expected one of {', '.join(BOARD_PATTERNS)}")
        if self.faults not in ("none", "realistic"):
            raise ValidationError(f"faults {self.faults!r}: expected 'none' or 'realistic'")
        if not 0.2 <= self.duration_s <= 600:
            raise ValidationError(f"duration must be within 0.2..600 s, got {self.duration_s}")
        if self.motion not in MOTIONS:
            raise ValidationError(f"motion {self.motion!r}: expected one of {', '.join(MOTIONS)}")
        if not 0.5 <= self.speed_mps <= 20.0:
            raise ValidationError(f"speed must be within 0.5..20 m/s, got {self.speed_mps}")

    @property
    def end_ns(self) -> int:
        return self.start_ns + round(self.duration_s * 1e9)


@dataclass
class SimResult:
    """What :func:`simulate` wrote."""

    out_dir: Path
    log: Path
    ground_truth: Path
    counts: dict[str, int]
    plans: dict[str, StreamPlan]
    sim_rig: SimRig


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _encode(img: np.ndarray, fmt: str, quality: int, stamp_ns: int, frame: str) -> CompressedImage | Image:
    if fmt == "raw":
        return Image(img, "bgr8", stamp_ns, frame)
    import cv2

    if fmt == "jpeg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - cv2 failure
        raise ValidationError(f"could not encode a {fmt} image")
    return CompressedImage(buf.tobytes(), fmt, stamp_ns, frame)


class _Streams:
    """The acquisition schedule of every stream and its timing plan."""

    def __init__(self, cfg: SimConfig, sim_rig: SimRig) -> None:
        self.cfg, self.sim_rig = cfg, sim_rig
        rig = sim_rig.rig
        s0, s1 = cfg.start_ns, cfg.end_ns
        self.true: dict[str, np.ndarray] = {}
        self.done: dict[str, np.ndarray] = {}
        period = round(1e9 / sim_rig.lidar.rate_hz)
        self.true["lidar"] = np.arange(s0, s1 - period + 1, period, dtype=np.int64)
        self.done["lidar"] = self.true["lidar"] + period
        for i, cam in enumerate(sim_rig.cameras):
            p = round(1e9 / sim_rig.camera_rate_hz)
            mid = np.arange(s0 + CAMERA_PHASE_NS[i % 3] + sim_rig.exposure_ns // 2, s1, p, dtype=np.int64)
            self.true[cam.name] = mid
            self.done[cam.name] = mid + sim_rig.exposure_ns // 2 + CAMERA_READOUT_NS
        self.true["imu"] = np.arange(s0, s1, round(1e9 / sim_rig.imu_rate_hz), dtype=np.int64)
        self.done["imu"] = self.true["imu"]
        self.true["radar"] = np.arange(s0 + 3_000_000, s1, round(1e9 / sim_rig.radar_rate_hz), dtype=np.int64)
        self.done["radar"] = self.true["radar"] + RADAR_PROCESSING_NS
        gp = round(1e9 / sim_rig.gnss_rate_hz)
        self.true["gnss"] = np.arange(-(-s0 // gp) * gp, s1, gp, dtype=np.int64)  # on GPS-second fractions
        self.done["gnss"] = self.true["gnss"]
        self.true["odom"] = np.arange(s0, s1, round(1e9 / sim_rig.odom_rate_hz), dtype=np.int64)
        self.done["odom"] = self.true["odom"]
        self.faults: dict[str, StreamFaults] = {}
        self.plans: dict[str, StreamPlan] = {}
        unknown = set(cfg.stream_faults) - set(rig.sensor_names) - {"odom"}
        if unknown:
            raise ValidationError(
                f"faults given for unknown sensor(s) {sorted(unknown)}; sensors: {', '.join(rig.sensor_names)}"
            )
        for name in self.true:
            kind = rig.sensor(name).kind if name != "odom" else "odom"
            base = StreamFaults(latency_ns=NOMINAL_LATENCY_NS.get(kind, 1_000_000) if cfg.nominal_latency else 0)
            if cfg.faults == "realistic":
                base = merge_faults(base, realistic_faults(kind, cfg.duration_s))
            f = merge_faults(base, cfg.stream_faults.get(name, {}))
            self.faults[name] = f
            header = None
            if name == "gnss":  # GNSS header in GPS time (ns since the GPS epoch), plus any user offset
                t = self.true[name]
                header = np.array([gps_ns_from_utc_ns(int(x)) for x in t], np.int64) - np.int64(f.offset_ns)
            self.plans[name] = plan_stream(
                self.true[name], self.done[name], f, s0, _rng(cfg.seed, f"timing/{name}"), header
            )

    def gnss_clock_offset_ns(self) -> int:
        """``t_reference - t_gnss_header`` (the constant GPS-UTC offset, here for the whole log)."""
        t = int(self.true["gnss"][0])
        return t - gps_ns_from_utc_ns(t) + self.faults["gnss"].offset_ns


def _true_rig(sim_rig: SimRig, streams: _Streams, cfg: SimConfig) -> SimRig:
    """The rig file of the truth: clocks from the plan (the GNSS clock is GPS time)."""
    sensors = []
    for s in sim_rig.rig.sensors:
        f = streams.faults[s.name]
        clock = f.clock(cfg.start_ns)
        if s.name == "gnss":
            clock = replace(clock, offset_ns=streams.gnss_clock_offset_ns())
        sensors.append(replace(s, clock=clock))
    return replace(sim_rig, rig=replace(sim_rig.rig, sensors=tuple(sensors)))


def simulate(
    out_dir: str | Path, config: SimConfig | None = None, progress: Callable[[float, str], None] | None = None
) -> SimResult:
    """Generate a log and its ground truth in ``out_dir`` (created; must not already hold a log)."""
    cfg = config or SimConfig()
    out = Path(out_dir)
    sim_rig = preset_rig(cfg.rig)
    if not cfg.noise:
        sim_rig = without_noise(sim_rig)
    rig = sim_rig.rig
    for step in cfg.extrinsic_steps:
        rig.sensor(step.sensor)  # raises TopicNotFound-style error with the available names
    streams = _Streams(cfg, sim_rig)
    sim_rig = _true_rig(sim_rig, streams, cfg)
    rig = sim_rig.rig

    scene_rng = _rng(cfg.seed, "scene")
    ego = EgoTrajectory.design(cfg.duration_s, cfg.speed_mps, scene_rng, motion=cfg.motion)
    scene = build_scene(
        ego, cfg.duration_s, scene_rng, board_pattern=cfg.board, n_cars=cfg.n_cars, n_pedestrians=cfg.n_pedestrians
    )
    world = World(scene, ego, cfg.start_ns)

    from sensorfuse.io import sim_truth as truth  # writes ground_truth/ (io-level files)

    gt = truth.TruthWriter(out / "ground_truth", cfg, sim_rig, scene, ego, world, streams)

    def T_base(name: str, true_ns: int) -> np.ndarray:
        T = sim_rig.T_base(name)
        for step in cfg.extrinsic_steps:
            if step.sensor == name and true_ns >= cfg.start_ns + round(step.at_s * 1e9):
                T = T @ step.T_delta
        return T

    # generation order: every produced message by true time (dropped ones are not generated at all)
    jobs = []
    for name, plan in streams.plans.items():
        for seq in np.unique(plan.seq[plan.written()]):
            jobs.append((int(streams.true[name][seq]), name, int(seq)))
    jobs.sort()
    rows_of: dict[str, dict[int, list[int]]] = {}
    for name, plan in streams.plans.items():
        d: dict[int, list[int]] = {}
        for r in np.flatnonzero(plan.written()):
            d.setdefault(int(plan.seq[r]), []).append(int(r))
        rows_of[name] = d

    rngs = {name: _rng(cfg.seed, f"data/{name}") for name in streams.plans}
    imu_state = _ImuNoise(rig.sensor("imu").noise, sim_rig.imu_rate_hz, rngs["imu"])
    imu_true = world.imu_true(sim_rig.T_base("imu"), streams.true["imu"])
    # bias random walk over the whole stream (drawn up front so it does not depend on drops)
    imu_meas = imu_state.apply(*imu_true)
    writer = _open_writer(out, cfg, sim_rig)
    heap: list[tuple[int, int, str, int, object]] = []
    counter = 0
    with writer:
        T_static = [TransformStamped(cfg.start_ns, BASE_FRAME, s.frame_id, sim_rig.T_base(s.name)) for s in rig.sensors]
        writer.write("/tf_static", cfg.start_ns, T_static)
        for i, (true_ns, name, seq) in enumerate(jobs):
            plan = streams.plans[name]
            header_ns = int(plan.header_ns[rows_of[name][seq][0]])
            sensor = rig.sensor(name) if name != "odom" else None
            topic = sensor.topic if sensor else "/odom"
            msgs: list[tuple[str, object]] = []
            if name == "lidar":
                sweep = world.lidar_sweep(sim_rig.lidar, T_base(name, true_ns), true_ns, sensor.noise, rngs[name])
                msgs.append(
                    (
                        topic,
                        PointCloud(
                            sweep.xyz, header_ns, sensor.frame_id, sweep.intensity, sweep.t_offset_ns, sweep.ring
                        ),
                    )
                )
            elif sensor is not None and sensor.kind == "camera":
                T_wc = ego.pose(world.t_s(true_ns)) @ T_base(name, true_ns)
                img, depth, inst = world.render(name, sensor.camera, T_wc, true_ns, sensor.noise, rngs[name])
                msgs.append((topic, _encode(img, cfg.image_format, cfg.jpeg_quality, header_ns, sensor.frame_id)))
                msgs.append((f"/{name}/camera_info", CameraInfo(sensor.camera, header_ns, sensor.frame_id)))
                gt.camera(name, seq, true_ns, header_ns, depth, inst)
            elif name == "imu":
                g, a = imu_meas[0][seq], imu_meas[1][seq]
                msgs.append((topic, ImuSamples(np.array([header_ns]), g[None], a[None], sensor.frame_id)))
            elif name == "radar":
                det = world.radar_scan(T_base(name, true_ns), sim_rig.radar_fov_deg, true_ns, sensor.noise, rngs[name])
                msgs.append((topic, RadarScan(det.xyz, det.doppler, det.rcs, header_ns, sensor.frame_id)))
                gt.radar(seq, det)
            elif name == "gnss":
                enu = world.antenna_enu(T_base(name, true_ns), np.array([true_ns]))[0]
                n = sensor.noise
                sd = np.array([n.get("horizontal_std_m", 0.0)] * 2 + [n.get("vertical_std_m", 0.0)])
                if np.any(sd > 0):
                    enu = enu + rngs[name].normal(0.0, 1.0, 3) * sd
                lat, lon, alt = enu_to_lla(enu[None], scene.origin_lla)[0]
                cov = np.diag(np.maximum(sd, 1e-3) ** 2)
                msgs.append(
                    (topic, GnssFix(header_ns, lat, lon, alt, sensor.frame_id, "gps", covariance_m2=cov, status=2))
                )
            elif cfg.format == "kitti":  # odom -> OXTS packets: the true INS solution of the IMU frame
                msgs.append(("/oxts", _oxts(world, sim_rig, scene.origin_lla, true_ns, header_ns)))
            else:  # odom: the true pose of base_link in the world
                t = world.t_s(true_ns)
                T = ego.pose(t)
                v_body = T[:3, :3].T @ ego.velocity_world(t)
                msgs.append((topic, Odometry(header_ns, "world", BASE_FRAME, T, v_body, ego.omega_body(t))))
            for r in rows_of[name][seq]:
                for topic_m, m in msgs:
                    if plan.event[r] == "duplicate" and isinstance(m, CameraInfo):
                        continue
                    heapq.heappush(heap, (int(plan.log_ns[r]), counter, topic_m, r, m))
                    counter += 1
            while heap and heap[0][0] <= true_ns:
                log_ns, _, topic_m, _, m = heapq.heappop(heap)
                writer.write(topic_m, log_ns, m)
            if progress and i % 20 == 0:
                progress(i / len(jobs), name)
        while heap:
            log_ns, _, topic_m, _, m = heapq.heappop(heap)
            writer.write(topic_m, log_ns, m)
    gt.finish()
    if progress:
        progress(1.0, "done")
    return SimResult(out, writer.path, out / "ground_truth", dict(writer.counts), streams.plans, sim_rig)


def _oxts(world: World, sim_rig: SimRig, origin_lla, true_ns: int, header_ns: int):
    """KITTI OXTS packet of the IMU frame at ``true_ns`` (accelerations are specific force, rates in the IMU frame;
    KITTI's vehicle- and surface-frame variants are both filled with these)."""
    from scipy.spatial.transform import Rotation

    from sensorfuse.io.kitti.raw_writer import OxtsPacket

    T_bi = sim_rig.T_base("imu")
    t = world.t_s(true_ns)
    T_wi = world.ego.pose(t) @ T_bi
    lat, lon, alt = enu_to_lla(T_wi[:3, 3][None], origin_lla)[0]
    yaw, pitch, roll = Rotation.from_matrix(T_wi[:3, :3]).as_euler("ZYX")
    v_w = world.ego.point_velocity_world(np.array([t]), T_bi[:3, 3][None])[0]
    v_i = T_wi[:3, :3].T @ v_w
    g, a = world.imu_true(T_bi, np.array([true_ns]))
    vals = (
        lat,
        lon,
        alt,
        roll,
        pitch,
        yaw,
        v_w[1],
        v_w[0],
        *v_i,
        *a[0],
        *a[0],
        *g[0],
        *g[0],
        0.01,
        0.01,
        4,
        12,
        5,
        5,
        6,
    )
    return OxtsPacket(header_ns, tuple(float(x) for x in vals))


def _open_writer(out: Path, cfg: SimConfig, sim_rig: SimRig):
    if cfg.format == "kitti":
        from sensorfuse.io.kitti.raw_writer import KittiRawWriter

        return KittiRawWriter(out / "kitti", sim_rig.rig, lidar="lidar", start_ns=cfg.start_ns)
    return LogWriter(log_path(out, cfg.format), cfg.format)


class _ImuNoise:
    """Bias (initial + random walk) and white noise, continuous-time densities discretised at the IMU rate."""

    def __init__(self, noise: Mapping[str, float], rate_hz: float, rng: np.random.Generator) -> None:
        self.n, self.rate, self.rng = dict(noise), rate_hz, rng
        self.bias0: dict[str, np.ndarray] = {}  # the initial biases the last apply() drew ("gyro", "accel")

    def apply(self, gyro: np.ndarray, accel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = []
        dt = 1.0 / self.rate
        for v, p in ((gyro, "gyro"), (accel, "accel")):
            N = v.shape[0]
            b0 = self.rng.normal(0.0, self.n.get(f"{p}_bias_std", 0.0), 3) if self.n.get(f"{p}_bias_std") else 0.0
            self.bias0[p] = np.broadcast_to(b0, 3).copy()
            rw = self.n.get(f"{p}_random_walk", 0.0)
            walk = np.cumsum(self.rng.normal(0.0, rw * np.sqrt(dt), (N, 3)), axis=0) if rw else 0.0
            wn = self.n.get(f"{p}_noise_density", 0.0)
            white = self.rng.normal(0.0, wn * np.sqrt(self.rate), (N, 3)) if wn else 0.0
            out.append(v + b0 + walk + white)
        return out[0], out[1]
