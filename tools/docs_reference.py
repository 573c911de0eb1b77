"""MkDocs hook: the reference pages written from the code at every build, so they cannot drift.

- ``reference/cli.md``: every command's ``--help``, walked from the typer app;
- ``reference/spec.md``: every section of a spec file and of a campaign file, from the pydantic
  models' fields (type, default, description);
- ``reference/api.md``: mkdocstrings blocks for every public name ``honed`` exports.

Each page holds a marker (``<!-- generated: cli -->``) that this hook replaces.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from honed.console.catalog import first_paragraph


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    for name, write in (("cli", cli_reference), ("spec", spec_reference), ("api", api_reference)):
        marker = f"<!-- generated: {name} -->"
        if marker in markdown:
            markdown = markdown.replace(marker, write())
    return markdown


def cli_reference() -> str:
    import typer

    from honed.cli import command

    parts = []

    def walk(group: Any, path: tuple[str, ...], parent: Any) -> None:
        context = typer.Context(group, info_name=path[-1] if path else "honed", parent=parent)
        parts.append(f"{'#' * min(len(path) + 2, 4)} `{' '.join(('honed', *path))}`\n")
        parts.append("```text\n" + group.get_help(context).rstrip() + "\n```\n")
        for name in getattr(group, "list_commands", lambda _: [])(context):
            walk(group.get_command(context, name), (*path, name), context)

    walk(command(), (), None)
    return "\n".join(parts)


def spec_sections() -> list[tuple[str, type[BaseModel]]]:
    """The sections of a spec file and of a campaign file, with the model each is read into."""
    from honed.campaign.spec import CampaignModel, CampaignSpec, CampaignTarget
    from honed.core.protocol import InputSpec, ModelRef, Protocol, Step, TargetSpec, TaskSpec
    from honed.spec.build import EvaluationSpec
    from honed.tuning.settings import Guardrail, TuneSettings

    return [
        ("spec file: top level", EvaluationSpec),
        ("[model]", ModelRef),
        ("[inputs]", InputSpec),
        ("[protocol]", Protocol),
        ("[target]", TargetSpec),
        ("[task]", TaskSpec),
        ("[[recipe]]", Step),
        ("[tune]", TuneSettings),
        ("[tune.guardrail]", Guardrail),
        ("campaign file: top level", CampaignSpec),
        ("[[models]]", CampaignModel),
        ("[[targets]]", CampaignTarget),
    ]


def spec_reference() -> str:
    parts = []
    for title, model in spec_sections():
        parts.append(f"## `{title}`\n\n{first_paragraph(model.__doc__).replace('``', '`')}\n")
        parts.append("| field | type | default | what it is |\n| --- | --- | --- | --- |")
        for name, field in model.model_fields.items():
            required = field.default is PydanticUndefined and field.default_factory is None
            default = "required" if required else f"`{_default(field)}`"
            description = (field.description or "").replace("|", "\\|").replace("\n", " ")
            parts.append(f"| `{name}` | `{_type(field.annotation)}` | {default} | {description} |")
        parts.append("")
    return "\n".join(parts)


def api_reference() -> str:
    import honed

    return "\n".join(f"## `honed.{name}`\n\n::: {honed._EXPORTS[name]}.{name}\n" for name in honed.__all__)


def _default(field: Any) -> str:
    """As TOML writes it (true, "f32", [1]); unset where there is no value."""
    import json

    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "{}"  # a section: its own table says its defaults
    return "unset" if value is None else json.dumps(value).replace("|", "\\|")


def _type(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if typing.get_origin(annotation) is None else None
    text = text or str(annotation).replace("typing.", "")
    for prefix in ("honed.core.protocol.", "honed.tuning.settings.", "honed.campaign.spec.", "NoneType"):
        text = text.replace(prefix, "None" if prefix == "NoneType" else "")
    return text.replace("|", "\\|")
