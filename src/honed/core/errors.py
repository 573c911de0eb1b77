"""Errors a user can act on: each names the field, the value, and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable


class HonedError(Exception):
    """Base class for errors honed reports to users (CLI exit code 2 unless stated)."""

    exit_code = 2


class SpecError(HonedError, ValueError):
    """A bad field in a spec, protocol or argument."""

    def __init__(self, field: str, value: object, allowed: str, hint: str | None = None):
        self.field, self.value, self.allowed, self.hint = field, value, allowed, hint
        message = f"{field}: got {value!r}; allowed: {allowed}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class UnknownNameError(HonedError, KeyError):
    """A name not found in a registry; suggests the closest known names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        import difflib

        known = sorted(known)
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        message = f"unknown {kind} {name!r}"
        if close:
            message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        message += f" Known {kind}s: {', '.join(known) or '(none)'}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class ModelLoadError(HonedError):
    """The model could not be found or loaded."""


class UnsafeFormatError(HonedError):
    """A pickle-based file was refused because the user did not allow pickle."""


class Interrupted(HonedError):
    """The user interrupted a sweep; what was measured so far is kept in ``record``."""

    exit_code = 130

    def __init__(self, message: str, record: object = None):
        super().__init__(message)
        self.record = record


class EnvironmentMismatchError(HonedError):
    """Two runs were measured in environments too different to compare."""

    exit_code = 4


class RecipeError(HonedError):
    """A recipe that cannot be applied; says which steps and why."""


class StoreError(HonedError):
    """The store cannot be read or written: corrupt, full, locked, or from a newer honed."""


class ImmutableRecordError(HonedError):
    """A stored run was asked to change: runs are immutable once stored."""


class UntrustedCodeError(HonedError):
    """Data named code to run, and the user did not say that this source is trusted."""
