#!/usr/bin/env bash
# Regenerate sample_data/sim_small: a 1 s simulated log (small rig, ROS2 .mcap) with its ground truth.
# Deterministic: the same sensorfuse version and seed give byte-identical files.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf sample_data/sim_small/log sample_data/sim_small/ground_truth
tmp=$(mktemp -d)
fuse-sim "$tmp/out" --rig small --duration 1s --format mcap --seed 0 --offset cam_front=3ms --truth-images 10
mv "$tmp/out/log" "$tmp/out/ground_truth" sample_data/sim_small/
rm -rf "$tmp"
du -sh sample_data/sim_small
