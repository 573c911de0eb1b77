"""Matplotlib figures rendered to inline SVG strings (the report must be one self-contained file)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from honed.records.record import RunRecord  # noqa: E402

COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")


def _svg(figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog so it can sit inside HTML


def latency_cdf(runs: list[tuple[str, RunRecord]], batch_size: int) -> str:
    """Empirical CDF of every timed sample (all worker processes pooled) per run."""
    figure, axes = plt.subplots(figsize=(6.4, 3.6))
    for (label, record), colour in zip(runs, COLOURS):
        samples = np.sort(
            np.concatenate(
                [
                    np.asarray(m.samples_ns, dtype=float) / 1e6
                    for m in record.measurements
                    if m.batch_size == batch_size and m.status == "ok" and m.samples_ns
                ]
                or [np.empty(0)]
            )
        )
        if samples.size:
            axes.step(samples, np.arange(1, samples.size + 1) / samples.size, where="post", label=label, color=colour)
    axes.set_xlabel(f"latency at batch {batch_size} (ms)")
    axes.set_ylabel("fraction of calls")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    return _svg(figure)


def pareto_scatter(points, front, recommended, objective_label: str, quality_label: str) -> str:
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    passing = [p for p in points if p.passes and p.quality is not None]
    failing = [p for p in points if not p.passes and p.quality is not None]
    if failing:
        axes.scatter(
            [p.objective for p in failing], [p.quality for p in failing], color="#bbbbbb", label="rejected / constraint"
        )
    if passing:
        axes.scatter([p.objective for p in passing], [p.quality for p in passing], color=COLOURS[0], label="passes")
    if front:
        axes.plot(
            [p.objective for p in front], [p.quality for p in front], color=COLOURS[1], lw=1, label="Pareto front"
        )
    if recommended is not None and recommended.quality is not None:
        axes.scatter(
            [recommended.objective],
            [recommended.quality],
            marker="*",
            s=220,
            color=COLOURS[3],
            label="recommended",
            zorder=3,
        )
    # Only the front and the recommendation are named: labelling every point makes a blur.
    named = {
        (p.trial, p.batch_size): p for p in [*front, *([recommended] if recommended else [])] if p.quality is not None
    }
    for p in named.values():
        axes.annotate(
            f"{p.label} b{p.batch_size}",
            (p.objective, p.quality),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    axes.set_xlabel(objective_label)
    axes.set_ylabel(quality_label)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _svg(figure)


def trials_scatter(placed: dict[str, list[tuple[float, float]]], rate_label: str, quality_label: str) -> str:
    """Every screened trial as its quality pass placed it: quality against that pass's speed over
    the base model's, by what became of it (timed, not timed, rejected)."""
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for (status, xy), colour in zip(placed.items(), (COLOURS[0], COLOURS[1], "#bbbbbb")):
        if xy:
            axes.scatter([x for x, _ in xy], [y for _, y in xy], color=colour, label=f"{status} ({len(xy)})")
    axes.axvline(1.0, color="#888888", lw=0.8, ls=":")  # the base model's speed
    axes.set_xlabel(f"{rate_label} of its quality pass, over the base model's (x)")
    axes.set_ylabel(quality_label)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _svg(figure)


def before_after_bars(
    metrics: list[tuple[str, float, float, tuple[float, float] | None, tuple[float, float] | None]],
    labels: tuple[str, str],
) -> str:
    """One small panel per metric: before and after, with CI whiskers where there are CIs."""
    count = max(len(metrics), 1)
    figure, axes = plt.subplots(1, count, figsize=(2.2 * count, 2.8), squeeze=False)
    for ax, (name, before, after, ci_before, ci_after) in zip(axes[0], metrics):
        values = [before, after]
        errors = None
        if ci_before and ci_after:
            errors = np.array(
                [[before - ci_before[0], after - ci_after[0]], [ci_before[1] - before, ci_after[1] - after]]
            )
        ax.bar([0, 1], values, color=COLOURS[:2], yerr=errors, capsize=4)
        ax.set_xticks([0, 1], labels, fontsize=7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    return _svg(figure)
