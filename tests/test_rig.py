import numpy as np
import pytest
import yaml

from sensorfuse.errors import RigFileError, TopicNotFound, TransformError, ValidationError
from sensorfuse.geometry import CameraModel, transform_from
from sensorfuse.io import dump_rig_yaml, load_rig, rig_to_dict, save_rig
from sensorfuse.rig import ClockModel, Provenance, Rig, Sensor

CAM = CameraModel(
    [[700.0, 0, 640], [0, 700.0, 360], [0, 0, 1]], [-0.1, 0.01, 0.0001, -0.0002, 0.001], "brown_conrady", 1280, 720
)


def make_rig() -> Rig:
    prov = Provenance("simulator", data="seed 0", date="2026-11-23", quality={"rms_px": 0.12, "views": 25})
    rig = Rig(
        name="test",
        sensors=(
            Sensor("lidar", "lidar", topic="/points", rate_hz=10.0),
            Sensor(
                "cam_front",
                "camera",
                frame_id="cam_front_optical",
                topic="/cam/image",
                camera=CAM,
                clock=ClockModel(3_000_000),
                provenance=prov,
            ),
            Sensor(
                "imu",
                "imu",
                clock=ClockModel(-1_500_000, 12.5, epoch_ns=1_700_000_000_000_000_000),
                noise={"gyroscope_noise_density": 1.7e-4},
            ),
        ),
        base_frame="base_link",
        reference_clock="lidar",
        provenance=prov,
        metadata={"vehicle": "test car", "notes": ["a", "b"]},
    )
    rig = rig.with_extrinsic("base_link", "lidar", transform_from(np.eye(3), [1.2, 0.0, 1.8]), prov)
    R = np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])  # camera optical frame in a x-forward frame
    rig = rig.with_extrinsic("cam_front_optical", "lidar", transform_from(R.T, [0.1, -0.2, 0.05]))
    return rig.with_extrinsic("imu", "base_link", transform_from(np.eye(3), [0.0, 0.0, -0.3]))


def test_transform_chain_and_names():
    rig = make_rig()
    T = rig.transform("cam_front", "imu")  # sensor names resolve to frames
    expected = (
        rig.transform("cam_front_optical", "lidar")
        @ rig.transform("lidar", "base_link")
        @ rig.transform("base_link", "imu")
    )
    np.testing.assert_allclose(T, expected, atol=1e-12)
    np.testing.assert_allclose(rig.transform("imu", "cam_front") @ T, np.eye(4), atol=1e-12)
    assert rig.sensor("/cam/image").name == "cam_front"
    with pytest.raises(TopicNotFound, match=r"no sensor, topic or frame 'cam_fron'; did you mean 'cam_front'\?"):
        rig.sensor("cam_fron")
    with pytest.raises(TransformError, match=r"unknown frame or sensor 'radar'"):
        rig.transform("radar", "lidar")
    lonely = Rig("x", sensors=(Sensor("a", "lidar"), Sensor("b", "imu")))
    with pytest.raises(TransformError, match=r"no chain of extrinsics from 'b' to 'a'"):
        lonely.transform("a", "b")


def test_clock_model_sign_and_drift():
    c = ClockModel(offset_ns=3_000_000)
    np.testing.assert_array_equal(c.to_reference([10, 20]), [3_000_010, 3_000_020])  # t_ref = t + offset
    d = ClockModel(offset_ns=0, drift_ppm=10.0, epoch_ns=0)
    np.testing.assert_array_equal(d.to_reference([1_000_000_000]), [1_000_010_000])  # 10 us per second
    t = np.array([0, 5_000_000_000, 10_000_000_000], dtype=np.int64)
    assert np.abs(d.from_reference(d.to_reference(t)) - t).max() <= 1
    with pytest.raises(ValidationError, match=r"epoch_ns: required when drift_ppm is not 0"):
        ClockModel(0, 1.0)


def test_rig_file_round_trip_is_exact(tmp_path):
    rig = make_rig()
    path = save_rig(rig, tmp_path / "rig.yaml")
    back = load_rig(path)
    assert rig_to_dict(back) == rig_to_dict(rig)
    for a, b in zip(rig.extrinsics, back.extrinsics, strict=True):
        np.testing.assert_array_equal(a.T, b.T)  # bit-exact floats
    assert back.sensor("cam_front").camera.equals(CAM)
    assert back.sensor("imu").clock == rig.sensor("imu").clock
    assert back.provenance.quality["views"] == 25
    assert "T_target_source" in dump_rig_yaml(rig)  # the header explains the convention


def _write(tmp_path, doc) -> str:
    p = tmp_path / "rig.yaml"
    p.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)
    return p


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("name"), r"top level: missing required key 'name'"),
        (lambda d: d.__setitem__("sensor", d.pop("sensors")), r"unknown key 'sensor'; did you mean 'sensors'\?"),
        (
            lambda d: d["sensors"][1].pop("intrinsics"),
            r"sensors\[1\] \('cam_front'\): missing required key 'intrinsics'",
        ),
        (
            lambda d: d["sensors"][1].__setitem__("intrinsic", d["sensors"][1].pop("intrinsics")),
            r"sensors\[1\] \('cam_front'\): unknown key 'intrinsic'; did you mean 'intrinsics'\?",
        ),
        (
            lambda d: d["sensors"][0].__setitem__("kind", "lidr"),
            r"sensors\[0\] \('lidar'\).kind: 'lidr' is not a sensor kind; did you mean 'lidar'\?",
        ),
        (
            lambda d: d["sensors"][1]["intrinsics"].__setitem__("K", [[1, 0, 0], [0, 1, 0]]),
            r"sensors\[1\] \('cam_front'\).intrinsics.K: expected a list of 3 rows of 3 numbers",
        ),
        (
            lambda d: d["sensors"][1]["intrinsics"].__setitem__("dist", [0.1, 0.2]),
            r"sensors\[1\] \('cam_front'\).intrinsics: dist: model 'brown_conrady' takes",
        ),
        (
            lambda d: d["sensors"][2]["clock"].__setitem__("offset_ns", 1.5),
            r"sensors\[2\] \('imu'\).clock.offset_ns: expected an integer",
        ),
        (
            lambda d: d["extrinsics"][0]["T"][0].__setitem__(0, 2.0),
            r"extrinsics\[0\] \(T_base_link_lidar\): T_base_link_lidar \(rotation block\) is not orthonormal",
        ),
        (lambda d: d["extrinsics"][0].pop("source"), r"extrinsics\[0\]: missing required key 'source'"),
        (lambda d: d.__setitem__("sensorfuse_rig", 2), r"schema version 2 is not supported"),
        (
            lambda d: d.__setitem__("reference_clock", "lidr"),
            r"reference_clock 'lidr' is not a sensor; did you mean 'lidar'\?",
        ),
        (lambda d: d["sensors"].append(dict(d["sensors"][0])), r"duplicate sensor name"),
    ],
)
def test_rig_file_errors_name_the_key(tmp_path, mutate, match):
    doc = rig_to_dict(make_rig())
    mutate(doc)
    with pytest.raises(RigFileError, match=match):
        load_rig(_write(tmp_path, doc))


def test_rig_file_unreadable(tmp_path):
    with pytest.raises(RigFileError, match=r"not found"):
        load_rig(tmp_path / "missing.yaml")
    with pytest.raises(RigFileError, match=r"not valid YAML"):
        load_rig(_write(tmp_path, "sensors: [unclosed"))
    with pytest.raises(RigFileError, match=r"top level: expected a mapping"):
        load_rig(_write(tmp_path, "- just\n- a list\n"))
