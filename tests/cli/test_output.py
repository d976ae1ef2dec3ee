"""CLI output does not depend on the terminal (sensorfuse.cli._common): run through a pipe, as CI and scripts do, with
COLUMNS unset, 80 and 40, every error is one line, tables are whole (no wrapped or cut cells) and --json parses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

WIDTHS = [None, "80", "40"]


def _run(module: str, *args: str, columns: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TERM")}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", f"sensorfuse.cli.{module}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("columns", WIDTHS)
def test_library_errors_are_one_line(tmp_path, columns):
    nowhere = tmp_path / ("a-rather-long-folder-name-" * 4) / "nowhere"
    for module, args in (
        ("view", [str(nowhere), "--screenshot", str(tmp_path / "x.png")]),
        ("info", [str(nowhere)]),
        ("sync", [str(nowhere), "-o", str(tmp_path / "out")]),
    ):
        r = _run(module, *args, columns=columns)
        assert r.returncode == 1, (module, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1, (module, r.stderr)
        assert lines[0].startswith("error: ") and str(nowhere) in lines[0]
        assert "\x1b[" not in r.stderr  # no colour codes into a pipe


@pytest.mark.parametrize("columns", WIDTHS)
def test_usage_errors_are_one_line_naming_help(columns):
    r = _run("sync", "some.bag", columns=columns)  # -o missing
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert line.startswith("error: ") and "out" in line.lower() and "--help" in line
    r = _run("sync", "some.bag", "-o", "x", "--no-such-option", columns=columns)
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert "--no-such-option" in line


@pytest.mark.parametrize("columns", WIDTHS)
def test_sync_summary_table_is_whole(sample_data, tmp_path, columns):
    out = tmp_path / "synced"
    r = _run("sync", str(sample_data / "sim_small" / "log"), "-o", str(out), columns=columns)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # progress bars only on a terminal
    assert "…" not in r.stdout
    rows = {ln.split()[1]: ln for ln in r.stdout.splitlines() if ln.startswith("│")}
    # the GNSS row carries the whole GPS->UTC offset on one line, as in sync_report.json
    report = json.loads((out / "sync_report.json").read_text())
    offset_ms = report["streams"]["gnss"]["clock"]["offset_ns"] / 1e6
    assert f"gps {offset_ms:+.3f} ms" in rows["gnss"]
    assert set(rows) >= {"cam_front", "gnss", "imu", "lidar", "odom", "radar"}
    widths = {len(ln) for ln in r.stdout.splitlines() if ln[:1] in "┏┃┡│└"}
    assert len(widths) == 1  # every table line has the same width: no cell wrapped onto a second line


@pytest.mark.parametrize("columns", ["40", None])
def test_json_is_never_wrapped(sample_data, columns):
    r = _run("info", str(sample_data / "sim_small" / "log"), "--json", columns=columns)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["format"] and d["streams"]
    r = _run("info", str(sample_data / "sim_small" / "log"), columns=columns)
    assert r.returncode == 0
    assert "…" not in r.stdout
    for s in d["streams"]:
        assert any(s["topic"] in ln for ln in r.stdout.splitlines())  # each topic whole on a line


def test_console_width_rules(monkeypatch):
    """The one place that decides: a pipe gets the wide fixed width whatever COLUMNS says; soft wrap on."""
    import io

    from sensorfuse.cli import _common

    monkeypatch.setenv("COLUMNS", "20")
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    con = _common.console()
    assert con.width == _common.PIPE_WIDTH and con.soft_wrap
    con.print("x" * 300)
    assert sys.stdout.getvalue() == "x" * 300 + "\n"
