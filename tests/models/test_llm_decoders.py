"""Causal language models on the two decoding runtimes, OpenVINO (a stateful decoder: the KV
cache kept in the infer request) and llama.cpp (a GGUF file honed writes): each agrees with the
torch model token for token at full precision, its weight formats shrink the model with an error
that grows as the bits shrink, and a tiny model trained here on the shipped multiple-choice items
keeps its accuracy or loses a little, never gains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import FAST
from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef, Protocol, TargetSpec, TaskSpec
from honed.measure.decode_probe import decode_rate
from honed.measure.generation import greedy_generation
from honed.measure.worker import WEIGHTLESS
from honed.models import load_model
from honed.optimization import optimize
from honed.run.evaluation import evaluate
from honed.tasks import MultipleChoiceTask, evaluate_quality

INPUTS = InputSpec(seq_len=12)
# Per runtime: full precision, then weight formats from more to fewer bits.
FORMATS = {
    "openvino": [{}, {"quantization": "int8-weights"}, {"quantization": "int4-weights", "group_size": 16}],
    "llama-cpp": [{"quantization": "f32"}, {"quantization": "q8_0"}, {"quantization": "q4_0"}],
}


@pytest.fixture(scope="module")
def trained_llama(tmp_path_factory, minilm_path):
    """A small Llama that memorised the correct ending of each shipped multiple-choice item."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    model = LlamaForCausalLM(config)
    texts = [item["ctx"] + item["endings"][item["label"]] for item in MultipleChoiceTask.shipped().items]
    batch = tokenizer(texts, padding=True, add_special_tokens=False, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        optimiser.zero_grad()
        model(**batch, labels=labels).loss.backward()
        optimiser.step()
    directory = tmp_path_factory.mktemp("trained-llama")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    ref = ModelRef(kind="transformers", source=str(directory), options={"auto_class": "AutoModelForCausalLM"})
    return ref, load_model(ref, seed=0)


@pytest.fixture(scope="module")
def variants(trained_llama):
    """runtime -> [full precision, fewer bits, fewest bits] handles."""
    _, base = trained_llama
    return {
        runtime: [optimize(base, [{"algorithm": runtime, "params": params}], "cpu", INPUTS) for params in formats]
        for runtime, formats in FORMATS.items()
    }


def _decode(handle, batch, steps: int) -> np.ndarray:
    token, state = handle.greedy_step(batch, None)
    tokens = [np.asarray(token)]
    for _ in range(steps - 1):
        token, state = handle.greedy_step(token, state)
        tokens.append(np.asarray(token))
    return np.concatenate(tokens, axis=1)


def _log_probs(handle, batch) -> torch.Tensor:
    return torch.log_softmax(torch.as_tensor(np.asarray(handle.run(batch).main)).float(), -1)


@pytest.mark.slow
@pytest.mark.parametrize("runtime", FORMATS)
def test_full_precision_decodes_token_for_token_as_torch_does(trained_llama, variants, runtime):
    _, base = trained_llama
    decoder = variants[runtime][0]
    assert decoder.capabilities == base.capabilities  # tokenizes, scores tokens, generates
    batch = base.example_inputs(1, INPUTS, seed=1)
    with torch.inference_mode():
        expected_logits = base.run(base.example_inputs(2, INPUTS, seed=1)).main
        expected = _decode(base, batch, 16)
        generated = base.module.generate(**batch, max_new_tokens=16, min_new_tokens=16, do_sample=False)
    assert np.array_equal(expected, generated[:, batch["input_ids"].shape[1] :].numpy())  # the torch loop is greedy
    assert np.array_equal(_decode(decoder, decoder.prepare(batch), 16), expected)
    # Model scope starts from an empty cache every call, whatever was decoded before. (llama.cpp
    # keeps its KV cache in f16: logits differ in the third decimal.)
    for _ in range(2):
        logits = torch.as_tensor(np.asarray(decoder.run(decoder.example_inputs(2, INPUTS, seed=1)).main))
        assert torch.allclose(logits, expected_logits, atol=1e-2)
    ids = base.token_ids("The cat sat on the mat")
    assert torch.allclose(decoder.next_token_logits(ids), base.next_token_logits(ids), atol=1e-2)
    # Two generations interleaved on one thread (a server's streams) never mix their caches.
    other = base.example_inputs(1, INPUTS, seed=7)
    first, second = decoder.greedy_step(decoder.prepare(batch), None), decoder.greedy_step(decoder.prepare(other), None)
    assert np.array_equal(decoder.greedy_step(*first)[0], expected[:, 1:2])
    assert np.array_equal(decoder.greedy_step(*second)[0], _decode(base, other, 2)[:, 1:2])
    assert greedy_generation(decoder, decoder.prepare(batch), 4) > 0


@pytest.mark.slow
def test_a_generations_prompt_projects_only_its_last_position_onto_the_vocabulary(trained_llama, variants):
    """As transformers' generate asks (logits_to_keep=1): the prompt's other positions' logits are
    never used, and projecting a 128-token prompt onto Llama-3.2's 128k vocabulary costs a
    sizeable part of a call. Model scope still gives every position's logits."""
    _, base = trained_llama
    batch = base.example_inputs(1, INPUTS, seed=1)
    rows: list[int] = []
    hook = base.module.lm_head.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[1]))
    try:
        with torch.inference_mode():
            token, state = base.greedy_step(batch, None)
            base.greedy_step(token, state)
            base.run(batch)
    finally:
        hook.remove()
    assert rows == [1, 1, INPUTS.seq_len]
    decoder = variants["openvino"][0]
    request = decoder.compiled.create_infer_request()
    assert request.infer(decoder.prompt_feed(decoder.prepare(batch)))[0].shape[1] == 1
    mask = np.ones((1, INPUTS.seq_len + 1), dtype=np.int64)
    assert request.infer(decoder.step_feed(np.array([[5]]), mask))[0].shape[1] == 1
    assert np.asarray(decoder.run(decoder.prepare(batch)).main).shape[1] == INPUTS.seq_len


@pytest.mark.slow
def test_every_llama_cpp_generation_pays_for_its_prompt(trained_llama, variants, monkeypatch):
    """The same prompt twice (a timed loop) is fed twice: llama.cpp's cache is no prompt cache here."""
    _, base = trained_llama
    decoder = variants["llama-cpp"][0]
    fed: list[int] = []
    decode = decoder._decode
    monkeypatch.setattr(
        decoder, "_decode", lambda chunk, start, wanted: fed.append(len(chunk)) or decode(chunk, start, wanted)
    )
    batch = decoder.prepare(base.example_inputs(1, INPUTS, seed=1))
    for _ in range(2):
        fed.clear()
        tokens = _decode(decoder, batch, 4)
        assert sum(fed) == INPUTS.seq_len + 3, fed  # the whole prompt, then one token per later step
    assert np.array_equal(tokens, _decode(base, base.example_inputs(1, INPUTS, seed=1), 4))


@pytest.mark.slow
def test_the_openvino_decoder_keeps_its_cache_as_state(variants):
    decoder = variants["openvino"][0]
    names = [port.get_any_name() for port in decoder.model.inputs]
    assert names == [
        "input_ids",
        "attention_mask",
        "position_ids",
        "logit_positions",
    ]  # no cache in or out: it is state
    assert sum(op.get_type_name() == "ReadValue" for op in decoder.model.get_ops()) == 2 * 2  # key, value per layer
    types = {
        op.get_element_type().to_string()
        for op in variants["openvino"][2].model.get_ops()
        if op.get_type_name() == "Constant"
    }
    assert {"u4", "i4"} & types, types  # int4 constants, not int8 ones relabelled


def _vocabulary_tables(handle) -> set[str]:
    """Element types of the constants shaped like the embedding / output projection."""
    size = handle.source.module.config.vocab_size
    return {
        op.get_element_type().to_string()
        for op in handle.model.get_ops()
        if op.get_type_name() == "Constant" and size in tuple(op.get_output_shape(0))[:1]
    }


@pytest.mark.slow
def test_int4_on_all_layers_takes_the_vocabulary_tables_from_int8_to_int4(trained_llama, variants):
    _, base = trained_llama
    int4 = variants["openvino"][2]
    everywhere = optimize(
        base, [{"algorithm": "openvino", "params": {**FORMATS["openvino"][2], "all_layers": True}}], "cpu", INPUTS
    )
    assert {"i8", "u8"} & _vocabulary_tables(int4) and not {"i8", "u8"} & _vocabulary_tables(everywhere)
    assert {"i4", "u4"} & _vocabulary_tables(everywhere)
    assert everywhere.stats().bytes_on_disk < int4.stats().bytes_on_disk
    batch = base.example_inputs(1, INPUTS, seed=1)
    assert _decode(everywhere, everywhere.prepare(batch), 4).shape == (1, 4)


@pytest.mark.slow
@pytest.mark.parametrize("runtime", FORMATS)
def test_fewer_bits_shrink_the_model_and_grow_its_error(trained_llama, variants, runtime):
    _, base = trained_llama
    full, fewer, fewest = variants[runtime]
    sizes = [handle.stats().bytes_on_disk for handle in (full, fewer, fewest)]
    assert sizes[2] < sizes[1] < 0.4 * sizes[0], sizes
    batch = base.example_inputs(4, INPUTS, seed=2)
    with torch.inference_mode():
        reference = _log_probs(base, batch)

    def kl(handle) -> float:
        return torch.nn.functional.kl_div(
            _log_probs(handle, handle.prepare(batch)), reference, log_target=True, reduction="batchmean"
        ).item()

    assert kl(full) < 1e-4 < kl(fewer) < kl(fewest)


@pytest.mark.slow
@pytest.mark.parametrize("runtime", FORMATS)
def test_the_trained_models_accuracy_is_kept_or_moved_down_never_up(trained_llama, variants, runtime):
    _, base = trained_llama
    task = MultipleChoiceTask.shipped()
    accuracy = [
        evaluate_quality(task, handle, batch_size=4).values["mc_accuracy"] for handle in (base, *variants[runtime])
    ]
    assert accuracy[0] >= 0.9, accuracy  # it memorised the right endings
    assert accuracy[1] == accuracy[0] and accuracy[2] >= accuracy[0] - 1 / 12
    assert accuracy[0] - 0.25 <= accuracy[3] <= accuracy[0], accuracy


@pytest.mark.slow
@pytest.mark.parametrize("runtime", FORMATS)
def test_the_generate_scope_times_the_runtimes_decoder_in_a_worker(trained_llama, runtime):
    ref, _ = trained_llama
    protocol = Protocol(**FAST, scope="generate", new_tokens=8, repetitions=1, batch_sizes=(1,))
    record = evaluate(
        ref,
        protocol,
        INPUTS,
        TargetSpec(device="cpu", measure_peaks=False),
        recipe=[{"algorithm": runtime, "params": FORMATS[runtime][2]}],
        task=TaskSpec(name="language-modeling", limit=4),
    )
    assert record.status == "ok", [m.error for m in record.measurements]
    generation = record.results[0].generation
    assert generation.new_tokens == 8 and generation.tokens_per_s > 0
    # The quality pass timed a few greedy calls too: what a tune's screen ranks this recipe by.
    assert record.quality.timing["decode_tokens_per_s"] > 0
    # Timed on the runtime, not on the torch model it came from, whose weights the timed worker
    # never loaded: it ran what the quality worker converted.
    runtime = record.measurements[0].runtime
    assert "openvino" in runtime or "llama_cpp" in runtime
    assert runtime["source_weights"] == WEIGHTLESS


@pytest.mark.slow
def test_what_a_runtime_cannot_decode_is_refused_naming_the_field(trained_llama, variants, minilm_path):
    _, base = trained_llama
    with pytest.raises(SpecError, match="int4-weights"):
        optimize(base, [{"algorithm": "openvino", "params": {"quantization": "int8"}}], "cpu", INPUTS)
    with pytest.raises(SpecError, match="protocol.batch_sizes"):
        variants["llama-cpp"][0].greedy_step(variants["llama-cpp"][0].example_inputs(2, INPUTS, seed=0), None)
    encoder = load_model(ModelRef(kind="sentence-transformers", source=minilm_path))
    with pytest.raises(SpecError, match="causal language model"):
        optimize(encoder, ["llama-cpp"], "cpu", INPUTS)
    # A quality pass's decoding probe: a rate for what decodes, none (and no error) for what does not.
    protocol = Protocol(scope="generate", new_tokens=4)
    assert decode_rate(base, INPUTS, protocol) > 0 and decode_rate(variants["llama-cpp"][1], INPUTS, protocol) > 0
    assert decode_rate(encoder, INPUTS, protocol) is None


@pytest.mark.slow
def test_llama_cpp_int4_weights_are_repacked_without_amx_buffers_and_decode_as_the_plain_ones(variants, capsys):
    """Where llama.cpp was built with AMX, honed keeps its AMX buffers off (they crash) and names each
    int4 matrix weight for the CPU repack instead: the weights named are those ggml repacks, they
    land in the repack buffer, and the model decodes as it does from plain buffers."""
    import llama_cpp
    from gguf import GGUFReader
    from llama_cpp._logger import set_verbose

    from honed.models import llama_cpp_buffers
    from honed.models.gguf_model import GgufHandle

    q4_0 = variants["llama-cpp"][2]
    path = q4_0.ref.source
    types = {tensor.name: tensor.tensor_type.name for tensor in GGUFReader(path).tensors}
    named = llama_cpp_buffers.repackable_weights(path)
    assert set(named) == {name for name, kind in types.items() if kind == "Q4_0" and name.startswith("blk.")}, types
    assert len(named) == 2 * 7 and "token_embd.weight" not in named  # 2 layers x q, k, v, o, gate, up, down

    def logits(repack: bool) -> torch.Tensor:
        capsys.readouterr()
        try:  # verbose: llama.cpp's load log names the buffers (it is process-wide: set back after)
            with llama_cpp_buffers.amx_safe_weight_buffers(path, repack=repack):
                llama = llama_cpp.Llama(path, n_ctx=64, n_threads=2, verbose=True)
        finally:
            set_verbose(False)
        log = capsys.readouterr().err
        assert ("CPU_REPACK model buffer" in log) == repack and "AMX model buffer" not in log, log[-2000:]
        ids = q4_0.prepare(q4_0.example_inputs(1, INPUTS, seed=3))["input_ids"][0].tolist()
        try:
            return GgufHandle(q4_0.ref, llama, 64).next_token_logits(ids)
        finally:
            llama.close()

    repacked, plain = logits(repack=True), logits(repack=False)
    assert torch.equal(repacked.argmax(-1), plain.argmax(-1))
    assert torch.allclose(repacked, plain, atol=1e-3 * plain.abs().max().item()), (repacked - plain).abs().max()


@pytest.mark.slow
def test_openvino_int4_weights_takes_a_hidden_size_its_group_size_does_not_divide(tiny_llama_dir):
    """Hidden 32 and group 128 (as SmolLM2's 576 and 128): the layer gets a group that divides it."""
    ref = ModelRef(kind="transformers", source=str(tiny_llama_dir), options={"auto_class": "AutoModelForCausalLM"})
    base = load_model(ref, seed=0)
    int4 = optimize(base, [{"algorithm": "openvino", "params": {"quantization": "int4-weights"}}], "cpu", INPUTS)
    kinds = {str(op.get_output_element_type(0)) for op in int4.model.get_ops() if op.get_type_name() == "Constant"}
    assert kinds & {"<Type: 'uint4_t'>", "<Type: 'int4_t'>", "u4", "i4"}, kinds  # int4 weights are in the graph
    ids = base.token_ids("The capital of France is")
    assert int4.next_token_logits(ids).shape == base.next_token_logits(ids).shape


def test_llama_cpp_keeps_the_embedding_table_in_the_output_type_asked_for(tiny_llama_dir, tmp_path):
    import gguf

    ref = ModelRef(kind="transformers", source=str(tiny_llama_dir), options={"auto_class": "AutoModelForCausalLM"})
    base = load_model(ref, seed=0)
    types = {}
    for output_type in ("default", "q8_0"):
        step = {"algorithm": "llama-cpp", "params": {"quantization": "q4_0", "output_type": output_type}}
        handle = optimize(base, [step], "cpu", INPUTS)
        tensors = {t.name: t.tensor_type.name for t in gguf.GGUFReader(handle.ref.source).tensors}
        types[output_type] = tensors["token_embd.weight"]
        assert tensors["blk.0.ffn_down.weight"] in ("Q4_0", "Q8_0")  # the rest as asked (q8_0 where q4 cannot)
    assert types["q8_0"] == "Q8_0" and types["default"] != "Q8_0"
