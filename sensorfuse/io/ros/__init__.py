"""ROS logs without ROS: ROS1 ``.bag`` and ROS2 ``.db3`` (``bag``, through rosbags), ``.mcap`` of either profile
(``mcap``, through the mcap package), what they share (``log``), message conversion (``convert``), PointCloud2 point
records (``pointcloud2``, also used for PCD files), CameraInfo YAML (``camera_info``) and the log writers
(``writer``)."""
