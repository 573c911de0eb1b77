"""A tune in the terminal: a line per trial as it ends, the table of trials, and the summary."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.markup import escape
from rich.table import Table


def tune_trial_line(trial, points) -> str:
    """One line per finished trial while a tune runs."""
    mark = {"ok": "[green]ok[/]", "rejected": "[yellow]rejected[/]", "failed": "[red]failed[/]"}[trial.status]
    cached = " [dim](cached)[/]" if trial.cached else f" [dim]({trial.seconds:.0f} s)[/]"
    if trial.reused:
        cached += f" [dim](the stored run {trial.run_id[:12]}: same model, spec and machine; --fresh measures again)[/]"
    best = ", ".join(f"b{p.batch_size}: {p.objective:.4g}" for p in points)
    quality = ""
    if trial.quality and trial.quality.status == "ok" and trial.quality.primary:
        quality = f" {trial.quality.primary} {trial.quality.primary_value:.4g}"
        if trial.quality.expected:  # the baseline: the base model's quality against the spec's
            quality += f" ({escape(trial.quality.expected)})"
    detail = f" {trial.reason}" if trial.reason else ""
    return f"{mark} {trial.label}:{quality} {best}{detail}{cached}"


def tune_table(result) -> Table:
    """One row per trial: its best point (★ recommended, ◆ on the Pareto front); reasons below."""
    objective = result.settings.goal_objective
    table = Table(
        title=f"tune {result.id[:12]}: {objective.what} in {objective.unit}, {objective.better} is better",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("recipe", "status", "quality", "drop", f"best {result.settings.objective}", "vs base"):
        table.add_column(column, justify="left" if column == "recipe" else "right", overflow="fold")
    base = {p.batch_size: p.objective for p in result.points if result.baseline and p.trial == result.baseline.key}
    front = {(p.trial, p.batch_size) for p in result.pareto}
    recommended = (result.recommended.trial, result.recommended.batch_size) if result.recommended else None
    for trial in [t for t in [result.baseline, *result.trials] if t is not None]:
        points = [p for p in result.points if p.trial == trial.key]
        best, ratio = "-", "-"
        if points:
            point = objective.best(points, key=lambda p: p.objective)
            key = (point.trial, point.batch_size)
            mark = " ★" if key == recommended else (" ◆" if key in front else "")
            best = f"{point.objective:.4g} @b{point.batch_size}{mark}"
            if point.batch_size in base and point.objective > 0:
                reference = base[point.batch_size]
                ratio = f"{objective.gain(reference, point.objective):.2f}x"
        quality = trial.quality.primary_value if trial.quality and trial.quality.status == "ok" else None
        status = {"ok": "[green]ok[/]", "rejected": "[yellow]rejected[/]", "failed": "[red]failed[/]"}[trial.status]
        table.add_row(
            trial.label + (" [dim](cached)[/]" if trial.cached else ""),
            status,
            f"{quality:.4g}" if quality is not None else "-",
            f"{trial.quality_drop:+.1%}" if trial.quality_drop is not None else "-",
            best,
            ratio,
        )
    return table


def tune_summary(result) -> Iterable[str]:
    for trial in result.trials:
        if trial.reason:
            yield f"{trial.label}: {trial.status}: {trial.reason.strip().splitlines()[-1][:200]}"
    for name, reason in result.skipped.items():
        yield f"not tried: {name}: {reason}"
    yield f"stopped after {tried_text(result)}: {result.stop_reason}"
    verdict = "[green]satisfied[/]" if result.satisfied else "[red]not satisfied[/]"
    if result.satisfied and result.contended_trials:
        verdict = "[yellow]satisfied on contended evidence[/]"
    yield f"{verdict}: {escape(recommendation_text(result))}"
    if result.recommendation_reason:
        yield escape(result.recommendation_reason)
    if result.best_effort:
        yield f"[yellow]best effort[/]: {escape(result.best_effort)}"
    yield "★ recommended, ◆ on the Pareto front (quality vs objective)"


def tried_text(result) -> str:
    """How many points the search tried, and how many of those were timed."""
    trials = result.trials
    timed = sum(1 for t in trials if t.run_id is not None)
    how = "" if result.settings.search == "list" else f" ({result.settings.search} search, seed {result.settings.seed})"
    return f"{len(trials)} trials{how}, {timed} of them timed"


def recommendation_text(result) -> str:
    """One line: the recommended point against the base model, or why nothing was recommended."""
    objective, recommended = result.settings.goal_objective, result.recommended
    if recommended is None:
        why = sorted({p.why_not for p in result.points if p.why_not})
        return "no measured candidate, the base model included, meets the guardrail and constraints" + (
            f" ({'; '.join(why[:3])})" if why else ""
        )
    base_points = [
        p
        for p in result.points
        if result.baseline
        and p.trial == result.baseline.key
        and p.batch_size == recommended.batch_size
        and p.threads == recommended.threads
    ]
    where = f"batch {recommended.batch_size}" + (f", {recommended.threads} threads" if recommended.threads else "")
    text = f"recommended: {recommended.label} at {where}: {objective.name} {recommended.objective:.4g} {objective.unit}"
    if base_points and base_points[0].trial != recommended.trial:
        base = base_points[0].objective
        text += f" ({objective.gain(base, recommended.objective):.2f}x the base model's {base:.4g} {objective.unit})"
    elif base_points:
        text += " (no recipe beat the base model significantly)"
    if recommended.quality is not None:
        text += f", {result.metric} {recommended.quality:.4g}"
    if contended := result.contended_trials:
        text += (
            f"; measured on a busy machine: {', '.join(t.label for t in contended)} stayed contended after "
            f"{result.settings.contention_retries} retries, so this evidence is the machine's as much as the "
            "recipes': measure again on a quiet machine"
        )
    return text
