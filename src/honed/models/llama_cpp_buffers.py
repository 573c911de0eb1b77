"""Which llama.cpp buffers hold a GGUF model's weights where llama.cpp was built with AMX.

llama.cpp's default there moves quantized weights into AMX buffers, and those crash the process on
the first decode (a segfault in ggml_backend_amx_mul_mat, ggml-org/llama.cpp#20824; measured on a
Sapphire Rapids Xeon for q8_0 and q4_0 at hidden sizes 64 to 2048). Turning the extra buffer types
off (``use_extra_bufts``) also drops the CPU repack: q4_0 and q4_K weights rewritten as interleaved
rows of 8 for ggml's AVX2/AVX-512 kernels, which make int4 decoding fast. So the extra buffers stay
off, and each weight the repack kernels take is named for the CPU_REPACK buffer type through
``tensor_buft_overrides``. llama-cpp-python exposes neither setting, so its default-parameters
function is wrapped while a Llama is built."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import re
from collections.abc import Iterator
from typing import Any

REPACK_BUFFER = b"CPU_REPACK"
REPACK_ROWS = 8  # ggml repacks a weight in groups of 8 rows (q4_0_8x8, q4_K_8x8, iq4_nl_8x8)
# What ggml-cpu repacks on x86 with AVX2 (repack.cpp, ggml_repack_get_optimal_repack_type; q2_K
# too, with AVX-512, not used here). A tensor named for the repack buffer that ggml cannot repack
# would crash it: only these are named.
REPACKED_TYPES = frozenset({"Q4_0", "Q4_K", "IQ4_NL"})
# Weights that only ever multiply (the token embedding is read by row lookups, which the repacked
# layout cannot serve).
MATMUL_WEIGHT = re.compile(r"^(blk\.\d+\.[a-z_0-9]+|output)\.weight$")


_KEPT: list[ctypes.Array] = []  # override arrays, alive as long as the models built with them


class _BufferOverride(ctypes.Structure):  # llama.h: struct llama_model_tensor_buft_override
    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


@functools.cache  # the build does not change within a process; runtime_info asks on every run
def _built_with(feature: str) -> bool:
    import llama_cpp

    return f"{feature} = 1" in llama_cpp.llama_print_system_info().decode()


def built_with_amx() -> bool:
    return _built_with("AMX_INT8")


@functools.cache
def repack_buffer_type() -> int | None:
    """ggml's CPU_REPACK buffer type, from the CPU device's extra buffer types (None if absent)."""
    from llama_cpp._ggml import libggml as ggml

    ggml.ggml_backend_dev_by_type.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
    ggml.ggml_backend_dev_backend_reg.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_backend_reg.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    ggml.ggml_backend_buft_name.restype = ctypes.c_char_p
    ggml.ggml_backend_buft_name.argtypes = [ctypes.c_void_p]
    cpu = ggml.ggml_backend_dev_by_type(0)  # GGML_BACKEND_DEVICE_TYPE_CPU
    address = cpu and ggml.ggml_backend_reg_get_proc_address(
        ggml.ggml_backend_dev_backend_reg(cpu), b"ggml_backend_dev_get_extra_bufts"
    )
    if not address:
        return None
    extra = ctypes.CFUNCTYPE(ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)(address)(cpu)
    index = 0
    while extra and extra[index]:
        if ggml.ggml_backend_buft_name(extra[index]) == REPACK_BUFFER:
            return int(extra[index])
        index += 1
    return None


def repackable_weights(path: str) -> list[str]:
    """The GGUF file's matrix weights that ggml's CPU repack takes, by name."""
    from gguf import GGUFReader

    return [
        tensor.name
        for tensor in GGUFReader(path).tensors
        if MATMUL_WEIGHT.match(tensor.name)
        and tensor.tensor_type.name in REPACKED_TYPES
        and len(tensor.shape) == 2
        and int(tensor.shape[1]) % REPACK_ROWS == 0
    ]


def _overrides(names: list[str], buffer_type: int) -> ctypes.Array:
    """A NULL-terminated array naming each tensor exactly (llama.cpp matches with regex_search)."""
    array = (_BufferOverride * (len(names) + 1))()
    for slot, name in zip(array, names):
        slot.pattern, slot.buft = f"^{re.escape(name)}$".encode(), buffer_type
    return array


def _repacked(path: str) -> list[str]:
    import llama_cpp

    # ggml's x86 repack kernels need AVX2: without it ggml would not repack what is named.
    names = repackable_weights(path) if _built_with("AVX2") and repack_buffer_type() else []
    # More than llama.cpp reads: plain buffers for all, slower but still correct.
    return names if len(names) < llama_cpp.llama_max_tensor_buft_overrides() else []


def weight_buffers(path: str) -> str:
    """Where the weights live, in words, for the run's record."""
    if not built_with_amx():
        return "default"
    return f"no AMX buffers (they crash); {len(_repacked(path))} weights in CPU_REPACK"


@contextlib.contextmanager
def amx_safe_weight_buffers(path: str, repack: bool = True) -> Iterator[None]:
    """While a Llama is built: no AMX buffers; the repackable weights in CPU_REPACK (all plain
    with ``repack=False``: the layout the repack is measured and checked against)."""
    from llama_cpp import llama as high_level

    original = high_level.llama_cpp.llama_model_default_params
    names = _repacked(path) if repack else []
    buffer = repack_buffer_type() if names else None  # None: this llama.cpp has no CPU_REPACK
    array = _overrides(names, buffer) if names and buffer is not None else None
    if array is not None:
        _KEPT.append(array)  # llama.cpp keeps a copy of the model parameters, pointer included

    def without_amx() -> Any:
        params = original()
        params.use_extra_bufts = False
        if array is not None:
            params.tensor_buft_overrides = ctypes.cast(array, ctypes.c_void_p)
        return params

    high_level.llama_cpp.llama_model_default_params = without_amx
    try:
        yield
    finally:
        high_level.llama_cpp.llama_model_default_params = original
