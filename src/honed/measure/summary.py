"""From raw measurements to per-batch-size results: latency, throughput, memory, energy,
cost and efficiency against the target's measured peaks (definitions: docs/concepts/metrics.md)."""

from __future__ import annotations

import numpy as np

from honed.core.protocol import Protocol, TargetSpec
from honed.meters.peaks import Peaks
from honed.meters.stats import summarize_latency
from honed.records.record import BatchResult, Efficiency, EnergySummary, GenerationSummary, Measurement, ModelStats


def summarize(
    measurements: list[Measurement],
    protocol: Protocol,
    target: TargetSpec,
    peaks: Peaks | None,
    model_stats: ModelStats | None,
) -> list[BatchResult]:
    results = []
    for batch_size in protocol.batch_sizes:
        mine = [m for m in measurements if m.batch_size == batch_size]
        ok = [m for m in mine if m.status == "ok" and m.samples_ns]
        result = BatchResult(batch_size=batch_size, repetitions_ok=len(ok), repetitions_failed=len(mine) - len(ok))
        if ok:
            result = _summarize_ok(result, ok, protocol, target, peaks, model_stats)
        results.append(result)
    return results


def _summarize_ok(result, ok, protocol, target, peaks, model_stats) -> BatchResult:
    batch_size = result.batch_size
    groups = [np.asarray(m.samples_ns, dtype=np.float64) for m in ok]
    latency = summarize_latency(groups, protocol.confidence, protocol.bootstrap_resamples, protocol.seed)
    mean_s = latency.mean / 1e3
    if protocol.concurrency == 1:
        throughput = batch_size / mean_s  # items / summed timed wall time
    else:  # calls overlap: items finished over the wall time of the timed windows
        throughput = batch_size * sum(len(m.samples_ns) for m in ok) / sum(m.timed_seconds for m in ok)
    seconds_per_batch = batch_size / throughput  # what the hardware sustained, for efficiency
    flops = next((m.flops_per_batch for m in ok if m.flops_per_batch), None)
    cuda_allocated = [m.memory["cuda_peak_allocated_bytes"] for m in ok if "cuda_peak_allocated_bytes" in m.memory]
    cuda_reserved = [m.memory["cuda_peak_reserved_bytes"] for m in ok if "cuda_peak_reserved_bytes" in m.memory]
    return result.model_copy(
        update=dict(
            latency_ms=latency,
            p50_ms_by_repetition=[float(np.median(m.samples_ns)) / 1e6 for m in ok],
            throughput_items_per_s=throughput,
            cold_start_s=[m.cold_start.first_result_s for m in ok if m.cold_start],
            peak_rss_bytes=max(m.memory.get("peak_rss_bytes", 0) for m in ok) or None,
            cuda_peak_allocated_bytes=max(cuda_allocated) if cuda_allocated else None,
            cuda_peak_reserved_bytes=max(cuda_reserved) if cuda_reserved else None,
            energy=_energy(ok, batch_size),
            cost_per_million_usd=(target.price_per_hour / 3600 / throughput * 1e6)
            if target.price_per_hour is not None
            else None,
            efficiency=_efficiency(flops, seconds_per_batch, peaks, model_stats),
            generation=_generation(ok, protocol, batch_size, mean_s) if protocol.scope == "generate" else None,
        )
    )


def _generation(ok, protocol, batch_size: int, mean_s: float) -> GenerationSummary | None:
    groups = [np.asarray(m.first_token_ns, dtype=np.float64) for m in ok if m.first_token_ns]
    if not groups:
        return None
    first = summarize_latency(groups, protocol.confidence, protocol.bootstrap_resamples, protocol.seed)
    per_token = (mean_s * 1e3 - first.mean) / (protocol.new_tokens - 1) if protocol.new_tokens > 1 else None
    return GenerationSummary(
        new_tokens=protocol.new_tokens,
        time_to_first_token_ms=first,
        time_per_output_token_ms=per_token,
        tokens_per_s=batch_size * protocol.new_tokens / mean_s,
    )


def _energy(ok: list[Measurement], batch_size: int) -> EnergySummary | None:
    readings = [(m, m.energy) for m in ok if m.energy is not None]
    if not readings:
        return None
    measured = [(m, e) for m, e in readings if e.status == "measured"]
    if not measured:
        first = readings[0][1]
        return EnergySummary(status="unavailable", source=first.source, reason=first.reason)
    items = sum(batch_size * len(m.samples_ns) for m, _ in measured)
    joules = sum(e.joules for _, e in measured if e.joules is not None)  # a measured reading has both
    seconds = sum(e.seconds for _, e in measured if e.seconds is not None)
    above = [a for _, e in measured if (a := e.joules_above_idle) is not None]
    idle = [e.idle_watts for _, e in measured if e.idle_watts is not None]
    return EnergySummary(
        status="measured",
        source=measured[0][1].source,
        joules_per_item=joules / items,
        joules_per_item_above_idle=sum(above) / items if len(above) == len(measured) else None,
        idle_watts=float(np.mean(idle)) if idle else None,
        mean_watts=joules / seconds if seconds else None,
    )


def _efficiency(flops: int | None, mean_s: float, peaks: Peaks | None, stats: ModelStats | None) -> Efficiency | None:
    if not flops or peaks is None or stats is None or not stats.bytes_in_memory:
        return None
    achieved = flops / mean_s
    intensity = flops / stats.bytes_in_memory
    bound = min(peaks.peak_flops, intensity * peaks.peak_bandwidth_bytes_per_s)
    return Efficiency(
        achieved_flops_per_s=achieved,
        flops_utilisation=achieved / peaks.peak_flops,
        weight_bandwidth_utilisation=stats.bytes_in_memory / mean_s / peaks.peak_bandwidth_bytes_per_s,
        arithmetic_intensity=intensity,
        roofline_bound_flops_per_s=bound,
        roofline_efficiency=achieved / bound,
    )
