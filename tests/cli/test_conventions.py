"""The command line by convention: every command's help is reachable with -h and --help, reads
as plain text, and documents every option; a bare command group shows its help and succeeds."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from honed.cli import command, main

MARKUP = re.compile(r"\[/?(?:green|red|yellow|bold|dim|cyan)?\]|``|:class:|:func:")


def _commands(group=None, path=()):
    group = group or command()
    for name, sub in group.commands.items():
        yield (*path, name), sub
        if hasattr(sub, "commands"):
            yield from _commands(sub, (*path, name))


@pytest.fixture
def honed_main(capsys, monkeypatch):
    """``honed ARGS`` in this process: its exit code and stdout (sys.argv restored after the test)."""

    def run_main(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["honed", *args])
        with pytest.raises(SystemExit) as done:
            main()
        return done.value.code, capsys.readouterr().out

    return run_main


COMMANDS = sorted(path for path, _ in _commands())


def test_the_walk_finds_every_command_and_its_groups():
    assert {("evaluate",), ("tune",), ("runs", "list"), ("campaign",), ("serve",)} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_documents_every_option_in_plain_text(path, honed_main):
    code, text = honed_main(*path, "-h")
    assert code == 0 and text.startswith("Usage: honed " + " ".join(path)), text[:200]
    assert not MARKUP.search(text), MARKUP.search(text)
    found = dict(_commands())[path]
    for parameter in found.params:
        if parameter.param_type_name == "option" and "--help" not in parameter.opts:
            assert (parameter.help or "").strip(), f"honed {' '.join(path)} {parameter.opts[0]} has no help"
    assert (found.help or "").strip(), f"honed {' '.join(path)} has no description"


def test_bare_honed_and_bare_groups_show_their_help_and_succeed(honed_main):
    for args in ((), ("runs",), ("sweeps",), ("campaign",), ("arena",)):
        code, text = honed_main(*args)
        assert code == 0 and text.startswith("Usage: honed"), (args, text[:200])
    code, text = honed_main()
    panels = [line for line in text.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert panels == ["Options:", "Measure:", "Optimise:", "Serve and load:", "Track:", "Scale:"]


def test_version_names_honed_and_its_libraries(honed_main):
    from importlib.metadata import version

    code, text = honed_main("--version")
    assert code == 0 and text.splitlines()[0] == f"honed {version('honed')}" and "  torch " in text


@pytest.mark.parametrize("args", [("algorithms",), ("tasks",), ("doctor",), ("runs", "list"), ("sweeps", "list")])
def test_read_commands_write_json_to_stdout(args, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "honed.cli", *args, "--json"],
        capture_output=True,
        text=True,
        env={"HONED_STORE": f"sqlite:///{tmp_path / 'runs.db'}", "PATH": "", "COLUMNS": "40"},
        timeout=120,
    )
    assert done.returncode in (0, 7), done.stderr  # doctor exits 7 on a machine unfit for timing
    parsed = json.loads(done.stdout)  # nothing but JSON on stdout, whatever the terminal width
    assert isinstance(parsed, list)
    if args == ("tasks",):
        assert {row["task"] for row in parsed} >= {"text-embedding", "translation"}
        assert not any("``" in row["default_data"] for row in parsed)
    if args == ("doctor",):
        assert done.returncode == (7 if any(row["status"] == "warn" for row in parsed) else 0)
