"""What admission control buys under overload. Finds the peak rate at which `honed serve` of the
sleeper (10 ms a call, one at a time: about 90 q/s) meets the SLO, then offers 1x, 2x and 3x
that peak to five servers: no queue bound (``--max-queue 0``), first-in first-out with the
default bound, the same with each request's deadline set to the SLO (the ``x-honed-timeout-ms``
header), the defaults (the queue served newest first once it stands), and the defaults with
``--slo-ms``; prints goodput (answers within the SLO, per second) and its share of the peak,
the answered queries' p99, what was shed (503) and what ran out of time (504). Not a test:
numbers from one run on a shared machine. Issue 40 asks, at 3x, for goodput >= 90 % of the peak
from the defaults with ``--slo-ms``.

    .venv/bin/python bench/serve_overload.py [--slo-p99-ms 200] [--seconds 8]
"""

from __future__ import annotations

import argparse

from honed.load.endpoints import Endpoint
from honed.load.peak import PeakSettings, find_peak
from honed.load.run import LoadSettings, run_load
from honed.load.served import served

SLEEPER = ["honed.zoo:sleeper", "--kind", "factory", "--shape", "4", "--max-batch", "1", "--max-wait-ms", "0"]
ITEM = {"inputs": [1.0, 2.0, 3.0, 4.0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slo-p99-ms", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="each offered rate runs this long")
    args = parser.parse_args()
    base = LoadSettings(scenario="server", slo_p99_ms=args.slo_p99_ms, warmup_queries=20)

    with served(SLEEPER) as url:
        search, _ = find_peak(
            Endpoint(f"{url}/v1/predict", body=ITEM),
            base,
            PeakSettings(slo_p99_ms=args.slo_p99_ms, start_qps=20, step_seconds=args.seconds, precision=0.1),
        )
    peak = search.peak_qps
    if not peak:
        raise SystemExit(f"no rate met the {args.slo_p99_ms:g} ms SLO: {search.stopped}")
    print(f"peak: {peak:.0f} q/s at p99 <= {args.slo_p99_ms:g} ms ({len(search.steps)} runs)")
    print(f"{'server':<30}{'offered':>10}{'goodput':>10}{'of peak':>9}{'answered':>10}{'shed':>8}{'504':>6}"
          f"{'p99 ms':>10}")  # fmt: skip
    deadline = {"x-honed-timeout-ms": f"{args.slo_p99_ms:g}"}
    fifo = ["--queue-order", "fifo"]
    servers = (
        ("no bound (--max-queue 0)", [*fifo, "--max-queue", "0"], {}),
        ("fifo, default bound", fifo, {}),
        ("fifo, deadline = SLO", fifo, deadline),
        ("defaults (adaptive)", [], {}),
        ("defaults + --slo-ms", ["--slo-ms", f"{args.slo_p99_ms:g}"], {}),
    )
    for label, extra, headers in servers:
        with served([*SLEEPER, *extra]) as url:
            for multiple in (1, 2, 3):
                qps = peak * multiple
                settings = base.model_copy(
                    update={"qps": qps, "queries": round(qps * args.seconds), "duration_s": args.seconds * 4}
                )
                load = run_load(Endpoint(f"{url}/v1/predict", body=ITEM), settings, headers).load
                p99 = f"{load.latency_ms.p99:.0f}" if load.latency_ms else "-"
                goodput = load.goodput_qps or 0
                print(
                    f"{label:<30}{f'{multiple}x {qps:.0f}':>10}{goodput:>10.1f}{goodput / peak:>9.0%}"
                    f"{load.queries_ok:>10}{load.errors.get('rejected', 0):>8}"
                    f"{load.errors.get('http_5xx', 0):>6}{p99:>10}"
                )


if __name__ == "__main__":
    main()
