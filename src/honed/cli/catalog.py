"""What honed knows and sees: its algorithms, its tasks, and whether this machine is fit to time on."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from honed.cli import options as opt
from honed.cli.app import EXIT_UNFIT, app, out, print_json


@app.command()
def doctor(json: opt.Json = False) -> None:
    """Is this machine fit to time on? Frequency scaling, turbo, SMT, busy processes, threads; with advice.
    Exits 7 when a check warns."""
    from honed.console import doctor_table
    from honed.measure.doctor import run_checks

    checks = run_checks()
    if json:
        print_json([dataclasses.asdict(check) for check in checks])
    else:
        out.print(doctor_table(checks))
    if any(check.status == "warn" for check in checks):
        raise typer.Exit(EXIT_UNFIT)


@app.command()
def algorithms(target: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu", json: opt.Json = False) -> None:
    """The registered optimisation algorithms, in canonical order, and whether they run here."""
    from honed.console import algorithms_table
    from honed.console.catalog import algorithm_rows

    if json:
        print_json(algorithm_rows(target))
    else:
        out.print(algorithms_table(target))


@app.command()
def tasks(json: opt.Json = False) -> None:
    """The registered quality tasks and their metrics (the first is the primary)."""
    from honed.console import tasks_table
    from honed.console.catalog import task_rows

    if json:
        print_json(task_rows())
    else:
        out.print(tasks_table())
