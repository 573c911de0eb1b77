"""The typer application, its consoles and exit codes; commands register on ``app``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console

EXIT_MEASUREMENT_FAILED = 3
EXIT_REGRESSION = 5
EXIT_NOT_SATISFIED = 6
EXIT_UNFIT = 7  # honed doctor: the machine is not fit to time on

# `honed --help` lists the commands in these panels, in this order (the journey: measure, optimise, ...).
PANELS = {
    "Measure": ("evaluate", "compare", "doctor"),
    "Optimise": ("demo", "tune", "optimize", "algorithms", "tasks"),
    "Serve and load": ("serve", "load", "arena"),
    "Track": ("runs", "sweeps", "report", "dashboard"),
    "Scale": ("campaign",),
}
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


class PanelGroup(typer.core.TyperGroup):
    """The top-level help with the commands grouped in ``PANELS``; any other command goes last."""

    def list_commands(self, ctx: Any) -> list[str]:
        known = [name for names in PANELS.values() for name in names]
        names = super().list_commands(ctx)
        return [n for n in known if n in names] + sorted(n for n in names if n not in known)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        commands = {n: c for n in self.list_commands(ctx) if (c := self.get_command(ctx, n)) is not None}
        width = formatter.width - 6 - max(map(len, commands))
        placed: set[str] = set()
        for panel, names in (*PANELS.items(), ("Other", tuple(commands))):
            rows = [(n, commands[n].get_short_help_str(width)) for n in names if n in commands and n not in placed]
            placed.update(name for name, _ in rows)
            if rows:
                with formatter.section(panel):
                    formatter.write_dl(rows)


app = typer.Typer(
    help="Make models faster, smaller and cheaper on their target, and prove it.",
    cls=PanelGroup,
    context_settings=HELP_OPTIONS,
    rich_markup_mode=None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(shown: bool) -> None:
    """``honed --version``: honed's version and the versions every run records of its key libraries."""
    if not shown:
        return
    from honed.core.fingerprint import PACKAGES, package_version

    print(f"honed {package_version('honed')}")
    for name in PACKAGES[1:]:
        print(f"  {name} {package_version(name) or '(not installed)'}")
    raise typer.Exit()


@app.callback()
def _top(
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_version, help="honed's and its libraries' versions")
    ] = False,
) -> None:
    """Make models faster, smaller and cheaper on their target, and prove it."""


runs_app = typer.Typer(help="List, show, export, import and tag stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
sweeps_app = typer.Typer(help="List stored tune sweeps (as `honed runs` does runs).", no_args_is_help=True)
app.add_typer(sweeps_app, name="sweeps")
out = Console()
err = Console(stderr=True)


@contextlib.contextmanager
def progress_to_stderr(json: bool) -> Iterator[None]:
    """With ``--json``, stdout holds only the JSON: the progress and tables a long command prints go
    to stderr meanwhile."""
    if not json:
        yield
        return
    previous, out.file = out.file, sys.stderr
    try:
        yield
    finally:
        out.file = previous


def print_json(value: Any) -> None:
    """``--json``: the value on stdout, plain (no colour or wrapping), for scripts and CI."""
    import json

    print(json.dumps(value, indent=2, default=str))


def open_store(url: str | None):
    from honed.store.database import Store

    return Store(url)
