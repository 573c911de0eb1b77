"""honed optimize -o: every algorithm either writes a model that loads without honed, or is refused
before any work with its reason; the written files give the optimised handle's outputs in a
process that cannot import honed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import honed
from honed.core.errors import ModelLoadError, RecipeError
from honed.core.protocol import InputSpec, ModelRef, Step
from honed.optimization import list_algorithms, optimize
from honed.optimization.export import check_exportable, export, read_export

MLP = ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 16, "hidden": 32}})

# Runs in a fresh interpreter where `import honed` fails: what a deployment without honed has.
WITHOUT_HONED = "import sys\nsys.modules['honed'] = None\n"


def _run_without_honed(script: str, tmp_path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_HONED + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("algorithm", list_algorithms(), ids=lambda a: a.name)
def test_every_algorithm_exports_or_is_refused_with_its_reason(algorithm):
    step = Step(algorithm=algorithm.name)
    if algorithm.export is not None:
        check_exportable([step])
        return
    with pytest.raises(RecipeError) as refused:
        check_exportable([step])
    assert algorithm.name in str(refused.value) and algorithm.export_note in str(refused.value)
    assert "no export is declared" not in algorithm.export_note  # each built-in says why, and what to do


def test_a_runtime_step_exports_the_plain_layers_a_step_before_it_left():
    check_exportable([Step(algorithm="svd-lowrank"), Step(algorithm="onnxruntime")])
    check_exportable([Step(algorithm="structured-prune"), Step(algorithm="openvino")])
    with pytest.raises(RecipeError, match="torchao-int8-dynamic"):  # quantized tensors do not convert
        check_exportable([Step(algorithm="torchao-int8-dynamic"), Step(algorithm="onnxruntime")])


def test_a_bf16_transformers_model_loads_without_honed_and_answers_as_the_handle(tiny_bert_dir, tmp_path):
    from transformers import AutoTokenizer

    handle = optimize(ModelRef(kind="transformers", source=str(tiny_bert_dir)), ["bf16"], "cpu")
    files = export(handle, tmp_path / "out")
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= set(files)
    assert read_export(tmp_path / "out")["recipe"] == [{"algorithm": "bf16", "params": {}}]
    batch = AutoTokenizer.from_pretrained(tiny_bert_dir)(["a cat sat", "on the mat today"], padding=True)
    np.save(tmp_path / "ids.npy", np.array(batch["input_ids"]))
    np.save(tmp_path / "mask.npy", np.array(batch["attention_mask"]))
    loaded = _run_without_honed(
        """
        import json, numpy as np, torch, transformers
        model = transformers.AutoModel.from_pretrained("out", dtype="auto").eval()
        ids, mask = torch.tensor(np.load("ids.npy")), torch.tensor(np.load("mask.npy"))
        with torch.inference_mode():
            np.save("out.npy", model(input_ids=ids, attention_mask=mask).last_hidden_state.float().numpy())
        print(json.dumps({"dtype": str(next(model.parameters()).dtype)}))
        """,
        tmp_path,
    )
    assert loaded["dtype"] == "torch.bfloat16"
    ids, mask = torch.tensor(np.load(tmp_path / "ids.npy")), torch.tensor(np.load(tmp_path / "mask.npy"))
    with torch.inference_mode():
        expected = handle.run({"input_ids": ids, "attention_mask": mask}).main.float().numpy()
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-2)


def test_an_onnx_export_runs_in_onnxruntime_without_honed(tmp_path):
    handle = optimize(MLP, ["onnxruntime"], "cpu", InputSpec(shape=(16,)))
    assert export(handle, tmp_path / "out") == ["model.onnx"]
    x = np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    _run_without_honed(
        """
        import json, numpy as np, onnxruntime
        session = onnxruntime.InferenceSession("out/model.onnx", providers=["CPUExecutionProvider"])
        [y] = session.run(None, {session.get_inputs()[0].name: np.load("x.npy")})
        np.save("y.npy", y)
        print(json.dumps({}))
        """,
        tmp_path,
    )
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), np.asarray(handle.run(x).main), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_an_openvino_int8_weights_export_runs_in_openvino_without_honed(tmp_path):
    step = {"algorithm": "openvino", "params": {"quantization": "int8-weights"}}
    handle = optimize(MLP, [step], "cpu", InputSpec(shape=(16,)))
    assert set(export(handle, tmp_path / "out")) == {"model.xml", "model.bin"}
    x = np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    loaded = _run_without_honed(
        """
        import json, numpy as np, openvino
        model = openvino.Core().read_model("out/model.xml")
        constants = [op for op in model.get_ops() if op.get_type_name() == "Constant"]
        kinds = sorted({op.get_output_element_type(0).get_type_name() for op in constants})
        options = json.load(open("out/honed-export.json"))["export"]["load_options"]
        compiled = openvino.Core().compile_model(model, "CPU", options)
        np.save("y.npy", compiled(np.load("x.npy"))[0])
        print(json.dumps({"constants": kinds}))
        """,
        tmp_path,
    )
    assert "i8" in loaded["constants"] or "u8" in loaded["constants"]  # the int8 weights were kept
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), np.asarray(handle.run(x).main), rtol=1e-4, atol=1e-4)


def test_a_bf16_sentence_transformer_encodes_without_honed_as_the_handle(minilm_path, tmp_path):
    handle = optimize(ModelRef(kind="sentence-transformers", source=minilm_path), ["bf16"], "cpu")
    assert "modules.json" in export(handle, tmp_path / "out")  # the pooling and normalisation travel too
    sentences = ["A man is eating food.", "The weather is cold today."]
    loaded = _run_without_honed(
        f"""
        import json, numpy as np, sentence_transformers
        model = sentence_transformers.SentenceTransformer("out", device="cpu")
        embeddings = model.encode({sentences!r}, convert_to_tensor=True)  # numpy has no bfloat16
        np.save("embeddings.npy", embeddings.float().numpy())
        print(json.dumps({{"dtype": str(next(model.parameters()).dtype)}}))
        """,
        tmp_path,
    )
    assert loaded["dtype"] == "torch.bfloat16"
    expected = torch.as_tensor(handle.run_pipeline(sentences)).float().numpy()
    np.testing.assert_allclose(np.load(tmp_path / "embeddings.npy"), expected, atol=1e-2)


def test_a_gguf_export_decodes_in_llama_cpp_without_honed(tiny_llama_dir, tmp_path):
    step = {"algorithm": "llama-cpp", "params": {"quantization": "q8_0"}}
    handle = optimize(ModelRef(kind="transformers", source=str(tiny_llama_dir)), [step], "cpu", InputSpec(seq_len=8))
    assert "model.gguf" in export(handle, tmp_path / "out")
    ids = handle.token_ids("the cat sat on the mat")
    (tmp_path / "ids.json").write_text(json.dumps(ids))
    loaded = _run_without_honed(
        """
        import json, numpy as np, llama_cpp
        from gguf import GGUFReader
        types = sorted({tensor.tensor_type.name for tensor in GGUFReader("out/model.gguf").tensors})
        # llama.cpp built with AMX crashes on its first decode (ggml-org/llama.cpp#20824; honed works
        # around it, a plain script cannot): there, only the file is read.
        runs = b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info()
        if runs:
            llm = llama_cpp.Llama("out/model.gguf", n_ctx=64, logits_all=True, verbose=False)
            ids = json.load(open("ids.json"))
            llm.eval(ids)
            np.save("logits.npy", np.array(llm.scores[: len(ids)]))
        print(json.dumps({"types": types, "ran": runs}))
        """,
        tmp_path,
    )
    assert "Q8_0" in loaded["types"]  # the int8 weights were written as llama.cpp reads them
    if loaded["ran"]:
        expected = handle.next_token_logits(ids).numpy()
        logits = np.load(tmp_path / "logits.npy")
        assert (logits.argmax(-1) == expected.argmax(-1)).all()
        np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-3)


def test_a_saved_gguf_takes_text_and_completes_as_the_recipe_did(tiny_llama_dir, tmp_path):
    """Loaded back by honed, the written GGUF finds its tokenizer beside it: it scores text and
    completes prompts (honed serve's OpenAI routes) token for token as the recipe's handle did, with
    torch's thread count (llama-cpp-python's own default is half the CPUs)."""
    from honed.models import load_model
    from honed.models.capabilities import Capability, as_text_decoder
    from honed.serve.openai import greedy_pieces

    step = {"algorithm": "llama-cpp", "params": {"quantization": "q8_0"}}
    handle = optimize(ModelRef(kind="transformers", source=str(tiny_llama_dir)), [step], "cpu", InputSpec(seq_len=8))
    export(handle, tmp_path / "out")
    saved = load_model(ModelRef(kind="gguf", source=str(tmp_path / "out" / "model.gguf")))
    assert Capability.TOKENIZES in saved.capabilities and saved.runtime_info()["threads"] == torch.get_num_threads()
    assert as_text_decoder(saved).token_ids("the cat sat") == handle.token_ids("the cat sat")
    assert list(greedy_pieces(saved, "the cat sat", 6)) == list(greedy_pieces(handle, "the cat sat", 6))
    bare = tmp_path / "bare.gguf"
    bare.write_bytes((tmp_path / "out" / "model.gguf").read_bytes())  # no tokenizer beside it: token ids only
    assert Capability.TOKENIZES not in load_model(ModelRef(kind="gguf", source=str(bare))).capabilities
    other = tmp_path / "other"  # another model's tokenizer (more tokens than the GGUF has) is refused
    other.mkdir()
    (other / "model.gguf").write_bytes(bare.read_bytes())
    bigger = handle.tokenizer
    bigger.add_tokens([f"<extra-{i}>" for i in range(8)])
    bigger.save_pretrained(other)
    with pytest.raises(ModelLoadError, match="not this model's"):
        load_model(ModelRef(kind="gguf", source=str(other / "model.gguf")))


def test_llama_cpps_flash_attention_reaches_its_context_and_is_kept_with_the_written_model(tiny_llama_dir, tmp_path):
    """The llama-cpp recipe's flash_attention knob is llama.cpp's own setting (its context says so),
    it moves the logits only a little, and the written model loads with it, so what is served
    (each served sequence's context copies the handle's) is what was measured."""
    from honed.models import load_model

    source = ModelRef(kind="transformers", source=str(tiny_llama_dir))
    runs = {}
    for flash in (False, True):
        step = {"algorithm": "llama-cpp", "params": {"quantization": "q8_0", "flash_attention": flash}}
        runs[flash] = optimize(source, [step], "cpu", InputSpec(seq_len=8))
        assert runs[flash].llama.context_params.flash_attn_type == int(flash)
        assert runs[flash].runtime_info()["flash_attention"] is flash
    ids = runs[True].token_ids("the cat sat on the mat")
    off, on = (runs[flash].next_token_logits(ids).numpy() for flash in (False, True))
    np.testing.assert_allclose(on, off, atol=0.05)
    export(runs[True], tmp_path / "out")
    assert read_export(tmp_path / "out")["load_options"] == {"flash_attention": True}
    saved = load_model(ModelRef(kind="gguf", source=str(tmp_path / "out" / "model.gguf")))  # as honed serve DIR
    assert saved.llama.context_params.flash_attn_type == 1
    served = saved.parallel_sequences(2)  # honed serve's sequences: the same numbers as the measured handle
    np.testing.assert_array_equal(served.start({0: ids})[0], saved.next_token_logits(ids).numpy()[-1])
    np.testing.assert_array_equal(saved.next_token_logits(ids).numpy(), on)


@pytest.mark.slow
def test_a_gguf_written_from_a_gguf_keeps_its_vocabulary_for_llama_cpps_own_tools(smollm2_ref, tmp_path):
    """SmolLM2 comes as a GGUF: the q8_0 file honed writes carries its vocabulary across, so llama.cpp
    itself (llama-cli, llama-cpp-python's server) tokenizes text and completes as honed does."""
    from gguf import GGUFReader

    from honed.serve.openai import greedy_pieces

    step = {"algorithm": "llama-cpp", "params": {"quantization": "q8_0", "output_type": "f16"}}
    handle = optimize(smollm2_ref, [step], "cpu", InputSpec(seq_len=8))
    export(handle, tmp_path / "out")
    fields = GGUFReader(tmp_path / "out" / "model.gguf").fields
    assert (
        fields["tokenizer.ggml.model"].contents() == "gpt2" and len(fields["tokenizer.ggml.tokens"].contents()) == 49152
    )
    import llama_cpp

    if b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info():
        return  # llama.cpp built with AMX crashes on a plain Llama's first decode (ggml-org/llama.cpp#20824)
    llm = llama_cpp.Llama(str(tmp_path / "out" / "model.gguf"), n_ctx=256, verbose=False)
    prompt = "The capital of France is"
    assert llm.tokenize(prompt.encode(), add_bos=False, special=True) == handle.token_ids(prompt)
    theirs = llm.create_completion(prompt, max_tokens=12, temperature=0)["choices"][0]["text"]
    assert theirs == "".join(greedy_pieces(handle, prompt, 12))


def test_optimize_refuses_a_step_it_cannot_write_before_any_work(tmp_path):
    out = tmp_path / "out"
    done = honed(
        "optimize", "--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "256", "-r", "dynamic-int8",
        "-o", str(out), store=tmp_path / "honed.db", check_code=2,
    )  # fmt: skip
    assert "dynamic-int8" in done.stderr and "onnxruntime:quantization=dynamic-int8" in done.stderr
    assert not out.exists()


def test_optimize_writes_the_model_and_its_card(tmp_path):
    out = tmp_path / "out"
    honed(
        "optimize", "--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "256", "-r", "onnxruntime",
        "-o", str(out), "--no-measure", store=tmp_path / "honed.db",
    )  # fmt: skip
    card = (out / "README.md").read_text()
    assert (out / "model.onnx").is_file() and read_export(out)["kind"] == "onnx"
    assert "onnxruntime.InferenceSession" in card and "Not measured" in card
    assert "honed optimize --model honed.zoo:mlp --kind factory --shape 256 -r onnxruntime" in card
    checked = honed("evaluate", "--model", str(out), "--dry-run", store=tmp_path / "honed.db")
    assert "model.onnx (onnx)" in checked.stdout  # honed's commands take the directory as it is
    again = honed("optimize", "--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "256", "-r", "bf16",
                  "-o", str(out), "--no-measure", store=tmp_path / "honed.db", check_code=2)  # fmt: skip
    assert "nothing is overwritten" in again.stderr


@pytest.mark.slow
def test_the_card_holds_the_before_and_after_table_when_measured(tmp_path):
    out = tmp_path / "out"
    honed(
        "optimize", "--model", "honed.zoo:mlp", "--kind", "factory", "--shape", "256", "-r", "bf16",
        "-o", str(out), "-b", "4", "--repetitions", "2", store=tmp_path / "honed.db",
    )  # fmt: skip
    card = (out / "README.md").read_text()
    assert "| batch 4: median latency |" in card and "| size on disk |" in card
    assert "output_cosine (agreement, 64 items, seeded synthetic inputs, not real data)" in card  # no task given
    assert "Timed in the `model` scope (one call of the model) on synthetic inputs (shape [256]; not real data)" in card
    assert (out / "model.safetensors").is_file()


def test_a_generate_scope_card_gives_tokens_per_second_and_what_the_quality_was_judged_on(tmp_path):
    """An LLM's card: the scope, prompt and tokens it was timed on, tokens/s and time to first
    token, and the agreement with the base model on the task's real text beside its own metric."""
    from helpers import noisy, synthetic_record
    from honed.core.fingerprint import collect
    from honed.core.protocol import InputSpec, Step, TaskSpec
    from honed.meters.stats import summarize_latency
    from honed.records.record import GenerationSummary, QualityResult
    from honed.report.card import Artifact, model_card

    def run(tokens_per_s, perplexity, agreement):
        record = synthetic_record([noisy(100.0, 40, seed=0)])
        first = summarize_latency(noisy(20.0, 40, seed=1) * 1e6, resamples=100)
        generation = GenerationSummary(
            new_tokens=64, time_to_first_token_ms=first, time_per_output_token_ms=1.2, tokens_per_s=tokens_per_s
        )
        quality = QualityResult(
            task="language-modeling", items=31, primary="perplexity", values={"perplexity": perplexity},
            agreement=agreement,
        )  # fmt: skip
        return record.model_copy(
            update={
                "protocol": record.protocol.model_copy(update={"scope": "generate", "new_tokens": 64}),
                "inputs": InputSpec(seq_len=128),
                "task": "language-modeling",
                "task_spec": TaskSpec(name="language-modeling"),
                "quality": quality,
                "results": [r.model_copy(update={"generation": generation}) for r in record.results],
            }
        )

    before, after = run(30.0, 20.0, {}), run(120.0, 20.1, {"logits_kl": 0.004})
    artifact = Artifact("gguf", ["model.gguf"], 150 << 20, "llama_cpp.Llama('model.gguf')")
    step = Step(algorithm="llama-cpp", params={"quantization": "q8_0"})
    card = model_card("smollm2", [step], artifact, "honed tune x", collect(), before, after, "Chosen by a test.")
    assert "Chosen by a test." in card
    assert "Timed in the `generate` scope (64 greedy tokens after a 128-token prompt) on synthetic inputs" in card
    assert "| batch 1: tokens/s | 30 | 120 |" in card and "| batch 1: time to first token | 20" in card
    assert "| perplexity (language-modeling, 31 items) | 20 | 20.1 |" in card
    assert "| logits_kl against the base model (language-modeling, 31 items) | - | 0.004 |" in card


@pytest.mark.slow
def test_a_ctranslate2_whisper_export_transcribes_in_ctranslate2_without_honed(tmp_path):
    """What faster-whisper loads: the CTranslate2 files, the tokenizer and the feature extractor."""
    from honed.zoo.shipped import whisper_ct2

    out = tmp_path / "out"
    honed(
        "optimize", "--model", str(whisper_ct2("tiny")), "--kind", "transformers", "-r",
        "ctranslate2:compute_type=int8", "-o", str(out), "--no-measure", store=tmp_path / "honed.db",
    )  # fmt: skip
    assert (
        read_export(out)["kind"] == "ctranslate2" and "faster_whisper.WhisperModel" in (out / "README.md").read_text()
    )
    from honed.tasks import SpeechRecognitionTask

    np.save(tmp_path / "clip.npy", SpeechRecognitionTask.shipped().waveforms[0])
    found = _run_without_honed(
        f"""
        import json, ctranslate2, numpy, transformers
        out = {str(out)!r}
        model = ctranslate2.models.Whisper(out, compute_type="int8")
        features = transformers.WhisperFeatureExtractor.from_pretrained(out)(
            numpy.load("clip.npy"), sampling_rate=16000, return_tensors="np").input_features
        tokenizer = transformers.AutoTokenizer.from_pretrained(out)
        prompt = tokenizer.convert_tokens_to_ids(["<|startoftranscript|>", "<|notimestamps|>"])
        result = model.generate(ctranslate2.StorageView.from_array(features), [prompt], beam_size=1)
        print(json.dumps({{"text": tokenizer.decode(result[0].sequences_ids[0], skip_special_tokens=True)}}))
        """,
        tmp_path,
    )
    assert found["text"].strip().lower().startswith("the quick brown fox")
    checked = honed("evaluate", "--model", str(out), "--dry-run", store=tmp_path / "honed.db")
    assert "(ctranslate2)" in checked.stdout  # honed's commands take the directory as it is
