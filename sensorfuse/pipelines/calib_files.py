"""Calibration from plain files (no log): ``fuse-calib lidar-lidar TARGET.pcd SOURCE.pcd --init ...``.

Reads the clouds (PCD), the initial extrinsic (OpenCalib JSON, orthonormalised with the deviation reported, or a
rig file), runs :func:`~sensorfuse.calibration.lidar_lidar.register_lidar_lidar` and writes the result in OpenCalib's
JSON layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["lidar_lidar", "radar_lidar"]


def lidar_lidar(
    target_pcd: str | Path,
    source_pcd: str | Path,
    *,
    init: str | Path,
    target: str | None = None,
    source: str | None = None,
    out: str | Path | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Register ``source_pcd`` onto ``target_pcd`` from ``init``; ``target``/``source``: sensor names in a rig file
    (default: the PCD file stems). Returns ``(LidarLidarResult, summary)``."""
    from sensorfuse.calibration.lidar_lidar import register_lidar_lidar
    from sensorfuse.io.opencalib import load_initial_extrinsic, write_opencalib_extrinsic
    from sensorfuse.io.pcd import read_pcd

    t_name = target or Path(target_pcd).stem
    s_name = source or Path(source_pcd).stem
    T0, t_name, s_name, deviation = load_initial_extrinsic(init, t_name, s_name)
    tgt, t_dropped, _ = read_pcd(target_pcd)
    src, s_dropped, _ = read_pcd(source_pcd)
    res = register_lidar_lidar(tgt.xyz, src.xyz, T0)
    summary: dict[str, Any] = {
        "target": {"file": str(target_pcd), "sensor": t_name, "points": int(tgt.xyz.shape[0]), "dropped": t_dropped},
        "source": {"file": str(source_pcd), "sensor": s_name, "points": int(src.xyz.shape[0]), "dropped": s_dropped},
        "init": str(init),
        "init_rotation_deviation": deviation,
        **res.to_dict(),
    }
    if out is not None:
        summary["wrote"] = str(write_opencalib_extrinsic(out, res.T_target_source, sensor=s_name, target=t_name))
    return res, summary


def radar_lidar(
    radar_csv: str | Path,
    lidar_pcd: str | Path,
    *,
    init: str | Path,
    out: str | Path | None = None,
    report: str | Path | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Refine a planar radar's extrinsic to a LiDAR in the ground plane from an OpenCalib radar CSV (every scan in
    it) and a PCD (:func:`~sensorfuse.calibration.radar.refine_radar_lidar`). ``out``: OpenCalib JSON of the refined
    extrinsic; ``report``: the bird's-eye overlay (PNG). Returns ``(RadarLidarResult, summary)``."""
    import numpy as np

    from sensorfuse.calibration.radar import refine_radar_lidar
    from sensorfuse.io.images import write_png
    from sensorfuse.io.opencalib import load_initial_extrinsic, read_opencalib_radar_csv, write_opencalib_extrinsic
    from sensorfuse.io.pcd import read_pcd

    T0, target, source, deviation = load_initial_extrinsic(init, Path(lidar_pcd).stem, Path(radar_csv).stem)
    scans = read_opencalib_radar_csv(radar_csv)
    radar_xyz = np.vstack([s.xyz for s in scans])
    lidar, dropped, _ = read_pcd(lidar_pcd)
    res = refine_radar_lidar(radar_xyz, lidar.xyz, T0)
    summary: dict[str, Any] = {
        "radar": {"file": str(radar_csv), "sensor": source, "scans": len(scans), "detections": int(radar_xyz.shape[0])},
        "lidar": {"file": str(lidar_pcd), "sensor": target, "points": int(lidar.xyz.shape[0]), "dropped": dropped},
        "init": str(init),
        "init_rotation_deviation": deviation,
        **res.to_dict(),
    }
    if out is not None:
        summary["wrote"] = str(write_opencalib_extrinsic(out, res.T_lidar_radar, sensor=source, target=target))
    if report is not None:
        from sensorfuse.viz.reports import radar_lidar_report_image

        summary["report"] = str(
            write_png(report, radar_lidar_report_image(lidar.xyz, radar_xyz, T0, res.T_lidar_radar))
        )
    return res, summary
