"""funds: initial tables, with the outbox and inbox.

Revision ID: funds_0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

from shared.migrations import create_messaging_tables_v1

revision = "funds_0001"
down_revision = None
branch_labels = ("funds",)
depends_on = None


def upgrade() -> None:
    create_messaging_tables_v1(op)
    op.create_table('accounts',
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('book', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )


def downgrade() -> None:
    op.drop_table("accounts")
    op.drop_table("inbox")
    op.drop_table("outbox")
