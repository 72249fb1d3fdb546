"""Scoped state, sessions with their messages, and content-addressed artifacts.

Values, metadata and messages are JSON text in ``TEXT`` columns on both databases (the stores
write and read the text themselves, so nothing is re-encoded on the way). Scope and key columns
use the ``C`` collation on PostgreSQL, so keys sort bytewise there as on SQLite (``BINARY``)
and as in memory. Artifact blobs live in the database (``LargeBinary``): a record and its
blob commit in one transaction, so a crash never leaves a half-written file or an orphan.

Revision ID: 0003
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = 255


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _time() -> sa.Float[float]:
    return sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "plait_state",
        sa.Column("scope", _key(512), primary_key=True),
        sa.Column("key", _key(512), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("type_name", sa.String(_ID), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
    )

    op.create_table(
        "plait_sessions",
        sa.Column("session_id", sa.String(_ID), primary_key=True),
        sa.Column("tenant", sa.String(_ID), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("closed_at", _time(), nullable=True),
    )
    op.create_index("ix_plait_sessions_tenant_status", "plait_sessions",
                    ["tenant", "status", "updated_at"])
    op.create_index("ix_plait_sessions_status_updated", "plait_sessions",
                    ["status", "updated_at"])

    op.create_table(
        "plait_session_messages",
        sa.Column("session_id", sa.String(_ID),
                  sa.ForeignKey("plait_sessions.session_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
    )

    op.create_table(
        "plait_artifact_blobs",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("codec", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored_size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
    )

    op.create_table(
        "plait_artifacts",
        sa.Column("artifact_id", sa.String(_ID), primary_key=True),
        sa.Column("digest", sa.String(64),
                  sa.ForeignKey("plait_artifact_blobs.digest"), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("media_type", sa.String(_ID), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("session_id", sa.String(_ID), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
    )
    op.create_index("ix_plait_artifacts_session", "plait_artifacts",
                    ["session_id", "created_at"])
    op.create_index("ix_plait_artifacts_digest", "plait_artifacts", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_plait_artifacts_digest", table_name="plait_artifacts")
    op.drop_index("ix_plait_artifacts_session", table_name="plait_artifacts")
    op.drop_table("plait_artifacts")
    op.drop_table("plait_artifact_blobs")
    op.drop_table("plait_session_messages")
    op.drop_index("ix_plait_sessions_status_updated", table_name="plait_sessions")
    op.drop_index("ix_plait_sessions_tenant_status", table_name="plait_sessions")
    op.drop_table("plait_sessions")
    op.drop_table("plait_state")
