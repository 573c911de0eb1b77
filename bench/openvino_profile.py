"""Benchmark (not a test): where the time goes in one of the seed matrix's models on OpenVINO.
It converts the model as `openvino` with the given parameters would (kept under
.honed/profile/, so a rerun only profiles), then runs it with the CPU plugin's per-operation
counters on: for a generating model one decoding step after a 128-token prompt, else one call.
Prints the wall time per call, each operation type's share of the counted time with that share
of the wall time, the slowest single operations, and the rate at which the weights stream
through memory (their bytes on disk / wall time per call).

    .venv/bin/python bench/openvino_profile.py llama-3.2-1b '{"quantization": "int4-weights"}'
    .venv/bin/python bench/openvino_profile.py metric3d-v2-s '{"precision": "bf16", "quantization": "int8"}'

The plugin's counters add up to more than the wall time (they overlap), so read the shares, not
their sums. Run it on a quiet machine: nothing else timing or installing beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seed_matrix import models  # the rows' models, built once under .honed/seed-models/

PROMPT_TOKENS, STEPS = 128, 16
PROFILED = ("llama-3.2-1b", "segformer-b2", "ddrnet-23", "metric3d-v2-s")  # whisper-small is two graphs


def converted(row: dict, params: dict) -> tuple[Any, Path, Any]:
    """The row's model through honed's openvino step, the IR it kept, and the row's inputs."""
    from honed.core.protocol import InputSpec, ModelRef
    from honed.optimization import optimize
    from honed.optimization.kept_files import reuse

    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    kept = Path(".honed/profile") / f"{row['name']}-{digest}"
    ref = ModelRef(kind=row["kind"], source=row["source"], options=row.get("options", {}))
    inputs = InputSpec(**row["inputs"])
    handle = optimize(ref, [{"algorithm": "openvino", "params": params}], "cpu", inputs, kept=kept)
    step = next(kept.glob("*-openvino"))
    return handle, step / reuse(step)["path"], inputs


def calls(handle: Any, inputs: Any, request: Any) -> tuple[Callable[[], Any], int]:
    """One call to profile, and how many to average: a decoding step after a prompt, else the model."""
    from honed.optimization.algorithms.openvino_decoder import StatefulDecoderHandle

    if isinstance(handle, StatefulDecoderHandle):
        ids = np.random.default_rng(0).integers(0, handle.source.module.config.vocab_size, (1, PROMPT_TOKENS))
        request.infer(handle.prompt_feed({"input_ids": ids}))
        step = {"mask": np.ones_like(ids)}

        def decode() -> None:
            step["mask"] = np.concatenate([step["mask"], np.ones((1, 1), np.int64)], axis=1)
            request.infer(handle.step_feed(np.array([[7]]), step["mask"]))

        return decode, STEPS
    feed = handle.prepare(handle.example_inputs(1, inputs, seed=0))
    request.infer(feed)  # warm-up
    return (lambda: request.infer(feed)), 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=PROFILED, help="a seed matrix row")
    parser.add_argument("params", nargs="?", default="{}", help="the openvino step's parameters, as JSON")
    parser.add_argument("--top", type=int, default=8, help="operation types and single operations to list")
    args = parser.parse_args()
    params = json.loads(args.params)
    handle, xml, inputs = converted(models([args.model])[0], params)

    import openvino as ov
    import torch

    config = {
        "INFERENCE_PRECISION_HINT": params.get("precision", "f32"),
        "PERF_COUNT": True,
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
    }
    request = ov.Core().compile_model(str(xml), "CPU", config).create_infer_request()
    call, count = calls(handle, inputs, request)
    by_type, slowest, wall = Counter(), Counter(), 0.0
    for _ in range(count):
        started = time.perf_counter()
        call()
        wall += time.perf_counter() - started
        for node in request.get_profiling_info():
            if node.status == node.Status.EXECUTED:
                seconds = node.real_time.total_seconds()
                by_type[f"{node.node_type} ({node.exec_type})"] += seconds
                slowest[f"{node.node_name} {node.node_type}"] += seconds
    wall /= count
    counted = sum(by_type.values())
    weights = xml.with_suffix(".bin").stat().st_size
    what = "decoding step" if count == STEPS else "call"
    print(
        f"{args.model} {params}: {wall * 1e3:.1f} ms per {what} on {torch.get_num_threads()} threads; "
        f"weights {weights / 1e9:.2f} GB on disk, streamed at {weights / wall / 1e9:.1f} GB/s"
    )
    for name, seconds in by_type.most_common(args.top):
        print(f"  {seconds / counted:5.1%}  ~{seconds / counted * wall * 1e3:7.1f} ms  {name}")
    print("  slowest operations:")
    for name, seconds in slowest.most_common(args.top):
        print(f"  {seconds / counted:5.1%}  {name[:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
