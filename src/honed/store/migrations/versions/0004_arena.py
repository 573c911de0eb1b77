"""The human-preference arena: arenas (contestants, prompts, outputs), the pairs voters see, and
one vote per voter and pair.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    json_type = sa.JSON().with_variant(JSONB(), "postgresql")
    op.create_table(
        "arenas",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("contestants", json_type, nullable=False),
        sa.Column("prompts", json_type, nullable=False),
        sa.Column("outputs", json_type, nullable=False),
    )
    op.create_table(
        "arena_pairs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("arena_id", sa.String(32), nullable=False, index=True),
        sa.Column("prompt", sa.Integer, nullable=False),
        sa.Column("first", sa.Integer, nullable=False),
        sa.Column("second", sa.Integer, nullable=False),
    )
    op.create_table(
        "arena_votes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("arena_id", sa.String(32), nullable=False, index=True),
        sa.Column("pair_id", sa.Integer, nullable=False, index=True),
        sa.Column("voter", sa.String(100), nullable=False),
        sa.Column("choice", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("pair_id", "voter", name="uq_arena_votes_pair_voter"),
    )
