"""The environment a run was measured in, collected without importing torch.

Facts only the framework knows at run time (threads in use, CUDA runtime, device name) are
reported by the worker process and stored under ``runtime``.
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
from importlib import metadata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# CPU features that decide which kernels (and so which optimisations) pay off.
CPU_FLAGS_OF_INTEREST = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "avx_vnni",
    "asimd",
    "sve",
    "sve2",
    "i8mm",
    "bf16",
)
PACKAGES = (
    "honed",
    "torch",
    "numpy",
    "scipy",
    "transformers",
    "sentence-transformers",
    "tokenizers",
    "safetensors",
    "onnx",
    "onnxruntime",
    "torchao",
    "optimum-quanto",
    "openvino",
    "nncf",
    "llama-cpp-python",
    "gguf",
    "accelerate",
    "ctranslate2",
    "nvidia-ml-py",
    "optuna",
)
ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "PYTORCH_CUDA_ALLOC_CONF",
    "ONEDNN_MAX_CPU_ISA",
    "TORCHINDUCTOR_FREEZING",
)
# Fields that, when they differ, make a latency comparison unreliable.
KEY_FIELDS = (
    "cpu.model",
    "cpu.logical_cores",
    "gpus",
    "python",
    "packages.torch",
    "packages.onnxruntime",
    "packages.transformers",
    "runtime.threads",
    "runtime.device_name",
)


class Fingerprint(BaseModel):
    model_config = ConfigDict(frozen=True)
    hostname: str
    os: str
    python: str
    cpu: dict[str, Any]
    memory_bytes: int
    gpus: list[dict[str, Any]] = Field(default_factory=list)
    gpu_note: str | None = None
    packages: dict[str, str | None]
    env: dict[str, str]
    git: dict[str, Any] | None = None
    runtime: dict[str, Any] = Field(default_factory=dict)

    def get(self, dotted: str) -> Any:
        value: Any = self.model_dump()
        for part in dotted.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def differences(self, other: Fingerprint, fields: tuple[str, ...] = KEY_FIELDS) -> dict[str, tuple[Any, Any]]:
        return {f: (self.get(f), other.get(f)) for f in fields if self.get(f) != other.get(f)}


def collect(cwd: str | None = None) -> Fingerprint:
    """The host fingerprint (cached per process; hardware and packages do not change under us)."""
    static = _static()
    return Fingerprint(
        **static, env={k: os.environ[k] for k in ENV_VARS if k in os.environ}, git=_git(cwd or os.getcwd())
    )


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    import psutil

    gpus, gpu_note = _gpus()
    return dict(
        hostname=socket.gethostname(),
        os=platform.platform(),
        python=platform.python_version(),
        cpu=_cpu(),
        memory_bytes=psutil.virtual_memory().total,
        gpus=gpus,
        gpu_note=gpu_note,
        packages={name: package_version(name) for name in PACKAGES},
    )


def isa_of(flags: list[str] | set[str]) -> str:
    """The widest x86 integer/matrix units among ``flags``, as a person compares CPUs by them: the
    same int8 recipe that wins with VNNI or AMX can lose with AVX2 alone."""
    flags = set(flags)
    for flag, name in (
        ("amx_int8", "AMX"),
        ("avx512_vnni", "AVX-512 VNNI"),
        ("avx512f", "AVX-512"),
        ("avx_vnni", "AVX2 VNNI"),
        ("avx2", "AVX2 (no VNNI)"),
    ):
        if flag in flags:
            return name
    return "no AVX2"


def _cpu() -> dict[str, Any]:
    import psutil

    from honed.core.cpu_info import cpu_info

    info = cpu_info()
    flags = set(info.get("flags") or [])
    freq = psutil.cpu_freq()
    governor_path = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"
    governor = open(governor_path).read().strip() if os.path.exists(governor_path) else None
    return {
        "model": info.get("brand_raw") or platform.processor() or "unknown",
        "arch": info.get("arch_string_raw") or platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "flags": sorted(f for f in CPU_FLAGS_OF_INTEREST if f in flags),
        "max_mhz": round(freq.max) if freq and freq.max else None,
        "governor": governor,
    }


def _gpus() -> tuple[list[dict[str, Any]], str | None]:
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return [], f"NVML unavailable: {error}"
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        cuda = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            gpus.append(
                {
                    "index": index,
                    "name": pynvml.nvmlDeviceGetName(handle),
                    "memory_bytes": pynvml.nvmlDeviceGetMemoryInfo(handle).total,
                    "driver": driver,
                    "cuda_driver": f"{cuda // 1000}.{cuda % 1000 // 10}",
                }
            )
        return gpus, None
    finally:
        pynvml.nvmlShutdown()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(cwd: str) -> dict[str, Any] | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}
