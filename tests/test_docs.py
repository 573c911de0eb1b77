"""The docs site builds with --strict (no broken link, no page left out of the navigation), its
reference pages are generated from the code (every command, every spec field), and the README
stays what a newcomer reads first."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from docs_reference import spec_sections  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "", "NO_MKDOCS_2_WARNING": "1", "HOME": str(out)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _text(site: Path, page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", (site / page / "index.html").read_text()))


def test_the_cli_reference_has_every_commands_help(site):
    from honed.cli import command

    text = _text(site, "reference/cli")
    group = command()
    for name, sub in group.commands.items():
        assert f"Usage: honed {name}" in text, name
        for inner in getattr(sub, "commands", {}):
            assert f"Usage: honed {name} {inner}" in text, (name, inner)


def test_the_spec_reference_has_every_field_with_its_description(site):
    text = _text(site, "reference/spec")
    for title, model in spec_sections():
        assert title in text
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description for the spec reference"
            shown = " ".join(field.description.replace("`", "").split())[:40]  # backticks become <code>
            assert shown in " ".join(text.split()), (model.__name__, name)


def test_the_api_reference_documents_every_public_name(site):
    import honed

    text = _text(site, "reference/api")
    for name in honed.__all__:
        assert f"honed.{name}" in text
    assert "RunSpec" in text and "guardrail" in text  # signatures and docstrings, not only headings


def test_the_readme_is_short_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme):
        assert (ROOT / target).exists(), target


@pytest.mark.parametrize("page", ["docs/architecture.md", "docs/development.md", "README.md"])
def test_every_source_file_a_page_names_exists(page):
    """A file named in backquotes (`tuning/loop.py`, `tests/test_layers.py`) is in the repository
    or under src/honed: the map never points at a module that moved."""
    named = set(re.findall(r"`([\w./-]+\.(?:py|toml|md))`", (ROOT / page).read_text()))
    source = ROOT / "src" / "honed"

    def exists(name: str) -> bool:  # a bare module name (in a layer's row) is in that layer's folder
        return (ROOT / name).exists() or (source / name).exists() or ("/" not in name and any(source.rglob(name)))

    assert named and sorted(n for n in named if not exists(n)) == []
