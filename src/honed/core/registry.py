"""One small name-keyed registry used for adapters, algorithms, metrics and tasks.

On the first lookup the registry imports its built-in modules (kept out of ``import honed``
so that it stays cheap) and then its entry-point group, through which third parties join;
each imported module registers its items with the decorator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from typing import Generic, TypeVar

from honed.core.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None, builtins: tuple[str, ...] = ()):
        self.kind = kind
        self._entry_point_group = entry_point_group
        self._builtins = builtins
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items and self._items[name] is not item:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return decorator

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def values(self) -> list[T]:
        """Every registered item, in name order."""
        return [self._items[name] for name in self.names()]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first, so that modules registering themselves do not recurse
        for module in self._builtins:
            import_module(module)
        if self._entry_point_group:
            from importlib.metadata import entry_points

            for entry_point in entry_points(group=self._entry_point_group):
                entry_point.load()
