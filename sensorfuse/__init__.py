"""sensorfuse: multi-sensor fusion and calibration for autonomy logs.

The top-level package stays light: it imports neither open3d, numba nor cv2. Subpackages:

- ``sensorfuse.types``: the sensor data types (frozen dataclasses of numpy arrays).
- ``sensorfuse.errors``: the exception hierarchy (everything derives from ``SensorfuseError``).
- ``sensorfuse.geometry``: rigid transforms, trajectory interpolation, camera models.
- ``sensorfuse.rig``: the rig description (sensors, intrinsics, extrinsics, clocks, provenance).
- ``sensorfuse.io``: every file format (rig YAML, KITTI, ROS CameraInfo, Kalibr, nuScenes, ...).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sensorfuse")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
