import json

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from helpers import noisy, postgres_url_or_skip, synthetic_record
from honed.core.errors import HonedError, ImmutableRecordError, SpecError
from honed.records.record import SCHEMA_VERSION, RunRecord
from honed.store.database import Store
from honed.store.tables import RunRow


def _exercise(store: Store) -> None:
    first = synthetic_record([noisy(5, 30, s) for s in (1, 2, 3)])
    second = synthetic_record([noisy(6, 30, s) for s in (4, 5, 6)])
    store.add(first)
    store.add(second)
    assert store.get(first.id) == first  # raw samples and all
    assert store.get(second.id[:10]) == second  # a unique prefix is enough
    mine = [
        row.id for row in store.list(limit=10_000) if row.id in (first.id, second.id)
    ]  # a shared server holds others
    assert mine == [second.id, first.id]  # newest first
    with pytest.raises(ImmutableRecordError, match="already stored"):
        store.add(first)
    with pytest.raises(HonedError, match="no run"):
        store.get("does-not-exist")


def test_sqlite_store_keeps_records_whole(tmp_path):
    _exercise(Store(f"sqlite:///{tmp_path}/nested/runs.db"))


def test_stored_runs_cannot_be_updated(tmp_path):
    store = Store(str(tmp_path / "runs.db"))  # a bare path is a SQLite file
    record = synthetic_record([noisy(5, 10, 1)])
    store.add(record)
    with Session(store._engine) as session:
        row = session.get(RunRow, record.id)
        row.status = "failed"
        with pytest.raises(ImmutableRecordError):
            session.commit()
    assert store.get(record.id).status == "ok"


def test_postgresql_store(tmp_path):
    _exercise(Store(postgres_url_or_skip()))


def test_json_export_round_trips_and_is_versioned():
    record = synthetic_record([noisy(5, 30, s) for s in (1, 2, 3)])
    text = record.to_json()
    assert json.loads(text)["schema"] == "honed.run" and json.loads(text)["version"] == SCHEMA_VERSION
    assert RunRecord.from_json(text) == record
    with pytest.raises(SpecError, match="version"):
        RunRecord.from_json(json.dumps({"schema": "honed.run", "version": SCHEMA_VERSION + 1, "record": {}}))
    with pytest.raises(SpecError, match="schema"):
        RunRecord.from_json(json.dumps({"schema": "something-else", "version": 1, "record": {}}))


def test_records_are_immutable_objects():
    record = synthetic_record([noisy(5, 10, 1)])
    with pytest.raises(ValidationError, match="frozen"):
        record.status = "failed"


def test_bad_store_url_is_a_clear_error():
    with pytest.raises(SpecError, match="store"):
        Store("nosuchdialect://x")
