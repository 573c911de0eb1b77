"""Dynamic batching: queries wait until ``max_batch`` items are queued or the first has waited
``max_wait_ms``, then run as one batch on one model thread (the event loop stays free)."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from honed.models.handle import ModelHandle
from honed.tasks.base import as_tensor


@dataclass
class Pending:
    item: Any  # a tensor of one item (no batch dimension), a mapping of them, or a text
    arrived: float = field(default_factory=time.perf_counter)
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True)
class Answer:
    output: torch.Tensor  # this item's main output
    queue_ms: float  # arrival -> its batch started
    compute_ms: float  # the batch's model call
    batch: int


class DynamicBatcher:
    def __init__(self, handle: ModelHandle, max_batch: int = 8, max_wait_ms: float = 2.0):
        self.handle, self.max_batch, self.max_wait_s = handle, max_batch, max_wait_ms / 1e3
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="honed-model")
        self._task: asyncio.Task | None = None
        self.batches: list[int] = []  # sizes of the batches run, for /v1/stats

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._model_thread.shutdown(wait=False, cancel_futures=True)

    def on_model_thread(self, work: Any) -> asyncio.Future:
        """Run ``work()`` on the model thread, between batches (generation uses the same module)."""
        return asyncio.get_running_loop().run_in_executor(self._model_thread, work)

    async def submit(self, item: Any) -> Answer:
        pending = Pending(item)
        await self._queue.put(pending)
        return await pending.future

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = await self._gather()
            started = time.perf_counter()
            try:
                outputs = await loop.run_in_executor(self._model_thread, self._call, [p.item for p in group])
            except Exception as error:  # the model failed on this batch: each query gets the reason
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            compute_ms = (time.perf_counter() - started) * 1e3
            self.batches.append(len(group))
            for pending, output in zip(group, outputs):
                if not pending.future.done():  # a client that went away cancelled its future
                    pending.future.set_result(Answer(output, (started - pending.arrived) * 1e3, compute_ms, len(group)))

    async def _gather(self) -> list[Pending]:
        """The next batch: every query already waiting (up to max_batch), then more until the
        first one has waited max_wait_ms (one that waited through the last batch goes at once)."""
        group = [await self._queue.get()]
        deadline = group[0].arrived + self.max_wait_s
        while len(group) < self.max_batch:
            if not self._queue.empty():
                group.append(self._queue.get_nowait())
                continue
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            try:
                group.append(await asyncio.wait_for(self._queue.get(), left))
            except asyncio.TimeoutError:
                break
        return group

    def _call(self, items: list[Any]) -> list[torch.Tensor]:
        handle = self.handle
        if isinstance(items[0], str):
            batch = handle.preprocess(items)
        elif isinstance(items[0], dict):
            batch = {name: torch.stack([item[name] for item in items]) for name in items[0]}
        else:
            batch = torch.stack(items)
        with handle.inference_context():
            return list(as_tensor(handle.run(batch)))  # on the host: waits for the device
