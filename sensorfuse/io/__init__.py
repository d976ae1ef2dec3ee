"""Every file format sensorfuse reads or writes lives here.

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
from sensorfuse.io.nuscenes import (
    calibrated_sensor_record,
    camera_from_calibrated_sensor,
    nuscenes_records_from_rig,
    rig_from_nuscenes_calibrated_sensors,
    transform_from_nuscenes_record,
)
from sensorfuse.io.opencv_yaml import read_opencv_camera_yaml, write_opencv_camera_yaml
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
    "CameraInfoCalibration",
    "KittiObjectCalib",
    "KittiRawCalib",
    "calibrated_sensor_record",
    "camera_from_calibrated_sensor",
    "dump_rig_yaml",
    "kalibr_camchain_from_rig",
    "kitti_object_calib_from_rig",
    "load_rig",
    "nuscenes_records_from_rig",
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
