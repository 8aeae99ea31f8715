"""notify: delivery state for retries and deferral, attempts, contacts, preferences, subscriptions,
notify's dead letters, and the assignment read model for digests.

Additive only: rows written by 0001 read as sent deliveries with default values.

Revision ID: notify_0002
Revises: notify_0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "notify_0002"
down_revision = "notify_0001"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("category", sa.String(40), nullable=False, server_default="general"))
    op.add_column("deliveries", sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("deliveries", sa.Column("context", sa.Text(), nullable=False, server_default="{}"))
    op.add_column("deliveries", sa.Column("channel_plan", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("deliveries", sa.Column("channel_index", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("deliveries", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("deliveries", sa.Column("total_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("deliveries", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("deliveries", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("deliveries", sa.Column("deferred_reason", sa.String(40), nullable=True))
    op.add_column("deliveries", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("deliveries", sa.Column("address_masked", sa.String(120), nullable=True))
    op.add_column("deliveries", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("deliveries", sa.Column("resent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])

    op.create_table(
        "delivery_attempts",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "contacts",
        sa.Column("recipient", sa.String(120), primary_key=True),
        sa.Column("channel", sa.String(20), primary_key=True),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "preferences",
        sa.Column("recipient", sa.String(120), primary_key=True),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("opted_out", sa.Text(), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("topic", sa.String(120), primary_key=True),
        sa.Column("recipient", sa.String(120), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notify_dead_letters",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("recipient", sa.String(120), nullable=False),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notify_dead_letters_delivery_id", "notify_dead_letters", ["delivery_id"])
    op.create_table(
        "assignments",
        sa.Column("assignment_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("unit_code", sa.String(80), nullable=False),
        sa.Column("unit_name", sa.String(200), nullable=False),
        sa.Column("area", sa.String(80), nullable=False),
        sa.Column("matter_code", sa.String(80), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_assignments_case_id", "assignments", ["case_id"])
    op.create_index("ix_assignments_unit_code", "assignments", ["unit_code"])
    op.create_table(
        "digests",
        sa.Column("unit_code", sa.String(80), primary_key=True),
        sa.Column("digest_date", sa.String(10), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("digests", "assignments", "notify_dead_letters", "subscriptions", "preferences", "contacts",
                  "delivery_attempts"):
        op.drop_table(table)
    op.drop_index("ix_deliveries_due", "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        for column in ("resent_at", "failed_at", "address_masked", "last_error", "deferred_reason", "claimed_until",
                       "next_attempt_at", "total_attempts", "attempts", "channel_index", "channel_plan", "context",
                       "urgent", "category"):
            batch.drop_column(column)
