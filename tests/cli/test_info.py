import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from sensorfuse.cli.info import app

runner = CliRunner()


def test_fuse_info_kitti_json(sample_data):
    res = runner.invoke(app, [str(sample_data / "kitti_object"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    (frame,) = out["frames"]
    assert frame["velodyne"]["points"] == 120268
    assert 18000 <= frame["velodyne"]["points_in_image_2"] <= 20000  # SOURCE.md: ~18k-20k in the image
    assert frame["image_2"] == {"width": 1242, "height": 375}
    assert frame["label_2"]["Car"] == 1


def test_fuse_info_rig_sources(sample_data, tmp_path):
    res = runner.invoke(app, [str(sample_data / "calibration/kitti_raw_2011_09_26")])
    assert res.exit_code == 0, res.output
    assert "cam02" in res.stdout
    assert "brown_conrady" in res.stdout
    res = runner.invoke(app, [str(sample_data / "calibration/euroc_v1_01/mav0"), "--json"])
    rig = json.loads(res.stdout)["rig"]
    assert [s["name"] for s in rig["sensors"]] == ["cam0", "cam1", "imu0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["does/not/exist"], "no such file or directory"),
        (["{sample}/kitti_object", "--frame", "999999"], "no frame '999999'"),
        (["{sample}/../.ci"], "a directory of no known kind"),
    ],
)
def test_fuse_info_errors_are_one_line_and_exit_1(sample_data, args, message):
    args = [a.replace("{sample}", str(sample_data)) for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "sensorfuse.cli.info", *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_has_examples():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    assert "fuse-info sample_data/kitti_object" in res.stdout
