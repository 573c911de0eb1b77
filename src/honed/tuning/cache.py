"""The trial cache: a trial's outcome is stored under its key as soon as it ends, so running the
same tune again resumes a killed sweep and repeats nothing. A key covers the model's files, the
task, inputs, target, host and software (identity.py), the protocol, the recipe, the source of
its algorithms and the screen."""

from __future__ import annotations

from typing import Any

from honed.core.errors import HonedError
from honed.core.protocol import Protocol
from honed.records.record import RunRecord
from honed.store.database import Store
from honed.tuning.identity import digest
from honed.tuning.result import Trial, TuneResult


class TrialCache:
    def __init__(self, identity: tuple[Any, ...], store: Store | None, fresh: bool):
        self.identity, self.store, self.fresh = identity, store, fresh

    def sweep_id(self, protocol: Protocol, settings: Any) -> str:
        return digest("sweep", self.identity, protocol.model_dump(mode="json"), settings.model_dump(mode="json"))[:32]

    def key(self, protocol: Protocol, recipe_key: str, screen: object, code: dict[str, str]) -> str:
        # No code (the baseline): the key is what it was before the algorithms' source counted.
        return digest(
            "trial",
            self.identity,
            protocol.model_dump(mode="json"),
            recipe_key,
            screen,  # how the trial was screened (Search._screen_identity)
            *([code] if code else []),
        )[:32]

    def get(self, key: str) -> Trial | None:
        """The stored trial, unless ``fresh`` or it failed (a crash may have been the machine's or
        a since-fixed bug: it is tried again)."""
        if self.store is None or self.fresh:
            return None
        stored = self.store.trial(key)
        if stored is None or stored.get("status") == "failed":
            return None
        return Trial.model_validate({**stored, "cached": True})

    def put(self, trial: Trial, sweep_id: str) -> None:
        if self.store is not None:
            self.store.save_trial(trial.key, sweep_id, trial.model_dump(mode="json"))

    def run(self, run_id: str | None) -> RunRecord | None:
        """The stored run behind a cached trial; None when it was deleted (the trial still counts)."""
        if self.store is None or run_id is None:
            return None
        try:
            return self.store.get(run_id)
        except HonedError:
            return None

    def save_sweep(self, result: TuneResult) -> None:
        if self.store is not None:
            self.store.save_sweep(
                result.id, result.name, result.model.display_name, result.stop_reason, result.model_dump(mode="json")
            )
