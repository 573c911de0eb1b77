"""The store under faults: old stores migrate, newer ones are refused, a corrupt or full one
says so in one line, and nothing is half-written."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import event

from helpers import noisy, synthetic_record
from honed.core.errors import StoreError
from honed.core.protocol import Step
from honed.store import Store
from honed.store.schema import HEAD, script_head

# What honed 0.1 (sessions 1-3, before migrations) created: copied from such a store's sqlite_master.
OLD_SCHEMA = """
CREATE TABLE runs (id VARCHAR(32) NOT NULL, created_at DATETIME NOT NULL, name VARCHAR(200),
    model_name VARCHAR(300) NOT NULL, model_kind VARCHAR(50) NOT NULL, device VARCHAR(50) NOT NULL,
    status VARCHAR(20) NOT NULL, schema_version INTEGER NOT NULL, record JSON NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_runs_created_at ON runs (created_at);
CREATE INDEX ix_runs_model_name ON runs (model_name);
CREATE TABLE target_peaks ("key" VARCHAR(500) NOT NULL, created_at DATETIME NOT NULL, peaks JSON NOT NULL,
    PRIMARY KEY ("key"));
CREATE TABLE tune_trials ("key" VARCHAR(64) NOT NULL, sweep_id VARCHAR(32) NOT NULL, created_at DATETIME NOT NULL,
    trial JSON NOT NULL, PRIMARY KEY ("key"));
CREATE INDEX ix_tune_trials_sweep_id ON tune_trials (sweep_id);
CREATE TABLE tune_sweeps (id VARCHAR(32) NOT NULL, updated_at DATETIME NOT NULL, name VARCHAR(200),
    model_name VARCHAR(300) NOT NULL, stop_reason VARCHAR(500) NOT NULL, sweep JSON NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_tune_sweeps_updated_at ON tune_sweeps (updated_at);
"""


def _old_store(path, record) -> None:
    connection = sqlite3.connect(path)
    connection.executescript(OLD_SCHEMA)
    connection.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.id,
            record.created_at.isoformat(sep=" "),
            record.name,
            record.model.display_name,
            record.model.kind,
            record.device,
            record.status,
            record.schema_version,
            json.dumps(record.model_dump(mode="json")),
        ),
    )
    connection.commit()
    connection.close()


def test_the_head_revision_is_the_newest_migration():
    assert script_head() == HEAD


def test_a_store_from_before_migrations_is_upgraded_and_keeps_its_runs(tmp_path):
    record = synthetic_record([noisy(5, 10, 1)]).model_copy(update={"recipe": [Step(algorithm="bf16")]})
    path = tmp_path / "old.db"
    _old_store(path, record)
    store = Store(str(path))
    assert store.get(record.id) == record
    row = store.list()[0]
    assert row.task == record.task and row.recipe_key == record.recipe_key  # filled in by migration 0002
    from honed.optimization import Recipe

    assert row.recipe_key == Recipe.of("bf16").key
    revision = sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert revision == HEAD


def test_the_migrated_schema_is_the_one_the_code_expects(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import honed.arena.tables  # noqa: F401  (the arena's tables join Base.metadata)
    import honed.campaign.tables  # noqa: F401
    from honed.store.tables import Base

    store = Store(str(tmp_path / "new.db"))
    with store._engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_store_written_by_a_newer_honed_is_refused(tmp_path):
    path = tmp_path / "future.db"
    Store(str(path))
    connection = sqlite3.connect(path)
    connection.execute("UPDATE alembic_version SET version_num = '9999'")
    connection.commit()
    with pytest.raises(StoreError, match="written by a newer honed.*'9999'"):
        Store(str(path))


def test_a_corrupt_sqlite_file_is_one_clear_error(tmp_path):
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is not a readable database"):
        Store(str(path))


def test_a_full_disk_leaves_the_store_consistent_and_the_run_kept(tmp_path, monkeypatch):
    path = tmp_path / "small.db"
    store = Store(str(path))
    stored = []
    store.dispose()
    event.listen(
        store._engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA max_page_count = 48")
    )  # the schema takes ~40
    with pytest.raises(StoreError, match="could not be written.*full.*nothing was half-written"):
        for seed in range(100):  # each record holds a few thousand raw samples
            record = synthetic_record([noisy(5, 3000, seed)])
            store.add(record)
            stored.append(record.id)
    assert stored, "the limit should allow a few runs first"
    fresh = Store(str(path))
    assert sorted(r.id for r in fresh.list(limit=1000)) == sorted(stored)
    assert all(fresh.get(run_id).id == run_id for run_id in stored)
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # evaluate() keeps a run it could not store in a file that imports later
    from honed.store.keep import store_or_keep

    monkeypatch.chdir(tmp_path)
    lost = synthetic_record([noisy(5, 3000, 999)])
    with pytest.raises(StoreError, match="kept in"):
        store_or_keep(store, lost)
    kept = tmp_path / f"honed-unsaved-run-{lost.id}.json"
    elsewhere = Store(str(tmp_path / "other.db"))
    from honed.records.record import RunRecord

    elsewhere.add(RunRecord.from_json(kept.read_bytes()))
    assert elsewhere.get(lost.id) == lost


def test_a_postgresql_store_from_before_migrations_is_upgraded(tmp_path):
    """The same upgrade on PostgreSQL, in a database of its own made for this test."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from helpers import postgres_url_or_skip

    server = make_url(postgres_url_or_skip()).set(drivername="postgresql+psycopg")
    name = f"honed_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = server.set(database=name)
    try:
        record = synthetic_record([noisy(5, 10, 2)])
        old = create_engine(url)
        with old.begin() as connection:
            ddl = OLD_SCHEMA.replace("DATETIME", "TIMESTAMP WITH TIME ZONE").replace("JSON", "JSONB")
            for statement in filter(str.strip, ddl.split(";")):
                connection.execute(text(statement))
            connection.execute(
                text("INSERT INTO runs VALUES (:id, :at, :name, :model, :kind, 'cpu', 'ok', 1, :record)"),
                {
                    "id": record.id,
                    "at": record.created_at,
                    "name": record.name,
                    "model": record.model.display_name,
                    "kind": record.model.kind,
                    "record": json.dumps(record.model_dump(mode="json")),
                },
            )
        old.dispose()
        store = Store(url.render_as_string(hide_password=False))
        assert store.get(record.id) == record
        assert store.list()[0].recipe_key == record.recipe_key
        store.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
