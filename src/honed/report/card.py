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
    decision: str | None = None,
) -> str:
    """``decision``: how the recipe was chosen (``tune --save``: the sweep, its objective and guardrail)."""
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
        *([decision, ""] if decision else []),
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
        _conditions(after),
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
            *_generation(batch_size, a, b),
            f"| batch {batch_size}: peak memory (RSS) | {_rss(a)} | {_rss(b)} |",
        ]
    base_disk = before.model_stats.bytes_on_disk if before.model_stats else None
    lines.append(f"| size on disk | {_mib(base_disk)} | {_mib(artifact.bytes_on_disk)} |")
    for quality_line in _quality(before, after):
        lines.append(quality_line)
    return lines


def _conditions(run: RunRecord) -> str:
    """What was timed, on what inputs: the numbers below hold for these, not for every use."""
    protocol, inputs = run.protocol, run.inputs
    scope = {
        "model": "one call of the model",
        "pipeline": "pre-processing, the model and post-processing",
        "generate": f"{protocol.new_tokens} greedy tokens after a {inputs.seq_len}-token prompt",
    }.get(protocol.scope, protocol.scope)
    if inputs.source == "task":
        fed = f"items drawn from the {run.task} task's data"
    else:
        size = f"shape {list(inputs.shape)}" if inputs.shape else f"{inputs.seq_len} tokens an item"
        fed = f"synthetic inputs ({size}; not real data)"
    return f"Timed in the `{protocol.scope}` scope ({scope}) on {fed}."


def _generation(batch_size: int, a: BatchResult | None, b: BatchResult | None) -> list[str]:
    """The generate scope's own numbers: tokens/s and the time to the first token."""
    ga, gb = (r.generation if r else None for r in (a, b))
    if ga is None and gb is None:
        return []
    rates = [_number(g.tokens_per_s if g else None) for g in (ga, gb)]
    firsts = [f"{g.time_to_first_token_ms.p50:.3g} ms" if g else "-" for g in (ga, gb)]
    return [
        f"| batch {batch_size}: tokens/s | {rates[0]} | {rates[1]} |",
        f"| batch {batch_size}: time to first token | {firsts[0]} | {firsts[1]} |",
    ]


def _quality(before: RunRecord, after: RunRecord) -> list[str]:
    if after.quality is None or after.quality.status != "ok":
        return ["| quality | not scored | not scored |"]
    q = after.quality
    given = after.task_spec is not None and after.task_spec.options.get("inputs")
    synthetic = "seeded synthetic inputs, not real data" if q.task == "agreement" and not given else None
    where = ", ".join(filter(None, (q.task, f"{q.items} items", synthetic)))
    lines = []
    for metric, value in q.values.items():
        base = before.quality.values.get(metric) if before.quality and before.quality.status == "ok" else None
        shown = "(the base model itself)" if q.task == "agreement" else _number(base)
        lines.append(f"| {metric} ({where}) | {shown} | {_number(value)} |")
    if q.task != "agreement":  # a task's own metrics above; how far the outputs moved from the base's here
        lines += [
            f"| {metric} against the base model ({where}) | - | {_number(v)} |" for metric, v in q.agreement.items()
        ]
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
