"""Funds' tables. The double-entry ledger arrives with the funds issue; the chart of accounts is its root."""
import sqlalchemy as sa

from shared.db import UTCDateTime, UnitOfWork

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("code", sa.String(80), primary_key=True),
    sa.Column("book", sa.String(60), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # asset, liability, net_assets, revenue, expense
    sa.Column("created_at", UTCDateTime(), nullable=False),
)


class FundsUnitOfWork(UnitOfWork):
    pass
