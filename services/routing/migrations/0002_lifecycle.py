"""routing: the assignment lifecycle (sign-for, first contact, deadlines, extensions, escalation), routed cases
with their decision explained, breach steps recorded once, and the case log.

Revision ID: routing_0002
Revises: routing_0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa

revision = "routing_0002"
down_revision = "routing_0001"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    new_columns = [
        sa.Column("role", sa.String(10), nullable=False, server_default="lead"),
        sa.Column("required", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("handle_limit", sa.String(40), nullable=False, server_default="working_days:15"),
        sa.Column("sign_due_at", _Time),
        sa.Column("signed_at", _Time),
        sa.Column("contact_due_at", _Time),
        sa.Column("contacted_at", _Time),
        sa.Column("due_at", _Time),
        sa.Column("reported_at", _Time),
        sa.Column("result", sa.Text),
        sa.Column("closed_at", _Time),
        sa.Column("close_reason", sa.String(40)),
        sa.Column("extension_days", sa.Integer),
        sa.Column("extension_reason", sa.Text),
        sa.Column("extensions", sa.Integer, nullable=False, server_default="0"),
        sa.Column("escalated_to", sa.String(60)),
        sa.Column("escalated_at", _Time),
        sa.Column("dissatisfied", sa.Boolean, nullable=False, server_default=sa.false()),
    ]
    for column in new_columns:
        op.add_column("assignments", column)
    op.create_index("ix_assignments_status", "assignments", ["status"])
    op.create_index("ix_assignments_escalated_to", "assignments", ["escalated_to"])

    op.create_table(
        "routing_cases",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("area", sa.String(40), nullable=False),
        sa.Column("matter_code", sa.String(80), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(15), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("rule", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("escalation", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("lead_unit", sa.String(60), nullable=False),
        sa.Column("transfers", sa.Integer, nullable=False),
        sa.Column("escalations", sa.Integer, nullable=False),
        sa.Column("warning", sa.Boolean, nullable=False),
        sa.Column("resident_id", sa.String(36)),
        sa.Column("phone_masked", sa.String(11)),
        sa.Column("answer", sa.Text),
        sa.Column("created_at", _Time, nullable=False),
        sa.Column("updated_at", _Time, nullable=False),
        sa.Column("resolved_at", _Time),
    )
    op.create_table(
        "breach_steps",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("assignment_id", sa.String(36), nullable=False),
        sa.Column("clock", sa.String(10), nullable=False),
        sa.Column("due_at", _Time, nullable=False),
        sa.Column("step", sa.String(10), nullable=False),
        sa.Column("unit_code", sa.String(60), nullable=False),
        sa.Column("target_unit", sa.String(60)),
        sa.Column("at", _Time, nullable=False),
        sa.UniqueConstraint("assignment_id", "clock", "due_at", "step", name="uq_breach_steps_once"),
    )
    op.create_table(
        "case_log",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("at", _Time, nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("unit_code", sa.String(60)),
        sa.Column("actor", sa.String(80)),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_case_log_case_id", "case_log", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_log")
    op.drop_table("breach_steps")
    op.drop_table("routing_cases")
    op.drop_index("ix_assignments_escalated_to", "assignments")
    op.drop_index("ix_assignments_status", "assignments")
    with op.batch_alter_table("assignments") as batch:
        for name in ("role", "required", "handle_limit", "sign_due_at", "signed_at", "contact_due_at", "contacted_at",
                     "due_at", "reported_at", "result", "closed_at", "close_reason", "extension_days",
                     "extension_reason", "extensions", "escalated_to", "escalated_at", "dissatisfied"):
            batch.drop_column(name)
