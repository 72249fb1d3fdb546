"""Core table objects for the run tables (migration ``0002``), as the stores bind them.

Payload columns are :class:`JsonText`: the stores write and read the JSON text themselves
(:mod:`plait.store.codec`), so a value is serialized once, the same text is hashed for lineage,
and key order is kept. On PostgreSQL the parameter is sent as ``json``/``jsonb`` (the driver
passes the text through) and read back cast to text; on SQLite the column is ``TEXT``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

__all__ = ["FINISHED", "JsonText", "answers", "checkpoints", "events", "metadata", "runs"]


class _PgJson(UserDefinedType[str]):
    """PostgreSQL ``json``/``jsonb`` bound as text: ``$1::JSON``, which the driver's codec
    sends verbatim."""

    cache_ok = True
    render_bind_cast = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **_kw: Any) -> str:
        return self.name


class JsonText(TypeDecorator[str]):
    """A JSON column the application reads and writes as JSON text."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, *, binary: bool = False) -> None:
        super().__init__()
        self.binary = binary
        """``jsonb`` instead of ``json`` on PostgreSQL."""

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return _PgJson("JSONB" if self.binary else "JSON")
        return dialect.type_descriptor(sa.Text())

    def column_expression(self, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
        # Read the text, not the driver's decoded value: one code path for both databases.
        return sa.cast(column, sa.Text)

metadata = sa.MetaData()

FINISHED = ("completed", "failed", "cancelled")
"""Run statuses retention may remove; ``pending``, ``running`` and ``waiting`` runs are kept."""

_ID = 255

runs = sa.Table(
    "plait_runs", metadata,
    sa.Column("run_id", sa.String(_ID), primary_key=True),
    sa.Column("workflow", sa.String(_ID), nullable=False),
    sa.Column("spec", JsonText(), nullable=False),
    sa.Column("digest", sa.String(128), nullable=False),
    sa.Column("inputs", JsonText(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("code", sa.String(64)),
    sa.Column("outputs", JsonText(), nullable=False),
    sa.Column("parent_id", sa.String(_ID)),
    sa.Column("tenant", sa.String(_ID)),
    sa.Column("session_id", sa.String(_ID)),
    sa.Column("labels", JsonText(binary=True), nullable=False),
    sa.Column("created_at", sa.Float(precision=53), nullable=False),
    sa.Column("updated_at", sa.Float(precision=53), nullable=False),
)

checkpoints = sa.Table(
    "plait_checkpoints", metadata,
    sa.Column("run_id", sa.String(_ID), sa.ForeignKey("plait_runs.run_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("node_id", sa.String(_ID), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("output", JsonText()),
    sa.Column("branch", sa.String(_ID)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("code", sa.String(64)),
    sa.Column("reason", sa.Text),
    sa.Column("interrupts", JsonText(), nullable=False),
    sa.Column("lineage", JsonText(), nullable=False),
    sa.Column("ts", sa.Float(precision=53), nullable=False),
)

answers = sa.Table(
    "plait_answers", metadata,
    sa.Column("run_id", sa.String(_ID), sa.ForeignKey("plait_runs.run_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("interrupt_id", sa.String(_ID), primary_key=True),
    sa.Column("value", JsonText()),
    sa.Column("ts", sa.Float(precision=53), nullable=False),
)

events = sa.Table(
    "plait_events", metadata,
    sa.Column("run_id", sa.String(_ID), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("data", JsonText(), nullable=False),
    sa.Column("ts", sa.Float(precision=53), nullable=False),
)
