#!/usr/bin/env bash
# The viewer pictures of docs/viewer.md and README.md, made by fuse-view's headless mode (no display needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
KITTI="${KITTI:-../shared/data/kitti_object}"
fuse-view sample_data/sim_small --frame 3 --screenshot docs/img/fuse_view_sim_small.jpg
fuse-view sample_data/sim_small --frame 3 --view camera --screenshot docs/img/fuse_view_sim_small_camera.jpg
fuse-view sample_data/sim_small --frame 3 --view bev --size 720x720 --screenshot docs/img/fuse_view_sim_small_bev.jpg
fuse-view "$KITTI" --frame 1 --screenshot docs/img/fuse_view_kitti_chase.jpg
fuse-view "$KITTI" --frame 1 --view camera --screenshot docs/img/fuse_view_kitti_cam2.jpg
fuse-view "$KITTI" --frame 1 --colour camera --hide images --screenshot docs/img/fuse_view_kitti_colour.jpg
tmp=$(mktemp -d)
fuse-view "$KITTI" --overlays "$tmp"
cp "$tmp/000001_cam2.png" docs/img/fuse_view_kitti_overlay.png
rm -rf "$tmp"
