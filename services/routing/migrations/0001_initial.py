"""routing: initial tables, with the outbox and inbox.

Revision ID: routing_0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from shared.migrations import create_messaging_tables_v1

revision = "routing_0001"
down_revision = None
branch_labels = ("routing",)
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v1(op)
    op.create_table('assignments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('unit_code', sa.String(length=60), nullable=False),
    sa.Column('rule', sa.String(length=80), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('area', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_assignments_case_id'), 'assignments', ['case_id'], unique=False)
    op.create_index(op.f('ix_assignments_unit_code'), 'assignments', ['unit_code'], unique=False)


def downgrade() -> None:
    op.drop_table("assignments")
    op.drop_table("inbox")
    op.drop_table("outbox")
