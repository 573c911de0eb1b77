"""Text encoder-decoders (T5, BART, Marian, built from configs) run in the model scope (the encoder
and the decoder's first step) and time token-by-token decoding in the generate scope exactly as
``generate`` decodes, and write text in the pipeline scope; a T5 is scored with chrF and BLEU on the
translation task, tunes, and a config that cannot start its decoder is refused before any worker."""

from __future__ import annotations

import json

import pytest
import torch

from helpers import honed
from honed.core.errors import SpecError
from honed.core.protocol import ModelRef, RunSpec, TaskSpec
from honed.models import load_model
from honed.models.capabilities import Capability
from honed.run.plan import plan_run
from honed.store import Store
from honed.tasks import TranslationTask, build_task
from honed.tasks.metrics import get_metric


def _t5(directory) -> ModelRef:
    return ModelRef(kind="transformers", source=str(directory))


@pytest.fixture(scope="module")
def encoder_decoders(tiny_t5_dir, tmp_path_factory, minilm_path) -> dict[str, ModelRef]:
    """T5, BART and Marian built from configs (random weights) with MiniLM's tokenizer."""
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration, MarianConfig, MarianMTModel

    tokenizer = AutoTokenizer.from_pretrained(minilm_path, model_input_names=["input_ids", "attention_mask"])
    small = {
        "vocab_size": tokenizer.vocab_size, "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
        "encoder_attention_heads": 2, "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
        "max_position_embeddings": 64, "pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.sep_token_id,
        "decoder_start_token_id": tokenizer.cls_token_id,
    }  # fmt: skip
    refs = {"t5": _t5(tiny_t5_dir)}
    for name, model in (
        ("bart", BartForConditionalGeneration(BartConfig(**small, bos_token_id=tokenizer.cls_token_id))),
        ("marian", MarianMTModel(MarianConfig(**small, decoder_vocab_size=tokenizer.vocab_size))),
    ):
        directory = tmp_path_factory.mktemp(name)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        refs[name] = _t5(directory)
    return refs


@pytest.mark.parametrize("family", ["t5", "bart", "marian"])
def test_the_timed_decoding_loop_writes_what_generate_writes(encoder_decoders, family):
    torch.manual_seed(0)
    handle = load_model(encoder_decoders[family], seed=0)
    assert {Capability.WRITES_TEXT, Capability.GENERATES} <= handle.capabilities
    assert Capability.SCORES_TOKENS not in handle.capabilities
    batch = handle.preprocess(["the train leaves at eight", "where is the pharmacy"])
    assert batch["decoder_input_ids"].shape == (2, 1)  # the model scope: encoder plus one decoder step
    assert handle.forward(batch).main.shape[:2] == (2, 1)
    with torch.no_grad():
        expected = handle.module.generate(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], max_new_tokens=6, do_sample=False
        )[:, 1:]
        token, state, written = None, None, []
        for _ in range(6):
            token, state = handle.greedy_step(batch if state is None else token, state)
            written.append(token)
    handle.max_new_tokens = 6
    assert handle.run_pipeline(["the train leaves at eight"]) == handle.write(["the train leaves at eight"], 6)
    # generate forces an end token at its length limit (BART, Marian) and pads after one: compare before
    decoded, expected = torch.cat(written, dim=1)[:, :5], expected[:, :5]
    finished = (expected == handle.module.config.eos_token_id).cumsum(1) > 0
    assert torch.equal(decoded[~finished], expected[~finished])


def test_a_t5_evaluates_on_translation_and_times_its_decoding_with_no_extra_options(tiny_t5_dir, tmp_path):
    store = tmp_path / "runs.db"
    done = honed("evaluate", "--model", str(tiny_t5_dir), "--kind", "transformers", "--task", "translation",
                 "--scope", "generate", "-b", "2", "--repetitions", "1", store=store)  # fmt: skip
    assert "chrf (primary)" in done.stdout
    database = Store(f"sqlite:///{store}")
    (record,) = [database.get(row.id) for row in database.list()]
    assert record.status == "ok" and record.results[0].generation.time_to_first_token_ms.p50 > 0
    assert set(record.quality.values) == {"chrf", "bleu"} and record.quality.items == 24
    assert 0 <= record.quality.values["chrf"] <= 100


@pytest.mark.slow
def test_a_t5_tunes_with_no_extra_options(tiny_t5_dir, tmp_path):
    done = honed("tune", "--model", str(tiny_t5_dir), "--kind", "transformers", "-c", "openvino",
                 "-b", "1", "--repetitions", "1", store=tmp_path / "runs.db")  # fmt: skip
    assert "recommended" in done.stdout and "failed" not in done.stdout  # openvino traced the encoder-decoder


def test_a_perfect_translation_scores_100_and_a_disjoint_one_0():  # hand cases: tests/tasks/test_metrics.py
    chrf, bleu = get_metric("chrf"), get_metric("bleu")
    assert chrf(["Das Buch liegt auf dem Tisch."], ["Das Buch liegt auf dem Tisch."]) == pytest.approx(100)
    assert bleu(["a b c d"], ["w x y z"]) == pytest.approx(0) and chrf.better == bleu.better == "higher"


def test_the_translation_task_reads_pairs_and_refuses_a_model_that_cannot_write(tmp_path, tiny_llama_dir):
    shipped = TranslationTask.shipped(prefix="translate English to German: ")
    assert len(shipped.sources) == 24 and shipped.sources[0].startswith("translate English to German: ")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"source": f"s{i}", "target": f"t{i}"}) for i in range(3)) + "\n")
    assert build_task(TaskSpec(name="translation", options={"data": str(pairs)})).targets == ["t0", "t1", "t2"]
    pairs.write_text(json.dumps({"source": "s"}) + "\n")
    with pytest.raises(SpecError, match=r"pairs.jsonl line 1, field 'target'"):
        build_task(TaskSpec(name="translation", options={"data": str(pairs)}))
    with pytest.raises(SpecError, match="writes text from text"):
        plan_run(ModelRef(kind="transformers", source=str(tiny_llama_dir)), RunSpec(task=TaskSpec(name="translation")))


def test_an_encoder_decoder_that_cannot_start_its_decoder_is_refused_before_any_worker(tiny_t5_dir, tmp_path):
    import shutil

    broken = tmp_path / "t5"
    shutil.copytree(tiny_t5_dir, broken)
    config = json.loads((broken / "config.json").read_text())
    config["decoder_start_token_id"] = None
    (broken / "config.json").write_text(json.dumps(config))
    (broken / "generation_config.json").unlink(missing_ok=True)
    done = honed("evaluate", "--model", str(broken), "--kind", "transformers", store=tmp_path / "runs.db",
                 check_code=2)  # fmt: skip
    assert "decoder_start_token_id" in done.stderr + done.stdout
    assert not (tmp_path / "runs.db").exists() or not Store(f"sqlite:///{tmp_path / 'runs.db'}").list()


def test_steps_that_cannot_take_an_encoder_decoder_are_refused_before_any_worker(tiny_t5_dir):
    from honed.tuning.plan import plan_sweep
    from honed.tuning.settings import TuneSettings

    plan = plan_run(_t5(tiny_t5_dir), RunSpec())
    with pytest.raises(SpecError, match="layer-distill does not apply to a model that writes text from text"):
        plan.with_recipe(["layer-distill"])
    with pytest.raises(SpecError, match="llama-cpp needs a model that scores next tokens"):
        plan.with_recipe(["llama-cpp"])
    sweep = plan_sweep(_t5(tiny_t5_dir), RunSpec(), TuneSettings())
    assert {"layer-distill", "llama-cpp", "ctranslate2"} <= set(sweep.skipped)  # a default tune says why
    assert "bf16" in {recipe.label for recipe in sweep.candidates}
