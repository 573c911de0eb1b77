"""Rich renderings of runs and comparisons for the terminal."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.table import Table

from honed.compare import NO_DIFFERENCE, Comparison
from honed.record import RunRecord


def _mib(value: int | None) -> str:
    return f"{value / 2**20:,.0f} MiB" if value else "-"


def _si(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def run_tables(record: RunRecord) -> list[Table]:
    """Two tables that fit a terminal: latency, then resources and cost."""
    latency = Table(title=f"run {record.id[:12]}  {record.model.display_name}  [{record.status}]", title_justify="left")
    for column in ("batch", "p50 ms (95% CI)", "p99 ms (95% CI)", "mean ± std ms", "CV", "items/s"):
        latency.add_column(column, justify="right")
    resources = Table(title="resources", title_justify="left")
    for column in ("batch", "cold start s", "peak RSS", "energy J/item", "$ per 1M", "roofline eff."):
        resources.add_column(column, justify="right")
    for r in record.results:
        if r.latency_ms is None:
            failed = [m for m in record.measurements if m.batch_size == r.batch_size and m.status != "ok"]
            reason = failed[0].error.splitlines()[0][:60] if failed and failed[0].error else "no samples"
            latency.add_row(str(r.batch_size), f"[red]{failed[0].status if failed else 'failed'}[/]", reason, "", "", "")
            continue
        lat = r.latency_ms
        energy = "n/a" if r.energy is None else (
            f"{r.energy.joules_per_item:.3g}" if r.energy.status == "measured" else "unavailable")
        latency.add_row(
            str(r.batch_size),
            f"{lat.p50:.3f} ({lat.p50_ci.low:.3f}-{lat.p50_ci.high:.3f})",
            f"{lat.p99:.3f} ({lat.p99_ci.low:.3f}-{lat.p99_ci.high:.3f})",
            f"{lat.mean:.3f} ± {lat.std:.3f}",
            f"{lat.cv:.1%}",
            f"{r.throughput_items_per_s:,.1f}",
        )
        resources.add_row(
            str(r.batch_size),
            f"{min(r.cold_start_s):.2f}-{max(r.cold_start_s):.2f}" if r.cold_start_s else "-",
            _mib(r.peak_rss_bytes),
            energy,
            f"{r.cost_per_million_usd:.4g}" if r.cost_per_million_usd is not None else "-",
            f"{r.efficiency.roofline_efficiency:.1%}" if r.efficiency else "-",
        )
    return [latency, resources]


def run_details(record: RunRecord) -> Iterable[str]:
    fp = record.fingerprint
    stats = record.model_stats
    yield f"model      {record.model.kind}:{record.model.source}"
    if record.recipe:
        steps = [s["algorithm"] + ("(" + ", ".join(f"{k}={v}" for k, v in s["params"].items()) + ")" if s["params"] else "")
                 for s in record.recipe]
        yield f"recipe     {' + '.join(steps)}"
    if stats:
        yield f"           {stats.parameters:,} parameters, {_mib(stats.bytes_in_memory)} in memory, dtype {stats.dtype}"
    yield (f"protocol   scope={record.protocol.scope} warmup>={record.protocol.warmup_iterations} it/"
           f"{record.protocol.warmup_min_seconds}s samples>={record.protocol.min_samples} and "
           f">={record.protocol.min_seconds}s, {record.protocol.repetitions} processes per batch size, seed {record.protocol.seed}")
    yield f"device     {record.device} ({fp.runtime.get('device_name', '?')}), threads {fp.runtime.get('threads', '?')}"
    yield f"cpu        {fp.cpu.get('model')} x{fp.cpu.get('logical_cores')} flags {' '.join(fp.cpu.get('flags', [])) or '-'}"
    if fp.gpus:
        yield f"gpu        {', '.join(g['name'] for g in fp.gpus)} driver {fp.gpus[0].get('driver')}"
    yield f"software   python {fp.python}, " + ", ".join(f"{k} {v}" for k, v in fp.packages.items() if v and k != "honed")
    if record.peaks:
        yield (f"peaks      {_si(record.peaks.peak_flops, 'FLOP/s')}, {_si(record.peaks.peak_bandwidth_bytes_per_s, 'B/s')} "
               f"(measured: {record.peaks.method})")
    elif record.peaks_note:
        yield f"peaks      {record.peaks_note}"
    energies = {r.energy.reason for r in record.results if r.energy and r.energy.status == "unavailable"}
    for reason in energies:
        yield f"energy     unavailable: {reason}"
    for note in record.notes:
        yield f"note       {note}"


_METRIC_LABELS = {
    "latency_p50": "p50 ms", "latency_p99": "p99 ms", "latency_mean": "mean ms", "throughput": "items/s",
    "cold_start": "cold start s", "peak_rss": "peak RSS MiB",
}


def comparison_table(comparison: Comparison) -> Table:
    table = Table(title=f"{comparison.run_a[:12]} (before) -> {comparison.run_b[:12]} (after); a verdict needs the "
                        f"CI to exclude 0 and |change| >= {comparison.min_effect:.0%}",
                  title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("batch", "metric", "before", "after", f"change [{comparison.confidence:.0%} CI]", "verdict"):
        table.add_column(column, justify="right", no_wrap=True)
    colours = {"faster": "green", "smaller": "green", "slower": "red", "larger": "red"}
    for v in comparison.verdicts:
        colour = colours.get(v.verdict, "white")
        scale = 2**20 if v.unit == "bytes" else 1
        unit = "MiB" if v.unit == "bytes" else v.unit
        label = _METRIC_LABELS.get(v.metric, f"{v.metric} {unit}")
        verdict = "not significant" if v.verdict == NO_DIFFERENCE else v.verdict
        table.add_row(str(v.batch_size), label, f"{v.a / scale:,.4g}", f"{v.b / scale:,.4g}",
                      f"{v.change:+.1%} [{v.ci.low:+.1%}, {v.ci.high:+.1%}]", f"[{colour}]{verdict}[/]")
    return table
