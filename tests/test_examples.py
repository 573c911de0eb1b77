"""Every file in examples/ is read by a test as a user would use it: a spec file is built and
planned, the campaign planned, the load spec's options are `honed load`'s, and every honed command
the CI workflow runs takes the options it is given. (examples/own-model is run by
tests/cli/test_tutorial.py.)"""

from __future__ import annotations

import inspect
import re
import shlex
from pathlib import Path

from helpers import honed

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
READ_HERE = {"sleeper.toml", "campaign.toml", "load.toml", "github-actions.yml"}
READ_BY_THE_TUTORIAL_TEST = {"own-model/README.md", "own-model/pairs.jsonl"}


def test_every_example_is_read_by_a_test():
    files = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*") if p.is_file()}
    assert files == READ_HERE | READ_BY_THE_TUTORIAL_TEST


def test_the_spec_file_builds_and_plans():
    from honed.run.plan import plan_run
    from honed.spec.build import load_spec

    spec = load_spec(EXAMPLES / "sleeper.toml")
    plan = plan_run(spec.model, spec)
    assert spec.model.source == "honed.zoo:sleeper" and plan.device == "cpu"


def test_the_campaign_plans(tmp_path):
    done = honed("campaign", "run", str(EXAMPLES / "campaign.toml"), "--plan", store=tmp_path / "s.db")
    assert "mlp" in done.stdout and "cnn" in done.stdout


def test_the_load_specs_options_are_honed_loads():
    from honed.cli.traffic import load
    from honed.spec.load_file import LoadSpec, read_load_spec

    names = set(inspect.signature(load).parameters) - {"ctx", "spec_file"}
    # The [load] table takes exactly the command's options, by the same names.
    assert {f.alias or n for n, f in LoadSpec.model_fields.items()} == names
    options = read_load_spec(EXAMPLES / "load.toml")
    assert options["url"].startswith("http://127.0.0.1") and options["qps"] == 40 and '"inputs"' in options["body"]


def test_every_honed_command_of_the_ci_workflow_takes_its_options(tmp_path):
    lines = [line.split("run:", 1)[-1].strip() for line in (EXAMPLES / "github-actions.yml").read_text().splitlines()]
    commands = [line[line.index("honed ") :] for line in lines if re.search(r"(^|\$\()honed ", line)]
    commands = [c.split(")")[0].split("|")[0] for c in commands]
    assert len(commands) >= 4
    for command in commands:
        words = shlex.split(command.replace("${GITHUB_SHA::8}", "abc"))[1:]
        path = [w for w in words[:2] if not w.startswith(("-", "$")) and not w.endswith((".toml", ".html"))]
        options = [w.split("=")[0] for w in words if w.startswith("-")]
        shown = honed(*path, "--help", store=tmp_path / "s.db").stdout
        assert all(o in shown for o in options), (command, options)
