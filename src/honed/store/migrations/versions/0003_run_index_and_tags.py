"""Runs gain what the dashboard lists, filters and draws without reading records (the recipe's
label, the target, the scenario, the comparable-series key, the environment's key, stability,
headline numbers) and the change from the previous comparable run; tags name runs (baselines).
Existing rows are indexed from their records; their change is left empty (it is judged when a
run is stored, against the run stored before it).

Revision ID: 0003
Revises: 0002
"""

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    json_type = sa.JSON().with_variant(JSONB(), "postgresql")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("recipe_label", sa.String(300), nullable=True))
        batch.add_column(sa.Column("target", sa.String(200), nullable=True))
        batch.add_column(sa.Column("scenario", sa.String(200), nullable=True))
        batch.add_column(sa.Column("series_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("environment_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("stability", sa.String(20), nullable=True))
        batch.add_column(sa.Column("summary", json_type, nullable=True))
        batch.add_column(sa.Column("previous_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("change", json_type, nullable=True))
        batch.create_index("ix_runs_target", ["target"])
        batch.create_index("ix_runs_series_key", ["series_key", "created_at"])
    op.create_table(
        "run_tags",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("run_id", sa.String(32), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    from honed.records.record import RunRecord
    from honed.store.run_index import index_of

    runs = sa.table(
        "runs",
        *(
            sa.column(name)
            for name in (
                "id",
                "record",
                "recipe_label",
                "target",
                "scenario",
                "series_key",
                "environment_key",
                "stability",
            )
        ),
        sa.column("summary", json_type),
    )
    connection = op.get_bind()
    for run_id, record in connection.execute(sa.select(runs.c.id, runs.c.record)).all():
        record = json.loads(record) if isinstance(record, str) else record
        index = index_of(RunRecord.model_validate(record))
        connection.execute(
            sa.update(runs)
            .where(runs.c.id == run_id)
            .values(
                recipe_label=index.recipe_label,
                target=index.target,
                scenario=index.scenario,
                series_key=index.series_key,
                environment_key=index.environment_key,
                stability=index.stability,
                summary=index.summary,
            )
        )
