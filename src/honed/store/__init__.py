"""Where runs live: the store (SQLite or PostgreSQL) and its schema, the run index, tracking.
The names the 0.1 module ``honed.store`` exported are exported here still."""

from honed.core.errors import ImmutableRecordError, StoreError
from honed.store.database import DEFAULT_URL, Store, default_url, detached, normalise_url
from honed.store.tables import JSON_TYPE, Base, RunRow

__all__ = [
    "DEFAULT_URL",
    "JSON_TYPE",
    "Base",
    "ImmutableRecordError",
    "RunRow",
    "Store",
    "StoreError",
    "default_url",
    "detached",
    "normalise_url",
]
