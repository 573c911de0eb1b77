"""The options of `honed tune`'s knob search (tuning/knob_search.py), written apart from the command."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

Search = Annotated[
    Optional[str],
    typer.Option(
        help="list (default): each algorithm's defaults and hand-found variants, then combinations; tpe, "
        "random or grid: a seeded Optuna sampler walks each algorithm's knobs (`honed algorithms` lists them), "
        "quality screened before a point is timed"
    ),
]
Seed = Annotated[Optional[int], typer.Option(help="the knob search's seed (same seed and outcomes, same trials)")]
Starts = Annotated[
    Optional[bool],
    typer.Option(
        "--starts/--no-starts",
        help="a knob search first tries the defaults and hand-found variants (or the -c candidates)",
    ),
]
