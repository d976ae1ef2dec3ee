"""Every file format sensorfuse reads or writes lives here.

``sensorfuse.io.open(path)`` opens any drive log or dataset (ROS1 .bag, ROS2 .db3/.mcap, ROS1-profile .mcap, KITTI
raw and object, nuScenes, EuRoC) and returns a :class:`LogReader`.

``import sensorfuse.io`` stays light: it imports neither open3d, numba nor cv2 (OpenCV's FileStorage is imported
inside the functions that use it).
"""

from sensorfuse.io.kalibr import (
    kalibr_camchain_from_rig,
    read_euroc_sensor_yaml,
    read_kalibr_camchain,
    rig_from_euroc,
    rig_from_kalibr_camchain,
    write_kalibr_camchain,
)
from sensorfuse.io.kitti import (
    KittiObjectCalib,
    KittiRawCalib,
    kitti_object_calib_from_rig,
    read_kitti_object_calib,
    read_kitti_raw_calib,
    read_velodyne_bin,
    rig_from_kitti_object_calib,
    rig_from_kitti_raw_calib,
    write_kitti_object_calib,
    write_kitti_raw_calib,
    write_velodyne_bin,
)
from sensorfuse.io.messages import CameraInfo, LogMessage, Odometry, RosMessage, TFMessage, TransformStamped
from sensorfuse.io.nuscenes import (
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
from sensorfuse.io.rigfile import (
    RIG_SCHEMA_VERSION,
    dump_rig_yaml,
    load_rig,
    rig_from_dict,
    rig_to_dict,
    save_rig,
)
from sensorfuse.io.ros_camera_info import CameraInfoCalibration, read_camera_info_yaml, write_camera_info_yaml

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
