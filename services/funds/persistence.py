"""Funds' tables, all in ``metadata`` (which migrations compare with): the ledger's, the foundation's, the autonomy
funds' and the disclosures'.

The ledger keeps, next to its immutable entries (``transfers`` and their ``legs``), one head row per book
(``books``: last sequence and hash) and one balance row per account (``balances``). Each leg stores the account's
running balance after it, so a figure as of a date is one index seek on ``legs(account_code, sequence)``; how
the rows are locked and read is in :mod:`services.funds.repositories`.
"""
from __future__ import annotations

import sqlalchemy as sa

from shared.db import UTCDateTime

metadata = sa.MetaData()
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# -- the ledger ----------------------------------------------------------------------------------------------

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("code", sa.String(80), primary_key=True),
    sa.Column("book", sa.String(60), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # asset, liability, net_assets, revenue, expense
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("subkind", sa.String(20), nullable=False, server_default=""),
    sa.Column("parent_code", sa.String(80), nullable=True),
    sa.Column("non_negative", sa.Boolean, nullable=False, server_default=sa.false()),
)

books = sa.Table(
    "books", metadata,
    sa.Column("code", sa.String(60), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # foundation, autonomy
    sa.Column("area", sa.String(40), nullable=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("head_sequence", sa.BigInteger, nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("head_occurred_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

balances = sa.Table(
    "balances", metadata,
    sa.Column("account_code", sa.String(80), sa.ForeignKey("accounts.code"), primary_key=True),
    sa.Column("book", sa.String(60), nullable=False),
    sa.Column("balance", sa.BigInteger, nullable=False),    # fen, on the account's normal side
    sa.Column("available", sa.BigInteger, nullable=False),  # own balance plus its revenue/expense children
)

transfers = sa.Table(
    "transfers", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("book", sa.String(60), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(140), nullable=False, unique=True),  # a request's key and a suffix
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("memo", sa.String(300), nullable=False),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("reverses", sa.String(36), nullable=True, unique=True),  # a transfer is reversed at most once
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("book", "sequence", name="uq_transfers_book_sequence"),
    sa.Index("ix_transfers_book_occurred_at", "book", "occurred_at", "sequence"),
)

legs = sa.Table(
    "legs", metadata,
    sa.Column("transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), primary_key=True),
    sa.Column("position", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("book", sa.String(60), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("account_code", sa.String(80), sa.ForeignKey("accounts.code"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),         # fen, + debit, − credit
    sa.Column("balance_after", sa.BigInteger, nullable=False),  # the account's running balance
    sa.Index("ix_legs_account_sequence", "account_code", "sequence"),
)

operations = sa.Table(
    "operations", metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# -- the charity foundation ----------------------------------------------------------------------------------

receipt_counters = sa.Table(
    "receipt_counters", metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_number", sa.Integer, nullable=False),
)

donors = sa.Table(
    "donors", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

charity_events = sa.Table(
    "charity_events", metadata,
    sa.Column("code", sa.String(24), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("place", sa.String(120), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

donations = sa.Table(
    "donations", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("donor_id", sa.String(36), sa.ForeignKey("donors.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # cash, in_kind
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("valuation_basis", sa.String(200), nullable=False),
    sa.Column("event_code", sa.String(24), sa.ForeignKey("charity_events.code"), nullable=True),
    sa.Column("receipt_year", sa.Integer, nullable=False),
    sa.Column("receipt_number", sa.Integer, nullable=False),
    sa.Column("transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("receipt_year", "receipt_number", name="uq_donations_receipt"),
)

lots = sa.Table(
    "lots", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("event_code", sa.String(24), sa.ForeignKey("charity_events.code"), nullable=False),
    sa.Column("lot_number", sa.Integer, nullable=False),
    sa.Column("title", sa.String(120), nullable=False),
    sa.Column("donor_id", sa.String(36), sa.ForeignKey("donors.id"), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("hammer_price", sa.BigInteger, nullable=True),
    sa.Column("buyer", sa.String(100), nullable=True),
    sa.Column("settled_transfer_id", sa.String(36), nullable=True),
    sa.Column("paid_transfer_id", sa.String(36), nullable=True),
    sa.UniqueConstraint("event_code", "lot_number", name="uq_lots_event_number"),
)

bids = sa.Table(
    "bids", metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("lot_id", sa.String(36), sa.ForeignKey("lots.id"), nullable=False, index=True),
    sa.Column("bidder", sa.String(100), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("placed_at", UTCDateTime(), nullable=False),
)

market_sales = sa.Table(
    "market_sales", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("event_code", sa.String(24), sa.ForeignKey("charity_events.code"), nullable=False, index=True),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("sold_at", UTCDateTime(), nullable=False),
)

special_funds = sa.Table(
    "special_funds", metadata,
    sa.Column("code", sa.String(24), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("purpose", sa.String(24), nullable=False),
    sa.Column("account_code", sa.String(80), sa.ForeignKey("accounts.code"), nullable=False),
    sa.Column("founding_amount", sa.BigInteger, nullable=False),
    sa.Column("transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("founded_at", UTCDateTime(), nullable=False),
)

fund_sources = sa.Table(
    "fund_sources", metadata,
    sa.Column("source_kind", sa.String(10), primary_key=True),  # a source founds one fund only
    sa.Column("source_ref", sa.String(36), primary_key=True),
    sa.Column("fund_code", sa.String(24), sa.ForeignKey("special_funds.code"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
)

grants = sa.Table(
    "grants", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("fund_code", sa.String(24), sa.ForeignKey("special_funds.code"), nullable=False, index=True),
    sa.Column("purpose", sa.String(24), nullable=False),
    sa.Column("recipient", sa.String(100), nullable=False),
    sa.Column("project_id", sa.String(40), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("granted_at", UTCDateTime(), nullable=False),
)

# -- autonomy funds (自治金) ---------------------------------------------------------------------------------

allocations = sa.Table(
    "allocations", metadata,
    sa.Column("area", sa.String(24), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("allocated_at", UTCDateTime(), nullable=False),
)

projects = sa.Table(
    "projects", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("area", sa.String(24), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("team_name", sa.String(60), nullable=False),
    sa.Column("lead", sa.String(50), nullable=False),
    sa.Column("members", sa.JSON, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("released", sa.BigInteger, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_projects_area_year", "area", "year"),
)

budget_lines = sa.Table(
    "budget_lines", metadata,
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(60), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # as proposed
    sa.Column("account_code", sa.String(80), nullable=False),
    sa.Column("expense_account_code", sa.String(80), nullable=False),
)

meetings = sa.Table(
    "meetings", metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(15), nullable=False),  # hearing, coordination, evaluation
    sa.Column("held_on", sa.Date, nullable=False),
    sa.Column("attendees", sa.JSON, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
)

expenses = sa.Table(
    "expenses", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("payee", sa.String(100), nullable=False),
    sa.Column("receipt_ref", sa.String(60), nullable=False),
    sa.Column("description", sa.String(500), nullable=False),
    sa.Column("transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("spent_at", UTCDateTime(), nullable=False),
)

cofundings = sa.Table(
    "cofundings", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("partner", sa.String(100), nullable=False),
    sa.Column("fund_code", sa.String(24), nullable=True),  # set when the foundation grants from a special fund
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("area_transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=False),
    sa.Column("foundation_transfer_id", sa.String(36), sa.ForeignKey("transfers.id"), nullable=True),
    sa.Column("funded_at", UTCDateTime(), nullable=False),
)

# -- disclosure (公示) ---------------------------------------------------------------------------------------

disclosures = sa.Table(
    "disclosures", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("book", sa.String(60), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("chain_sequence", sa.BigInteger, nullable=False),
    sa.Column("chain_head", sa.String(64), nullable=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=False),
    sa.Index("ix_disclosures_book_year", "book", "year"),
)
