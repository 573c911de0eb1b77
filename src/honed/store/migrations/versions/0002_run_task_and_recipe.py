"""Runs gain the task and the recipe's key as columns, to find comparable runs without
reading every record; existing rows are filled in from their records.

Revision ID: 0002
Revises: 0001
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("task", sa.String(100), nullable=True))
        batch.add_column(sa.Column("recipe_key", sa.String(64), nullable=True))
        batch.create_index("ix_runs_task", ["task"])
        batch.create_index("ix_runs_recipe_key", ["recipe_key"])
    runs = sa.table(
        "runs",
        sa.column("id", sa.String),
        sa.column("record", sa.JSON),
        sa.column("task", sa.String),
        sa.column("recipe_key", sa.String),
    )
    connection = op.get_bind()
    for run_id, record in connection.execute(sa.select(runs.c.id, runs.c.record)).all():
        record = json.loads(record) if isinstance(record, str) else record
        # The same digest as honed.records.record.recipe_key, frozen here as this revision wrote it.
        key = hashlib.sha256(json.dumps(record.get("recipe", []), sort_keys=True).encode()).hexdigest()
        connection.execute(sa.update(runs).where(runs.c.id == run_id).values(task=record.get("task"), recipe_key=key))
