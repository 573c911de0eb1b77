"""What `honed serve` takes as one item, read from the model's own example batch, per kind of model."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from helpers import ready_client
from honed.core.protocol import InputSpec, ModelRef
from honed.models import load_model
from honed.serve.items import ItemSchema


def _refused(call, *args) -> str:
    with pytest.raises(HTTPException) as refusal:
        call(*args)
    assert refusal.value.status_code == 422
    return refusal.value.detail


def test_a_transformers_model_takes_its_named_inputs_or_text(tiny_bert_dir):
    handle = load_model(ModelRef(source=str(tiny_bert_dir), kind="transformers"))
    schema = ItemSchema.of(handle, InputSpec(), texts=True)
    assert set(schema.named) >= {"input_ids", "attention_mask"}
    item = schema.item({name: [1, 2, 3] for name in schema.named})
    assert all(t.dtype == handle.example_inputs(1, InputSpec(), 0)[n].dtype for n, t in item.items())
    assert "takes" in _refused(schema.item, {"input_ids": [1, 2, 3]})  # a name missing
    assert "whole numbers" in _refused(schema.item, {name: [1.5, 2.0] for name in schema.named})
    assert "named inputs" in _refused(schema.item, [1, 2, 3])
    assert schema.text("hello") == "hello"


def test_a_sentence_transformers_pipeline_takes_text_only(minilm_path):
    handle = load_model(ModelRef(source=minilm_path, kind="sentence-transformers"))
    schema = ItemSchema.of(handle, InputSpec(), texts=True)
    assert not schema.tensors and "takes text" in _refused(schema.item, [1, 2, 3])
    with ready_client(handle, None) as client:
        answer = client.post("/v1/predict", json={"text": "How do I avoid jet lag?"})
        assert answer.status_code == 200 and len(answer.json()["outputs"]) == 384  # the sentence's embedding
        assert client.post("/v1/predict", json={"inputs": [1, 2]}).status_code == 422


def test_a_plain_module_takes_one_tensor_of_its_item_shape_and_no_text():
    handle = load_model(ModelRef(source="honed.zoo:sleeper", kind="factory", options={"kwargs": {"milliseconds": 0}}))
    schema = ItemSchema.of(handle, InputSpec(shape=(2, 2)), texts=False)
    assert schema.item_shape == (2, 2) and schema.item([[1, 2], [3, 4]]).dtype == schema.tensor[0]
    assert "shape [4]" in _refused(schema.item, [1, 2, 3, 4])
    assert "not text" in _refused(schema.text, "hello")
    assert "beyond the float range" in _refused(schema.item, [[1e39, 0], [0, 0]])
