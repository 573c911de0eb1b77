"""What the store keeps beside each record to list, filter and draw runs without reading them:
the target, the scenario, the key that makes runs comparable, the environment's key, and the
headline numbers.

Runs are comparable (one series on a trend, a baseline for each other) when they share the
model, the recipe, the target hardware and the scenario (protocol scope, batch sizes, threads,
concurrency, inputs, task, or a load run's traffic). Software versions are not part of the key:
a series follows a deployment as its software changes, and a change of environment is marked
on it instead.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from honed.core.fingerprint import PACKAGES, Fingerprint
from honed.records.record import RunRecord

# The environment fields whose change is marked on a trend (and named when it happens).
ENVIRONMENT_FIELDS = ("python", "cpu.model", "gpus", *(f"packages.{name}" for name in PACKAGES))
# Trend metrics: name -> (label, unit, which direction is better).
METRICS: dict[str, tuple[str, str, str]] = {
    "p50_ms": ("latency p50", "ms", "lower"),
    "p99_ms": ("latency p99", "ms", "lower"),
    "throughput": ("throughput", "items/s", "higher"),
    "peak_rss_mib": ("peak RSS", "MiB", "lower"),
    "energy_j": ("energy per item", "J", "lower"),
    "cost_per_million": ("cost per million items", "USD", "lower"),
    "quality": ("quality (the task's primary metric)", "", "higher"),
}
# A trend metric and the verdict of `compare` that judges it (None: compare calls no verdict on it).
VERDICT_OF = {
    "p50_ms": "latency_p50",
    "p99_ms": "latency_p99",
    "throughput": "throughput",
    "peak_rss_mib": "peak_rss",
    "energy_j": None,
    "cost_per_million": None,
    "quality": "quality",
}


@dataclass(frozen=True)
class RunIndex:
    recipe_label: str
    target: str
    scenario: str
    series_key: str
    environment_key: str
    stability: str | None
    summary: dict[str, Any]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def target_of(record: RunRecord) -> str:
    """The target's name where the user gave one (a campaign's target), else the hardware a run
    measured: the GPU for CUDA runs, else the CPU."""
    if record.target.name:
        return record.target.name
    fingerprint = record.fingerprint
    if record.device.startswith("cuda") and fingerprint.gpus:
        return f"{record.device.split(':')[0]} {fingerprint.gpus[0].get('name', 'GPU')}"
    if record.load is not None and record.load.endpoint != "in-process":
        return "client of an HTTP endpoint"
    return f"cpu {fingerprint.cpu.get('model', 'unknown')} x{fingerprint.cpu.get('logical_cores', '?')}"


def scenario_of(record: RunRecord) -> tuple[str, dict[str, Any]]:
    """A short label, and every field that must match for two runs to be comparable."""
    if record.load is not None:
        load = record.load
        rate = f" {load.offered_qps:g} q/s" if load.offered_qps else ""
        fields: dict[str, Any] = {
            "load": load.scenario,
            "qps": load.offered_qps,
            "burstiness": load.burstiness,
            "endpoint": load.endpoint,
            "samples_per_query": load.samples_per_query,
            "model_source": record.model.source,
        }
        return f"load {load.scenario}{rate} ({load.endpoint})", fields
    protocol, inputs = record.protocol, record.inputs
    batches = "+".join(str(b) for b in protocol.batch_sizes)
    threads = f", {protocol.threads} threads" if protocol.threads else ""
    clients = f", {protocol.concurrency} clients" if protocol.concurrency > 1 else ""
    task = f", {record.task}" if record.task != "performance" else ""
    fields = {
        "scope": protocol.scope,
        "batch_sizes": list(protocol.batch_sizes),
        "threads": protocol.threads,
        "concurrency": protocol.concurrency,
        "new_tokens": protocol.new_tokens if protocol.scope == "generate" else None,
        "inputs": inputs.model_dump(mode="json"),
        "task": record.task_spec.model_dump(mode="json") if record.task_spec else None,
    }
    return f"{protocol.scope} b{batches}{threads}{clients}{task}", fields


def recipe_label(record: RunRecord) -> str:
    """``base``, or the steps in order with any parameters: ``dynamic-int8 + prune(amount=0.2)``."""

    def step(algorithm: str, params: dict[str, Any]) -> str:
        return f"{algorithm}({', '.join(f'{k}={v}' for k, v in sorted(params.items()))})" if params else algorithm

    return " + ".join(step(s.algorithm, s.params) for s in record.recipe) or "base"


def environment_key(fingerprint: Fingerprint) -> str:
    return _digest({field: fingerprint.get(field) for field in ENVIRONMENT_FIELDS})


def index_of(record: RunRecord) -> RunIndex:
    target = target_of(record)
    label, fields = scenario_of(record)
    series = {
        "model": record.model.display_name,
        "kind": record.model.kind,
        "recipe": record.recipe_key,
        "target": target,
        "scenario": fields,
    }
    return RunIndex(
        recipe_label=recipe_label(record)[:300],
        target=target[:200],
        scenario=label[:200],
        series_key=_digest(series),
        environment_key=environment_key(record.fingerprint),
        stability=record.stability.verdict if record.stability else None,
        summary=summary_of(record),
    )


def summary_of(record: RunRecord) -> dict[str, Any]:
    """The headline numbers per batch size (``"1": {"p50_ms": ..., "p50_ci": [low, high], ...}``),
    the quality's primary metric, and a load run's rates."""
    batches: dict[str, dict[str, Any]] = {}
    for result in record.results:
        values: dict[str, Any] = {}
        if result.latency_ms is not None:
            latency = result.latency_ms
            values |= {
                "p50_ms": latency.p50,
                "p50_ci": [latency.p50_ci.low, latency.p50_ci.high],
                "p99_ms": latency.p99,
                "p99_ci": [latency.p99_ci.low, latency.p99_ci.high],
            }
        values["throughput"] = result.throughput_items_per_s
        values["peak_rss_mib"] = result.peak_rss_bytes / 2**20 if result.peak_rss_bytes else None
        values["energy_j"] = result.energy.joules_per_item if result.energy else None
        values["cost_per_million"] = result.cost_per_million_usd
        batches[str(result.batch_size)] = {key: value for key, value in values.items() if value is not None}
    summary: dict[str, Any] = {"batches": batches}
    quality = record.quality
    if (
        quality is not None
        and quality.status == "ok"
        and quality.primary is not None
        and quality.primary_value is not None
    ):
        summary["quality"] = {
            "metric": quality.primary,
            "value": quality.primary_value,
            "better": quality.better.get(quality.primary, "higher"),
        }
    if record.load is not None:
        load = record.load
        summary["load"] = {
            "achieved_qps": load.achieved_qps,
            "goodput_qps": load.goodput_qps,
            "errors": sum(load.errors.values()),
            "valid": load.validity.valid,
            "peak_qps": load.peak.peak_qps if load.peak else None,
        }
    return summary


def metric_value(summary: dict[str, Any], metric: str, batch_size: int) -> float | None:
    """One trend metric of a stored summary (None where the run did not measure it)."""
    if metric == "quality":
        quality = summary.get("quality")
        return quality["value"] if quality else None
    return summary.get("batches", {}).get(str(batch_size), {}).get(metric)
