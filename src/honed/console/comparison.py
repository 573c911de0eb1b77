"""A before/after comparison in the terminal: one row per metric and batch size, with its CI."""

from __future__ import annotations

from rich import box
from rich.table import Table

from honed.records.comparison import NO_DIFFERENCE, Comparison

_METRIC_LABELS = {
    "latency_p50": "p50 ms",
    "latency_p99": "p99 ms",
    "latency_mean": "mean ms",
    "throughput": "items/s",
    "cold_start": "cold start s",
    "peak_rss": "peak RSS MiB",
}


def comparison_table(comparison: Comparison) -> Table:
    table = Table(
        title=f"{comparison.run_a[:12]} (before) -> {comparison.run_b[:12]} (after); a verdict needs the "
        f"CI to exclude 0 and |change| >= {comparison.min_effect:.0%}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in ("batch", "metric", "before", "after", f"change [{comparison.confidence:.0%} CI]", "verdict"):
        table.add_column(column, justify="right", no_wrap=True)
    colours = {"faster": "green", "smaller": "green", "slower": "red", "larger": "red"}
    for v in comparison.verdicts:
        colour = colours.get(v.verdict, "white")
        scale = 2**20 if v.unit == "bytes" else 1
        unit = "MiB" if v.unit == "bytes" else v.unit
        label = _METRIC_LABELS.get(v.metric, f"{v.metric} {unit}")
        verdict = "not significant" if v.verdict == NO_DIFFERENCE else v.verdict
        table.add_row(
            str(v.batch_size),
            label,
            f"{v.a / scale:,.4g}",
            f"{v.b / scale:,.4g}",
            f"{v.change:+.1%} [{v.ci.low:+.1%}, {v.ci.high:+.1%}]",
            f"[{colour}]{verdict}[/]",
        )
    quality_colours = {"better": "green", "worse": "red", "unchanged": "white"}
    for q in comparison.quality:
        table.add_row(
            "quality",
            f"{q.metric} ({q.better} is better)",
            f"{q.a:.4g}",
            f"{q.b:.4g}",
            f"{q.b - q.a:+.4g} (same items)",
            f"[{quality_colours[q.verdict]}]{q.verdict}[/]",
        )
    return table
