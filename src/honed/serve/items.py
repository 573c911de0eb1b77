"""A request's body as the items the model takes: checked against what the model's own example
batch looks like (one tensor or named tensors, their dtypes and item shape), so a malformed item
is a 422 for its sender and never a failure of the batch it would have joined."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from fastapi import HTTPException

from honed.core.protocol import InputSpec
from honed.models.handle import ModelHandle

KSERVE_TYPES = {
    "FP32": torch.float32,
    "FP16": torch.float16,
    "FP64": torch.float64,
    "INT64": torch.int64,
    "INT32": torch.int32,
    "INT8": torch.int8,
    "UINT8": torch.uint8,
    "BOOL": torch.bool,
}


@dataclass(frozen=True)
class ItemSchema:
    """One item's form: ``named`` input names -> (dtype, dimensions) for a model of named
    inputs, else ``tensor`` (dtype, shape or None); ``texts`` when the model tokenizes;
    ``tensors`` False when its inputs are more than tensors (a sentence-transformers pipeline's)."""

    texts: bool
    tensor: tuple[torch.dtype, tuple[int, ...]] | None = None
    named: dict[str, tuple[torch.dtype, int]] | None = None
    tensors: bool = True

    @classmethod
    def of(cls, handle: ModelHandle, inputs: InputSpec, texts: bool) -> ItemSchema:
        try:
            example = handle.example_inputs(1, inputs, seed=0)
        except Exception:  # no example without --shape: tensors are taken as sent
            return cls(texts=texts)
        if isinstance(example, dict):
            if not all(isinstance(t, torch.Tensor) for t in example.values()):
                return cls(texts=texts, tensors=not texts)
            return cls(texts=texts, named={name: (t.dtype, t.dim() - 1) for name, t in example.items()})
        if isinstance(example, torch.Tensor):
            return cls(texts=texts, tensor=(example.dtype, tuple(example.shape[1:])))
        return cls(texts=texts)

    @property
    def item_shape(self) -> tuple[int, ...] | None:
        return self.tensor[1] if self.tensor else None

    def text(self, text: str) -> str:
        if not self.texts:
            raise HTTPException(422, "text: this model takes tensors ('inputs'), not text")
        return text

    def item(self, inputs: Any, where: str = "inputs") -> Any:
        if not self.tensors:
            raise HTTPException(422, f"{where}: this model takes text ('text'), not tensors")
        if isinstance(inputs, dict):
            return self._named({name: _tensor(values, f"{where}.{name}") for name, values in inputs.items()}, where)
        return self._one(_tensor(inputs, where), where)

    def _one(self, tensor: torch.Tensor, where: str) -> torch.Tensor:
        if self.named is not None:
            raise HTTPException(422, f"{where}: this model takes named inputs: {{{', '.join(self.named)}}}")
        if self.tensor is None:
            return tensor
        dtype, shape = self.tensor
        if tuple(tensor.shape) != tuple(shape):
            raise HTTPException(422, f"{where}: shape {list(tensor.shape)}; this model takes one item of {list(shape)}")
        return _cast(tensor, dtype, where)

    def _named(self, tensors: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
        if self.named is None:
            if self.tensor is not None or not tensors:
                raise HTTPException(422, f"{where}: this model takes one tensor (a nested list), not named inputs")
            return tensors
        if set(tensors) != set(self.named):
            raise HTTPException(422, f"{where}: names {sorted(tensors)}; this model takes {sorted(self.named)}")
        shapes = set()
        for name, tensor in tensors.items():
            dtype, dims = self.named[name]
            if tensor.dim() != dims or tensor.numel() == 0:
                raise HTTPException(422, f"{where}.{name}: {tensor.dim()} dimensions; model takes {dims}, nonempty")
            tensors[name] = _cast(tensor, dtype, f"{where}.{name}")
            shapes.add(tuple(tensor.shape))
        if len(shapes) != 1:
            raise HTTPException(422, f"{where}: every named input needs the same shape")
        return tensors

    def kserve(self, tensors: list[Any]) -> list[Any]:
        """KServe v2 tensors (first dimension the batch) as one checked item per row."""
        if not self.tensors:
            raise HTTPException(422, "inputs: this model takes text (POST /v1/predict {'text': ...}), not tensors")
        rows = {}
        for tensor in tensors:
            dtype = KSERVE_TYPES.get(tensor.datatype)
            where = f"inputs.{tensor.name}"
            if dtype is None:
                raise HTTPException(422, f"{where}.datatype: {tensor.datatype!r}; one of {', '.join(KSERVE_TYPES)}")
            if not tensor.shape or any(d < 0 for d in tensor.shape):
                raise HTTPException(422, f"{where}.shape: {tensor.shape}; a batch dimension first, none negative")
            try:
                rows[tensor.name] = torch.tensor(tensor.data, dtype=dtype).reshape(tensor.shape)
            except (TypeError, ValueError, RuntimeError, OverflowError) as error:
                raise HTTPException(422, f"{where}: data do not fill shape {tensor.shape} ({error})") from None
            if dtype.is_floating_point and not bool(torch.isfinite(rows[tensor.name]).all()):
                raise HTTPException(422, f"{where}.data: numbers beyond {tensor.datatype}'s range, infinite or NaN")
        sizes = {len(t) for t in rows.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise HTTPException(422, "inputs: every input needs the same first (batch) dimension, above 0")
        count = sizes.pop()
        if len(rows) == 1 and self.named is None:
            only = next(iter(rows.values()))
            return [self._one(only[i], "inputs") for i in range(count)]
        return [self._named({name: t[i] for name, t in rows.items()}, "inputs") for i in range(count)]


def _tensor(values: Any, where: str) -> torch.Tensor:
    try:
        tensor = torch.tensor(values)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise HTTPException(422, f"{where}: not a rectangular list of numbers ({error})") from None
    if tensor.numel() == 0:
        raise HTTPException(422, f"{where}: empty")
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise HTTPException(422, f"{where}: numbers beyond the float range, infinite or NaN")
    return tensor


def output_list(tensor: torch.Tensor) -> list[Any]:
    """An output as JSON can carry it: a value that is not finite (NaN, infinity) becomes null."""
    if not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()):
        return tensor.tolist()
    return _nulls(tensor)


def _nulls(tensor: torch.Tensor) -> Any:  # a list, or a number or None at the innermost level
    finite = torch.isfinite(tensor)
    if tensor.dim() == 0:
        return tensor.item() if bool(finite) else None
    return [_nulls(row) for row in tensor]


def _cast(tensor: torch.Tensor, dtype: torch.dtype, where: str) -> torch.Tensor:
    if tensor.dtype == dtype:
        return tensor
    if not dtype.is_floating_point and tensor.dtype.is_floating_point:
        raise HTTPException(422, f"{where}: numbers with fractions; this model takes whole numbers ({dtype})")
    return tensor.to(dtype)
