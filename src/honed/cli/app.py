"""The typer application, its consoles and exit codes; commands register on ``app``."""

from __future__ import annotations

import typer
from rich.console import Console

EXIT_MEASUREMENT_FAILED = 3
EXIT_REGRESSION = 5
EXIT_NOT_SATISFIED = 6

app = typer.Typer(
    help="Make models faster, smaller and cheaper on their target, and prove it.",
    rich_markup_mode=None,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
runs_app = typer.Typer(help="List, show, export, import and tag stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
out = Console()
err = Console(stderr=True)


def open_store(url: str | None):
    from honed.store.database import Store

    return Store(url)
