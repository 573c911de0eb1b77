"""Served models in process (FastAPI's TestClient, no socket): the sleeper doubling its input at
once, and a tiny causal language model answering OpenAI's routes."""

from __future__ import annotations

import pytest

from helpers import ready_client
from honed.core.protocol import ModelRef
from honed.models import load_model
from honed.serve.app import url_name


@pytest.fixture(scope="module")
def sleeper_client():
    handle = load_model(ModelRef(source="honed.zoo:sleeper", kind="factory", options={"kwargs": {"milliseconds": 0}}))
    with ready_client(handle, (4,)) as client:
        yield client, url_name(handle.name)


@pytest.fixture(scope="module")
def llm_client(tiny_llama_handle):
    with ready_client(tiny_llama_handle, None) as client:
        yield client
