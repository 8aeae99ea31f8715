"""funds: the double-entry ledger (books with chain heads, transfers, legs with running balances, balances),
idempotent operations, receipt counters, the foundation's donors, events, lots, special funds and grants, and
the autonomy funds' allocations, projects, budget lines, meetings, expenses, co-funding and disclosures.

Revision ID: funds_0002
Revises: funds_0001
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa


revision = 'funds_0002'
down_revision = 'funds_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('books',
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('area', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('head_sequence', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('head_occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('charity_events',
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('disclosures',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('book', sa.String(length=60), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('chain_sequence', sa.BigInteger(), nullable=False),
    sa.Column('chain_head', sa.String(length=64), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index('ix_disclosures_book_year', ['book', 'year'], unique=False)

    op.create_table('donors',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('operations',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('request_digest', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('projects',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('area', sa.String(length=24), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('team_name', sa.String(length=60), nullable=False),
    sa.Column('lead', sa.String(length=50), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('released', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index('ix_projects_area_year', ['area', 'year'], unique=False)

    op.create_table('receipt_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('transfers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('book', sa.String(length=60), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=130), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('memo', sa.String(length=300), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reverses', sa.String(length=36), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('book', 'sequence', name='uq_transfers_book_sequence'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('reverses')
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index('ix_transfers_book_occurred_at', ['book', 'occurred_at', 'sequence'], unique=False)

    op.create_table('allocations',
    sa.Column('area', sa.String(length=24), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('transfer_id', sa.String(length=36), nullable=False),
    sa.Column('allocated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('area', 'year')
    )
    op.create_table('balances',
    sa.Column('account_code', sa.String(length=80), nullable=False),
    sa.Column('book', sa.String(length=60), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('available', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_code'], ['accounts.code'], ),
    sa.PrimaryKeyConstraint('account_code')
    )
    op.create_table('budget_lines',
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('line_no', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('account_code', sa.String(length=80), nullable=False),
    sa.Column('expense_account_code', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('project_id', 'line_no')
    )
    op.create_table('cofundings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('partner', sa.String(length=100), nullable=False),
    sa.Column('fund_code', sa.String(length=24), nullable=True),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('area_transfer_id', sa.String(length=36), nullable=False),
    sa.Column('foundation_transfer_id', sa.String(length=36), nullable=True),
    sa.Column('funded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['area_transfer_id'], ['transfers.id'], ),
    sa.ForeignKeyConstraint(['foundation_transfer_id'], ['transfers.id'], ),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cofundings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cofundings_project_id'), ['project_id'], unique=False)

    op.create_table('donations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('donor_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('valuation_basis', sa.String(length=200), nullable=False),
    sa.Column('event_code', sa.String(length=24), nullable=True),
    sa.Column('receipt_year', sa.Integer(), nullable=False),
    sa.Column('receipt_number', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.String(length=36), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], ),
    sa.ForeignKeyConstraint(['event_code'], ['charity_events.code'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receipt_year', 'receipt_number', name='uq_donations_receipt')
    )
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_donations_donor_id'), ['donor_id'], unique=False)

    op.create_table('expenses',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('payee', sa.String(length=100), nullable=False),
    sa.Column('receipt_ref', sa.String(length=60), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('transfer_id', sa.String(length=36), nullable=False),
    sa.Column('spent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('expenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expenses_project_id'), ['project_id'], unique=False)

    op.create_table('legs',
    sa.Column('transfer_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('book', sa.String(length=60), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('account_code', sa.String(length=80), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_code'], ['accounts.code'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('transfer_id', 'position')
    )
    with op.batch_alter_table('legs', schema=None) as batch_op:
        batch_op.create_index('ix_legs_account_sequence', ['account_code', 'sequence'], unique=False)

    op.create_table('lots',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('event_code', sa.String(length=24), nullable=False),
    sa.Column('lot_number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('donor_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('hammer_price', sa.BigInteger(), nullable=True),
    sa.Column('buyer', sa.String(length=100), nullable=True),
    sa.Column('settled_transfer_id', sa.String(length=36), nullable=True),
    sa.Column('paid_transfer_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['donor_id'], ['donors.id'], ),
    sa.ForeignKeyConstraint(['event_code'], ['charity_events.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_code', 'lot_number', name='uq_lots_event_number')
    )
    op.create_table('market_sales',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('event_code', sa.String(length=24), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('transfer_id', sa.String(length=36), nullable=False),
    sa.Column('sold_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_code'], ['charity_events.code'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('market_sales', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_market_sales_event_code'), ['event_code'], unique=False)

    op.create_table('meetings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=15), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('attendees', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_project_id'), ['project_id'], unique=False)

    op.create_table('special_funds',
    sa.Column('code', sa.String(length=24), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('account_code', sa.String(length=80), nullable=False),
    sa.Column('founding_amount', sa.BigInteger(), nullable=False),
    sa.Column('transfer_id', sa.String(length=36), nullable=False),
    sa.Column('founded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_code'], ['accounts.code'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('bids',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('lot_id', sa.String(length=36), nullable=False),
    sa.Column('bidder', sa.String(length=100), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lot_id'], ['lots.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('bids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bids_lot_id'), ['lot_id'], unique=False)

    op.create_table('fund_sources',
    sa.Column('source_kind', sa.String(length=10), nullable=False),
    sa.Column('source_ref', sa.String(length=36), nullable=False),
    sa.Column('fund_code', sa.String(length=24), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['fund_code'], ['special_funds.code'], ),
    sa.PrimaryKeyConstraint('source_kind', 'source_ref')
    )
    op.create_table('grants',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('fund_code', sa.String(length=24), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('recipient', sa.String(length=100), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('transfer_id', sa.String(length=36), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fund_code'], ['special_funds.code'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grants_fund_code'), ['fund_code'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subkind', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('parent_code', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('non_negative', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('non_negative')
        batch_op.drop_column('parent_code')
        batch_op.drop_column('subkind')

    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grants_fund_code'))

    op.drop_table('grants')
    op.drop_table('fund_sources')
    with op.batch_alter_table('bids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bids_lot_id'))

    op.drop_table('bids')
    op.drop_table('special_funds')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meetings_project_id'))

    op.drop_table('meetings')
    with op.batch_alter_table('market_sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_market_sales_event_code'))

    op.drop_table('market_sales')
    op.drop_table('lots')
    with op.batch_alter_table('legs', schema=None) as batch_op:
        batch_op.drop_index('ix_legs_account_sequence')

    op.drop_table('legs')
    with op.batch_alter_table('expenses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expenses_project_id'))

    op.drop_table('expenses')
    with op.batch_alter_table('donations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_donations_donor_id'))

    op.drop_table('donations')
    with op.batch_alter_table('cofundings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cofundings_project_id'))

    op.drop_table('cofundings')
    op.drop_table('budget_lines')
    op.drop_table('balances')
    op.drop_table('allocations')
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_transfers_book_occurred_at')

    op.drop_table('transfers')
    op.drop_table('receipt_counters')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index('ix_projects_area_year')

    op.drop_table('projects')
    op.drop_table('operations')
    op.drop_table('donors')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index('ix_disclosures_book_year')

    op.drop_table('disclosures')
    op.drop_table('charity_events')
    op.drop_table('books')
