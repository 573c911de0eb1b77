"""The store as honed 0.1 (sessions 1-3) created it, before migrations existed.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None


def upgrade() -> None:
    json = sa.JSON().with_variant(JSONB(), "postgresql")
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("name", sa.String(200)),
        sa.Column("model_name", sa.String(300), nullable=False, index=True),
        sa.Column("model_kind", sa.String(50), nullable=False),
        sa.Column("device", sa.String(50), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("record", json, nullable=False),
    )
    op.create_table(
        "target_peaks",
        sa.Column("key", sa.String(500), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peaks", json, nullable=False),
    )
    op.create_table(
        "tune_trials",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("sweep_id", sa.String(32), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trial", json, nullable=False),
    )
    op.create_table(
        "tune_sweeps",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("name", sa.String(200)),
        sa.Column("model_name", sa.String(300), nullable=False),
        sa.Column("stop_reason", sa.String(500), nullable=False),
        sa.Column("sweep", json, nullable=False),
    )
