"""Inputs of graph runtimes (onnxruntime, OpenVINO): synthetic ones from the graph's declared
inputs, and any batch converted to the graph's feed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from honed.core.errors import SpecError
from honed.core.protocol import InputSpec


def synthetic_feed(
    ports: list[tuple[str, list[int | None], str]],
    dtypes: dict[str, Any],
    runtime: str,
    batch_size: int,
    inputs: InputSpec,
    seed: int,
) -> dict[str, np.ndarray]:
    """One seeded batch for inputs given as (name, dims with None where dynamic, type name):
    masks are ones, integers (token ids) uniform in [0, 100), floats standard normal."""
    rng = np.random.default_rng(seed)
    feed = {}
    for name, dims, type_name in ports:
        if inputs.shape is not None:
            shape = (batch_size, *inputs.shape)
        else:  # the first dimension is the batch; other dynamic dimensions are sequence lengths
            shape = tuple(batch_size if i == 0 else (inputs.seq_len if d is None else d) for i, d in enumerate(dims))
        dtype = dtypes.get(type_name)
        if dtype is None:
            raise SpecError(f"{runtime} input {name!r}", type_name, ", ".join(dtypes))
        if "mask" in name:
            feed[name] = np.ones(shape, dtype=dtype)
        elif np.issubdtype(dtype, np.integer):
            feed[name] = rng.integers(0, 100, size=shape, dtype=dtype)
        else:
            feed[name] = rng.standard_normal(shape).astype(dtype)
    return feed


def graph_feed(ports: list[tuple[str, Any]], batch: Any) -> dict[str, np.ndarray]:
    """Any model-scope batch as a graph's feed: numpy arrays by input name, in each input's numpy
    dtype (None: as given). A bare tensor or array is the first input; torch tensors (bf16 too)
    are copied to the host; arrays already in the right dtype are passed as they are."""
    import torch

    if not isinstance(batch, Mapping):
        batch = {ports[0][0]: batch}
    missing = [name for name, _ in ports if name not in batch]
    if missing:
        raise SpecError(
            "inputs",
            sorted(map(str, batch)),
            f"the graph's inputs: {', '.join(name for name, _ in ports)}",
            hint=f"missing {', '.join(missing)}",
        )
    feed = {}
    for name, dtype in ports:
        value = batch[name]
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            value = (value.float() if value.dtype == torch.bfloat16 else value).numpy()  # numpy has no bf16
        value = np.asarray(value)
        feed[name] = value if dtype is None or value.dtype == dtype else value.astype(dtype)
    return feed


def token_feed(batch: Any) -> dict[str, np.ndarray]:
    """A causal LM's input_ids and attention_mask (ones where none is given) as int64 arrays."""
    ids = graph_feed([("input_ids", np.int64)], batch)["input_ids"]
    given = batch.get("attention_mask") if isinstance(batch, Mapping) else None
    mask = np.ones_like(ids) if given is None else graph_feed([("mask", np.int64)], {"mask": given})["mask"]
    return {"input_ids": ids, "attention_mask": mask}
