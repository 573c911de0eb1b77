"""``honed campaign``: models x targets as one job. ``run`` expands a spec into one tune per
(model, target) and runs them here or on a Ray cluster; ``status`` shows the matrix's progress;
``report`` writes the case-study table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from honed.cli import options as opt
from honed.cli.app import app, err, open_store, out, print_json

campaign_app = typer.Typer(
    help="Several models on several targets, tuned as one repeatable job (locally or on Ray).", no_args_is_help=True
)
app.add_typer(campaign_app, name="campaign")


@campaign_app.command("run")
def campaign_run(
    spec: Annotated[Path, typer.Argument(help="the campaign's TOML file (see examples/campaign.toml)")],
    executor: Annotated[
        str,
        typer.Option(
            help="local: one tune after another on this machine; ray: one Ray task per "
            "(model, target), placed by the target's resource"
        ),
    ] = "local",
    ray: Annotated[
        str,
        typer.Option(
            "--ray",
            help="with --executor ray: auto (the cluster this machine is in), "
            "ray://host:10001, host:port, or local (a one-node cluster here)",
        ),
    ] = "auto",
    plan: Annotated[
        bool, typer.Option("--plan", help="print the cells and what each target leaves out; run nothing")
    ] = False,
    target: Annotated[
        Optional[list[str]],
        typer.Option("--target", help="run only this target's cells (repeat): e.g. the CPU column on this machine"),
    ] = None,
    fresh: Annotated[bool, typer.Option(help="measure every cell and trial again rather than resume")] = False,
    store: opt.Store = None,
) -> None:
    """Runs every (model, target) tune not done yet; running it again resumes the campaign."""
    from honed.campaign import expand, load_campaign, run_campaign
    from honed.console.campaign import plan_table
    from honed.core.errors import SpecError

    if executor not in ("local", "ray"):
        raise SpecError("--executor", executor, "local or ray")
    campaign = load_campaign(spec)
    known = [t.name for t in campaign.targets]
    for name in target or []:
        if name not in known:
            raise SpecError("--target", name, f"a target of {spec.name}: {', '.join(known)}")
    cells = [cell for cell in expand(campaign) if not target or cell.target in target]
    out.print(plan_table(cells))
    if plan:
        return
    db = open_store(store)

    def progress(outcome) -> None:  # a cell ended
        where = f" on {outcome.node}" + (f", attempt {outcome.attempt}" if outcome.attempt > 1 else "")
        text = f"sweep {outcome.sweep_id[:12]}" if outcome.status == "done" else f"[red]failed[/]: {outcome.error}"
        err.print(f"  {outcome.model} x {outcome.target}{where}: {text}", highlight=False)

    campaign_id, outcomes = run_campaign(
        campaign,
        db,
        executor,
        ray,
        fresh,
        targets=target,
        on_outcome=progress,
        on_progress=lambda model, where, text: err.print(f"  {model} x {where}: {text}", highlight=False),
    )
    if not outcomes:
        err.print(f"campaign {campaign_id}: every cell was already done (--fresh measures them again)")
    _print_report(db, campaign_id)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


@campaign_app.command("status")
def campaign_status(
    campaign_id: Annotated[
        Optional[str], typer.Argument(help="a campaign id or prefix; none: list the campaigns")
    ] = None,
    store: opt.Store = None,
    json: opt.Json = False,
) -> None:
    """Where each (model, target) cell stands: pending, running (on which node), done or failed."""
    import dataclasses

    from honed.campaign import ledger
    from honed.campaign.report import build_report
    from honed.console.campaign import status_table

    db = open_store(store)
    if json:
        if campaign_id is None:
            campaigns = ledger.campaigns(db)
            print_json([{"id": c.id, "created_at": c.created_at, "name": c.name,
                         "progress": ledger.progress_counts(ledger.cells(db, c.id))} for c in campaigns])  # fmt: skip
        else:
            report = build_report(db, campaign_id)
            print_json({**dataclasses.asdict(report), "progress": report.progress})
        return
    if campaign_id is None:
        for found in ledger.campaigns(db):
            counts = ledger.progress_counts(ledger.cells(db, found.id))
            out.print(
                f"{found.id}  {found.created_at:%Y-%m-%d %H:%M}  {found.name}  "
                + ", ".join(f"{n} {s}" for s, n in counts.items() if n),
                highlight=False,
            )
        return
    out.print(status_table(build_report(db, campaign_id)))


@campaign_app.command("report")
def campaign_report(
    campaign_id: Annotated[str, typer.Argument(help="a campaign id or prefix (honed campaign status lists them)")],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", "--out", help="also write the table as Markdown here")
    ] = None,
    store: opt.Store = None,
) -> None:
    """The case-study table: per model and target the base numbers, the recommended recipe, its
    speed-up with CI, quality before and after, memory, energy, cost; and why each left-out
    algorithm was left out."""
    db = open_store(store)
    report = _print_report(db, campaign_id)
    if output is not None:
        from honed.campaign.report import markdown

        output.write_text(markdown(report))
        err.print(f"wrote {output}")


def _print_report(db, campaign_id: str):
    from honed.campaign.report import build_report
    from honed.console.campaign import report_table

    report = build_report(db, campaign_id)
    out.print(report_table(report))
    return report
