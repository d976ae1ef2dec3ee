"""Every ```python block in README.md and docs/*.md runs (from the repository root), so the docs cannot go stale."""

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _blocks():
    for doc in DOCS:
        for i, m in enumerate(BLOCK.finditer(doc.read_text())):
            yield pytest.param(m.group(1), id=f"{doc.relative_to(REPO)}#{i}")


def test_docs_have_examples():
    assert len(list(_blocks())) >= 3


@pytest.mark.parametrize("code", list(_blocks()))
def test_doc_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SENSORFUSE_TMP", str(tmp_path))
    exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_example__", "os": os})


def test_conventions_copy_is_current():
    shared = REPO.parent / "shared" / "CONVENTIONS.md"
    if not shared.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{shared} missing in CI")
        pytest.skip("../shared not present")
    assert (REPO / "docs" / "conventions.md").read_text() == shared.read_text(), (
        "docs/conventions.md differs from ../shared/CONVENTIONS.md"
    )


def test_readme_lists_the_debian_packages_setup_installs():
    """README's set-up paragraph names exactly the Debian packages scripts/setup.sh installs."""
    script = (REPO / "scripts" / "setup.sh").read_text()
    listed = re.search(r"^apt_packages=\((.*?)\)", script, re.MULTILINE).group(1).split()
    listed += re.findall(r"apt_packages\+=\((\S+)\)", script)
    setup = (REPO / "README.md").read_text().split("## Set-up", 1)[1].split("```", 1)[0]
    named = set(re.findall(r"`([a-z0-9][a-z0-9.+-]+)`", setup))
    assert set(listed) <= named, f"README does not name {sorted(set(listed) - named)}"
    debian_like = {n for n in named if re.fullmatch(r"(lib[a-z0-9.+-]+|xvfb|xauth|python3-[a-z]+)", n)}
    assert debian_like <= set(listed), (
        f"README names {sorted(debian_like - set(listed))}, which setup.sh does not install"
    )
