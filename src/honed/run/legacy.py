"""The 0.1 keyword forms of ``evaluate`` and ``tune``, kept for one release with a
DeprecationWarning: ``evaluate(model, protocol, inputs, target, name=..., recipe=..., task=...)``
is ``evaluate(model, RunSpec(...))`` now, as torchao passes its config to ``quantize_``."""

from __future__ import annotations

import warnings
from typing import Any

from honed.core.protocol import InputSpec, Protocol, RunSpec, TargetSpec

# Each function's old parameters after the model, in their old positional order.
EVALUATE_PARAMETERS = ("protocol", "inputs", "target", "name", "store", "on_progress", "recipe", "task", "checked")
TUNE_PARAMETERS = ("task", "target", "protocol", "inputs", "settings", "store", "name", "on_event", "runner", "fresh")
_SPEC_FIELDS = ("protocol", "inputs", "target", "name", "recipe", "task")


def is_legacy(spec: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """The old form: loose values where the RunSpec goes, or more of them after it."""
    return bool(args) or bool(set(kwargs) & set(_SPEC_FIELDS)) or not (spec is None or isinstance(spec, RunSpec))


def legacy_call(
    function: str, parameters: tuple[str, ...], first: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[RunSpec, dict[str, Any]]:
    """The RunSpec the old call describes, and its other arguments (store, callbacks, ...) by name."""
    positional = (first, *args) if first is not None or args else ()
    if len(positional) > len(parameters):
        raise TypeError(f"{function}() takes at most {len(parameters) + 1} positional arguments")
    values = dict(zip(parameters, positional))
    for name, value in kwargs.items():
        if name not in parameters:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
        if name in values:
            raise TypeError(f"{function}() got multiple values for argument {name!r}")
        values[name] = value
    warnings.warn(
        f"{function}(model, protocol, inputs, target, ...) is deprecated: pass a RunSpec, "
        f"{function}(model, RunSpec(protocol=..., inputs=..., ...)); the old form goes in the next release",
        DeprecationWarning,
        stacklevel=3,
    )
    spec = RunSpec(
        name=values.pop("name", None),
        inputs=values.pop("inputs", None) or InputSpec(),
        protocol=values.pop("protocol", None) or Protocol(),
        target=values.pop("target", None) or TargetSpec(),
        recipe=values.pop("recipe", None) or (),  # names, tables, steps or a Recipe: RunSpec reads each
        task=values.pop("task", None),
    )
    return spec, values
