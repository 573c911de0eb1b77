"""Benchmark (not a test): the case study's models at their real published architecture and size,
with seeded random weights (no hub access here; a hub id or a local path goes through the same
loading code), each tuned by `honed tune` on this CPU as one honed campaign, against fp32 eager
PyTorch measured in the same run. Prints one table beside the case study's claims and this
issue's goals, with the gap where a goal is missed.

    .venv/bin/python bench/seed_matrix.py [--only llama] [--store sqlite:///.honed/seed-matrix.db] [--fresh]

A rerun resumes: finished models are kept and a model cut short resumes from its stored trials.

Built so far: Llama-3.2-1B (16 layers, hidden 2048, GQA 32/8 heads, vocab 128256, tied
embeddings, Llama-3 rope scaling): 128-token prompt, 64 new tokens, batch 1, greedy; the
guardrail is top-1 agreement with the base model's next-token choices on the prompt positions.
Not built yet (issue 14): whisper-small, SegFormer-MiT-B2, DDRNet-23, Metric3D-v2-S; their rows
say so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from honed.campaign import run_campaign
from honed.campaign.report import build_report
from honed.campaign.spec import CampaignSpec
from honed.store import Store

MODELS_DIR = Path(".honed/seed-models")
CLAIMS = {  # the case study (Intel Xeon CPU), and this goal as a speed-up over fp32 eager
    "llama-3.2-1b": ("up to 5x decoding, ~8 tokens/s", 5.0),
    "whisper-small": ("about 2x at zero WER loss", 2.0),
    "segformer-b2": ("(issue goal)", 3.0),
    "ddrnet-23": ("(issue goal)", 3.0),
    "metric3d-v2-s": ("at least 10x", 4.0),
}
NOT_BUILT = {"whisper-small", "segformer-b2", "ddrnet-23", "metric3d-v2-s"}


def build_llama(directory: Path) -> Path:
    """Llama-3.2-1B's published config, seeded random weights, saved once as safetensors."""
    if (directory / "config.json").is_file():
        return directory
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
        num_key_value_heads=8, head_dim=64, max_position_embeddings=131072, rms_norm_eps=1e-5, tie_word_embeddings=True,
        rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        bos_token_id=128000, eos_token_id=128001, architectures=["LlamaForCausalLM"])
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


def campaign(only: list[str] | None) -> CampaignSpec:
    models = []
    if not only or "llama-3.2-1b" in only:
        source = build_llama(MODELS_DIR / "llama-3.2-1b")
        models.append({
            "name": "llama-3.2-1b", "kind": "transformers", "source": str(source.resolve()),
            "options": {"auto_class": "AutoModelForCausalLM"}, "inputs": {"seq_len": 128},
            "task": {"name": "agreement", "options": {"items": 4}},
            "scenario": {"scope": "generate", "new_tokens": 64, "batch_sizes": [1]},
            "tune": {"candidates": ["llama-cpp", {"algorithm": "llama-cpp", "params": {"quantization": "q4_0"}},
                                    {"algorithm": "openvino", "params": {"quantization": "int4-weights"}}],
                     "guardrail": {"metric": "top1_agreement", "max_drop": 0.10, "min_cosine": 0.0}},
        })
    return CampaignSpec.model_validate({
        "name": "seed-matrix", "models": models, "targets": [{"name": "this-cpu", "device": "cpu"}],
        "tune": {"max_steps": 1, "max_trials": 4, "patience": 4, "contention_retries": 1},
        # Each call is a whole generation (or a whole clip / image): few, long samples.
        "scenario": {"warmup_iterations": 1, "warmup_min_seconds": 0.0, "min_samples": 3, "min_seconds": 0.0,
                     "repetitions": 3, "measure_energy": False},
    })


def decoding(store: Store, sweep_id: str, bandwidth: float) -> list[str]:
    """Every measured trial of a generate-scope sweep, rejected ones too: its speed-up over the
    base call, decode-only tokens/s (from the time per output token), the share of the
    memory-bandwidth roofline (every weight read once per token: copy bandwidth / weight
    bytes), its agreement with the base, and the tune's verdict."""
    from honed.tuning import TuneResult

    result = TuneResult.model_validate(store.sweep(sweep_id))
    lines, base_ms = [], None
    for trial in [result.baseline, *result.trials]:
        if trial is None or not trial.run_id:
            continue
        record = store.get(trial.run_id)
        batch, stats = record.results[0], record.measurements[0].model_stats
        generation = batch.generation
        if generation is None or not generation.time_per_output_token_ms or stats is None:
            continue
        base_ms = base_ms or batch.latency_ms.p50
        per_s = 1e3 / generation.time_per_output_token_ms
        weights = stats.bytes_on_disk or stats.bytes_in_memory
        agreement = {**trial.quality.values, **trial.quality.agreement} if trial.quality else {}
        quality = ", ".join(f"{k} {v:.3f}" for k, v in agreement.items() if k in ("top1_agreement", "logits_kl"))
        lines.append(f"{trial.label}: {base_ms / batch.latency_ms.p50:.2f}x the base call, {per_s:.1f} tokens/s "
                     f"decoding, {weights / 1e9:.2f} GB of weights = {per_s * weights / bandwidth:.0%} of the roofline; "
                     f"{quality or 'no agreement measured'}; {trial.status}{': ' + trial.reason if trial.reason else ''}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="a model's row name; repeat for several")
    parser.add_argument("--store", default="sqlite:///.honed/seed-matrix.db")
    parser.add_argument("--fresh", action="store_true", help="measure every trial again")
    args = parser.parse_args()
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    store = Store(args.store)
    campaign_id, _ = run_campaign(campaign(args.only), store, fresh=args.fresh,
                                  on_progress=lambda *parts: print("  " + " | ".join(parts), flush=True))
    report = build_report(store, campaign_id)
    from honed.measure.peaks import measure

    bandwidth = measure("cpu").peak_bandwidth_bytes_per_s
    print(f"\nseed matrix on this CPU ({time.monotonic() - started:.0f} s), copy bandwidth {bandwidth / 1e9:.1f} GB/s")
    print(f"{'model':15} {'recommended':36} {'speed-up [95% CI]':22} {'quality drift':24} {'peak MiB':>9} "
          f"{'claim':30} goal")
    for row in report.rows:
        claim, goal = CLAIMS.get(row.model, ("", None))
        low, mid, high = row.speedup
        speed = f"{mid:.2f}x [{low:.2f}, {high:.2f}]" if mid else "-"
        drift = (f"{row.quality_metric} {row.quality_before:.3f}->{row.quality_after:.3f}"
                 if row.quality_after is not None else "-")
        gap = "" if goal is None or mid is None else ("met" if mid >= goal else f"missed by {goal / mid:.2f}x")
        print(f"{row.model:15} {row.recipe or '-':36} {speed:22} {drift:24} {row.peak_rss_mib or 0:9.0f} "
              f"{claim:30} {goal}x {gap}")
        if row.model == "llama-3.2-1b" and row.sweep_id:
            for line in decoding(store, row.sweep_id, bandwidth):
                print(f"{'':15} {line}")
    for name in sorted(NOT_BUILT & set(args.only or CLAIMS)):
        claim, goal = CLAIMS[name]
        print(f"{name:15} {'not built yet (issue 14)':36} {'-':22} {'-':24} {'-':>9} {claim:30} {goal}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
