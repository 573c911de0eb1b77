"""Where runs live: the store (SQLite or PostgreSQL) and its schema, the run index, tracking."""

from honed.core.errors import StoreError
from honed.store.database import Store

__all__ = ["Store", "StoreError"]
