"""Every file format sensorfuse reads or writes lives here, one subpackage or module per format family:

- ``ros/``: ROS1 ``.bag``, ROS2 ``.db3`` and ``.mcap`` (either profile), message conversion, PointCloud2 records,
  CameraInfo YAML, and the log writers;
- ``kitti/``: calibration files, velodyne scans, ``label_2``, the raw-drive and object-folder readers, the raw-drive
  and synced-dataset writers;
- ``nuscenes/``: ``calibrated_sensor`` records, the tables and info files, labels, the folder reader;
- ``euroc``, ``kalibr``, ``opencv_yaml``, ``opencalib``, ``pcd``: one module each;
- our own files: ``rigfile`` (the rig file), ``synced`` (the synchronised-dataset layout, writer and reader);
- ``open_log``: the one place that recognises what a path is (``sensorfuse.io.open(path)``).

``sensorfuse.io.open(path)`` opens any drive log or dataset (ROS1 .bag, ROS2 .db3/.mcap, ROS1-profile .mcap, KITTI
raw and object, nuScenes, EuRoC) and returns a :class:`LogReader`.

``import sensorfuse.io`` stays light: the names below are imported on first use (PEP 562), so importing the package
costs no numpy, no scipy, and neither open3d, numba nor cv2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sensorfuse._lazy import lazy_exports

_EXPORTS = {
    "CameraInfo": "messages",
    "CameraInfoCalibration": "ros.camera_info",
    "KittiObjectCalib": "kitti.calib",
    "KittiRawCalib": "kitti.calib",
    "LogMessage": "messages",
    "LogReader": "reader",
    "Odometry": "messages",
    "RIG_SCHEMA_VERSION": "rigfile",
    "ReadReport": "reader",
    "RosMessage": "messages",
    "StreamInfo": "reader",
    "StreamStats": "reader",
    "TFMessage": "messages",
    "TransformStamped": "messages",
    "calibrated_sensor_record": "nuscenes.calib",
    "camera_from_calibrated_sensor": "nuscenes.calib",
    "detect_format": "open_log",
    "dump_rig_yaml": "rigfile",
    "kalibr_camchain_from_rig": "kalibr",
    "kitti_object_calib_from_rig": "kitti.calib",
    "load_rig": "rigfile",
    "nuscenes_records_from_rig": "nuscenes.calib",
    "open": "open_log:open_log",
    "read_camera_info_yaml": "ros.camera_info",
    "read_euroc_sensor_yaml": "euroc",
    "read_kalibr_camchain": "kalibr",
    "read_kitti_object_calib": "kitti.calib",
    "read_kitti_raw_calib": "kitti.calib",
    "read_opencv_camera_yaml": "opencv_yaml",
    "read_velodyne_bin": "kitti.velodyne",
    "rig_from_dict": "rigfile",
    "rig_from_euroc": "euroc",
    "rig_from_kalibr_camchain": "kalibr",
    "rig_from_kitti_object_calib": "kitti.calib",
    "rig_from_kitti_raw_calib": "kitti.calib",
    "rig_from_nuscenes_calibrated_sensors": "nuscenes.calib",
    "rig_to_dict": "rigfile",
    "save_rig": "rigfile",
    "transform_from_nuscenes_record": "nuscenes.calib",
    "write_camera_info_yaml": "ros.camera_info",
    "write_kalibr_camchain": "kalibr",
    "write_kitti_object_calib": "kitti.calib",
    "write_kitti_raw_calib": "kitti.calib",
    "write_opencv_camera_yaml": "opencv_yaml",
    "write_velodyne_bin": "kitti.velodyne",
}
__all__ = [
    "RIG_SCHEMA_VERSION",
    "CameraInfo",
    "CameraInfoCalibration",
    "KittiObjectCalib",
    "KittiRawCalib",
    "LogMessage",
    "LogReader",
    "Odometry",
    "ReadReport",
    "RosMessage",
    "StreamInfo",
    "StreamStats",
    "TFMessage",
    "TransformStamped",
    "calibrated_sensor_record",
    "camera_from_calibrated_sensor",
    "detect_format",
    "dump_rig_yaml",
    "kalibr_camchain_from_rig",
    "kitti_object_calib_from_rig",
    "load_rig",
    "nuscenes_records_from_rig",
    "open",
    "read_camera_info_yaml",
    "read_euroc_sensor_yaml",
    "read_kalibr_camchain",
    "read_kitti_object_calib",
    "read_kitti_raw_calib",
    "read_opencv_camera_yaml",
    "read_velodyne_bin",
    "rig_from_dict",
    "rig_from_euroc",
    "rig_from_kalibr_camchain",
    "rig_from_kitti_object_calib",
    "rig_from_kitti_raw_calib",
    "rig_from_nuscenes_calibrated_sensors",
    "rig_to_dict",
    "save_rig",
    "transform_from_nuscenes_record",
    "write_camera_info_yaml",
    "write_kalibr_camchain",
    "write_kitti_object_calib",
    "write_kitti_raw_calib",
    "write_opencv_camera_yaml",
    "write_velodyne_bin",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time each name is imported on first use
    from sensorfuse.io.euroc import read_euroc_sensor_yaml, rig_from_euroc
    from sensorfuse.io.kalibr import (
        kalibr_camchain_from_rig,
        read_kalibr_camchain,
        rig_from_kalibr_camchain,
        write_kalibr_camchain,
    )
    from sensorfuse.io.kitti.calib import (
        KittiObjectCalib,
        KittiRawCalib,
        kitti_object_calib_from_rig,
        read_kitti_object_calib,
        read_kitti_raw_calib,
        rig_from_kitti_object_calib,
        rig_from_kitti_raw_calib,
        write_kitti_object_calib,
        write_kitti_raw_calib,
    )
    from sensorfuse.io.kitti.velodyne import read_velodyne_bin, write_velodyne_bin
    from sensorfuse.io.messages import CameraInfo, LogMessage, Odometry, RosMessage, TFMessage, TransformStamped
    from sensorfuse.io.nuscenes.calib import (
        calibrated_sensor_record,
        camera_from_calibrated_sensor,
        nuscenes_records_from_rig,
        rig_from_nuscenes_calibrated_sensors,
        transform_from_nuscenes_record,
    )
    from sensorfuse.io.open_log import detect_format
    from sensorfuse.io.open_log import open_log as open
    from sensorfuse.io.opencv_yaml import read_opencv_camera_yaml, write_opencv_camera_yaml
    from sensorfuse.io.reader import LogReader, ReadReport, StreamInfo, StreamStats
    from sensorfuse.io.rigfile import RIG_SCHEMA_VERSION, dump_rig_yaml, load_rig, rig_from_dict, rig_to_dict, save_rig
    from sensorfuse.io.ros.camera_info import CameraInfoCalibration, read_camera_info_yaml, write_camera_info_yaml
