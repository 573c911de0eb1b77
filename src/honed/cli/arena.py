"""``honed arena``: create a human-preference arena from models or recipes and a prompt set;
list arenas; print one's ratings. Votes are cast on the dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from honed.cli import options as opt
from honed.cli.app import app, open_store, out
from honed.cli.serve import model_spec

arena_app = typer.Typer(
    help="Blind pairwise votes on model outputs (text or images) in the dashboard.", no_args_is_help=True
)
app.add_typer(arena_app, name="arena")


@arena_app.command("create")
def arena_create(
    name: Annotated[str, typer.Argument(help="what the arena is called on the dashboard")],
    model: Annotated[
        list[str], typer.Option(help="a contestant's model (path, hub id, package.module:function); repeat")
    ],
    prompts: Annotated[Path, typer.Option(help='prompts, one per line (.txt) or {"text": ...} per line (.jsonl)')],
    recipe: Annotated[
        Optional[list[str]],
        typer.Option(
            "--recipe",
            "-r",
            help="a variant of each model: base, or steps joined by + (dynamic-int8+onnxruntime); repeat",
        ),
    ] = None,
    kind: opt.Kind = None,
    shape: Annotated[
        Optional[str], typer.Option(help="image models: the input's shape (noise seeded by each prompt), e.g. 3x8x8")
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=1, max=512, help="text models: tokens per answer at most")] = 32,
    allow_pickle: opt.AllowPickle = False,
    trust_code: opt.TrustCode = False,
    store: opt.Store = None,
) -> None:
    """Every contestant (each model under each recipe) answers every prompt; voters then see pairs."""
    from honed.arena.create import Contestant, create_arena
    from honed.core.protocol import Step
    from honed.load.endpoints import read_prompts

    variants = [[Step.parse(part) for part in text.split("+")] if text != "base" else [] for text in recipe or ["base"]]
    contestants = []
    for source in model:
        spec = model_spec(source, kind, None, shape, allow_pickle, trust_code)
        contestants += [Contestant(spec.model, tuple(steps)) for steps in variants]
    db = open_store(store)
    arena_id = create_arena(
        db,
        name,
        contestants,
        list(read_prompts(prompts)),
        spec.inputs,
        max_tokens,
        on_progress=lambda label: out.print(f"  outputs of {label}", highlight=False),
    )
    out.print(f"created arena {arena_id}: vote at /arena/{arena_id} on `honed dashboard`")


@arena_app.command("list")
def arena_list(store: opt.Store = None) -> None:
    """The arenas in the store."""
    from honed.arena.votes import arenas

    for found in arenas(open_store(store)):
        out.print(
            f"{found.id}  {found.created_at:%Y-%m-%d %H:%M}  {found.kind:5}  {len(found.contestants)} contestants, "
            f"{len(found.prompts)} prompts  {found.name}",
            highlight=False,
        )


@arena_app.command("ratings")
def arena_ratings(arena_id: str, store: opt.Store = None) -> None:
    """Bradley-Terry ratings with bootstrap CIs and the votes behind them."""
    from honed.arena.votes import ratings

    result = ratings(open_store(store), arena_id)
    out.print(f"{result.votes} votes from {result.voters} voters")
    for rating in result.ratings:
        out.print(
            f"{rating.rating:7.0f}  ({rating.low:.0f}-{rating.high:.0f})  {rating.wins:g} wins of {rating.votes}  "
            f"{rating.label}",
            highlight=False,
        )
