"""Core table objects for revision ``0003`` (state, sessions, session messages, artifacts and
their blobs), as the stores bind them. JSON columns are text the stores encode themselves."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["artifact_blobs", "artifacts", "messages", "metadata", "sessions", "state"]

metadata = sa.MetaData()

_ID = 255


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


state = sa.Table(
    "plait_state", metadata,
    sa.Column("scope", _key(512), primary_key=True),
    sa.Column("key", _key(512), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("type_name", sa.String(_ID)),
    sa.Column("updated_at", sa.Float(precision=53), nullable=False),
)

sessions = sa.Table(
    "plait_sessions", metadata,
    sa.Column("session_id", sa.String(_ID), primary_key=True),
    sa.Column("tenant", sa.String(_ID)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("message_count", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float(precision=53), nullable=False),
    sa.Column("updated_at", sa.Float(precision=53), nullable=False),
    sa.Column("closed_at", sa.Float(precision=53)),
)

messages = sa.Table(
    "plait_session_messages", metadata,
    sa.Column("session_id", sa.String(_ID),
              sa.ForeignKey("plait_sessions.session_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float(precision=53), nullable=False),
)

artifact_blobs = sa.Table(
    "plait_artifact_blobs", metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("codec", sa.String(16), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("stored_size", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float(precision=53), nullable=False),
)

artifacts = sa.Table(
    "plait_artifacts", metadata,
    sa.Column("artifact_id", sa.String(_ID), primary_key=True),
    sa.Column("digest", sa.String(64), sa.ForeignKey("plait_artifact_blobs.digest"),
              nullable=False),
    sa.Column("name", sa.String(1024), nullable=False),
    sa.Column("media_type", sa.String(_ID), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("session_id", sa.String(_ID)),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float(precision=53), nullable=False),
)
