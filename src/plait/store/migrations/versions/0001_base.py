"""Base revision: later revisions add the run, checkpoint, event, state, session and artifact
tables (one revision per feature, chained by ``down_revision``).

Revision ID: 0001
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
