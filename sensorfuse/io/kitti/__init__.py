"""KITTI: calibration files (``calib``), velodyne scans (``velodyne``), ``label_2`` (``labels``), the raw-drive and
object-folder readers (``raw``, ``object``), and the writers of a raw-style drive (``raw_writer``) and of a synced
dataset (``synced_writer``, ``fuse-sync --format kitti``)."""
