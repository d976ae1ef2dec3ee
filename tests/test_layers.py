"""The layering of CONVENTIONS.md, checked on the source: imports point downwards only, and light modules stay light."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "sensorfuse"
ORDER = [
    "types",
    "geometry",
    "io",
    "fusion",
    "calibration",
    "sim",
    "pipelines",
    "viz",
    "cli",
]  # bottom -> top (rig, units with types)
# sim (the simulator) stands beside fusion/calibration and, unlike them, writes logs through io.
BOTTOM = {"errors", "_checks", "units", "types", "rig", "geometry"}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "sensorfuse" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_imports_point_downwards():
    rank = {"io": 1, "fusion": 2, "calibration": 2, "sim": 2, "pipelines": 3, "viz": 3, "cli": 4}
    bad = []
    for f in PKG.rglob("*.py"):
        own = f.relative_to(PKG).parts[0].removesuffix(".py")
        own_rank = rank.get(own, 0)
        for mod in _imports(f):
            layer = _layer(mod)
            if layer is None:
                continue
            if rank.get(layer, 0) > own_rank or (own in ("fusion", "calibration") and layer == "io"):
                bad.append(f"{f.relative_to(PKG)} imports {mod}")
    assert not bad, bad


@pytest.mark.parametrize(
    "module", ["sensorfuse", "sensorfuse.io", "sensorfuse.types", "sensorfuse.geometry", "sensorfuse.rig"]
)
def test_light_imports(module):
    code = f"import sys, {module}; heavy = [m for m in ('open3d', 'numba', 'cv2') if m in sys.modules]; print(','.join(heavy))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing {module} pulled in {out}"


def test_every_raise_in_library_is_a_sensorfuse_error():
    """Library code raises only sensorfuse's exceptions (or re-raises): no bare ValueError/KeyError/assert on input."""
    import sensorfuse.errors

    allowed = set(sensorfuse.errors.__all__) | {
        "TypeError",
        "BadParameter",  # typer's way for a CLI to reject an option value (cli/ only)
    }
    bad = []
    for f in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = exc.id if isinstance(exc, ast.Name) else getattr(exc, "attr", None)
                if name and name[0].isupper() and name not in allowed:
                    bad.append(f"{f.relative_to(PKG)}:{node.lineno} raises {name}")
    assert not bad, bad
