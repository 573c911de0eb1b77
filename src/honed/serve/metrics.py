"""What ``honed serve`` counts, in Prometheus' text format at ``/metrics`` (what Triton, TorchServe,
vLLM and KServe expose), and the few totals ``/v1/stats`` answers in JSON. Every statistic is a
counter, a gauge or a histogram of fixed buckets: memory stays flat however long the server runs."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Seconds: from well under a millisecond (a cached small model) to the default request deadline.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
UNMATCHED = "unmatched"  # the route label of a path no route serves: fuzzed paths cannot grow the label set
CONTENT_TYPE = CONTENT_TYPE_LATEST


def batch_buckets(max_batch: int) -> tuple[float, ...]:
    """Powers of two up to ``max_batch``, and ``max_batch`` itself."""
    sizes, size = [], 1
    while size < max_batch:
        sizes.append(float(size))
        size *= 2
    return (*sizes, float(max_batch))


class ServeMetrics:
    """The server's own registry (not the process-global one): two servers in one process, as in
    tests, keep their counts apart."""

    def __init__(self, max_batch: int):
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "honed_requests", "HTTP requests answered, by route and status", ["route", "status"], registry=registry
        )
        self.request_seconds = Histogram(
            "honed_request_seconds", "Time from a request's arrival to its answer", ["route"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.queue_seconds = Histogram(
            "honed_queue_seconds", "Time an item waited before its batch started", buckets=LATENCY_BUCKETS,
            registry=registry,
        )  # fmt: skip
        self.compute_seconds = Histogram(
            "honed_compute_seconds", "Time of one batch's model call", buckets=LATENCY_BUCKETS, registry=registry
        )
        self.batch_size = Histogram(
            "honed_batch_size", "Items per batch run", buckets=batch_buckets(max_batch), registry=registry
        )
        self.queue_depth = Gauge("honed_queue_depth", "Items admitted and waiting for a batch", registry=registry)
        self.rejected = Counter(
            "honed_rejected", "Items refused at admission (503), by reason", ["reason"], registry=registry
        )
        self.dropped = Counter(
            "honed_dropped", "Admitted items never run: deadline passed, client gone, or evicted by a newer one",
            ["reason"], registry=registry,
        )  # fmt: skip
        self.failed = Counter(
            "honed_failed", "Items whose model call failed or hung, by reason", ["reason"], registry=registry
        )
        self.taken = Counter(
            "honed_taken", "Items taken for a batch, by the queue's order then (newest first once it stands)",
            ["order"], registry=registry,
        )  # fmt: skip
        self.newest_first = Gauge(
            "honed_queue_newest_first", "1 while the queue stands and is served newest first", registry=registry
        )
        self.ready = Gauge("honed_ready", "1 when the server takes traffic (/ready answers 200)", registry=registry)
        self._generation_metrics(registry, max_batch)
        self.items = 0  # items run and batches run, for /v1/stats
        self.batches = 0

    def _generation_metrics(self, registry: CollectorRegistry, max_batch: int) -> None:
        """Completions (the OpenAI routes): what LLM servers report (vLLM's time to first token and
        time per output token)."""
        self.first_token_seconds = Histogram(
            "honed_time_to_first_token_seconds", "A completion's arrival to its first token chosen",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.inter_token_seconds = Histogram(
            "honed_inter_token_seconds", "Between two tokens of one completion", buckets=LATENCY_BUCKETS,
            registry=registry,
        )  # fmt: skip
        self.generated_tokens = Counter(
            "honed_generated_tokens", "Tokens generated, all completions", registry=registry
        )
        self.sequences = Gauge("honed_sequences_running", "Completions being decoded now", registry=registry)
        self.decode_batch = Histogram(
            "honed_decode_batch_size", "Sequences decoded in one step", buckets=batch_buckets(max_batch),
            registry=registry,
        )  # fmt: skip
        self.decode_seconds = Histogram(
            "honed_decode_step_seconds", "One decoding step of every running sequence", buckets=LATENCY_BUCKETS,
            registry=registry,
        )  # fmt: skip

    def decode_step(self, sequences: int, seconds: float) -> None:
        self.decode_batch.observe(sequences)
        self.decode_seconds.observe(seconds)

    def ran(self, size: int, compute_s: float) -> None:
        self.items += size
        self.batches += 1
        self.batch_size.observe(size)
        self.compute_seconds.observe(compute_s)

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "items": self.items,
            "mean_batch": self.items / self.batches if self.batches else None,
            "queue_depth": int(self.queue_depth._value.get()),
            "rejected": self._totals(self.rejected),
            "dropped": self._totals(self.dropped),
            "failed": self._totals(self.failed),
            "taken": self._totals(self.taken),
        }

    def _totals(self, counter: Counter) -> dict[str, int]:
        """The counter's totals by its one label's value."""
        return {
            next(iter(sample.labels.values())): int(sample.value)
            for metric in counter.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        }

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class CountRequests:
    """ASGI middleware: each HTTP request's route, status and time, and a bound on the body size
    (a declared length over it is refused before the body is read; so is a body that grows past it)."""

    def __init__(self, app: Any, metrics: ServeMetrics, max_body_bytes: int):
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]  # an app that raises before answering counts as 500
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await _refuse(send, 413, f"request body over {self.max_body_bytes} bytes")
            self._count(scope, 413, started)
            return

        async def counting_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, _bounded(receive, self.max_body_bytes), counting_send)
        finally:
            self._count(scope, status[0], started)

    def _count(self, scope: dict, status: int, started: float) -> None:
        route = scope.get("route")
        label = getattr(route, "path", None) or UNMATCHED
        self.metrics.requests.labels(route=label, status=str(status)).inc()
        self.metrics.request_seconds.labels(route=label).observe(time.perf_counter() - started)


class BodyTooLarge(Exception):
    pass


def _bounded(receive: Any, limit: int) -> Any:
    seen = [0]

    async def bounded_receive() -> dict:
        message = await receive()
        if message["type"] == "http.request":
            seen[0] += len(message.get("body", b""))
            if seen[0] > limit:
                raise BodyTooLarge(f"request body over {limit} bytes")
        return message

    return bounded_receive


async def _refuse(send: Any, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
