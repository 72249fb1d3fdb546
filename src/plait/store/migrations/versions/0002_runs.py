"""Runs, checkpoints, interrupt answers and the run log.

Payload columns hold JSON text. On PostgreSQL they are ``json``, which keeps the text exactly (key
order, every string, big integers) and is never queried inside on the hot path; run labels are
``jsonb`` so they can be filtered by containment. On SQLite they are ``TEXT``: a column declared
``JSON`` has NUMERIC affinity there, which turns the text ``2`` into the integer 2 and a 70-bit
integer into a lossy float. Checkpoints and answers belong to their run
(deleted with it); events carry no foreign key, so a run log can record runs that were never
checkpointed, and retention deletes them explicitly.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = 255


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(sa.Text(), "sqlite")


def _time() -> sa.Float[float]:
    return sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "plait_runs",
        sa.Column("run_id", sa.String(_ID), primary_key=True),
        sa.Column("workflow", sa.String(_ID), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("inputs", _json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("outputs", _json(), nullable=False),
        sa.Column("parent_id", sa.String(_ID), nullable=True),
        sa.Column("tenant", sa.String(_ID), nullable=True),
        sa.Column("session_id", sa.String(_ID), nullable=True),
        sa.Column("labels", _json().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
    )
    op.create_index("ix_plait_runs_status_updated", "plait_runs", ["status", "updated_at"])
    op.create_index("ix_plait_runs_workflow_updated", "plait_runs", ["workflow", "updated_at"])
    op.create_index("ix_plait_runs_updated", "plait_runs", ["updated_at"])

    op.create_table(
        "plait_checkpoints",
        sa.Column("run_id", sa.String(_ID),
                  sa.ForeignKey("plait_runs.run_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("node_id", sa.String(_ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("output", _json(), nullable=True),
        sa.Column("branch", sa.String(_ID), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("interrupts", _json(), nullable=False),
        sa.Column("lineage", _json(), nullable=False),
        sa.Column("ts", _time(), nullable=False),
    )

    op.create_table(
        "plait_answers",
        sa.Column("run_id", sa.String(_ID),
                  sa.ForeignKey("plait_runs.run_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("interrupt_id", sa.String(_ID), primary_key=True),
        sa.Column("value", _json(), nullable=True),
        sa.Column("ts", _time(), nullable=False),
    )

    op.create_table(
        "plait_events",
        sa.Column("run_id", sa.String(_ID), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("ts", _time(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_LZ4)


_PAYLOADS = {"plait_runs": ("spec", "inputs", "outputs"),
             "plait_checkpoints": ("output", "interrupts", "lineage"),
             "plait_answers": ("value",), "plait_events": ("data",)}
_LZ4 = f"""
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
    {" ".join(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4;"
              for table, columns in _PAYLOADS.items() for column in columns)}
  END IF;
END $$;
"""


def downgrade() -> None:
    op.drop_table("plait_events")
    op.drop_table("plait_answers")
    op.drop_table("plait_checkpoints")
    op.drop_index("ix_plait_runs_updated", table_name="plait_runs")
    op.drop_index("ix_plait_runs_workflow_updated", table_name="plait_runs")
    op.drop_index("ix_plait_runs_status_updated", table_name="plait_runs")
    op.drop_table("plait_runs")
