"""notify: initial tables, with the outbox and inbox.

Revision ID: notify_0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from shared.migrations import create_messaging_tables_v1

revision = "notify_0001"
down_revision = None
branch_labels = ("notify",)
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v1(op)
    op.create_table('deliveries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('cause_event_id', sa.String(length=64), nullable=False),
    sa.Column('cause_type', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('recipient', sa.String(length=120), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('template', sa.String(length=80), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cause_event_id', 'recipient', 'channel', name='uq_delivery_once')
    )
    op.create_index(op.f('ix_deliveries_case_id'), 'deliveries', ['case_id'], unique=False)
    op.create_index(op.f('ix_deliveries_recipient'), 'deliveries', ['recipient'], unique=False)


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("inbox")
    op.drop_table("outbox")
