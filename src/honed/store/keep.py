"""Keeping a finished run: a store failure never loses a measurement, and an interrupted run is
stored before the interruption is raised."""

from __future__ import annotations

from pathlib import Path

from honed.core.errors import Interrupted, StoreError
from honed.records.record import RunRecord
from honed.store.database import Store


def keep_run(record: RunRecord, store: Store | None, interrupted: bool) -> RunRecord:
    """Store the run (even a partial one); then say that it was interrupted, if it was."""
    if store is not None:
        store_or_keep(store, record)
    if interrupted:
        where = f"stored as run {record.id}" if store is not None else "not stored (no store given)"
        raise Interrupted(f"{record.notes[-1]}; the partial run is {where}", record)
    return record


def store_or_keep(store: Store, record: RunRecord) -> None:
    """A store that cannot take the run (full disk, corrupt file) must not lose the measurement."""
    try:
        store.add(record)
    except StoreError as error:
        kept = Path(f"honed-unsaved-run-{record.id}.json").resolve()
        try:
            kept.write_text(record.to_json())
        except OSError as write_error:
            raise StoreError(f"{error}; the run could not be kept in {kept} either ({write_error})") from None
        raise StoreError(f"{error}; the run was kept in {kept}: `honed runs import {kept}` adds it later") from None
