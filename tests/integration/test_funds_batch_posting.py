"""Batch posting on PostgreSQL: many transfers in one transaction, each table written with one statement.

What a batch stores is exactly what was hashed (text with quotes, backslashes, braces and NULL-looking words
included), a batch that would overspend is refused whole, a re-posted batch posts only what is new, and
concurrent batches against one budget never overspend it.
"""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from support.funds import run_parallel, uow_for
from shared.db import UTCDateTime, engine_for, utcnow
from services.funds.domain.chart import area_book, budget_line_accounts
from services.funds.domain.ledger import InsufficientFunds, TransferDraft, credit, debit
from services.funds.repositories import bulk_insert
from services.funds.handlers import ledger

AREA, PROJECT = "batch", "batch-2026-001"
BOOK = area_book(AREA)
BANK = f"{BOOK}:bank"
LINE = f"{BOOK}:budget:{PROJECT}:1"
EXPENSE = f"{BOOK}:expense:{PROJECT}:1"


@pytest.fixture
def db(funds_db):
    """An empty book with 10,000.00 allocated and a one-line project budget of 1,000.00 reserved."""
    uow = uow_for(funds_db)
    ledger.ensure_book(uow, BOOK)
    with uow:
        ledger.post(uow, [
            TransferDraft(BOOK, "allocation", "allocation", "allocation",
                          (debit(BANK, 1_000_000), credit(f"{BOOK}:revenue:allocation", 1_000_000)), None),
            TransferDraft(BOOK, "reservation", "budget-reservation", "budget",
                          (debit(f"{BOOK}:unrestricted", 100_000), credit(LINE, 100_000)), None),
        ], utcnow(), budget_line_accounts(AREA, PROJECT, 1, "chairs"))
        uow.commit()
    return funds_db


def expense(key: str, fen: int, memo: str = "chairs") -> TransferDraft:
    return TransferDraft(BOOK, key, "expense", memo, (debit(EXPENSE, fen), credit(BANK, fen)), None)


def post_batch(url, drafts):
    uow = uow_for(url)
    with uow:
        posted = ledger.post(uow, drafts, utcnow())
        uow.commit()
    return posted





def figures(url):
    with uow_for(url) as uow:
        head = uow.ledger.book(BOOK)["head_sequence"]
        legs = uow.records.scalar(sa.text("SELECT count(*) FROM legs"))
        return head, legs, uow.ledger.balance(BANK), uow.ledger.balance(LINE)


AWKWARD = ['say "hi"', "back\\slash \\\" mixed", "{braces,commas}", "NULL", "null", "", "it's", "  padded  ",
           "陆家嘴慈善之夜 · 公益市集", "two\nlines\tand a tab", "\\", '"', "{", "}", ","]


def test_a_batch_stores_every_character_it_hashed(db):
    drafts = [expense(f"awkward/{n}", 100 + n, memo) for n, memo in enumerate(AWKWARD)]

    posted = post_batch(db, drafts)

    with uow_for(db) as uow:
        stored = uow.ledger.transfers_by_keys([t.idempotency_key for t in drafts])
    assert [stored[t.idempotency_key].memo for t in drafts] == AWKWARD
    assert [stored[t.idempotency_key] for t in drafts] == posted  # every field, legs and running balances
    verification = ledger.verify_book(BOOK, uow_for(db))  # recomputes each hash from the stored fields
    assert verification["ok"], verification["first_breach"]
    assert verification["entries"] == 2 + len(AWKWARD)


def test_bulk_insert_round_trips_nulls_and_refuses_naive_times(db):
    with engine_for(db).begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE probe (n bigint, b boolean, s text, t timestamptz) ON COMMIT DROP"))
        probe = sa.Table("probe", sa.MetaData(), sa.Column("n", sa.BigInteger), sa.Column("b", sa.Boolean),
                         sa.Column("s", sa.String), sa.Column("t", UTCDateTime()))
        at = datetime(2026, 5, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
        rows = [{"n": -(2**62), "b": True, "s": "NULL", "t": at},
                {"n": 0, "b": False, "s": '{"a",\\b}', "t": at + timedelta(days=1)},
                {"n": None, "b": None, "s": None, "t": None}]
        bulk_insert(conn, probe, rows)
        back = [dict(r) for r in conn.execute(sa.text("SELECT * FROM probe ORDER BY n NULLS LAST")).mappings()]
        assert back == rows
        with pytest.raises(ValueError, match="naive"):
            bulk_insert(conn, probe, [{"n": 1, "b": True, "s": "x", "t": datetime(2026, 5, 1)}])


def test_a_batch_that_would_overspend_is_refused_whole(db):
    before = figures(db)
    drafts = [expense(f"spend/{n}", 15_000) for n in range(10)]  # 150.00 each: the 7th passes 1,000.00

    with pytest.raises(InsufficientFunds) as refused:
        post_batch(db, drafts)

    assert refused.value.account == LINE and refused.value.available == 10_000
    assert figures(db) == before  # not one of the first six was written


def test_a_reposted_batch_posts_only_what_is_new(db):
    first = post_batch(db, [expense(f"re/{n}", 1_000 + n) for n in range(50)])
    again = post_batch(db, [expense(f"re/{n}", 1_000 + n) for n in range(25, 75)])

    assert again[:25] == first[25:]  # answered as first posted: same ids, sequences, hashes
    assert [t.sequence for t in again[25:]] == list(range(53, 78))
    head, legs, bank, line = figures(db)
    spent = sum(1_000 + n for n in range(75))
    assert (head, legs) == (77, 2 * 77)
    assert bank["balance"] == 1_000_000 - spent and line["available"] == 100_000 - spent
    assert ledger.verify_book(BOOK, uow_for(db))["ok"]


def test_concurrent_batches_never_overspend_a_budget(db):
    def batch(n):  # 20 × 10.00 = 200.00 a batch; the budget holds five such batches
        return lambda: post_batch(db, [expense(f"c/{n}/{i}", 1_000) for i in range(20)])

    outcomes, peak = run_parallel([batch(n) for n in range(12)])

    assert peak > 1
    posted = [o for o in outcomes if isinstance(o, list)]
    refused = [o for o in outcomes if not isinstance(o, list)]
    assert len(posted) == 5 and all(isinstance(o, InsufficientFunds) for o in refused), refused[:3]
    head, legs, bank, line = figures(db)
    assert (head, legs) == (2 + 100, 2 * 102)
    assert line["available"] == 0 and bank["balance"] == 1_000_000 - 100_000
    assert ledger.verify_book(BOOK, uow_for(db))["ok"]
