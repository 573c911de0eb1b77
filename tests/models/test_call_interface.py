"""One call interface across runtimes and precisions: every handle's run() takes the same batch (a
tensor or an array, or a mapping of them by input name) and returns a ModelOutput."""

from __future__ import annotations

import pytest
import torch

from honed import optimize
from honed.core.errors import SpecError
from honed.core.protocol import InputSpec, ModelRef
from honed.models import load_model
from honed.models.output import ModelOutput

MLP = ModelRef(kind="factory", source="honed.zoo:mlp", options={"kwargs": {"features": 16, "hidden": 32, "layers": 2}})
INPUTS = InputSpec(shape=(16,))
TOLERANCE = {"torch": 1e-6, "onnxruntime": 1e-5, "openvino": 1e-4, "bf16": 5e-2}  # bf16 keeps ~3 digits


@pytest.fixture(scope="module")
def runtimes() -> dict[str, object]:
    base = load_model(MLP, seed=0)
    return {
        "torch": base,
        **{recipe: optimize(base, [recipe], "cpu", INPUTS) for recipe in ("bf16", "onnxruntime", "openvino")},
    }


@pytest.mark.parametrize("runtime", list(TOLERANCE))
def test_the_same_float32_batch_runs_on_every_runtime_with_the_same_output(runtimes, runtime):
    base, handle = runtimes["torch"], runtimes[runtime]
    batch = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    with base.inference_context():
        reference = base.run(batch).main
    for given in (batch, batch.numpy(), {"input": batch}, {"input": batch.numpy()}):
        if isinstance(given, dict) and runtime in ("torch", "bf16"):
            continue  # a plain torch module has one unnamed input
        with handle.inference_context():
            output = handle.run(given)
        assert isinstance(output, ModelOutput) and output.names == ["output"]
        assert output.main.shape == (3, 16)
        # A bf16 model is given float32 and casts it itself (it used to raise a dtype mismatch).
        assert output.main.dtype == (torch.bfloat16 if runtime == "bf16" else torch.float32)
        torch.testing.assert_close(output.main.float(), reference, rtol=TOLERANCE[runtime], atol=TOLERANCE[runtime])


def test_a_graph_runtime_names_its_inputs_when_one_is_missing(runtimes):
    with pytest.raises(SpecError, match="the graph's inputs: input.*missing input"):
        runtimes["onnxruntime"].run({"x": torch.zeros(1, 16)})


def test_transformers_outputs_keep_their_names(tiny_bert_dir):
    handle = load_model(ModelRef(kind="transformers", source=str(tiny_bert_dir)), seed=0)
    batch = handle.example_inputs(2, InputSpec(seq_len=8), seed=0)
    with handle.inference_context():
        output = handle.run({name: tensor.numpy() for name, tensor in batch.items()})  # arrays work too
    assert output.name == "last_hidden_state" and "pooler_output" in output.names
    assert output["pooler_output"].shape == (2, handle.module.config.hidden_size)
    with pytest.raises(KeyError, match="this model's outputs: last_hidden_state, pooler_output"):
        output["logits"]
