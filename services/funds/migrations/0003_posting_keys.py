"""funds: room in a transfer's idempotency key for the suffix a posting adds to its request's key (a co-funding
posts <key>#area and <key>#foundation, and a request's key has up to 120 characters).

Revision ID: funds_0003
Revises: funds_0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = 'funds_0003'
down_revision = 'funds_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite does not hold text to a length; widening a varchar is a catalog change in PostgreSQL.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('transfers', 'idempotency_key', existing_type=sa.String(length=130),
                        type_=sa.String(length=140), existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column('transfers', 'idempotency_key', existing_type=sa.String(length=140),
                        type_=sa.String(length=130), existing_nullable=False)
