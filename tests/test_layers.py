"""The import layers of src/honed (docs/architecture.md): the folders are the layers; a module
imports only from its own layer or those below it, and no import cycle exists. Read from the source with ast, so imports
inside functions count too: an import that runs late still runs up the layers."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"

# Bottom to top, one folder (or a few side by side) a layer: `ls src/honed` is this list. A module
# belongs to the layer of its package; a new top-level package is in no layer until it is placed.
LAYERS = (
    ("core", ("honed", "honed.core")),
    ("zoo", ("honed.zoo",)),
    ("meters", ("honed.meters",)),
    ("records", ("honed.records",)),
    ("models", ("honed.models",)),
    ("tasks", ("honed.tasks",)),
    ("optimization", ("honed.optimization",)),
    ("measure", ("honed.measure",)),
    ("store", ("honed.store",)),
    ("run", ("honed.run",)),
    ("services", ("honed.load", "honed.serve", "honed.arena")),
    ("tuning", ("honed.tuning",)),
    ("spec", ("honed.spec",)),
    ("campaign", ("honed.campaign",)),
    ("presentation", ("honed.console", "honed.report", "honed.dashboard")),
    ("cli", ("honed.cli",)),
)


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer: add its package to LAYERS and to docs/architecture.md"
    return max(matches)[1]


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SOURCE / "honed").rglob("*.py")):
        name = ".".join(path.relative_to(SOURCE).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, module) for every honed import in the file that runs (not those under
    ``if TYPE_CHECKING:``), ``from honed import x`` read as honed.x."""
    found = []
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for statement in block.body
        for node in ast.walk(statement)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "honed"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "honed":
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.append((node.lineno, child if child in known else node.module))
    return found


def test_every_import_runs_down_the_layers():
    known = modules()
    upward = [
        f"{path.relative_to(SOURCE)}:{line} ({LAYERS[layer_of(name)][0]}) imports {target} "
        f"({LAYERS[layer_of(target)][0]})"
        for name, path in known.items()
        for line, target in imports(path, known)
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_no_import_cycle():
    known = modules()
    graph = {name: {target for _, target in imports(path, known) if target != name} for name, path in known.items()}
    # A package imports its own submodules to re-export them: that edge is not a dependency back.
    graph = {name: {t for t in targets if not t.startswith(name + ".")} for name, targets in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, trail: list[str]) -> bool:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycle.extend(trail[trail.index(target) :] + [node, target] if target in trail else [node, target])
                return True
            if state.get(target) is None and visit(target, trail + [node]):
                return True
        state[node] = 2
        return False

    for name in sorted(graph):
        if state.get(name) is None and visit(name, []):
            break
    assert cycle == [], " -> ".join(cycle)


def test_the_layer_test_sees_an_upward_import(tmp_path):
    """The checker itself: a models module importing the tuner is caught."""
    fake = tmp_path / "fake.py"
    fake.write_text("def f():\n    from honed.tuning import tune\n")
    known = modules()
    [(line, target)] = imports(fake, known)
    assert line == 2 and layer_of(target) > layer_of("honed.models.handle")


def test_the_folders_are_the_layers():
    """Nothing but ``__init__.py`` at the top of src/honed, and every folder is in exactly one layer."""
    top = SOURCE / "honed"
    assert sorted(p.name for p in top.iterdir() if p.is_file() and p.suffix == ".py") == ["__init__.py"]
    folders = {p.name for p in top.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    placed = [prefix.removeprefix("honed.") for _, prefixes in LAYERS for prefix in prefixes if prefix != "honed"]
    assert sorted(placed) == sorted(folders) and len(placed) == len(set(placed))


def test_no_module_imports_an_extras_package_at_its_top():
    """`pip install honed` alone must list its algorithms, check a spec and tune with PyTorch's:
    an extra's package is imported inside the function that needs it (tests/cli/test_core_only.py
    runs the commands with the extras hidden)."""
    from helpers import extras_packages

    extras = extras_packages()
    assert {"transformers", "onnxruntime", "openvino", "llama_cpp", "ray"} <= extras
    found = []
    for name, path in modules().items():
        for node in ast.parse(path.read_text()).body:  # module level only: not in functions, TYPE_CHECKING or try
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [f"{name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in extras]
    assert found == []


def test_no_module_is_over_300_lines():
    """One job a module: past 300 lines it is doing two, and splits."""
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > 300}
    assert long == {}
