"""The store's schema over time: Alembic migrations (``honed/migrations``), the SQLite settings
that let several processes write at once, and errors a user can act on.

A store is brought to the schema this honed knows when it is opened, under a lock so that
two processes opening a new store do not both create it: one made before migrations existed
is stamped as revision 0001 and upgraded; one written by a newer honed is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from honed.core.errors import StoreError

HEAD = "0005"  # the newest revision in honed/migrations/versions (a test checks they agree)
BASELINE = "0001"  # the schema of stores created before migrations existed
MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_LOCK_ID = 0x686F6E6564  # "honed": one advisory lock for schema changes
T = TypeVar("T")


def configure_sqlite(engine: Engine) -> None:
    """WAL (readers never block the writer), a busy timeout, and BEGIN IMMEDIATE: a transaction
    takes the write lock when it starts, so it waits its turn instead of failing half-way."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint, consistent always (WAL)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def prepare(engine: Engine, url: str) -> None:
    """Create, upgrade or refuse the store at ``url`` (see the module docstring)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        revision = _current_revision(connection)
        if revision == HEAD:
            return
        if revision is None and "runs" in inspect(connection).get_table_names():
            revision = BASELINE
            _alembic(connection, "stamp", BASELINE)
        if revision is not None and not _known(revision):
            raise StoreError(
                f"the store {url} was written by a newer honed (schema revision {revision!r}; this honed "
                f"knows up to {HEAD!r}): upgrade honed to use it, or point --store at another store"
            )
        _alembic(connection, "upgrade", HEAD)


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _known(revision: str) -> bool:
    from alembic.script import ScriptDirectory

    return revision in {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def _alembic(connection: Connection, verb: str, revision: str) -> None:
    from alembic import command

    getattr(command, verb)(_config(connection), revision)


def script_head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # a package built without its migrations
        raise RuntimeError("honed's store migrations are missing from this install")
    return head


def retrying(write: Callable[[], T], upsert: bool, attempts: int = 5) -> T:
    """Run ``write`` (one transaction) again when another writer got in the way: a lock that
    outlasted the busy timeout, a deadlock, or (``upsert``) two processes inserting one key at once."""
    for attempt in range(attempts):
        try:
            return write()
        except (OperationalError, IntegrityError) as error:
            if attempt == attempts - 1 or not _transient(error, upsert):
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def _transient(error: DBAPIError, upsert: bool) -> bool:
    message = str(error.orig).lower()
    if isinstance(error, IntegrityError):
        return upsert  # the other insert won; the retry's merge finds its row and updates it
    return any(words in message for words in ("locked", "busy", "deadlock", "could not serialize"))


def explain(error: DBAPIError, url: str) -> StoreError:
    """A database error as one line a user can act on."""
    message = str(error.orig).strip().splitlines()[0] if error.orig else str(error).splitlines()[0]
    lowered = message.lower()
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StoreError(
            f"the store {url} is not a readable database ({message}); restore it from a backup, or "
            "point --store (HONED_STORE) at another one"
        )
    if "full" in lowered or "no space" in lowered:
        return StoreError(
            f"the store {url} could not be written: {message}; nothing was half-written (the store "
            "is as it was before this write): free some space and run again"
        )
    if "locked" in lowered or "busy" in lowered:
        return StoreError(
            f"the store {url} stayed locked by another process for longer than "
            f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s: {message}"
        )
    return StoreError(f"the store {url} refused the operation: {message}")
