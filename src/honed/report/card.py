"""The model card `honed optimize -o` writes beside the artifact (README.md): the recipe, how to
load the files without honed, the before/after table when both were measured, the machine and
library versions, and the command that reproduces it."""

from __future__ import annotations

from dataclasses import dataclass

from honed.core.fingerprint import Fingerprint
from honed.core.protocol import Step
from honed.records.record import BatchResult, RunRecord


@dataclass(frozen=True)
class Artifact:
    """What was written: the runtime kind that loads it, its files, their size, and how to load them."""

    kind: str
    files: list[str]
    bytes_on_disk: int
    loading: str


def model_card(
    name: str,
    recipe: list[Step],
    artifact: Artifact,
    command: str,
    fingerprint: Fingerprint,
    before: RunRecord | None = None,
    after: RunRecord | None = None,
) -> str:
    steps = " + ".join(_step(step) for step in recipe)
    lines = [
        f"# {name}, optimised: {' + '.join(step.algorithm for step in recipe)}",
        "",
        f"Written by honed from `{name}` with the recipe `{steps}` (every parameter shown). It loads without "
        f"honed ({artifact.kind}):",
        "",
        "```python",
        artifact.loading,
        "```",
        "",
        f"Files: {', '.join(f'`{f}`' for f in artifact.files)} ({_mib(artifact.bytes_on_disk)} on disk).",
        "",
        "## Before and after",
        "",
        *(_table(before, after, artifact) if before is not None and after is not None else _unmeasured()),
        "",
        "## Where it was made",
        "",
        f"- CPU: {fingerprint.cpu.get('model')} ({fingerprint.cpu.get('logical_cores')} logical cores); "
        f"GPUs: {', '.join(g['name'] for g in fingerprint.gpus) or 'none'}",
        f"- Python {fingerprint.python}; "
        + ", ".join(f"{k} {v}" for k, v in sorted(fingerprint.packages.items()) if v),
        "",
        "## Reproduce",
        "",
        "```",
        command,
        "```",
        "",
    ]
    return "\n".join(lines)


def _table(before: RunRecord, after: RunRecord, artifact: Artifact) -> list[str]:
    lines = [
        f"Measured by honed under the same protocol ({before.protocol.repetitions} worker processes per batch size, "
        f"warm-up excluded; 95 % bootstrap intervals). Runs `{before.id[:12]}` (before) and `{after.id[:12]}` "
        "(after) are in the store.",
        "",
        "| | before | after |",
        "| --- | --- | --- |",
    ]
    for batch_size in before.protocol.batch_sizes:
        a, b = before.result(batch_size), after.result(batch_size)
        lines += [
            f"| batch {batch_size}: median latency | {_latency(a, 'p50')} | {_latency(b, 'p50')} |",
            f"| batch {batch_size}: p99 latency | {_latency(a, 'p99')} | {_latency(b, 'p99')} |",
            f"| batch {batch_size}: throughput | {_rate(a)} | {_rate(b)} |",
            f"| batch {batch_size}: peak memory (RSS) | {_rss(a)} | {_rss(b)} |",
        ]
    base_disk = before.model_stats.bytes_on_disk if before.model_stats else None
    lines.append(f"| size on disk | {_mib(base_disk)} | {_mib(artifact.bytes_on_disk)} |")
    for quality_line in _quality(before, after):
        lines.append(quality_line)
    return lines


def _quality(before: RunRecord, after: RunRecord) -> list[str]:
    if after.quality is None or after.quality.status != "ok":
        return ["| quality | not scored | not scored |"]
    q = after.quality
    where = f"{q.task}, {q.items} items"
    lines = []
    for metric, value in q.values.items():
        base = before.quality.values.get(metric) if before.quality and before.quality.status == "ok" else None
        shown = "(the base model itself)" if q.task == "agreement" else _number(base)
        lines.append(f"| {metric} ({where}) | {shown} | {_number(value)} |")
    return lines


def _unmeasured() -> list[str]:
    return ["Not measured (`--no-measure`). `honed evaluate` on the base model and on these files measures both."]


def _latency(result: BatchResult | None, which: str) -> str:
    if result is None or result.latency_ms is None:
        return "failed"
    summary = result.latency_ms
    value, interval = getattr(summary, which), getattr(summary, f"{which}_ci")
    return f"{value:.3g} ms ({interval.low:.3g}-{interval.high:.3g})"


def _rate(result: BatchResult | None) -> str:
    value = result.throughput_items_per_s if result else None
    return f"{value:.3g} items/s" if value is not None else "-"


def _rss(result: BatchResult | None) -> str:
    return _mib(result.peak_rss_bytes if result else None)


def _mib(value: int | None) -> str:
    return f"{value / 2**20:.1f} MiB" if value is not None else "-"


def _number(value: float | None) -> str:
    return f"{value:.4g}" if value is not None else "-"


def _step(step: Step) -> str:
    params = ",".join(f"{k}={v}" for k, v in sorted(step.params.items()))
    return f"{step.algorithm}:{params}" if params else step.algorithm
