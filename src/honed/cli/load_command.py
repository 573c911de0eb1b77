"""Every option of ``honed load``, after a spec file's [load] table and the command line were
merged: one typed object the command's steps read, instead of 35 loose parameters."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional


@dataclass(frozen=True)
class LoadCommand:
    url: Optional[str]
    model: Optional[str]
    engine: str
    kind: Optional[str]
    recipe: Optional[list[str]]
    shape: Optional[str]
    scenario: str
    qps: float
    burstiness: float
    queries: int
    duration: float
    trace: Optional[Path]
    endpoint: str
    body: Optional[str]
    prompts: Optional[Path]
    samples_per_query: int
    stream: bool
    header: Optional[list[str]]
    timeout: float
    connections: int
    slo_p99_ms: Optional[float]
    find_peak: bool
    step_seconds: float
    min_duration: float
    min_queries: int
    seed: int
    warmup: int
    insecure: bool
    max_batch: int
    max_wait_ms: float
    allow_pickle: bool
    trust_code: bool
    name: Optional[str]
    json_out: Optional[Path]
    json: bool
    store: Optional[str]

    @classmethod
    def of(cls, options: dict[str, Any]) -> LoadCommand:
        """From the command's parameters (``locals()`` of the typer command, less its context)."""
        return cls(**{field.name: options[field.name] for field in fields(cls)})

    def serve_args(self) -> list[str]:
        """`honed serve` arguments that serve ``model`` as this command describes it."""
        return [
            self.model or "",
            *(["--kind", self.kind] if self.kind else []),
            *(["--shape", self.shape] if self.shape else []),
            *[arg for step in self.recipe or [] for arg in ("-r", step)],
            "--max-batch",
            str(self.max_batch),
            "--max-wait-ms",
            str(self.max_wait_ms),
            *(["--allow-pickle"] if self.allow_pickle else []),
            *(["--trust-code"] if self.trust_code else []),
        ]
