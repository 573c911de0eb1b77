"""Concurrent completions decoded together on the model's thread (continuous batching): a request
joins the running sequences between two decoding steps, as soon as a slot is free (``--max-batch``
slots), and leaves at its end of sequence, stop string, ``max_tokens``, deadline or when its client
goes, freeing its slot for the next one. A GGUF model decodes all running sequences' tokens in one
llama.cpp batch; other text decoders step them in turn (``models.sequences``). The loop runs while
any sequence runs or waits, then gives the thread back to the forward batches."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from honed.models.capabilities import as_text_decoder
from honed.models.sequences import SequenceDecoder, sequence_decoder
from honed.serve.admission import Expired
from honed.serve.completion_text import CompletionText
from honed.serve.sampling import Sampler


@dataclass(frozen=True)
class Piece:
    """What one step gives a request: text (maybe empty), tokens made, and the finish reason on the last."""

    text: str
    tokens: int = 1
    finish: str | None = None  # "stop" (end of sequence or a stop string) or "length"


@dataclass(eq=False)
class Generation:
    """One request's completion: its prompt, limits and sampler, and where its pieces go (``put``,
    thread-safe: called from the model thread)."""

    prompt: list[int]
    max_tokens: int
    sampler: Sampler
    text: CompletionText
    deadline: float  # perf_counter seconds
    put: Callable[[Piece | BaseException | None], None]
    gone: threading.Event = field(default_factory=threading.Event)
    arrived: float = field(default_factory=time.perf_counter)
    made: int = 0
    token: int | None = None  # the token chosen last, fed at the next step
    last_at: float | None = None


class DecodeLoop:
    def __init__(self, batcher: Any, handle: Any, slots: int):
        self.batcher, self.handle, self.slots = batcher, handle, slots
        self.metrics = batcher.metrics
        self.end_token = as_text_decoder(handle).tokenizer.eos_token_id
        self._joining: deque[Generation] = deque()
        self._lock = threading.Lock()
        self._active = False
        self._decoder: SequenceDecoder | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def submit(self, generation: Generation) -> None:
        """Take a place in the queue (or be refused: 503) and join the decoding loop, starting it
        on the model thread when it is not running."""
        self.batcher.reserve()
        self._loop = asyncio.get_running_loop()
        with self._lock:
            self._joining.append(generation)
            start, self._active = not self._active, True
        if start:
            self.batcher.on_model_thread(self._run)

    def _release(self, dropped: str | None) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.batcher.release, dropped)

    def _run(self) -> None:
        running: dict[int, Generation] = {}
        try:
            if self._decoder is None:
                self._decoder = sequence_decoder(self.handle, self.slots)
            while True:
                self._admit(self._decoder, running)
                if not running:
                    with self._lock:
                        if not self._joining:
                            self._active = False
                            return
                    continue
                self._step(self._decoder, running)
        except Exception as error:  # every request running or waiting hears why; the thread lives on
            with self._lock:
                waiting, self._active = list(self._joining), False
                self._joining.clear()
            for _ in waiting:
                self._release("model_error")
            for generation in [*running.values(), *waiting]:
                self._end(generation, error)
            if self._decoder is not None:
                for slot in running:
                    self._decoder.free(slot)
        finally:
            self.metrics.sequences.set(0)

    def _admit(self, decoder: SequenceDecoder, running: dict[int, Generation]) -> None:
        """Joiners into free slots, their prompts fed together (prefill); each one's first token chosen."""
        joined: dict[int, Generation] = {}
        while len(running) + len(joined) < self.slots:
            with self._lock:
                if not self._joining:
                    break
                generation = self._joining.popleft()
            late = time.perf_counter() >= generation.deadline
            self._release("disconnected" if generation.gone.is_set() else "expired" if late else None)
            if generation.gone.is_set() or late:
                self._end(generation, Expired("the request's deadline passed before its generation started"))
                continue
            try:
                decoder.check(generation.prompt)
            except Exception as error:  # this prompt alone (longer than the context): the others go on
                self._end(generation, error)
                continue
            joined[next(s for s in range(self.slots) if s not in running and s not in joined)] = generation
        if joined:
            try:
                first = decoder.start({slot: generation.prompt for slot, generation in joined.items()})
            except Exception as error:  # these prompts: the running sequences go on
                for slot, generation in joined.items():
                    decoder.free(slot)
                    self._end(generation, error)
                first = {}
            running.update({slot: joined[slot] for slot in first})  # running before any token: a failure ends them too
            for slot, logits in first.items():
                self._chosen(decoder, running, slot, logits)
        self.metrics.sequences.set(len(running))

    @staticmethod
    def _end(generation: Generation, why: BaseException) -> None:
        generation.put(why)
        generation.put(None)

    def _step(self, decoder: SequenceDecoder, running: dict[int, Generation]) -> None:
        """One decoding step of every running sequence, after dropping those whose client went or
        whose deadline passed."""
        now = time.perf_counter()
        for slot, generation in list(running.items()):
            if generation.gone.is_set() or now >= generation.deadline:
                if not generation.gone.is_set():
                    generation.put(Expired("the request's deadline passed during its generation"))
                self._finish(decoder, running, slot, None)
        if not running:
            return
        tokens = {slot: generation.token for slot, generation in running.items() if generation.token is not None}
        started = time.perf_counter()
        rows = decoder.step(tokens)
        self.metrics.decode_step(len(tokens), time.perf_counter() - started)
        for slot, logits in rows.items():
            self._chosen(decoder, running, slot, logits)

    def _chosen(self, decoder: SequenceDecoder, running: dict[int, Generation], slot: int, logits: np.ndarray) -> None:
        """The next token from a sequence's logits, its text given out, and the sequence finished
        at its end of sequence, a stop string, max_tokens or its context's end."""
        generation = running[slot]
        token = generation.sampler.choose(logits)
        now = time.perf_counter()
        if generation.last_at is None:
            self.metrics.first_token_seconds.observe(now - generation.arrived)
        else:
            self.metrics.inter_token_seconds.observe(now - generation.last_at)
        generation.last_at = now
        if token == self.end_token:
            self._finish(decoder, running, slot, Piece(generation.text.rest(), 0, "stop"))
            return
        generation.made += 1
        generation.token = token
        self.metrics.generated_tokens.inc()
        piece = generation.text.add(token)
        if generation.text.stopped:
            self._finish(decoder, running, slot, Piece(piece, 1, "stop"))
        elif generation.made >= generation.max_tokens or decoder.room(slot) <= 0:
            self._finish(decoder, running, slot, Piece(piece + generation.text.rest(), 1, "length"))
        else:
            generation.put(Piece(piece))

    def _finish(self, decoder: SequenceDecoder, running: dict[int, Generation], slot: int, last: Piece | None) -> None:
        generation = running.pop(slot)
        decoder.free(slot)
        if last is not None:
            generation.put(last)
        generation.put(None)
