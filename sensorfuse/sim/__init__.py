"""The drive-log simulator behind ``fuse-sim``: seeded scenes, exact ground truth, injected faults.

Layering: ``sim`` stands beside ``fusion`` and ``calibration`` but may use ``io`` — its logs go through the project's
only writers, :mod:`sensorfuse.io.ros.writer` and :mod:`sensorfuse.io.kitti.raw_writer`.
"""

from sensorfuse.io.sim_truth import GroundTruth, load_ground_truth
from sensorfuse.sim.rigs import RIG_NAMES, LidarSpec, SimRig, preset_rig, without_noise
from sensorfuse.sim.simulate import FORMATS, ExtrinsicStep, SimConfig, SimResult, simulate
from sensorfuse.sim.timing import DelayBurst, StreamFaults

__all__ = [
    "FORMATS",
    "RIG_NAMES",
    "DelayBurst",
    "ExtrinsicStep",
    "GroundTruth",
    "LidarSpec",
    "SimConfig",
    "SimResult",
    "SimRig",
    "StreamFaults",
    "load_ground_truth",
    "preset_rig",
    "simulate",
    "without_noise",
]
