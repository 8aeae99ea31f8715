"""routing: forgetting cases — when a case's resident link and written words were dropped, and the indexes the
retention pass and the erasure of the outbox's events read.

Revision ID: routing_0003
Revises: routing_0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "routing_0003"
down_revision = "routing_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_cases") as batch:
        batch.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_routing_cases_retention", "routing_cases", ["resolved_at"],
                    postgresql_where=sa.text("redacted_at IS NULL AND status = 'resolved'"),
                    sqlite_where=sa.text("redacted_at IS NULL AND status = 'resolved'"))
    # An erasure rewrites the events still in the outbox about the resident's cases.
    op.create_index("ix_outbox_subject", "outbox", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_outbox_subject", table_name="outbox")
    op.drop_index("ix_routing_cases_retention", table_name="routing_cases")
    with op.batch_alter_table("routing_cases") as batch:
        batch.drop_column("redacted_at")
