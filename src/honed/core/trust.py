"""What honed treats as code and what as data (SECURITY.md).

Data (safetensors, ONNX, OpenVINO IR, manifests, run records, JSON exports, the store) is
read, never imported or called: a manifest may name a factory or a task module only from an
allow-list (honed's own zoo, and what installed packages register through entry points);
anything else needs ``trust_code=True`` (``--trust-code``). Paths written inside data stay
inside the directory they came with. JSON documents are bounded in size and nesting before
they are parsed (``honed.core.safe_json``). A task module that data names is checked where tasks are
known (``honed.tasks.base.check_task_module``).
"""

from __future__ import annotations

import os
from pathlib import Path

from honed.core.errors import SpecError, UntrustedCodeError

# Factories honed ships: building them runs only honed's own code.
TRUSTED_FACTORY_MODULES = ("honed.zoo",)
# Third-party factories that an installed package vouches for: `name = "package.module:function"`.
FACTORY_ENTRY_POINTS = "honed.factories"


def trusted_factories() -> set[str]:
    from importlib.metadata import entry_points

    return {entry.value for entry in entry_points(group=FACTORY_ENTRY_POINTS)}


def check_factory(factory: str, trusted: bool, where: str) -> None:
    """Refuse, before anything is imported, a factory that data names and nobody vouched for."""
    module = factory.partition(":")[0]
    if trusted or module in TRUSTED_FACTORY_MODULES or factory in trusted_factories():
        return
    raise UntrustedCodeError(
        f"{where} names the factory {factory!r}, which is code: loading it would import and call it. "
        f"Only honed's own factories ({', '.join(TRUSTED_FACTORY_MODULES)}) and those registered in the "
        f"{FACTORY_ENTRY_POINTS!r} entry-point group load without consent; pass trust_code=True "
        "(CLI: --trust-code) if you trust where this model came from"
    )


def contained_path(directory: Path, relative: str, field: str) -> Path:
    """``directory / relative``, refused when ``relative`` is absolute or leads outside ``directory``."""
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise SpecError(field, relative, f"a relative path inside {directory} (no '..', not absolute)")
    path = directory / relative
    if not _inside(path.resolve(), directory.resolve()):
        raise SpecError(field, relative, f"a path that stays inside {directory} (it leads outside through a link)")
    return path


def check_no_links_out(directory: Path) -> None:
    """Refuse a model directory holding a symbolic link that points outside it."""
    root = directory.resolve()
    for current, folders, files in os.walk(directory, followlinks=False):
        for name in folders + files:
            path = Path(current) / name
            if path.is_symlink() and not _inside(path.resolve(), root):
                raise UntrustedCodeError(
                    f"{path} is a link to {os.readlink(path)!r}, outside the model directory "
                    f"{directory}; a saved model must be self-contained"
                )


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
