"""What honed knows and sees: its algorithms, its tasks, and whether this machine is fit to time on."""

from __future__ import annotations

from typing import Annotated

import typer

from honed.cli.app import app, out


@app.command()
def doctor() -> None:
    """Is this machine fit to time on? Frequency scaling, turbo, SMT, busy processes, threads; with advice."""
    from honed.console import doctor_table
    from honed.measure.doctor import run_checks

    out.print(doctor_table(run_checks()))


@app.command()
def algorithms(target: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu") -> None:
    """The registered optimisation algorithms, in canonical order, and whether they run here."""
    from honed.console import algorithms_table

    out.print(algorithms_table(target))


@app.command()
def tasks() -> None:
    """The registered quality tasks and their metrics (the first is the primary)."""
    from honed.console import tasks_table

    out.print(tasks_table())
