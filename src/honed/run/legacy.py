"""The 0.1 keyword forms of ``evaluate`` and ``tune``, kept for one release with a
DeprecationWarning: ``evaluate(model, protocol, inputs, target, name=..., recipe=..., task=...)``
is ``evaluate(model, RunSpec(...))`` now, as torchao passes its config to ``quantize_``.

``accepts_0_1_form`` wraps the current function, so its own signature says what it takes (as
lm-evaluation-harness's ``positional_deprecated`` and torchao's deprecated wrappers do) and the
old form is read here alone; the next release removes the wrapper."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from honed.core.protocol import InputSpec, Protocol, RunSpec, TargetSpec

# Each function's old parameters after the model, in their old positional order.
EVALUATE_PARAMETERS = ("protocol", "inputs", "target", "name", "store", "on_progress", "recipe", "task", "checked")
TUNE_PARAMETERS = ("task", "target", "protocol", "inputs", "settings", "store", "name", "on_event", "runner", "fresh")

F = TypeVar("F", bound=Callable[..., Any])


def accepts_0_1_form(
    parameters: tuple[str, ...], renamed: dict[str, str] | None = None, positional: tuple[type, ...] = ()
) -> Callable[[F], F]:
    """Let ``function(model, spec, ...)`` also take its 0.1 form, ``function(model, *parameters)``,
    with a DeprecationWarning. ``positional``: the types the current form takes after the spec
    (tune's TuneSettings); ``renamed`` maps an old argument to the current one (checked -> plan)."""

    def decorate(function: F) -> F:
        current = set(inspect.signature(function).parameters)

        @functools.wraps(function)
        def wrapper(model: Any, spec: Any = None, *args: Any, **kwargs: Any) -> Any:
            old = {k: v for k, v in kwargs.items() if k not in current}
            if not is_legacy(spec, args, old, positional):
                return function(model, spec, *args, **kwargs)
            spec, rest = legacy_call(function.__name__, parameters, spec, args, old)
            kept = {k: v for k, v in kwargs.items() if k not in old}
            kept.update({(renamed or {}).get(name, name): value for name, value in rest.items()})
            return function(model, spec, **kept)

        return wrapper  # type: ignore[return-value]

    return decorate


def is_legacy(spec: Any, args: tuple[Any, ...], old: dict[str, Any], positional: tuple[type, ...] = ()) -> bool:
    """The old form: loose values where the RunSpec goes, positional values after it that the
    current form does not take (of the ``positional`` types), or keywords only the old form has."""
    fits = len(args) <= len(positional) and all(isinstance(a, t) for a, t in zip(args, positional))
    return bool(old) or not fits or not (spec is None or isinstance(spec, RunSpec))


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
