"""A quality pass in the generate scope also times a few greedy decoding calls, so that a tune's
screen ranks a recipe by how fast it decodes (what that scope times) rather than by how fast it
scores text (a prefill-like pass: an int4 kernel that unpacks its weights can score text fast
and decode slowly). A probe, not a measurement: one process, a short warm-up, the median of a few
calls; the timed run that follows a passing screen is the evidence."""

from __future__ import annotations

import statistics
import time

from honed.core.protocol import InputSpec, Protocol
from honed.models.handle import ModelHandle

PROBE_TOKENS = 16  # per call, at most the protocol's new_tokens
PROBE_CALLS = 3


def decode_rate(handle: ModelHandle, inputs: InputSpec, protocol: Protocol) -> float | None:
    """Tokens per second of a call of ``min(new_tokens, PROBE_TOKENS)`` greedy tokens after the
    run's prompt at batch 1, prefill included as in the generate scope; None for a model that
    does not decode."""
    from honed.core.errors import SpecError
    from honed.measure.generation import greedy_generation

    tokens = min(PROBE_TOKENS, protocol.new_tokens)
    try:
        data = handle.prepare(handle.example_inputs(1, inputs, protocol.seed))
        with handle.inference_context():
            greedy_generation(handle, data, tokens)  # warm-up: caches, lazy compilation
            seconds = []
            for _ in range(PROBE_CALLS):
                start = time.perf_counter()
                greedy_generation(handle, data, tokens)
                handle.synchronize()
                seconds.append(time.perf_counter() - start)
    except SpecError:
        return None
    return tokens / statistics.median(seconds)
