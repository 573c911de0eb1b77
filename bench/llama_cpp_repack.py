"""Benchmark (not a test): llama.cpp decoding of the seed matrix's Llama-3.2-1B with its weights in
plain buffers and with the int4 weights in ggml's CPU repack buffer, both in one run. Where
llama.cpp was built with AMX, honed turns the extra buffer types off (the AMX ones crash) and names
the repackable weights itself (honed.models.llama_cpp_buffers); this shows what that buys.

    .venv/bin/python bench/llama_cpp_repack.py [--quantization q4_0] [--repeats 3]

Prints, per layout, the prompt time (128 tokens) and decoding tokens/s (64 greedy tokens after it),
the median of the repeats, then the ratio. The GGUF file is kept under .honed/profile/, so a rerun
only times. Run it on a quiet machine: nothing else timing or installing beside it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from seed_matrix import models  # the rows' models, built once under .honed/seed-models/

PROMPT_TOKENS, NEW_TOKENS = 128, 64


def gguf_file(quantization: str) -> Path:
    """The row's model through honed's llama-cpp step, written once."""
    from honed.core.protocol import InputSpec, ModelRef
    from honed.optimization import optimize

    kept = Path(".honed/profile") / f"llama-3.2-1b-llama-cpp-{quantization}"
    row = models(["llama-3.2-1b"])[0]
    ref = ModelRef(kind=row["kind"], source=row["source"], options=row["options"])
    optimize(
        ref,
        [{"algorithm": "llama-cpp", "params": {"quantization": quantization}}],
        "cpu",
        InputSpec(**row["inputs"]),
        kept=kept,
    )
    return next(kept.glob(f"*-llama-cpp/model-{quantization}.gguf"))


def timed(path: Path, repack: bool, repeats: int) -> tuple[float, float]:
    """(prompt seconds, decoding tokens/s), medians over the repeats, for one buffer layout."""
    import llama_cpp
    import torch

    from honed.core.protocol import ModelRef
    from honed.models import llama_cpp_buffers
    from honed.models.gguf_model import GgufHandle

    with llama_cpp_buffers.amx_safe_weight_buffers(str(path), repack=repack):
        llama = llama_cpp.Llama(
            str(path),
            n_ctx=PROMPT_TOKENS + NEW_TOKENS,
            n_batch=PROMPT_TOKENS,
            n_threads=torch.get_num_threads(),
            n_threads_batch=torch.get_num_threads(),
            verbose=False,
        )
    handle = GgufHandle(ModelRef(kind="gguf", source=str(path)), llama, PROMPT_TOKENS + NEW_TOKENS)
    ids = np.random.default_rng(0).integers(0, handle.vocabulary, (1, PROMPT_TOKENS))
    batch = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    prompts, rates = [], []
    for _ in range(repeats + 1):  # the first is a warm-up
        started = time.perf_counter()
        token, state = handle.greedy_step(batch, None)
        prompted = time.perf_counter()
        for _ in range(NEW_TOKENS - 1):
            token, state = handle.greedy_step(token, state)
        prompts.append(prompted - started)
        rates.append((NEW_TOKENS - 1) / (time.perf_counter() - prompted))
    llama.close()
    return statistics.median(prompts[1:]), statistics.median(rates[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quantization", default="q4_0", choices=["q4_0", "q4_k_m"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from honed.models.llama_cpp_buffers import built_with_amx, weight_buffers

    path = gguf_file(args.quantization)
    print(
        f"{path} ({path.stat().st_size / 2**20:.0f} MiB), built with AMX: {built_with_amx()}; "
        f"honed's layout: {weight_buffers(str(path))}"
    )
    results = {}
    for repack in (False, True):
        prompt, rate = results[repack] = timed(path, repack, args.repeats)
        print(f"{'repacked' if repack else 'plain':>9}: prompt {prompt:.3f} s, decoding {rate:.1f} tokens/s")
    print(
        f"repacked / plain: decoding {results[True][1] / results[False][1]:.2f}x, "
        f"prompt {results[False][0] / results[True][0]:.2f}x faster"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
