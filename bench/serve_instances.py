"""What ``honed serve --instances N`` gains on this CPU: offline throughput (every query sent at
once) of a small and a large MLP served with one copy and with two, each copy on its own thread
with the cores shared among them. Not a test: numbers from one run on a shared machine.

    .venv/bin/python bench/serve_instances.py [--queries 400]
"""

from __future__ import annotations

import argparse

from honed.load.endpoints import Endpoint
from honed.load.run import LoadSettings, run_load
from honed.load.served import served_job, synthetic_body
from honed.serve.server import ServeJob

MODELS = {  # zoo.mlp's features, hidden width and layers
    "small (64 -> 256 x2)": {"features": 64, "hidden": 256, "layers": 2},
    "large (1024 -> 4096 x4)": {"features": 1024, "hidden": 4096, "layers": 4},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--max-batch", type=int, default=8)
    args = parser.parse_args()
    print(f"{'model':<26}{'copies':>8}{'q/s':>10}{'gain':>8}")
    for name, kwargs in MODELS.items():
        shape = (kwargs["features"],)
        job = ServeJob.model_validate(
            {
                "model": {"source": "honed.zoo:mlp", "kind": "factory", "options": {"kwargs": kwargs}},
                "inputs": {"shape": list(shape)},
            }
        )
        single = None
        for copies in (1, 2):
            serve_args = ["--max-batch", str(args.max_batch), "--max-queue", "0", "--instances", str(copies)]
            with served_job(job, serve_args) as url:
                settings = LoadSettings(scenario="offline", queries=args.queries, warmup_queries=20)
                qps = run_load(Endpoint(f"{url}/v1/predict", body=synthetic_body(shape)), settings).load.achieved_qps
            single = single or qps
            print(f"{name:<26}{copies:>8}{qps:>10.0f}{qps / single:>7.2f}x")


if __name__ == "__main__":
    main()
