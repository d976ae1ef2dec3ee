"""What every ``fuse-*`` command shares: its consoles, tables and progress bars, error printing without a traceback,
exit codes, JSON output.

Output must not depend on the terminal. This module is the one place that makes sure of it:

- an error is one line on stderr, whatever the width (``soft_wrap``: rich inserts no line breaks);
- when stdout is not a terminal (a pipe, a file, CI), tables are laid out at their natural width (never shrunk,
  never wrapped, never cut with an ellipsis) and no colour codes are written; ``COLUMNS`` is ignored there;
- on a terminal, a table that is wider than the window folds its cells (the text is all there) instead of cutting;
- progress bars go to stderr, and only when stderr is a terminal;
- ``--json`` is written with :func:`print_json`, never through rich.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn
    from rich.table import Table

# Width a console gets when it does not write to a terminal: wider than any line we print, so nothing is wrapped;
# rich lays tables out at their natural width within it and pads nothing.
PIPE_WIDTH = 100_000
_consoles: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    """The console every command prints through (stdout, or stderr with ``stderr=True``)."""
    con = _consoles.get(stderr)
    stream = sys.stderr if stderr else sys.stdout
    if con is None or con.file is not stream:  # tests swap sys.stdout: follow it
        from rich.console import Console

        tty = stream.isatty()
        con = Console(file=stream, stderr=stderr, width=None if tty else PIPE_WIDTH, soft_wrap=True)
        _consoles[stderr] = con
    return con


def table(*columns: str, title: str | None = None) -> Table:
    """A table whose cells fold rather than being cut when a terminal is narrow (a pipe never narrows it)."""
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")
    return t


def progress_bar(*columns: str | ProgressColumn, disable: bool = False, transient: bool = True) -> Progress:
    """A progress bar on stderr, shown only when stderr is a terminal (never mixed into piped output)."""
    from rich.progress import Progress

    con = console(stderr=True)
    return Progress(*columns, console=con, disable=disable or not con.is_terminal, transient=transient)


def print_json(data: Any) -> None:
    """Print one JSON object on stdout (numpy values converted)."""
    from sensorfuse.io._files import json_default

    sys.stdout.write(json.dumps(data, default=json_default, indent=2) + "\n")


def error(message: str) -> None:
    """One line on stderr: ``error: MESSAGE`` (red on a terminal), never wrapped."""
    from rich.markup import escape

    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def run(app: Callable[..., Any]) -> None:
    """Run a typer app. A SensorfuseError prints as one line on stderr and exits 1; a usage error (bad option,
    missing argument) as one line naming ``--help`` and exits 2; Ctrl-C exits 130."""
    import typer

    from sensorfuse.errors import SensorfuseError

    # typer's click (vendored as typer._click in newer typer, the click package in older): take the base classes
    # from typer's public BadParameter instead of naming either module
    bases: dict[str, Any] = {c.__name__: c for c in typer.BadParameter.__mro__}
    usage_error: type[Exception] = bases["UsageError"]
    click_exception: type[Exception] = bases["ClickException"]
    try:
        rc = app(standalone_mode=False)
    except SensorfuseError as exc:
        error(" ".join(str(exc).split("\n")))
        sys.exit(1)
    except usage_error as exc:
        ctx = getattr(exc, "ctx", None)
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        error(f"{' '.join(getattr(exc, 'format_message')().split())}{where}")  # noqa: B009 - a vendored click class
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        error("interrupted")
        sys.exit(130)
    except click_exception as exc:
        error(" ".join(getattr(exc, "format_message")().split()))  # noqa: B009
        sys.exit(getattr(exc, "exit_code", 1))
    if isinstance(rc, int) and rc:
        sys.exit(rc)


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
