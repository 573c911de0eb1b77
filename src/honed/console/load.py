"""A load run in the terminal: the traffic, latency from arrival, and what went wrong."""

from __future__ import annotations

from rich.table import Table

from honed.meters.stats import LatencySummary
from honed.records.load_result import LoadResult
from honed.records.record import RunRecord


def load_table(record: RunRecord) -> Table:
    load = record.load
    assert load is not None, "load_table takes a load run"
    table = Table(
        title=f"load run {record.id[:12]}  {record.model.display_name}  {load.scenario}  [{record.status}]",
        title_justify="left",
    )
    for column in ("ms", "p50 (95% CI)", "p90", "p99 (95% CI)", "max", "n"):
        table.add_column(column, justify="right")
    rows = [
        ("latency from arrival", load.latency_ms),
        ("service (sent -> done)", load.service_ms),
        ("client lag (arrival -> sent)", load.late_ms),
        ("server queue (reported)", load.server_queue_ms),
        ("server compute (reported)", load.server_compute_ms),
    ]
    if load.streaming is not None:
        rows += [
            ("time to first token", load.streaming.ttft_ms),
            ("time per output token", load.streaming.tpot_ms),
            ("inter-token latency", load.streaming.itl_ms),
        ]
    for label, summary in rows:
        if summary is not None:
            table.add_row(label, *_cells(summary))
    return table


def _cells(s: LatencySummary) -> list[str]:
    return [
        f"{s.p50:.2f} ({s.p50_ci.low:.2f}-{s.p50_ci.high:.2f})",
        f"{s.p90:.2f}",
        f"{s.p99:.2f} ({s.p99_ci.low:.2f}-{s.p99_ci.high:.2f})",
        f"{s.max:.2f}",
        str(s.n),
    ]


def load_lines(load: LoadResult) -> list[str]:
    offered: str = load.scenario
    if load.offered_qps is not None:
        offered = f"offered {load.offered_qps:g} q/s" + (
            f" (burstiness {load.burstiness:g})" if load.burstiness else ""
        )
    elif load.scenario == "multi-stream":
        offered = f"multi-stream, {load.samples_per_query} requests per query"
    lines = [
        f"{offered}, achieved {load.achieved_qps:.2f} q/s over {load.duration_s:.1f} s: "
        f"{load.queries_ok} of {load.queries_scheduled} queries answered ({load.engine}, {load.endpoint})"
    ]
    if load.slo_p99_ms is not None and load.goodput_qps is not None:
        met = load.latency_ms is not None and load.latency_ms.p99 <= load.slo_p99_ms
        lines.append(
            f"SLO p99 <= {load.slo_p99_ms:g} ms: {'met' if met else 'missed'}; goodput {load.goodput_qps:.2f} q/s"
        )
    if load.errors:
        lines.append("errors: " + ", ".join(f"{kind} {count}" for kind, count in sorted(load.errors.items())))
    if load.queue_depth:
        lines.append(f"queries in flight: at most {max(d for _, d in load.queue_depth)} (sampled)")
    if load.streaming is not None:
        streaming = load.streaming
        lines.append(
            f"{streaming.output_tokens} output tokens, {streaming.output_tokens_per_s:.1f} tokens/s"
            + (
                f"; {streaming.effective_qps:.2f} effective q/s (answers of {streaming.requested_output_tokens} tokens)"
                if streaming.effective_qps is not None
                else ""
            )
        )
    if load.peak is not None:
        peak = load.peak
        bracket = f", below {peak.first_miss_qps:.2f} q/s (the lowest rate that missed)" if peak.first_miss_qps else ""
        lines.append(
            f"peak under p99 <= {peak.slo_p99_ms:g} ms: {peak.peak_qps:.2f} q/s{bracket}; "
            f"{len(peak.steps)} runs, {peak.stopped}"
        )
    if load.loadgen is not None:
        verdict = load.loadgen
        p99 = verdict.percentile_latency_ns.get("99.00")
        rate = f", {verdict.completed_samples_per_s:.2f} samples/s" if verdict.completed_samples_per_s else ""
        lines.append(
            f"LoadGen's own result: {'VALID' if verdict.valid else 'INVALID'}{rate}"
            + (f", p99 {p99 / 1e6:.2f} ms" if p99 else "")
        )
    if not load.validity.valid:
        lines.append("not a valid run: " + "; ".join(load.validity.reasons))
    return lines
