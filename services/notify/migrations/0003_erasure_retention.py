"""notify: forgetting — when a delivery's wording was redacted, and the indexes the retention pass and an
erased resident's subscriptions are found by.

Revision ID: notify_0003
Revises: notify_0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

revision = "notify_0003"
down_revision = "notify_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_deliveries_retention", "deliveries", ["created_at"],
                    postgresql_where=sa.text("redacted_at IS NULL AND status IN ('sent', 'failed')"),
                    sqlite_where=sa.text("redacted_at IS NULL AND status IN ('sent', 'failed')"))
    op.create_index("ix_subscriptions_recipient", "subscriptions", ["recipient"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_recipient", table_name="subscriptions")
    op.drop_index("ix_deliveries_retention", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("redacted_at")
