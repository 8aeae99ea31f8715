"""``doorstep bench ledger``: figures, not a test.

1. Batch posting: transfers posted through the ledger (book lock, idempotency check, balance rows locked,
   non-negative rule, hash chain, running balances) ``batch`` per transaction, against plain INSERTs of exactly
   the same transfer and leg rows into tables of the same shape, in the same run.
2. Balance reads (current, and as of a date) when the book holds 10k transfers and again at 1M. The rows from
   10k to 1M are generated inside PostgreSQL (generate_series) for speed: they have the right shape, running
   balances and indexes, but their hashes are not a real chain — this database is for reading figures only.
"""
from __future__ import annotations

import json
import random
import statistics
import time
from datetime import timedelta

import click
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from doorstep.bench.infra import recreate_database
from shared.db import dispose_engines, engine_for, utcnow
from shared.migrations import upgrade
from services.funds import persistence as p
from services.funds.domain.chart import area_book, budget_line_accounts
from services.funds.domain.ledger import TransferDraft, credit, debit
from services.funds.repositories import FundsUnitOfWork, bulk_insert
from services.funds.handlers import ledger

AREA = "bench"
BOOK = area_book(AREA)
PROJECT = "bench-2026-001"
LINES = 10


def _setup_book(uow: FundsUnitOfWork) -> None:
    """An area fund with a large allocation and a project of ten budget lines to spend against."""
    ledger.ensure_book(uow, BOOK)
    specs = [s for n in range(1, LINES + 1) for s in budget_line_accounts(AREA, PROJECT, n, f"line {n}")]
    with uow:
        now = utcnow()
        ledger.post(uow, [
            TransferDraft(BOOK, "bench/allocation", "allocation", "bench allocation",
                          (debit(f"{BOOK}:bank", 10**12), credit(f"{BOOK}:revenue:allocation", 10**12)), None),
            TransferDraft(BOOK, "bench/reservation", "budget-reservation", "bench budget",
                          (debit(f"{BOOK}:unrestricted", LINES * 10**10),
                           *(credit(f"{BOOK}:budget:{PROJECT}:{n}", 10**10) for n in range(1, LINES + 1))),
                          None)], now, specs)
        uow.commit()


def _expense_draft(i: int) -> TransferDraft:
    line = i % LINES + 1
    amount = 100 + i % 900
    return TransferDraft(BOOK, f"bench/expense/{i}", "expense", f"bench expense {i}",
                         (debit(f"{BOOK}:expense:{PROJECT}:{line}", amount), credit(f"{BOOK}:bank", amount)),
                         None)


def _post_batches(uow: FundsUnitOfWork, first: int, last: int, batch: int) -> float:
    """Post transfers first..last-1 through the ledger; returns the seconds taken."""
    started = time.perf_counter()
    for start in range(first, last, batch):
        with uow:
            ledger.post(uow, [_expense_draft(i) for i in range(start, min(start + batch, last))], utcnow())
            uow.commit()
    return time.perf_counter() - started


def _plain_inserts(engine: sa.Engine, batch: int) -> tuple[int, float]:
    """Insert the very rows the ledger wrote into tables of the same shape, indexes and foreign keys, batch per
    transaction; (count, seconds)."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE plain_transfers (LIKE transfers INCLUDING ALL)"))
        conn.execute(sa.text("CREATE TABLE plain_legs (LIKE legs INCLUDING ALL)"))
        # The same foreign keys as the ledger's legs, so that only the ledger's own work differs.
        conn.execute(sa.text("ALTER TABLE plain_legs ADD FOREIGN KEY (transfer_id) REFERENCES plain_transfers (id), "
                             "ADD FOREIGN KEY (account_code) REFERENCES accounts (code)"))
        transfer_rows = [dict(r) for r in conn.execute(sa.text(
            "SELECT * FROM transfers WHERE kind = 'expense' ORDER BY sequence")).mappings()]
        leg_rows = [dict(r) for r in conn.execute(sa.text(
            "SELECT l.* FROM legs l JOIN transfers t ON t.id = l.transfer_id WHERE t.kind = 'expense' "
            "ORDER BY l.sequence, l.position")).mappings()]
    # The same multi-row INSERT statement the ledger writes with, without the ledger's logic.
    plain_transfers = p.transfers.to_metadata(sa.MetaData(), name="plain_transfers")
    plain_legs = p.legs.to_metadata(sa.MetaData(), name="plain_legs")
    legs_per_transfer = len(leg_rows) // len(transfer_rows)
    started = time.perf_counter()
    for start in range(0, len(transfer_rows), batch):
        with engine.begin() as conn:
            bulk_insert(conn, plain_transfers, transfer_rows[start:start + batch])
            bulk_insert(conn, plain_legs, leg_rows[start * legs_per_transfer:(start + batch) * legs_per_transfer])
    return len(transfer_rows), time.perf_counter() - started


def _read_latencies(uow: FundsUnitOfWork, samples: int = 300) -> tuple[float, float]:
    """Mean milliseconds of a current-balance read and of an as-of-a-date read, over random accounts and dates."""
    with uow:
        head = uow.ledger.book(BOOK)
        first = uow.records.scalar(sa.text(f"SELECT min(occurred_at) FROM transfers WHERE book = '{BOOK}'"))
    span = (head["head_occurred_at"] - first).total_seconds()
    accounts = [f"{BOOK}:bank"] + [f"{BOOK}:expense:{PROJECT}:{n}" for n in range(1, LINES + 1)]
    rng = random.Random(7)
    current, as_of = [], []
    for _ in range(samples):
        code = rng.choice(accounts)
        started = time.perf_counter()
        ledger.account_balance(code, None, uow)
        current.append(time.perf_counter() - started)
        moment = first + timedelta(seconds=rng.uniform(0, span))
        started = time.perf_counter()
        ledger.account_balance(code, moment, uow)
        as_of.append(time.perf_counter() - started)
    return round(statistics.mean(current) * 1000, 3), round(statistics.mean(as_of) * 1000, 3)


def _grow(engine: sa.Engine, target: int) -> float:
    """Append generated transfers (Dr expense line, Cr bank, 1.00 each) until the book holds ``target``."""
    started = time.perf_counter()
    with engine.begin() as conn:
        head = conn.execute(sa.text("SELECT head_sequence, head_occurred_at FROM books WHERE code = :b"),
                            {"b": BOOK}).mappings().one()
        s0, t0 = head["head_sequence"], head["head_occurred_at"]
        if target <= s0:
            return 0.0
        bank0 = conn.execute(sa.text("SELECT balance FROM balances WHERE account_code = :a"),
                             {"a": f"{BOOK}:bank"}).scalar()
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # skip FK triggers for the load
        params = {"b": BOOK, "s0": s0, "s1": target, "t0": t0, "bank0": bank0, "lines": LINES,
                  "exp": f"{BOOK}:expense:{PROJECT}:", "bank": f"{BOOK}:bank"}
        conn.execute(sa.text("""
            INSERT INTO transfers (id, book, sequence, idempotency_key, kind, memo, occurred_at, recorded_at,
                                   reverses, prev_hash, hash)
            SELECT lpad(to_hex(i), 32, '0')::uuid::text, :b, i, 'bench/generated/' || lpad(i::text, 10, '0'),
                   'expense', 'generated',
                   :t0 + (i - :s0) * interval '1 second', now(), NULL,
                   encode(sha256(('bench' || (i - 1))::bytea), 'hex'), encode(sha256(('bench' || i)::bytea), 'hex')
            FROM generate_series(:s0 + 1, :s1) AS i"""), params)
        # Running balances of the generated legs: the bank falls by 1.00 each; each line's expense account
        # rises by 1.00 every LINES-th transfer (computed from its last stored balance).
        conn.execute(sa.text("""
            INSERT INTO legs (transfer_id, position, book, sequence, account_code, amount, balance_after)
            SELECT lpad(to_hex(i), 32, '0')::uuid::text, 0, :b, i, s.account_code, 100,
                   s.balance + 100 * ((i - :s0 - 1) / :lines + 1)
            FROM generate_series(:s0 + 1, :s1) AS i
            JOIN balances s ON s.account_code = :exp || ((i % :lines) + 1)
            ORDER BY i"""), params)
        conn.execute(sa.text("""
            INSERT INTO legs (transfer_id, position, book, sequence, account_code, amount, balance_after)
            SELECT lpad(to_hex(i), 32, '0')::uuid::text, 1, :b, i, :bank, -100, :bank0 - 100 * (i - :s0)
            FROM generate_series(:s0 + 1, :s1) AS i"""), params)
        conn.execute(sa.text("""
            UPDATE balances b SET balance = l.balance_after, available = b.available + (l.balance_after - b.balance)
            FROM (SELECT DISTINCT ON (account_code) account_code, balance_after FROM legs
                  WHERE book = :b ORDER BY account_code, sequence DESC) l
            WHERE b.account_code = l.account_code"""), {"b": BOOK})
        conn.execute(sa.text("""
            UPDATE books SET head_sequence = :s1, head_hash = encode(sha256(('bench' || :s1)::bytea), 'hex'),
                   head_occurred_at = :t0 + (:s1 - :s0) * interval '1 second' WHERE code = :b"""), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE transfers"))
        conn.execute(sa.text("VACUUM ANALYZE legs"))
    return time.perf_counter() - started


def run_ledger_benchmark(db_url: str, n: int, batch: int, big: int, progress=None) -> dict:
    say = progress or (lambda _text: None)
    if n < 10_000:
        raise ValueError("post at least 10,000 transfers (-n) so the 10k read figure is taken on posted data")
    recreate_database(db_url, "ledger")
    upgrade("funds", db_url)
    engine = engine_for(db_url)
    uow = FundsUnitOfWork(sessionmaker(engine, expire_on_commit=False), "bench")
    _setup_book(uow)

    say(f"posting 10,000 transfers in batches of {batch} …")
    seconds = _post_batches(uow, 0, 10_000 - 2, batch)  # the allocation and the reservation make two
    say("reading balances at 10k …")
    read_10k, as_of_10k = _read_latencies(uow)
    say(f"posting {n - 10_000:,} more …")
    seconds += _post_batches(uow, 10_000 - 2, n - 2, batch)
    posted = n - 2
    say("plain INSERTs of the same rows …")
    inserted, insert_seconds = _plain_inserts(engine, batch)
    verification = ledger.verify_book(BOOK, uow)
    say(f"growing the book to {big:,} transfers inside PostgreSQL …")
    grow_seconds = _grow(engine, big)
    say(f"reading balances at {big:,} …")
    read_1m, as_of_1m = _read_latencies(uow)
    with uow:
        size = uow.ledger.book(BOOK)["head_sequence"]
    dispose_engines()
    return {
        "transfers_posted": posted,
        "batch": batch,
        "transfers_per_s": round(posted / seconds),
        "inserts_per_s": round(inserted / insert_seconds),
        "posted_chain_verified": verification["ok"],
        "book_size_small": 10_000,
        "book_size_big": size,
        "balance_read_ms_10k": read_10k,
        "balance_read_ms_1m": read_1m,
        "balance_as_of_read_ms_10k": as_of_10k,
        "balance_as_of_read_ms_1m": as_of_1m,
        "generate_big_s": round(grow_seconds, 1),
    }


@click.command("ledger")
@click.option("--db", default="postgresql://postgres@127.0.0.1:5432/doorstep_bench_ledger", show_default=True,
              help="a PostgreSQL database to create afresh (dropped first if it exists)")
@click.option("-n", "--transfers", "n", default=20000, show_default=True, help="transfers to post in batches")
@click.option("--batch", default=1000, show_default=True, help="transfers per transaction")
@click.option("--big", default=1_000_000, show_default=True, help="size of the book for the second read test")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object with the figures")
def bench_ledger(db, n, batch, big, as_json):
    """Batch posting against plain INSERTs of the same rows; balance reads at 10k and 1M transfers."""
    figures = run_ledger_benchmark(db, n, batch, big, progress=None if as_json else click.echo)
    if as_json:
        click.echo(json.dumps(figures))
    else:
        for key, value in figures.items():
            click.echo(f"{key:>32}: {value}")
