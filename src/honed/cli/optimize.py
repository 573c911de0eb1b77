"""``honed optimize MODEL -r STEP -o DIR``: the optimised model written as the files its runtime
deploys, with a model card; the base and the optimised model measured for its table."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from honed.cli import options as opt
from honed.cli.app import app, err, open_store, out
from honed.core.errors import SpecError


@app.command()
def optimize(
    spec_file: Annotated[Optional[Path], typer.Argument(help="TOML spec with [model] and [[recipe]]")] = None,
    model: opt.Model = None,
    kind: opt.Kind = None,
    recipe: Annotated[
        Optional[list[str]],
        typer.Option("--recipe", "-r", help="algorithm to apply, optionally with parameters; repeat"),
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="new or empty directory for the optimised model")
    ] = None,
    shape: opt.Shape = None,
    seq_len: opt.SeqLen = None,
    device: opt.Device = None,
    scope: opt.Scope = None,
    new_tokens: opt.NewTokens = None,
    task: Annotated[
        Optional[str], typer.Option(help="task whose data calibrates and scores the model (see `honed tasks`)")
    ] = None,
    task_limit: Annotated[Optional[int], typer.Option(help="score quality on the first N items only")] = None,
    task_data: opt.TaskData = None,
    batch_size: Annotated[Optional[list[int]], typer.Option("--batch-size", "-b", help="repeat for a sweep")] = None,
    repetitions: opt.Repetitions = None,
    measure: Annotated[
        bool, typer.Option(help="measure the base and the optimised model for the model card's table")
    ] = True,
    allow_pickle: opt.AllowPickle = False,
    trust_code: opt.TrustCode = False,
    fresh: Annotated[
        bool, typer.Option(help="measure both models again instead of reusing stored runs of the same spec")
    ] = False,
    store: opt.Store = None,
) -> None:
    """Apply a recipe and write the optimised model as its runtime deploys it (a transformers directory,
    ONNX, OpenVINO IR, GGUF), loadable without honed, with a README.md model card and honed-export.json.
    A recipe with a step that cannot be written so is refused before any work; ModelHandle.save (Python)
    keeps any recipe as honed-manifest.json instead, which only honed loads (it replays the recipe)."""
    from honed.spec.build import command_spec

    spec = command_spec(spec_file, locals())
    if output is None:
        raise SpecError("--output", None, "a new or empty directory to write the optimised model to")
    command = "honed " + shlex.join(sys.argv[1:])
    path = write_optimised(spec, output, open_store(store) if measure else None, command, fresh=fresh)
    out.print(f"wrote the optimised model and its model card to {path}", highlight=False, markup=False)


def write_optimised(
    spec, output: Path, db, command: str, measured=None, decision: str | None = None, fresh: bool = False
) -> Path:
    """Check everything, optimise, export, measure (with a store; ``measured``: the (before, after)
    runs a tune already stored), write the card (``decision``: how a tune chose the recipe)."""
    from honed.core.fingerprint import collect
    from honed.optimization import optimize as apply_recipe
    from honed.optimization.export import export, loading_hint, size_on_disk
    from honed.report.card import Artifact, model_card

    plan = check_optimise(spec, output)
    with err.status(f"applying {' + '.join(s.algorithm for s in plan.steps)} to {spec.model.display_name}"):
        handle = apply_recipe(spec.model, list(plan.steps), plan.device, spec.inputs, task=plan.task)
        files = export(handle, output)
    artifact = Artifact(
        handle.kind, files, size_on_disk(output, files), loading_hint(handle.kind, output, handle.deploy_options())
    )
    before, after = measured or (_measure(spec, plan, db, fresh) if db is not None else (None, None))
    card = model_card(spec.model.display_name, list(plan.steps), artifact, command, collect(), before, after, decision)
    (output / "README.md").write_text(card)
    return output


def check_optimise(spec, output: Path):
    """The run plan of ``spec`` once its recipe is known to export and ``output`` is free."""
    from honed.optimization.export import check_exportable, check_output
    from honed.run.plan import plan_run

    if not spec.recipe:
        raise SpecError("--recipe", None, "at least one step to apply (see `honed algorithms`)")
    check_output(output)
    plan = plan_run(spec.model, spec)  # the model, the task and the recipe, before any work
    check_exportable(plan.steps)
    return plan


def save_recommended(spec, result, output: Path, db, command: str) -> None:
    """``honed tune --save DIR``: the recommended recipe written as ``honed optimize`` writes it,
    with the tune's own baseline and trial runs in the card."""
    trials = {t.key: t for t in [result.baseline, *result.trials] if t is not None}
    trial = trials.get(result.recommended.trial) if result.recommended is not None else None
    if trial is None or not trial.recipe:
        what = "no recipe met the guardrail" if trial is None else "the base model itself is recommended"
        err.print(f"--save: {what}; nothing was written to {output}", style="yellow", highlight=False, markup=False)
        return
    recommended = spec.model_copy(update={"recipe": tuple(trial.recipe)})
    measured = (db.get(result.baseline.run_id), db.get(trial.run_id))
    write_optimised(recommended, output, None, command, measured, _decision(result))
    out.print(f"wrote the recommended model ({trial.label}) and its model card to {output}", highlight=False)


def _measure(spec, plan, db, fresh: bool = False):
    """The base model and the optimised one under the spec's protocol, each stored: a recent stored
    run of the same model, recipe, spec and machine is reused (a tune's baseline and its trial of
    this recipe), unless ``fresh``."""
    from honed.cli.flows import run_evaluation
    from honed.tuning.settings import TuneSettings
    from honed.tuning.stored_run import stored_run

    hours = 0.0 if fresh else TuneSettings().baseline_hours
    measured = []
    for what, steps, run_spec, run_plan in (
        ("the base model", [], spec.model_copy(update={"recipe": ()}), None),
        ("the optimised model", list(plan.steps), spec, plan),
    ):
        stored = stored_run(db, spec.model, steps, spec.protocol, spec.inputs, spec.target, plan.task, hours)
        if stored is not None:
            err.print(
                f"{what}: the stored run {stored.id[:12]} (same model, recipe, spec and machine)", highlight=False
            )
        else:
            err.print(f"measuring {what}", highlight=False, markup=False)
            stored = run_evaluation(run_spec, db, plan=run_plan)
        measured.append(stored)
    return tuple(measured)


def _decision(result) -> str:
    """The card's account of the choice: the sweep, what it judged quality on, and the recommendation."""
    from honed.console.tune import recommendation_text, tried_text

    guardrail = result.settings.guardrail.describe(result.metric or "quality")
    recommended = recommendation_text(result).removeprefix("recommended: ")
    return (
        f"Chosen by `honed tune` (sweep `{result.id[:12]}`, {tried_text(result)}), quality judged on the "
        f"`{result.task.name}` task under the guardrail: {guardrail}. It recommended {recommended}."
    )
