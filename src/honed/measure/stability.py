"""A run's stability verdict: can its numbers be read as they are? (docs/concepts/stability.md)

``contended``: while it was timed, other work took a noticeable share of the CPUs it ran on
(other processes, the kernel, or the hypervisor's steal). ``unstable``: not contended as far as
we can see, but its own spread is too wide to read a centre from. ``stable`` otherwise.
"""

from __future__ import annotations

from typing import Literal

from honed.records.record import BatchResult, Contention, Measurement, Stability

CONTENDED_SHARE = 0.10  # of the CPUs' capacity taken by other work during the timed windows
CONTENDED_STEAL = 0.05  # of the CPUs' capacity stolen by the hypervisor
UNSTABLE_CV = 0.20  # coefficient of variation of latency at any batch size


def judge(measurements: list[Measurement], results: list[BatchResult]) -> Stability | None:
    readings = [m.contention for m in measurements if m.status == "ok" and m.contention is not None]
    if not any(m.status == "ok" for m in measurements):
        return None
    other_share = _share(readings, "other_cpu_s")
    steal_share = _share(readings, "steal_s")
    measured = [(r.batch_size, r.latency_ms) for r in results if r.latency_ms is not None]
    worst = max(measured, key=lambda pair: pair[1].cv, default=None)  # (batch size, its latency)
    reasons: list[str] = []
    contended = False
    if other_share is not None and other_share >= CONTENDED_SHARE:
        contended = True
        cores = readings[0].cores
        reasons.append(
            f"other work took {other_share:.0%} of the {cores} CPUs' time while it was timed "
            f"(about {other_share * cores:.2f} cores busy besides the model)"
        )
    if steal_share is not None and steal_share >= CONTENDED_STEAL:
        contended = True
        reasons.append(f"the hypervisor stole {steal_share:.0%} of the CPUs' time")
    unstable = worst is not None and worst[1].cv >= UNSTABLE_CV
    if worst is not None and unstable:
        batch, latency = worst
        reasons.append(f"latency CV {latency.cv:.0%} at batch {batch} (p99 {latency.p99 / latency.p50:.1f}x p50)")
    if other_share is None:
        reasons.append("other processes' CPU time could not be read (no /proc/stat): judged on spread alone")
    verdict: Literal["stable", "contended", "unstable"] = (
        "contended" if contended else "unstable" if unstable else "stable"
    )
    return Stability(
        verdict=verdict,
        reasons=reasons,
        other_share=other_share,
        steal_share=steal_share,
        worst_cv=worst[1].cv if worst else None,
    )


def _share(readings: list[Contention], field: str) -> float | None:
    known = [r for r in readings if getattr(r, field) is not None]
    if not known:
        return None
    return sum(getattr(r, field) for r in known) / sum(r.window_s * r.cores for r in known)
