"""What every ``fuse-*`` command shares: error printing without a traceback, exit codes, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from sensorfuse.io._files import json_default


def print_json(data: Any) -> None:
    """Print one JSON object on stdout (numpy values converted)."""
    sys.stdout.write(json.dumps(data, default=json_default, indent=2) + "\n")


def run(main: Callable[[], Any]) -> None:
    """Run a typer app; a SensorfuseError prints as one red line on stderr and exits 1."""
    from sensorfuse.errors import SensorfuseError

    try:
        main()
    except SensorfuseError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
        sys.exit(1)


def pairs(values: list[str], what: str, parse: Callable[[str], Any]) -> dict[str, Any]:
    """``NAME=VALUE`` options (``--offset cam_front=3ms``) as a dict; a malformed one is a typer.BadParameter."""
    import typer

    out = {}
    for v in values:
        name, sep, val = v.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{what} {v!r}: expected NAME=VALUE (e.g. cam_front=3ms)")
        try:
            out[name] = parse(val)
        except Exception as exc:
            raise typer.BadParameter(f"{what} {v!r}: {exc}") from None
    return out
