"""Sensor models of the simulator: what each sensor measures from the true world at its true time.

- LiDAR: Open3D ``RaycastingScene`` ray casting, every column from the LiDAR pose at its own time (motion skew),
  moving objects at their pose at that time; intensity = reflectivity x |cos(incidence)|.
- Cameras: the ray-exact numba rasteriser (:mod:`sensorfuse.geometry.raster`), global shutter at mid-exposure.
- Radar: ray casting on an azimuth/elevation grid; Doppler from the true relative velocity of the hit point.
- IMU: true angular rate and specific force at the IMU's own position (lever arm), plus bias random walk and noise.
- GNSS: the antenna position converted from the local ENU world to WGS84.

Noise is added only where a sensor's ``noise`` parameters are non-zero. Functions here return measurements in
true time; clocks, latency and message faults are applied by :mod:`sensorfuse.sim.timing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorfuse.geometry.raster import CameraRays, camera_rays, rasterize, shade
from sensorfuse.geometry.transforms import invert_transform
from sensorfuse.sim.scene import Scene
from sensorfuse.sim.trajectory import EgoTrajectory, point_velocity_fd

__all__ = ["GRAVITY", "LidarSweep", "RadarDetections", "World", "enu_to_lla"]

GRAVITY = 9.80665  # m/s^2, world -z
_SUN = np.array([0.35, 0.25, 0.9]) / np.linalg.norm([0.35, 0.25, 0.9])
_SKY_BGR = np.array([235.0, 206.0, 180.0])
_MISS = np.iinfo(np.uint32).max


@dataclass(frozen=True, eq=False)
class LidarSweep:
    """One sweep in the LiDAR frame: each point at its own column time ``t_offset_ns`` after ``start_ns`` (true)."""

    xyz: np.ndarray  # (N, 3) float32
    intensity: np.ndarray  # (N,) float32
    ring: np.ndarray  # (N,) uint16
    t_offset_ns: np.ndarray  # (N,) int64
    instance: np.ndarray  # (N,) int32 ground truth: which object each return hit
    start_ns: int


@dataclass(frozen=True, eq=False)
class RadarDetections:
    xyz: np.ndarray  # (N, 3) float32, radar frame
    doppler: np.ndarray  # (N,) float32, m/s, positive = moving away
    rcs: np.ndarray  # (N,) float32, dBsm
    instance: np.ndarray  # (N,) int32 (0 = clutter)
    true_doppler: np.ndarray  # (N,) float64 noise-free radial velocity (NaN for clutter)
    hit_local: np.ndarray  # (N, 3) true hit point in the hit object's frame (world for static; NaN for clutter)

    def __len__(self) -> int:
        return int(self.xyz.shape[0])


def _unit_normals(tris: np.ndarray) -> np.ndarray:
    """Unit normals (T, 3) of triangles (T, 3, 3) by the right-hand rule of their vertex order."""
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


class World:
    """The scene prepared for sensing: Open3D scenes for ray casting, triangle arrays for the rasteriser."""

    def __init__(self, scene: Scene, ego: EgoTrajectory, start_ns: int) -> None:
        import open3d as o3d

        self.scene, self.ego, self.start_ns = scene, ego, int(start_ns)
        V, F, uv, mat, inst = scene.static_mesh()
        self.static_tris = V[F]  # (T, 3, 3) world
        self.static_normal = _unit_normals(self.static_tris)
        self.static_plane = np.einsum("ij,ij->i", self.static_normal, self.static_tris[:, 0])
        self.static_uv, self.static_mat, self.static_inst = uv, mat, inst
        self._o3d = o3d
        self.static_rc = o3d.t.geometry.RaycastingScene()
        self.static_rc.add_triangles(V.astype(np.float32), F.astype(np.uint32))
        self.dynamic = scene.dynamic_objects
        self.dynamic_rc = []
        for obj in self.dynamic:
            rc = o3d.t.geometry.RaycastingScene()
            rc.add_triangles(obj.vertices.astype(np.float32), obj.triangles.astype(np.uint32))
            self.dynamic_rc.append(rc)
        m = scene.materials
        self.reflectivity = np.array([x.reflectivity for x in m])
        self.rcs = np.array([x.rcs_dbsm for x in m])
        self.tint = np.array([x.tint for x in m])
        self.texture_of = np.array([x.texture for x in m])
        self.texel_m = np.array([x.texel_m for x in m])
        self.wrap = np.array([x.wrap for x in m])
        self.supersample = np.array([x.supersample for x in m])
        self._rays: dict[tuple, CameraRays] = {}

    def t_s(self, stamp_ns: object) -> np.ndarray:
        return (np.asarray(stamp_ns, dtype=np.int64) - self.start_ns).astype(np.float64) * 1e-9

    # -- ray casting (LiDAR, radar) -----------------------------------------------------------------------------------
    def cast(
        self, origins: np.ndarray, dirs: np.ndarray, t_s: np.ndarray, t_index: np.ndarray, max_range: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cast world rays, ray ``i`` at time ``t_s[t_index[i]]`` (for moving objects). Returns ``(dist,
        normal_world (N,3), material, instance, hit_local (N,3) hit point in the hit object's frame (world for
        static))``; ``dist`` is inf where nothing is hit within ``max_range``."""
        o3d = self._o3d
        n = origins.shape[0]
        rays = np.concatenate([origins, dirs], axis=1).astype(np.float32)
        ans = self.static_rc.cast_rays(o3d.core.Tensor(rays))
        dist = ans["t_hit"].numpy().astype(np.float64)
        prim = ans["primitive_ids"].numpy()
        hit = prim != _MISS
        dist[~hit] = np.inf
        material = np.full(n, -1, np.int64)
        instance = np.zeros(n, np.int32)
        material[hit] = self.static_mat[prim[hit]]
        instance[hit] = self.static_inst[prim[hit]]
        normal = np.zeros((n, 3))
        # refine the static hit distance in float64 against the hit triangle's plane (float32 casting loses ~1e-5 m)
        if np.any(hit):
            ph = prim[hit]
            nrm = self.static_normal[ph]
            dist[hit] = (self.static_plane[ph] - np.einsum("ij,ij->i", nrm, origins[hit])) / np.einsum(
                "ij,ij->i", nrm, dirs[hit]
            )
            normal[hit] = nrm
        hit_local = origins + dist[:, None] * dirs
        for obj, rc in zip(self.dynamic, self.dynamic_rc, strict=True):
            T_u = obj.pose(t_s)  # (U, 4, 4) world <- object at each distinct ray time
            # cull: only rays passing within the object's bounding sphere
            radius = 0.5 * float(np.linalg.norm(obj.size)) + 1e-3
            oc = T_u[t_index, :3, 3] - origins
            along = np.einsum("ij,ij->i", oc, dirs)
            miss = (np.einsum("ij,ij->i", oc, oc) - along**2 > radius**2) | (along < -radius)
            sel = np.flatnonzero(~miss)
            if sel.size == 0:
                continue
            T = T_u[t_index[sel]]
            R, p = T[:, :3, :3], T[:, :3, 3]
            o_loc = np.einsum("nji,nj->ni", R, origins[sel] - p)
            d_loc = np.einsum("nji,nj->ni", R, dirs[sel])
            a = rc.cast_rays(o3d.core.Tensor(np.concatenate([o_loc, d_loc], axis=1).astype(np.float32)))
            pid = a["primitive_ids"].numpy()
            h = pid != _MISS
            if not np.any(h):
                continue
            tri = obj.vertices[obj.triangles[pid[h]]]
            nrm = _unit_normals(tri)
            d_obj = np.einsum("ij,ij->i", nrm, tri[:, 0] - o_loc[h]) / np.einsum("ij,ij->i", nrm, d_loc[h])
            j = np.flatnonzero(h)  # index into sel
            closer = d_obj < dist[sel[j]]
            j, d_obj, nrm, prims = j[closer], d_obj[closer], nrm[closer], pid[h][closer]
            idx = sel[j]
            dist[idx] = d_obj
            material[idx] = obj.material[prims]
            instance[idx] = obj.instance_id
            normal[idx] = np.einsum("nij,nj->ni", R[j], nrm)
            hit_local[idx] = o_loc[j] + d_obj[:, None] * d_loc[j]
        far = dist > max_range
        dist[far] = np.inf
        material[far] = -1
        instance[far] = 0
        return dist, normal, material, instance, hit_local

    def lidar_sweep(self, spec, T_base_lidar: np.ndarray, start_ns: int, noise, rng) -> LidarSweep:
        """One revolution starting at true time ``start_ns``: column ``c`` fires at ``start + round(c * period /
        columns)`` ns from the LiDAR pose at that instant."""
        period_ns = round(1e9 / spec.rate_hz)
        col_off = np.rint(np.arange(spec.columns) * (period_ns / spec.columns)).astype(np.int64)
        t_col = self.t_s(start_ns + col_off)
        T_wl = self.ego.pose(t_col) @ T_base_lidar  # (C, 4, 4)
        el = np.deg2rad(spec.elevations_deg)
        az = spec.azimuths_rad
        # local directions, column-major (points ordered by time as drivers emit them)
        d_loc = np.stack(
            [
                np.cos(el)[None, :] * np.cos(az)[:, None],
                np.cos(el)[None, :] * np.sin(az)[:, None],
                np.broadcast_to(np.sin(el)[None, :], (az.size, el.size)),
            ],
            axis=-1,
        )  # (C, B, 3)
        C, B = d_loc.shape[:2]
        dirs = np.einsum("cij,cbj->cbi", T_wl[:, :3, :3], d_loc).reshape(-1, 3)
        origins = np.repeat(T_wl[:, :3, 3], B, axis=0)
        t_idx = np.repeat(np.arange(C), B)
        dist, normal, material, instance, _ = self.cast(origins, dirs, t_col, t_idx, spec.max_range_m)
        keep = np.isfinite(dist) & (dist >= spec.min_range_m)
        if noise.get("dropout_prob", 0.0) > 0:
            keep &= rng.random(keep.size) >= noise["dropout_prob"]
        idx = np.flatnonzero(keep)
        r = dist[idx]
        if noise.get("range_std_m", 0.0) > 0:
            r = r + rng.normal(0.0, noise["range_std_m"], r.size)
        cos_inc = np.abs(np.einsum("ij,ij->i", normal[idx], dirs[idx]))
        intensity = self.reflectivity[material[idx]] * cos_inc
        if noise.get("intensity_std", 0.0) > 0:
            intensity = intensity + rng.normal(0.0, noise["intensity_std"], intensity.size)
        xyz = d_loc.reshape(-1, 3)[idx] * r[:, None]
        return LidarSweep(
            xyz=xyz.astype(np.float32),
            intensity=np.clip(intensity, 0.0, 1.0).astype(np.float32),
            ring=np.tile(np.arange(B, dtype=np.uint16), C)[idx],
            t_offset_ns=np.repeat(col_off, B)[idx],
            instance=instance[idx],
            start_ns=int(start_ns),
        )

    # -- cameras ------------------------------------------------------------------------------------------------------
    def camera_rays(self, name: str, camera) -> CameraRays:
        """The camera's pixel rays, cached by the camera's name *and* its model: two rigs may name different
        cameras alike (the small and the full rig's ``cam_front`` differ in size and lens)."""
        key = (name, camera.model, camera.width, camera.height, camera.K.tobytes(), np.asarray(camera.dist).tobytes())
        if key not in self._rays:
            self._rays[key] = camera_rays(camera)
        return self._rays[key]

    def triangles_at(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All triangles in world coordinates at time ``t_s``: (T,3,3), uv (T,3,2), material (T,), instance (T,)."""
        tris, uvs, mats, inst = [self.static_tris], [self.static_uv], [self.static_mat], [self.static_inst]
        for obj in self.dynamic:
            T = obj.pose(np.array([t_s]))[0]
            tris.append(obj.vertices[obj.triangles] @ T[:3, :3].T + T[:3, 3])
            uvs.append(obj.uv_m)
            mats.append(obj.material)
            inst.append(np.full(len(obj.triangles), obj.instance_id, np.int32))
        return np.concatenate(tris), np.concatenate(uvs), np.concatenate(mats), np.concatenate(inst)

    def render(
        self,
        name: str,
        camera,
        T_world_cam: np.ndarray,
        stamp_ns: int,
        noise,
        rng,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(bgr8 image, depth (H,W) float32 z in m (inf: sky), instance (H,W) uint16 (0: sky))`` at true time."""
        rays = self.camera_rays(name, camera)
        tris_w, uv, mat, inst = self.triangles_at(float(self.t_s(stamp_ns)))
        T_cw = invert_transform(T_world_cam)
        tris_c = tris_w @ T_cw[:3, :3].T + T_cw[:3, 3]
        # cull what cannot be seen: entirely behind the camera or farther than 250 m
        zmax = tris_c[:, :, 2].max(axis=1)
        dmin = np.linalg.norm(tris_c, axis=2).min(axis=1)
        vis = (zmax > 0.01) & (dmin < 250.0)
        tris_c, uv, mat, inst, tris_w = tris_c[vis], uv[vis], mat[vis], inst[vis], tris_w[vis]
        depth, index = rasterize(tris_c, rays)
        nw = _unit_normals(tris_w)
        tri_bgr = 255.0 * self.tint[mat] * (0.6 + 0.4 * np.abs(nw @ _SUN))[:, None]  # lambert-ish, per triangle
        img = shade(
            tris_c,
            uv,
            mat,
            index,
            rays,
            self.scene.textures,
            self.texture_of,
            self.texel_m,
            self.wrap,
            self.supersample,
            tri_bgr,
            _SKY_BGR,
            noise.get("pixel_std", 0.0),
            int(rng.integers(0, 2**62)),
        )
        hit = index >= 0
        instance = np.zeros(index.shape, np.uint16)
        instance[hit] = inst[index[hit]]
        return img, depth, instance

    # -- radar ---------------------------------------------------------------------------------------------------------
    def radar_scan(self, T_base_radar: np.ndarray, fov_deg: float, stamp_ns: int, noise, rng) -> RadarDetections:
        t = float(self.t_s(stamp_ns))
        az = np.deg2rad(np.arange(-fov_deg / 2, fov_deg / 2 + 1e-9, 0.5))
        el = np.deg2rad(np.array([-2.0, 0.0, 2.0]))
        A, E = np.meshgrid(az, el)
        d_loc = np.stack([np.cos(E) * np.cos(A), np.cos(E) * np.sin(A), np.sin(E)], axis=-1).reshape(-1, 3)
        T_wr = self.ego.pose(np.array(t)) @ T_base_radar
        dirs = d_loc @ T_wr[:3, :3].T
        origins = np.broadcast_to(T_wr[:3, 3], dirs.shape).copy()
        n = dirs.shape[0]
        dist, _normal, material, instance, hit_local = self.cast(
            origins, dirs, np.array([t]), np.zeros(n, np.int64), 150.0
        )
        det = np.isfinite(dist) & (self.rcs[np.maximum(material, 0)] >= -10.0)
        if noise.get("miss_prob", 0.0) > 0:
            det &= rng.random(n) >= noise["miss_prob"]
        idx = np.flatnonzero(det)
        # true radial velocity: (v_target - v_radar) . line of sight, in world
        p_radar = T_base_radar[:3, 3]
        v_radar = self.ego.point_velocity_world(np.array([t]), p_radar[None])[0]
        v_target = np.zeros((idx.size, 3))
        for obj in self.dynamic:
            sel = instance[idx] == obj.instance_id
            if np.any(sel):
                v_target[sel] = point_velocity_fd(obj.pose, np.full(sel.sum(), t), hit_local[idx[sel]])
        los = dirs[idx]
        doppler = np.einsum("ij,ij->i", v_target - v_radar, los)
        r = dist[idx].copy()
        a = np.arctan2(d_loc[idx, 1], d_loc[idx, 0])
        e = np.arcsin(np.clip(d_loc[idx, 2], -1, 1))
        rcs = self.rcs[material[idx]].astype(np.float64)
        meas_dop = doppler.copy()
        if noise.get("range_std_m", 0.0) > 0:
            r += rng.normal(0, noise["range_std_m"], r.size)
            a += np.deg2rad(rng.normal(0, noise["azimuth_std_deg"], a.size))
            meas_dop += rng.normal(0, noise["doppler_std_mps"], r.size)
            rcs += rng.normal(0, noise["rcs_std_db"], r.size)
        xyz = np.stack([r * np.cos(e) * np.cos(a), r * np.cos(e) * np.sin(a), r * np.sin(e)], axis=1)
        inst = instance[idx].astype(np.int32)
        true_dop = doppler
        hits = hit_local[idx]
        n_clutter = rng.poisson(noise.get("clutter_per_scan", 0.0)) if noise.get("clutter_per_scan", 0.0) > 0 else 0
        if n_clutter:
            cr = rng.uniform(2.0, 80.0, n_clutter)
            ca = np.deg2rad(rng.uniform(-fov_deg / 2, fov_deg / 2, n_clutter))
            xyz = np.vstack([xyz, np.stack([cr * np.cos(ca), cr * np.sin(ca), np.zeros(n_clutter)], axis=1)])
            meas_dop = np.concatenate([meas_dop, rng.uniform(-15, 15, n_clutter)])
            rcs = np.concatenate([rcs, rng.uniform(-15, 0, n_clutter)])
            inst = np.concatenate([inst, np.zeros(n_clutter, np.int32)])
            true_dop = np.concatenate([true_dop, np.full(n_clutter, np.nan)])
            hits = np.vstack([hits, np.full((n_clutter, 3), np.nan)])
        return RadarDetections(
            xyz.astype(np.float32), meas_dop.astype(np.float32), rcs.astype(np.float32), inst, true_dop, hits
        )

    # -- IMU -----------------------------------------------------------------------------------------------------------
    def imu_true(self, T_base_imu: np.ndarray, stamps_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free ``(gyro, accel)`` (N, 3) in the IMU frame: angular rate and specific force at the IMU."""
        t = self.t_s(stamps_ns)
        R_wb = self.ego.rotation(t)
        w = self.ego.omega_body(t)
        wd = self.ego.omega_dot_body(t)
        r = T_base_imu[:3, 3]
        a_lever_b = np.cross(wd, r) + np.cross(w, np.cross(w, r))
        a_w = self.ego.accel_world(t) + np.einsum("nij,nj->ni", R_wb, a_lever_b)
        f_w = a_w - np.array([0.0, 0.0, -GRAVITY])
        R_bi = T_base_imu[:3, :3]
        f_b = np.einsum("nji,nj->ni", R_wb, f_w)
        return w @ R_bi, f_b @ R_bi  # rows: R_bi^T v

    # -- GNSS ----------------------------------------------------------------------------------------------------------
    def antenna_enu(self, T_base_gnss: np.ndarray, stamps_ns: np.ndarray) -> np.ndarray:
        T = self.ego.pose(self.t_s(stamps_ns))
        return np.einsum("nij,j->ni", T[:, :3, :3], T_base_gnss[:3, 3]) + T[:, :3, 3]


_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563
_WGS84_E2 = _WGS84_F * (2 - _WGS84_F)


def _lla_to_ecef(lat: np.ndarray, lon: np.ndarray, alt: np.ndarray) -> np.ndarray:
    n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(lat) ** 2)
    return np.stack(
        [
            (n + alt) * np.cos(lat) * np.cos(lon),
            (n + alt) * np.cos(lat) * np.sin(lon),
            (n * (1 - _WGS84_E2) + alt) * np.sin(lat),
        ],
        axis=-1,
    )


def enu_to_lla(enu: np.ndarray, origin_lla: tuple[float, float, float]) -> np.ndarray:
    """Local ENU (m) around ``origin_lla`` (deg, deg, m) -> (N, 3) latitude, longitude (deg), ellipsoidal height (m).

    Exact WGS84 (ENU -> ECEF -> geodetic with Bowring's iteration to < 1e-9 m), not a flat-earth approximation.
    """
    lat0, lon0 = np.deg2rad(origin_lla[0]), np.deg2rad(origin_lla[1])
    o = _lla_to_ecef(np.array(lat0), np.array(lon0), np.array(origin_lla[2]))
    sl, cl, sp, cp = np.sin(lon0), np.cos(lon0), np.sin(lat0), np.cos(lat0)
    R = np.array([[-sl, -sp * cl, cp * cl], [cl, -sp * sl, cp * sl], [0, cp, sp]])  # ECEF <- ENU
    xyz = np.asarray(enu, dtype=np.float64) @ R.T + o
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1 - _WGS84_E2))
    for _ in range(6):
        n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(lat) ** 2)
        h = p / np.cos(lat) - n
        lat = np.arctan2(z, p * (1 - _WGS84_E2 * n / (n + h)))
    n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * np.sin(lat) ** 2)
    h = p / np.cos(lat) - n
    return np.stack([np.rad2deg(lat), np.rad2deg(lon), h], axis=-1)
