"""A run in the terminal: results per batch size, generation, quality, details and warnings."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table

from honed.records.record import QualityResult, RunRecord


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
            latency.add_row(
                str(r.batch_size), f"[red]{failed[0].status if failed else 'failed'}[/]", reason, "", "", ""
            )
            continue
        lat = r.latency_ms
        energy = (
            "n/a"
            if r.energy is None
            else (f"{r.energy.joules_per_item:.3g}" if r.energy.status == "measured" else "unavailable")
        )
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
    tables = [latency, resources]
    if any(r.generation for r in record.results):
        tables.append(generation_table(record))
    return tables + ([quality_table(record.quality)] if record.quality else [])


def generation_table(record: RunRecord) -> Table:
    table = Table(
        title=f"generation ({record.protocol.new_tokens} new tokens after {record.inputs.seq_len} prompt tokens)",
        title_justify="left",
    )
    for column in ("batch", "first token p50 ms (95% CI)", "first token p99 ms", "ms per output token", "tokens/s"):
        table.add_column(column, justify="right")
    for r in record.results:
        if r.generation is None:
            continue
        first, g = r.generation.time_to_first_token_ms, r.generation
        table.add_row(
            str(r.batch_size),
            f"{first.p50:.3f} ({first.p50_ci.low:.3f}-{first.p50_ci.high:.3f})",
            f"{first.p99:.3f}",
            f"{g.time_per_output_token_ms:.3f}" if g.time_per_output_token_ms else "-",
            f"{g.tokens_per_s:,.1f}",
        )
    return table


def quality_table(quality: QualityResult) -> Table:
    title = f"quality on {quality.task}"
    if quality.status != "ok":
        table = Table(title=f"{title}: [red]{quality.status}[/]", title_justify="left")
        table.add_column("error")
        table.add_row((quality.error or "").strip().splitlines()[-1][:200] if quality.error else "no reason given")
        return table
    table = Table(title=f"{title} ({quality.items} items, {quality.seconds or 0:.1f} s)", title_justify="left")
    for column in ("metric", "value", "better"):
        table.add_column(column, justify="right")
    for name, value in quality.values.items():
        label = f"{name} (primary)" if name == quality.primary else name
        table.add_row(label, f"{value:.4g}", quality.better.get(name, "?"))
    for name, value in quality.agreement.items():
        table.add_row(f"{name} vs base", f"{value:.4g}", "")
    notes = [f"expected quality {quality.expected}"] if quality.expected else []
    notes += [f"agreement: {quality.agreement_on}"] if quality.agreement_on else []
    if notes:
        table.caption, table.caption_justify = "\n".join(notes), "left"
    return table


def run_details(record: RunRecord) -> Iterable[str]:
    fp = record.fingerprint
    stats = record.model_stats
    yield f"model      {record.model.kind}:{record.model.source}"
    if record.recipe:
        steps = [
            s.algorithm + ("(" + ", ".join(f"{k}={v}" for k, v in s.params.items()) + ")" if s.params else "")
            for s in record.recipe
        ]
        yield f"recipe     {' + '.join(steps)}"
    if stats:
        memory = _mib(stats.bytes_in_memory)
        yield f"           {stats.parameters:,} parameters, {memory} in memory, dtype {stats.dtype}"
    yield (
        f"protocol   scope={record.protocol.scope} warmup>={record.protocol.warmup_iterations} it/"
        f"{record.protocol.warmup_min_seconds}s samples>={record.protocol.min_samples} and "
        f">={record.protocol.min_seconds}s, {record.protocol.repetitions} processes per batch size, "
        f"seed {record.protocol.seed}"
        + (f", {record.protocol.concurrency} requests in flight" if record.protocol.concurrency > 1 else "")
    )
    yield f"device     {record.device} ({fp.runtime.get('device_name', '?')}), threads {fp.runtime.get('threads', '?')}"
    flags = " ".join(fp.cpu.get("flags", [])) or "-"
    yield f"cpu        {fp.cpu.get('model')} x{fp.cpu.get('logical_cores')} flags {flags}"
    if fp.gpus:
        yield f"gpu        {', '.join(g['name'] for g in fp.gpus)} driver {fp.gpus[0].get('driver')}"
    yield f"software   python {fp.python}, " + ", ".join(
        f"{k} {v}" for k, v in fp.packages.items() if v and k != "honed"
    )
    if record.peaks:
        yield (
            f"peaks      {_si(record.peaks.peak_flops, 'FLOP/s')}, "
            f"{_si(record.peaks.peak_bandwidth_bytes_per_s, 'B/s')} "
            f"(measured: {record.peaks.method})"
        )
    elif record.peaks_note:
        yield f"peaks      {record.peaks_note}"
    energies = {r.energy.reason for r in record.results if r.energy and r.energy.status == "unavailable"}
    for reason in energies:
        yield f"energy     unavailable: {reason}"
    for note in record.notes:
        yield f"note       {note}"
    for step in record.coverage:
        flops = f", {step.flop_share:.0%} of FLOPs" if step.flop_share is not None else ""
        yield (
            f"changed    {step.algorithm}: {step.layers_changed} of {step.layers_total} layers ({step.what}), "
            f"{step.parameter_share:.0%} of parameters{flops}"
        )
    if record.stability is not None:
        yield f"stability  {record.stability.verdict}" + (
            f": {'; '.join(record.stability.reasons)}" if record.stability.reasons else ""
        )


def coverage_warnings(record: RunRecord) -> list[str]:
    return [f"WARNING: {step.warning}" for step in record.coverage if step.warning]


def stability_warning(record: RunRecord) -> str | None:
    """A banner for a run whose numbers should not be read as they are."""
    stability = record.stability
    if stability is None or stability.trusted:
        return None
    advice = (
        "measure again on a quiet machine (`honed doctor` shows what else is running)"
        if stability.verdict == "contended"
        else "more samples or repetitions, or a quieter machine, would narrow it"
    )
    reasons = "; ".join(stability.reasons)
    return f"WARNING: run {record.id[:12]} is {stability.verdict}: {reasons}. Its numbers may be off; {advice}."
