"""Looking at data: image overlays of projected points and boxes (:mod:`sensorfuse.viz.overlay`); the Open3D viewer
``fuse-view`` comes with its own issue. Imports neither open3d nor cv2 at package import."""
