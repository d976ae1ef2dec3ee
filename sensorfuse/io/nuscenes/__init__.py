"""nuScenes: ``calibrated_sensor`` / ``ego_pose`` records (``calib``), the ``v1.0-*`` tables and mmdetection3d info
files (``tables``), ``sample_annotation`` boxes (``labels``) and the folder as a log (``reader``)."""
