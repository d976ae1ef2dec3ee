"""Make docs/img/kitti_overlay_000001.jpg: KITTI object frame 000001 (../shared/data) with its LiDAR points projected
into image_2 (visible points only, coloured by depth) and the label_2 3D boxes projected as 2D boxes (green, with
the IoU against the annotated 2D box; annotated boxes orange), via ``fuse-labels project``.

KITTI is CC BY-NC-SA 3.0 (Geiger, Lenz, Urtasun, CVPR 2012); the picture is a derived work under the same licence.

Run: python docs/img/kitti_overlay.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2

from sensorfuse.pipelines.labels import project_dataset

HERE = Path(__file__).resolve().parent


def main() -> None:
    data = HERE.parents[2] / "shared" / "data" / "kitti_object"
    with tempfile.TemporaryDirectory() as tmp:
        project_dataset(data, Path(tmp) / "out")
        img = cv2.imread(str(Path(tmp) / "out" / "overlay" / "000001.png"))
    cv2.imwrite(str(HERE / "kitti_overlay_000001.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
