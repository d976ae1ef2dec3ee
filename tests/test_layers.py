"""The layering of CONVENTIONS.md, checked on the source: imports point downwards only, no module imports itself
round a circle, light modules stay light, and each layer keeps its rule (formats only in io, no pixels or file
names in the jobs, Ray only in the fleet module)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "sensorfuse"

#: bottom -> top; a module may import its own layer and the layers listed before it, never one after it
ORDER = [
    ("errors", "_checks", "_lazy", "units"),  # the base: import nothing of sensorfuse above them
    ("types",),  # the sensor data types
    ("geometry",),  # transforms, camera models, numba kernels
    ("rig", "health", "_scratch"),  # the rig description, stream health from stamps, scratch buffers
    ("io",),  # every file format
    ("fusion",),  # sync, interpolation, deskew, clocks, labels
    ("calibration", "sim"),  # calibration (knows no format); the simulator (writes logs through io)
    ("viz",),  # viewer, overlays, report pictures
    ("pipelines",),  # whole-log jobs
    ("cli",),  # argument parsing, progress, printing
]
RANK = {name: k for k, names in enumerate(ORDER) for name in names}

#: function-level imports that go upwards on purpose: a call, not a dependency of the module (with the reason)
DEFERRED_UP = {
    ("types", "sensorfuse.geometry.interpolation"): "PoseTrajectory.interpolate calls the one SLERP implementation",
}
#: layers that must know no file format
FORMAT_FREE = {"fusion", "calibration"}


def _room(module_or_path: str) -> str | None:
    parts = module_or_path.split(".")
    if parts[0] != "sensorfuse" or len(parts) < 2:
        return None
    return parts[1]


def _own(f: Path) -> str:
    return f.relative_to(PKG).parts[0].removesuffix(".py")


def _module(f: Path) -> str:
    return ".".join(("sensorfuse", *f.relative_to(PKG).with_suffix("").parts)).removesuffix(".__init__")


def _imports(path: Path, *, top_level_only: bool = False):
    """(module imported, True if at module level) for every import statement."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    for n in tree.body:  # imports under `if TYPE_CHECKING:` are for type checkers only
        if isinstance(n, ast.If) and isinstance(n.test, ast.Name) and n.test.id == "TYPE_CHECKING":
            top |= {id(x) for x in ast.walk(n)}
    for node in ast.walk(tree):
        level = id(node) in top
        if top_level_only and not level:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, level
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, level


def _files():
    return sorted(PKG.rglob("*.py"))


def test_every_room_has_a_floor():
    rooms = {_own(f) for f in _files()} - {"__init__"}
    assert rooms <= set(RANK), f"not placed in ORDER: {sorted(rooms - set(RANK))}"


def test_imports_point_downwards():
    bad = []
    for f in _files():
        own = _own(f)
        for mod, _ in _imports(f):
            room = _room(mod)
            if room is None or room == own or own == "__init__":
                continue
            if RANK[room] > RANK[own] and (own, mod) not in DEFERRED_UP:
                bad.append(f"{f.relative_to(PKG)} imports {mod} ({own} is below {room})")
            if own in FORMAT_FREE and room == "io":
                bad.append(f"{f.relative_to(PKG)} imports {mod} ({own} knows no file format)")
    assert not bad, bad


def test_no_import_circle():
    """The graph of module-level imports between sensorfuse modules has no cycle."""
    graph: dict[str, set[str]] = {}
    known = {_module(f) for f in _files()}
    for f in _files():
        deps = set()
        for mod, _ in _imports(f, top_level_only=True):
            while mod and mod not in known:  # `from sensorfuse.io.kitti import calib` names a package
                mod = mod.rpartition(".")[0]
            if mod and mod.startswith("sensorfuse") and mod != _module(f):
                deps.add(mod)
        graph[_module(f)] = deps
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in graph.get(m, ()):
            if d.startswith(m + "."):  # a package importing its own submodule is not a cycle
                continue
            if state.get(d) == 1:
                cycles.append(" -> ".join([*path[path.index(d) :], d]) if d in path else f"{m} -> {d}")
            elif d not in state:
                visit(d, [*path, d])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles


def test_jobs_layer_keeps_its_rule():
    """pipelines/: no pixels (no OpenCV, no Open3D), no file names of their own (formats live in io)."""
    file_name = re.compile(r"[\w*{}.-]*\.(csv|json|ya?ml|pcd|png|jpe?g|txt|bin|mcap|bag|db3)$")
    bad = []
    for f in (PKG / "pipelines").rglob("*.py"):
        for mod, _ in _imports(f):
            if mod.split(".")[0] in ("cv2", "open3d"):
                bad.append(f"{f.name} imports {mod}")
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and file_name.search(node.value):
                bad.append(f"{f.name}:{node.lineno} spells a file name {node.value!r}")
    assert not bad, bad


def test_synced_layout_file_names_are_spelled_once():
    """frames.csv / sync_report.json / rig.yaml of our layout are named in io/synced.py only."""
    bad = []
    for f in _files():
        if f.relative_to(PKG).as_posix() == "io/synced.py":
            continue
        text = f.read_text()
        for name in ('"frames.csv"', '"sync_report.json"'):
            if name in text:
                bad.append(f"{f.relative_to(PKG)} spells {name}")
    assert not bad, bad


def test_ray_only_in_the_fleet_module():
    bad = [
        f"{f.relative_to(PKG)} imports {mod}"
        for f in _files()
        if _own(f) != "fleet"
        for mod, _ in _imports(f)
        if mod.split(".")[0] == "ray"
    ]
    assert not bad, bad


@pytest.mark.parametrize(
    "module", ["sensorfuse", "sensorfuse.io", "sensorfuse.types", "sensorfuse.geometry", "sensorfuse.rig"]
)
def test_light_imports(module):
    code = f"import sys, {module}; heavy = [m for m in ('open3d', 'numba', 'cv2') if m in sys.modules]; print(','.join(heavy))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing {module} pulled in {out}"


def test_io_package_imports_nothing_until_used():
    """``import sensorfuse.io`` loads no reader (and no numpy): its names are imported on first use."""
    code = "import sys, sensorfuse.io as io; print(sorted(m for m in sys.modules if m.startswith('sensorfuse.io.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
    code = "import sensorfuse.io as io; print(io.load_rig.__module__, io.open.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["sensorfuse.io.rigfile", "open_log"]


def test_every_raise_in_library_is_a_sensorfuse_error():
    """Library code raises only sensorfuse's exceptions (or re-raises): no bare ValueError/KeyError/assert on input."""
    import sensorfuse.errors

    allowed = set(sensorfuse.errors.__all__) | {
        "TypeError",
        "BadParameter",  # typer's way for a CLI to reject an option value (cli/ only)
    }
    protocol = {("_lazy.py", "AttributeError")}  # a module __getattr__ must raise AttributeError (PEP 562)
    bad = []
    for f in _files():
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.id if isinstance(exc, ast.Name) else getattr(exc, "attr", None)
                if name and name[0].isupper() and name not in allowed and (f.name, name) not in protocol:
                    bad.append(f"{f.relative_to(PKG)}:{node.lineno} raises {name}")
    assert not bad, bad
