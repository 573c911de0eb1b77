"""The ``honed`` command line: a thin layer over the library (``python -m honed.cli``).

Exit codes: 0 success; 1 unexpected internal error; 2 invalid input (spec field, path,
unknown name); 3 a measurement failed (the run is still stored, with the reason);
4 environments differ and --strict was given; 5 a regression was found and
--fail-on-regression was given; 6 a tune found no candidate (base model included) that
meets the guardrail and constraints; 7 doctor found the machine unfit for timing; 130 interrupted.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape

from honed.cli import (  # noqa: F401  (register the commands on app)
    arena,
    campaign,
    catalog,
    commands,
    optimize,
    serve,
    stored,
    traffic,
)
from honed.cli.app import app, err
from honed.core.errors import HonedError


@functools.cache
def command() -> Callable[..., Any]:
    """The click command tree, built once per process: typer rebuilds it from the functions'
    signatures on every call, which costs ~70 ms (a test calling main() 1,000 times pays it each time)."""
    return typer.main.get_command(app)


def main() -> None:
    try:
        code = command()(standalone_mode=False, prog_name="honed")
        # click returns, not raises, the code of a typer.Exit here
        sys.exit(code if isinstance(code, int) else 0)
    except HonedError as error:
        _error_line(str(error))
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.TyperException as error:  # a usage error (unknown option, bad value): bad input, one line
        if type(error).__name__ == "NoArgsIsHelpError":  # bare `honed` or a bare group: its help, success
            print(error.ctx.get_help())  # type: ignore[attr-defined]  # click's NoArgsIsHelpError has ctx
            sys.exit(0)
        _error_line(error.format_message() if hasattr(error, "format_message") else str(error))
        sys.exit(2)


def _error_line(message: str) -> None:
    """One line, whatever the message quotes (a field name from a file may hold a newline)."""
    one_line = " ".join(message.split())
    err.print(f"[red]error:[/] {escape(one_line)}", highlight=False, soft_wrap=True)
