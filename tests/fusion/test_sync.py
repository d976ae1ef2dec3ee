"""sensorfuse.fusion: clock estimation, interpolation with a status, deskew — against the simulator's truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from sensorfuse.errors import ExtrapolationError, SyncError, ValidationError
from sensorfuse.fusion import associate, estimate_clock, gps_clock, poses_at, signal_at, tracks_at
from sensorfuse.fusion.deskew import deskew, deskew_points
from sensorfuse.fusion.interpolate import STATUS, gnss_at, imu_at
from sensorfuse.rig import ClockModel
from sensorfuse.sim.timing import StreamFaults, plan_stream
from sensorfuse.types import ImuSamples, PointCloud, PoseTrajectory
from sensorfuse.units import utc_ns_from_gps_ns

MS = 1_000_000
START = 1_700_000_000_000_000_000


# -- clocks ---------------------------------------------------------------------------------------------------------
def _plan(rate_hz, faults, duration_s=60.0, fixed_ns=0, seed=0):
    """The simulator's own timing model (sensorfuse.sim.timing) without rendering: true times at ``rate_hz``."""
    rng = np.random.default_rng(seed)
    true = START + np.rint(np.arange(0, duration_s, 1.0 / rate_hz) * 1e9).astype(np.int64)
    plan = plan_stream(true, true + fixed_ns, faults, START, rng)
    w = plan.written()
    return plan.header_ns[w], plan.log_ns[w], plan.true_ns[w]


CASES = {  # rate, faults (1-5 ms transport latency with jitter, offsets, drifts, drops, duplicates, reorders), fixed
    "camera": (30.0, StreamFaults(offset_ns=3 * MS, drift_ppm=20.0, latency_ns=2 * MS, latency_jitter_ns=3 * MS,
                                  drop_prob=0.02, duplicate_prob=0.01, reorder_prob=0.01), 22 * MS),
    "lidar": (10.0, StreamFaults(drift_ppm=-15.0, latency_ns=1 * MS, latency_jitter_ns=2 * MS, drop_prob=0.02),
              100 * MS),
    "imu": (200.0, StreamFaults(offset_ns=-1_500_000, drift_ppm=40.0, latency_ns=1 * MS, latency_jitter_ns=1 * MS,
                                reorder_prob=0.002), 0),
    "radar": (20.0, StreamFaults(offset_ns=-2 * MS, latency_ns=5 * MS, latency_jitter_ns=5 * MS), 30 * MS),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_offset_and_drift_from_record_time(name):
    """Offsets within 1 ms of the truth and drift within 1 ppm over 60 s, given the stream's known fixed delay (e.g.
    the LiDAR is stamped at sweep start and recorded a sweep + 1 ms later); the random transport delay (exponential,
    mean 1-5 ms) is left to the fit."""
    rate, faults, fixed = CASES[name]
    h, g, _ = _plan(rate, faults, fixed_ns=fixed)
    est = estimate_clock(h, g, latency_ns=fixed + faults.latency_ns, what=name)
    # the truth's clock: offset at the start; the estimate's epoch is its first stamp
    truth = faults.clock(START)
    at = int(est.epoch_ns)
    true_offset = int(truth.to_reference(np.array([at]))[0]) - at
    assert abs(est.offset_ns - true_offset) < 1 * MS
    assert abs(est.drift_ppm - faults.drift_ppm) < 1.0
    assert est.method == "envelope"
    # the estimate maps header stamps onto the reference clock with the transport latency left over
    resid = g - est.clock.to_reference(h)
    assert np.median(resid) > 0


def test_associations_with_estimated_clocks_agree_where_the_nearest_wins_clearly():
    """LiDAR-camera association on estimated clocks equals the truly nearest camera frame wherever that frame is
    nearer than the runner-up by more than 2 ms."""
    hl, gl, tl = _plan(10.0, CASES["lidar"][1], fixed_ns=100 * MS, seed=1)
    hc, gc, tc = _plan(30.0, CASES["camera"][1], fixed_ns=22 * MS, seed=2)
    el = estimate_clock(hl, gl, latency_ns=101 * MS)
    ec = estimate_clock(hc, gc, latency_ns=24 * MS)
    ref = el.clock.to_reference(hl)
    a = associate(ref, hc, clock=ec.clock)
    d = np.abs(tc[None, :] - tl[:, None]).astype(np.float64)
    d[:, np.r_[False, tc[1:] == tc[:-1]]] = np.inf  # a duplicate is the same frame
    order = np.argsort(d, axis=1)
    best, second = d[np.arange(len(tl)), order[:, 0]], d[np.arange(len(tl)), order[:, 1]]
    clear = (second - best > 2 * MS) & (best <= a.tolerance_ns - 2 * MS)
    ok = ~a.missing
    assert clear.sum() > 400
    assert np.all(ok[clear])
    assert np.array_equal(tc[a.index[clear]], tc[order[clear, 0]])


def test_clock_estimate_edge_cases():
    h = START + np.arange(20, dtype=np.int64) * 100 * MS  # 1.9 s: too short for a drift
    est = estimate_clock(h, h + 5 * MS + (np.arange(20) % 3) * MS)
    assert est.method == "envelope-offset"
    assert est.drift_ppm == 0.0
    assert est.offset_ns == 5 * MS
    assert "latency" in est.notes[0]
    q = estimate_clock(h, h + 5 * MS, method="quantile")
    assert q.offset_ns == 5 * MS
    with pytest.raises(SyncError, match="at least two"):
        estimate_clock(h[:1], h[:1])
    with pytest.raises(ValidationError, match="one of each"):
        estimate_clock(h, h[:-1])
    with pytest.raises(ValidationError, match="method"):
        estimate_clock(h, h, method="ols")


def test_unrelated_clock_since_boot_is_recovered_from_record_time():
    """An IMU stamping seconds since power-on (as in the Ouster MCAP): a constant offset of ~1.7e18 ns is found."""
    faults = StreamFaults(offset_ns=START - 5 * 10**9, latency_ns=1 * MS, latency_jitter_ns=MS)
    h, g, true = _plan(100.0, faults, duration_s=10.0)
    assert h[0] < 10**10  # since boot
    est = estimate_clock(h, g, latency_ns=MS)
    assert np.all(np.abs(est.clock.to_reference(h) - true) < MS)


def test_gps_clock_converts_to_utc():
    gps = np.array([1_300_000_000 * 10**9, 1_300_000_001 * 10**9], np.int64)
    clk = gps_clock(gps)
    assert clk.to_reference(gps)[0] == utc_ns_from_gps_ns(int(gps[0]))
    assert gps_clock(np.zeros(0, np.int64)).is_identity


# -- interpolation --------------------------------------------------------------------------------------------------
def test_signal_status_codes():
    s = np.array([0, 10, 20, 60, 70], np.int64) * MS  # 20 -> 60: a gap of 4 periods
    v = np.arange(5, dtype=float)[:, None] * np.array([[1.0, -1.0]])
    q = np.array([-5, 5, 10, 30, 71, 200], np.int64) * MS
    r = signal_at(s, v, q, max_extrapolation_ns=2 * MS)
    assert [STATUS[k] for k in r.status] == ["out_of_range", "ok", "ok", "gap", "extrapolated", "out_of_range"]
    np.testing.assert_allclose(r.value[1], [0.5, -0.5])
    assert r.value[2, 0] == 1.0
    assert r.value[4, 0] == 4.0
    assert np.isnan(r.value[[0, 3, 5]]).all()
    assert r.counts() == {"ok": 2, "extrapolated": 1, "out_of_range": 2, "gap": 1}
    big = signal_at(s, v, q, max_gap_ns=50 * MS)
    assert STATUS[big.status[3]] == "ok"


def test_imu_gnss_and_tracks():
    t = START + np.arange(0, 100, 5, dtype=np.int64) * MS
    w = np.column_stack([np.sin(np.arange(t.size)), np.zeros(t.size), np.ones(t.size)])
    imu = ImuSamples(t, w, w * 2, "imu")
    r = imu_at(imu, t[3] + 2 * MS)
    np.testing.assert_allclose(r.value[0, :3], w[3] + 0.4 * (w[4] - w[3]))
    np.testing.assert_allclose(r.value[0, 3:], 2 * r.value[0, :3])
    g = gnss_at(t[:2], [[49.0, 179.9999, 100.0], [49.0, -179.9999, 102.0]], t[0] + 2_500_000)
    np.testing.assert_allclose(g.value[0], [49.0, 180.0 - 360.0 * (g.value[0, 1] < 0), 101.0], atol=1e-9)
    ids = np.array([7, 7, 9, 9, 9])
    stamps = START + np.array([0, 100, 0, 50, 100], np.int64) * MS
    states = np.array([[0.0, 0], [10, 0], [0, 0], [0, 5], [0, 10]])
    uid, tr = tracks_at(ids, stamps, states, START + 75 * MS)
    assert uid.tolist() == [7, 9]
    np.testing.assert_allclose(tr.value, [[7.5, 0], [0, 7.5]])
    _, late = tracks_at(ids, stamps, states, START + 150 * MS)
    assert [STATUS[k] for k in late.status] == ["out_of_range", "out_of_range"]


@pytest.fixture(scope="module")
def world15():
    from sensorfuse.sim.scene import build_scene
    from sensorfuse.sim.sensors import World
    from sensorfuse.sim.trajectory import EgoTrajectory

    rng = np.random.default_rng(3)
    ego = EgoTrajectory.design(8.0, 15.0, rng)
    return World(build_scene(ego, 8.0, rng), ego, START)


def _odom(world, rate_hz=100.0):
    t = START + np.rint(np.arange(0.0, 8.0, 1.0 / rate_hz) * 1e9).astype(np.int64)
    return PoseTrajectory(t, world.ego.pose(world.t_s(t)))


@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_poses_from_100hz_odometry_at_camera_times(world15, method):
    """Poses interpolated from 100 Hz odometry at 30 Hz camera times (with a 5 ms phase): within 1 mm / 0.01 deg."""
    odom = _odom(world15)
    q = START + 5 * MS + np.rint(np.arange(0.1, 7.8, 1 / 30.0) * 1e9).astype(np.int64)
    r = poses_at(odom, q, method=method)
    assert (r.status == 0).all()
    truth = world15.ego.pose(world15.t_s(q))
    assert np.abs(r.value[:, :3, 3] - truth[:, :3, 3]).max() < 1e-3
    dR = Rotation.from_matrix(np.einsum("nji,njk->nik", r.value[:, :3, :3], truth[:, :3, :3]))
    assert np.rad2deg(dR.magnitude()).max() < 0.01
    gap = poses_at(odom, q, method=method, max_gap_ns=5 * MS)
    assert (STATUS[gap.status[0]]) == "gap"
    assert np.isnan(gap.value[0]).all()
    with pytest.raises(ValidationError, match="method"):
        poses_at(odom, q, method="spline")


def test_deskew_at_15_m_s_within_1_cm(world15):
    """A 10 Hz sweep at 15 m/s (1.5 m of ego motion across it): deskewed to the sweep end and to a camera time with
    100 Hz odometry, static points lie within 1 cm of where a snapshot at that time would see them."""
    from sensorfuse.sim.rigs import preset_rig, without_noise

    rig = without_noise(preset_rig("small"))
    T_bl = rig.T_base("lidar")
    start = START + 3 * 10**9
    sweep = world15.lidar_sweep(rig.lidar, T_bl, start, {}, np.random.default_rng(0))
    static = np.isin(sweep.instance, [o.instance_id for o in world15.scene.static_objects])
    t_pt = start + sweep.t_offset_ns
    T_wl = world15.ego.pose(world15.t_s(t_pt)) @ T_bl
    p_world = np.einsum("nij,nj->ni", T_wl[:, :3, :3], sweep.xyz.astype(np.float64)) + T_wl[:, :3, 3]
    cloud = PointCloud(sweep.xyz, start, "lidar", t_offset_ns=sweep.t_offset_ns)
    odom = _odom(world15)
    for target in (None, start + 37 * MS):
        out = deskew(cloud, odom, T_bl, target)
        T_target = world15.ego.pose(world15.t_s(np.array([out.target_ns])))[0] @ T_bl
        expect = (p_world - T_target[:3, 3]) @ T_target[:3, :3]
        err = np.linalg.norm(out.xyz - expect, axis=1)[static]
        raw_err = np.linalg.norm(sweep.xyz - expect, axis=1)[static]
        assert err.max() < 0.01
        assert raw_err.max() > 0.5  # the skew is real: without deskew the same check fails
    assert out.max_shift_m > 0.5
    with pytest.raises(ExtrapolationError, match="cannot be interpolated"):
        deskew(cloud, odom, T_bl, START + 9 * 10**9)
    with pytest.raises(ValidationError, match="per-point time"):
        deskew(PointCloud(sweep.xyz, start, "lidar"), odom, T_bl)
    with pytest.raises(ValidationError, match="expected xyz"):
        deskew_points(np.zeros((3, 3)), np.zeros(2, np.int64), odom, T_bl, start)


def test_clock_model_round_trip_used_by_association():
    clk = ClockModel(offset_ns=3 * MS, drift_ppm=20.0, epoch_ns=START)
    h = START + np.arange(0, 10**10, 10**8, dtype=np.int64)
    assert np.abs(clk.from_reference(clk.to_reference(h)) - h).max() <= 1


def test_deskew_kernel_equals_per_point_slerp():
    """The numba kernel (linear method) against the plain definition: every point through its own pose from
    poses_at, in any point order, with held ends inside max_extrapolation_ns, and a gap inside the sweep raises as
    it would per point."""
    rng = np.random.default_rng(3)
    k = 60
    s = START + np.arange(k, dtype=np.int64) * 10 * MS + rng.integers(0, MS, k)
    T = np.tile(np.eye(4), (k, 1, 1))
    T[:, :3, :3] = Rotation.from_rotvec(np.cumsum(rng.normal(0, 0.08, (k, 3)), axis=0)).as_matrix()
    T[:, :3, 3] = np.cumsum(rng.normal(0, 0.2, (k, 3)), axis=0)
    traj = PoseTrajectory(s, T)
    T_bs = np.eye(4)
    T_bs[:3, :3] = Rotation.from_euler("xyz", [0.1, -0.2, 1.3]).as_matrix()
    T_bs[:3, 3] = [1.2, -0.3, 1.7]
    n = 4096
    t = np.sort(rng.integers(s[5], s[20], n))
    t[100:200] = t[100]  # a run of equal times (one firing)
    xyz = rng.normal(0, 20, (n, 3)).astype(np.float32)

    def reference(t_pts, target, margin=0):
        Tw = poses_at(traj, np.r_[t_pts, target], max_extrapolation_ns=margin).value @ T_bs
        M = np.linalg.inv(Tw[-1]) @ Tw[:-1]
        return np.einsum("nij,nj->ni", M[:, :3, :3], xyz.astype(np.float64)) + M[:, :3, 3]

    for target in (int(t.max()), int(s[12]) + 3 * MS, int(s[30])):  # end, mid-sweep, outside the sweep
        out = deskew_points(xyz, t, traj, T_bs, target)
        np.testing.assert_allclose(out.xyz, reference(t, target), atol=1e-9)
        assert out.max_shift_m == pytest.approx(np.linalg.norm(out.xyz - xyz, axis=1).max())
    out_end = deskew_points(xyz, t, traj, T_bs, int(t.max()))
    perm = rng.permutation(n)
    shuffled = deskew_points(xyz[perm], t[perm], traj, T_bs, int(t.max()))
    np.testing.assert_allclose(shuffled.xyz, out_end.xyz[perm])
    # held ends: points up to 5 ms after the last pose with a 5 ms margin
    t_end = np.linspace(s[-3], s[-1] + 4 * MS, n).astype(np.int64)
    xyz_ref = deskew_points(xyz, t_end, traj, T_bs, int(s[-2]), max_extrapolation_ns=5 * MS).xyz
    Tw = poses_at(traj, np.r_[t_end, s[-2]], max_extrapolation_ns=5 * MS).value @ T_bs
    M = np.linalg.inv(Tw[-1]) @ Tw[:-1]
    np.testing.assert_allclose(xyz_ref, np.einsum("nij,nj->ni", M[:, :3, :3], xyz) + M[:, :3, 3], atol=1e-9)
    with pytest.raises(ExtrapolationError, match="out of range"):
        deskew_points(xyz, t_end, traj, T_bs, int(s[-2]))
    gappy = PoseTrajectory(np.delete(s, [10, 11, 12, 13]), np.delete(T, [10, 11, 12, 13], axis=0))
    with pytest.raises(ExtrapolationError, match="gap"):
        deskew_points(xyz, t, gappy, T_bs, int(t.max()))
    # the cubic method keeps its own (SciPy spline) path: its own interpolant, not the kernel's
    cubic = deskew_points(xyz, t, traj, T_bs, int(t.max()), method="cubic")
    Tw = poses_at(traj, np.r_[t, t.max()], method="cubic").value @ T_bs
    M = np.linalg.inv(Tw[-1]) @ Tw[:-1]
    np.testing.assert_allclose(cubic.xyz, np.einsum("nij,nj->ni", M[:, :3, :3], xyz) + M[:, :3, 3], atol=1e-9)
    assert np.abs(cubic.xyz - out_end.xyz).max() > 1e-3


def test_imu_propagated_poses_follow_the_gyro_between_sparse_poses(world15):
    """10 Hz poses (GNSS-INS-like) on the simulator's swaying drive: SLERP misses the roll/pitch oscillations between
    them (~0.09 deg); with the gyro (200 Hz, noise density and a 1e-3 rad/s bias) integrated between them the rotation
    is within 0.01 deg of the truth, the poses themselves are kept exactly, and a hole in the IMU keeps SLERP there."""
    from sensorfuse.fusion.propagate import propagate_poses

    rng = np.random.default_rng(5)
    t10 = START + np.rint(np.arange(0.0, 8.0, 0.1) * 1e9).astype(np.int64)
    sparse = PoseTrajectory(t10, world15.ego.pose(world15.t_s(t10)))
    T_bi = np.eye(4)
    T_bi[:3, :3] = Rotation.from_euler("xyz", [0.02, -0.01, 1.57]).as_matrix()
    T_bi[:3, 3] = [0.3, 0.1, 0.5]
    ti = START + 1_300_000 + np.rint(np.arange(0.0, 8.0, 0.005) * 1e9).astype(np.int64)
    gyro, accel = world15.imu_true(T_bi, ti)
    gyro = gyro + rng.normal(0, 1.7e-4 * np.sqrt(200.0), gyro.shape) + 1e-3
    imu = ImuSamples(ti, gyro, accel, "imu")
    res = propagate_poses(sparse, imu, T_bi)
    assert res.propagated == res.intervals - 1  # the last interval ends after the IMU's last sample
    q = START + np.rint(np.arange(0.2, 7.7, 0.0037) * 1e9).astype(np.int64)
    truth = world15.ego.pose(world15.t_s(q))

    def rot_err_deg(traj):
        T = poses_at(traj, q).value
        return np.rad2deg(Rotation.from_matrix(np.einsum("nji,njk->nik", T[:, :3, :3], truth[:, :3, :3])).magnitude())

    assert rot_err_deg(sparse).max() > 0.05  # the check can fail: plain SLERP is off
    assert rot_err_deg(res.trajectory).max() < 0.01
    assert 0 < np.median(res.residual_deg) < 0.05  # bias over 0.1 s: visible, small
    at_poses = poses_at(res.trajectory, t10).value
    np.testing.assert_allclose(at_poses, sparse.T_world_body, atol=1e-12)
    # a 0.3 s hole in the IMU: the three intervals inside it and the two whose end pose falls in it (no gyro rate
    # there) keep SLERP
    hole = (ti > t10[30]) & (ti < t10[33])
    res2 = propagate_poses(sparse, ImuSamples(ti[~hole], gyro[~hole], accel[~hole], "imu"), T_bi)
    assert res2.propagated == res.propagated - 5
    inside = (q > t10[30]) & (q < t10[33])
    kept = poses_at(res2.trajectory, q[inside], max_gap_ns=res2.max_gap_ns)
    np.testing.assert_allclose(kept.value, poses_at(sparse, q[inside]).value)
    k = np.r_[np.arange(10), np.arange(9, ti.size)]  # sample 9 twice: a zero time step
    with pytest.raises(ValidationError, match="strictly increasing"):
        propagate_poses(sparse, ImuSamples(ti[k], gyro[k], accel[k], "imu"), T_bi)
