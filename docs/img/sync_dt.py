"""Make docs/img/sync_dt.svg: LiDAR -> camera association time errors on a simulated log whose camera clock runs
3 ms behind with 20 ppm drift, paired on raw header stamps vs with the true clocks. Needs only numpy.

Run: python docs/img/sync_dt.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from sensorfuse.fusion import associate
from sensorfuse.sim import SimConfig, load_ground_truth, simulate

MS = 1_000_000


def main() -> None:
    faults = {"cam_front": {"offset_ns": 3 * MS, "drift_ppm": 20.0}}
    cfg = SimConfig(duration_s=10.0, format="mcap", faults="realistic", stream_faults=faults, truth_images_every=0)
    res = simulate(Path(tempfile.mkdtemp()) / "sim", cfg)
    truth = load_ground_truth(res.out_dir)
    lid, cam = truth.messages["lidar"], truth.messages["cam_front"]
    wl, wc = lid["event"] == "ok", cam["event"] != "dropped"
    ref = lid["header_ns"][wl]
    raw = associate(ref, cam["header_ns"][wc])
    fixed = associate(ref, cam["header_ns"][wc], clock=truth.rig.sensor("cam_front").clock)
    series = [("raw header stamps", raw, "#d62728"), ("clocks from the rig", fixed, "#1f77b4")]
    bins = np.arange(-17, 17.5, 1.0)
    w, h, x0, y0 = 640, 300, 50, 260
    sx = (w - 70) / (bins[-1] - bins[0])
    hist = [np.histogram(a.dt_ns[~a.missing] / MS, bins)[0] for _, a, _ in series]
    sy = (y0 - 40) / max(hh.max() for hh in hist)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">']
    out.append(f'<rect width="{w}" height="{h}" fill="white"/>')
    for k, ((label, a, colour), hh) in enumerate(zip(series, hist, strict=True)):
        for b, n in zip(bins[:-1], hh, strict=True):
            x = x0 + (b - bins[0]) * sx + k * sx / 2
            out.append(
                f'<rect x="{x:.1f}" y="{y0 - n * sy:.1f}" width="{sx / 2:.1f}" height="{n * sy:.1f}" fill="{colour}"/>'
            )
        med = np.median(a.dt_ns[~a.missing]) / MS
        out.append(f'<text x="{w - 260}" y="{30 + 18 * k}" fill="{colour}">{label}: median {med:+.2f} ms, '
                   f'{int(a.missing.sum())} missing</text>')  # fmt: skip
    for t in range(-16, 17, 4):
        x = x0 + (t - bins[0]) * sx
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + 5}" stroke="black"/>')
        out.append(f'<text x="{x:.1f}" y="{y0 + 18}" text-anchor="middle">{t}</text>')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{w - 20}" y2="{y0}" stroke="black"/>')
    out.append(
        f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">camera stamp - LiDAR stamp on the reference clock (ms)</text>'
    )
    out.append(f'<text x="12" y="20">LiDAR -> camera pairs per 1 ms bin ({len(ref)} sweeps)</text>')
    out.append("</svg>")
    path = Path(__file__).with_suffix(".svg")
    path.write_text("\n".join(out) + "\n")
    print(path)


if __name__ == "__main__":
    main()
