"""Synthetic inputs for graph runtimes (onnxruntime, OpenVINO), from the graph's declared inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from honed.errors import SpecError
from honed.protocol import InputSpec


def synthetic_feed(ports: list[tuple[str, list[int | None], str]], dtypes: dict[str, Any], runtime: str,
                   batch_size: int, inputs: InputSpec, seed: int) -> dict[str, np.ndarray]:
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
