"""Funds' repositories and the unit of work that opens them: the ledger's (books, accounts, balances, the chain of
transfers), the answers of requests already done, and the foundation's and the autonomy funds' records.

A posting locks the book's head row first — that is the single writer order the hash chain needs, and it makes
idempotency checks and receipt numbers race-free — then the balance rows it touches, in account-code order, so
that two postings never wait on each other in a cycle. Balance reads never scan the entries: the current figure
is one row, and a figure as of a date is the running balance stored on the last leg before it.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from shared.db import UTCDateTime
from shared.unit_of_work import UnitOfWork
from services.funds.domain.ledger import AccountSpec, AccountState, Leg, PostedTransfer
from services.funds.persistence import (
    accounts, balances, books, legs, operations, projects, receipt_counters, transfers,
)


def _array_type(column_type) -> str:
    if isinstance(column_type, UTCDateTime):
        return "timestamptz"
    for kind, name in ((sa.Boolean, "boolean"), (sa.SmallInteger, "smallint"), (sa.BigInteger, "bigint"),
                       (sa.Integer, "integer"), (sa.String, "text")):
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no array type for {column_type!r}")


def _timestamps(values) -> list[str]:
    texts: dict[datetime, str] = {}  # a batch shares a few instants (its posting time); format each once
    out = []
    for value in values:
        text = texts.get(value)
        if text is None:
            if value is None:
                text = "NULL"
            elif value.tzinfo is None:  # as UTCDateTime refuses them: the server would read its own zone
                raise ValueError("naive datetime: store timezone-aware UTC times")
            else:
                text = texts[value] = f'"{value.isoformat()}"'
        out.append(text)
    return out


def array_literal(values, element_type: str) -> str:
    """A whole column as one PostgreSQL array literal (``{"a","b",NULL}``), for the server to read with a
    single array_in. Text is double-quoted, so commas, braces and spaces stay data."""
    if element_type == "text":
        items = ["NULL" if v is None else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
    elif element_type == "timestamptz":
        items = _timestamps(values)
    elif element_type == "boolean":
        items = ["NULL" if v is None else ("t" if v else "f") for v in values]
    else:
        items = ["NULL" if v is None else str(int(v)) for v in values]
    return "{" + ",".join(items) + "}"


def bulk_insert(executor: Session | sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert many rows in one statement. On PostgreSQL, ``INSERT … SELECT FROM unnest(<one array per
    column>)``, each array sent as one literal string: psycopg2 would otherwise spell a list out as
    ``ARRAY[…]`` with one constant per value, slower to build here and to parse there (that took about as long
    as inserting the rows). Elsewhere, an executemany."""
    if not rows:
        return
    dialect = executor.get_bind().dialect if isinstance(executor, Session) else executor.dialect
    if dialect.name != "postgresql":
        executor.execute(table.insert(), rows)
        return
    types = {c: _array_type(table.c[c].type) for c in rows[0]}
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in types.items())
    executor.execute(sa.text(f"INSERT INTO {table.name} ({', '.join(types)}) SELECT * FROM unnest({arrays})"),
                     {c: array_literal([row[c] for row in rows], t) for c, t in types.items()})


def _spec(row) -> AccountSpec:
    return AccountSpec(row["code"], row["book"], row["name"], row["kind"], row["subkind"], row["parent_code"],
                       bool(row["non_negative"]))


class LedgerRepository:
    """Books, accounts, balances and the append-only chain of transfers."""

    def __init__(self, session: Session):
        self.session = session

    # books and chart
    def open_book(self, code: str, kind: str, name: str, area: str | None, chart: list[AccountSpec],
                  now: datetime) -> bool:
        """Create a book and its fixed accounts unless it exists; True when created."""
        if self.session.execute(sa.select(books.c.code).where(books.c.code == code)).first():
            return False
        self.session.execute(books.insert().values(code=code, kind=kind, name=name, area=area, head_sequence=0,
                                                   head_hash="0" * 64, created_at=now))
        self.add_accounts(chart, now)
        return True

    def book(self, code: str) -> dict | None:
        row = self.session.execute(sa.select(books).where(books.c.code == code)).mappings().first()
        return dict(row) if row else None

    def all_books(self) -> list[dict]:
        return [dict(r) for r in self.session.execute(sa.select(books).order_by(books.c.code)).mappings()]

    def lock_books(self, codes) -> dict[str, dict]:
        """Lock the books' head rows, in code order (the single writer order of each chain)."""
        rows = self.session.execute(
            sa.select(books).where(books.c.code.in_(sorted(codes))).order_by(books.c.code).with_for_update()
        ).mappings().all()
        return {r["code"]: dict(r) for r in rows}

    def add_accounts(self, specs: list[AccountSpec], now: datetime) -> None:
        """Add accounts that do not exist yet (callers hold the book lock, so two cannot race)."""
        if not specs:
            return
        known = set(self.session.execute(
            sa.select(accounts.c.code).where(accounts.c.code.in_([s.code for s in specs]))).scalars())
        new = [s for s in specs if s.code not in known]
        if not new:
            return
        self.session.execute(accounts.insert(), [
            {"code": s.code, "book": s.book, "name": s.name, "kind": s.kind, "subkind": s.subkind,
             "parent_code": s.parent, "non_negative": s.non_negative, "created_at": now} for s in new])
        self.session.execute(balances.insert(), [
            {"account_code": s.code, "book": s.book, "balance": 0, "available": 0} for s in new])

    def specs(self, codes) -> dict[str, AccountSpec]:
        rows = self.session.execute(sa.select(accounts).where(accounts.c.code.in_(sorted(codes)))).mappings()
        return {r["code"]: _spec(r) for r in rows}

    def chart(self, book: str) -> list[AccountSpec]:
        rows = self.session.execute(sa.select(accounts).where(accounts.c.book == book)
                                    .order_by(accounts.c.code)).mappings()
        return [_spec(r) for r in rows]

    def lock_states(self, codes) -> dict[str, AccountState]:
        """The accounts' running figures, their balance rows locked in code order."""
        rows = self.session.execute(
            sa.select(accounts.c.code, accounts.c.kind, accounts.c.parent_code, accounts.c.non_negative,
                      balances.c.balance, balances.c.available)
            .join(balances, balances.c.account_code == accounts.c.code)
            .where(accounts.c.code.in_(sorted(codes))).order_by(accounts.c.code)
            .with_for_update(of=balances)
        ).mappings().all()
        return {r["code"]: AccountState(r["code"], "debit" if r["kind"] in ("asset", "expense") else "credit",
                                        r["parent_code"], bool(r["non_negative"]), r["balance"], r["available"])
                for r in rows}

    # transfers
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _one_of(self, column, values):
        """``column`` equal to one of ``values`` (text): on PostgreSQL one array literal rather than a parameter
        per value."""
        values = list(values)
        if self._postgresql():
            return column == sa.func.any(sa.cast(sa.literal(array_literal(values, "text")), postgresql.ARRAY(sa.Text)))
        return column.in_(values)

    def transfers_by_keys(self, keys) -> dict[str, PostedTransfer]:
        """The transfers already posted under these keys, with their legs: two queries however many match."""
        rows = self.session.execute(sa.select(transfers).where(self._one_of(transfers.c.idempotency_key, keys))
                                    ).mappings().all()
        if not rows:
            return {}
        leg_rows = self.session.execute(
            sa.select(legs).where(self._one_of(legs.c.transfer_id, [r["id"] for r in rows]))
            .order_by(legs.c.transfer_id, legs.c.position)).mappings().all()
        by_transfer: dict[str, list] = {}
        for leg_row in leg_rows:
            by_transfer.setdefault(leg_row["transfer_id"], []).append(leg_row)
        return {r["idempotency_key"]: posted_from_rows(r, by_transfer.get(r["id"], [])) for r in rows}

    def transfer(self, transfer_id: str) -> PostedTransfer | None:
        row = self.session.execute(sa.select(transfers).where(transfers.c.id == transfer_id)).mappings().first()
        return self._with_legs(row) if row else None

    def reversal_of(self, transfer_id: str) -> str | None:
        return self.session.execute(sa.select(transfers.c.id).where(transfers.c.reverses == transfer_id)).scalar()

    def _with_legs(self, row) -> PostedTransfer:
        leg_rows = self.session.execute(sa.select(legs).where(legs.c.transfer_id == row["id"])
                                        .order_by(legs.c.position)).mappings().all()
        return posted_from_rows(row, leg_rows)

    def append(self, posted: list[PostedTransfer], heads: dict[str, tuple[int, str, datetime]],
               states: dict[str, AccountState]) -> None:
        """Write new transfers, their legs, the balances they leave and the books' new heads."""
        if not posted:
            return
        bulk_insert(self.session, transfers, [
            {"id": t.id, "book": t.book, "sequence": t.sequence, "idempotency_key": t.idempotency_key,
             "kind": t.kind, "memo": t.memo, "occurred_at": t.occurred_at, "recorded_at": t.recorded_at,
             "reverses": t.reverses, "prev_hash": t.prev_hash, "hash": t.hash} for t in posted])
        bulk_insert(self.session, legs, [
            {"transfer_id": t.id, "position": i, "book": t.book, "sequence": t.sequence,
             "account_code": leg.account, "amount": leg.amount, "balance_after": after}
            for t in posted for i, (leg, after) in enumerate(zip(t.legs, t.balances_after))])
        changed = list(states.values())
        if self._postgresql():  # one statement for all the rows
            self.session.execute(sa.text(
                "UPDATE balances SET balance = n.balance, available = n.available "
                "FROM unnest(CAST(:codes AS text[]), CAST(:balances AS bigint[]), CAST(:availables AS bigint[])) "
                "AS n(code, balance, available) WHERE balances.account_code = n.code"),
                {"codes": array_literal([a.code for a in changed], "text"),
                 "balances": array_literal([a.balance for a in changed], "bigint"),
                 "availables": array_literal([a.available for a in changed], "bigint")})
        else:
            self.session.execute(
                balances.update().where(balances.c.account_code == sa.bindparam("code"))
                .values(balance=sa.bindparam("new_balance"), available=sa.bindparam("new_available")),
                [{"code": a.code, "new_balance": a.balance, "new_available": a.available} for a in changed])
        for book, (sequence, head_hash, occurred_at) in heads.items():
            self.session.execute(books.update().where(books.c.code == book).values(
                head_sequence=sequence, head_hash=head_hash, head_occurred_at=occurred_at))

    # reads
    def balance(self, code: str) -> dict | None:
        row = self.session.execute(
            sa.select(balances.c.balance, balances.c.available).where(balances.c.account_code == code)
        ).mappings().first()
        return dict(row) if row else None

    def last_sequence_at(self, book: str, as_of: datetime) -> int:
        """The book's last entry at or before ``as_of`` (entries are in time order): one index seek."""
        return self.session.execute(
            sa.select(transfers.c.sequence)
            .where(transfers.c.book == book, transfers.c.occurred_at <= as_of)
            .order_by(transfers.c.occurred_at.desc(), transfers.c.sequence.desc()).limit(1)).scalar() or 0

    def balance_as_of(self, code: str, sequence: int) -> int:
        """The running balance on the account's last leg at or before ``sequence``: one index seek."""
        return self.session.execute(
            sa.select(legs.c.balance_after)
            .where(legs.c.account_code == code, legs.c.sequence <= sequence)
            .order_by(legs.c.sequence.desc()).limit(1)).scalar() or 0

    def balances_of_book(self, book: str) -> list[tuple[AccountSpec, int, int]]:
        rows = self.session.execute(
            sa.select(accounts, balances.c.balance, balances.c.available)
            .join(balances, balances.c.account_code == accounts.c.code)
            .where(accounts.c.book == book).order_by(accounts.c.code)).mappings()
        return [(_spec(r), r["balance"], r["available"]) for r in rows]

    def iter_transfers(self, book: str, after: int = 0, upto: int | None = None, batch: int = 2000):
        """The transfers of a book after ``after`` (up to ``upto``) with their legs, in sequence order, fetched in
        batches."""
        while True:
            query = (sa.select(transfers).where(transfers.c.book == book, transfers.c.sequence > after)
                     .order_by(transfers.c.sequence).limit(batch))
            if upto is not None:
                query = query.where(transfers.c.sequence <= upto)
            rows = self.session.execute(query).mappings().all()
            if not rows:
                return
            leg_rows = self.session.execute(
                sa.select(legs).where(legs.c.book == book, legs.c.sequence > after,
                                      legs.c.sequence <= rows[-1]["sequence"])
                .order_by(legs.c.sequence, legs.c.position)).mappings().all()
            by_transfer: dict[str, list] = {}
            for leg_row in leg_rows:
                by_transfer.setdefault(leg_row["transfer_id"], []).append(leg_row)
            for row in rows:
                yield posted_from_rows(row, by_transfer.get(row["id"], []))
            after = rows[-1]["sequence"]


def posted_from_rows(row, leg_rows) -> PostedTransfer:
    return PostedTransfer(
        id=row["id"], book=row["book"], sequence=row["sequence"], idempotency_key=row["idempotency_key"],
        kind=row["kind"], memo=row["memo"], occurred_at=row["occurred_at"], recorded_at=row["recorded_at"],
        reverses=row["reverses"], prev_hash=row["prev_hash"], hash=row["hash"],
        legs=tuple(Leg(r["account_code"], r["amount"]) for r in leg_rows),
        balances_after=tuple(r["balance_after"] for r in leg_rows))


class OperationRepository:
    """Results of requests already done, by their idempotency key: a retry gets the first answer."""

    def __init__(self, session: Session):
        self.session = session

    @staticmethod
    def digest(kind: str, request: dict) -> str:
        canonical = json.dumps({"kind": kind, "request": request}, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict | None:
        row = self.session.execute(sa.select(operations).where(operations.c.key == key)).mappings().first()
        return dict(row) if row else None

    def add(self, key: str, kind: str, digest: str, result: dict, now: datetime) -> None:
        self.session.execute(operations.insert().values(key=key, kind=kind, request_digest=digest, result=result,
                                                        created_at=now))


class Records:
    """Plain reads and writes of the foundation's and the autonomy funds' records."""

    def __init__(self, session: Session):
        self.session = session

    def insert(self, table: sa.Table, **values) -> None:
        self.session.execute(table.insert().values(**values))

    def update(self, table: sa.Table, where, **values) -> None:
        self.session.execute(table.update().where(where).values(**values))

    def one(self, table: sa.Table, where, *, lock: bool = False) -> dict | None:
        query = sa.select(table).where(where)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        return dict(row) if row else None

    def all(self, table: sa.Table, where=sa.true(), *order_by) -> list[dict]:
        query = sa.select(table).where(where).order_by(*(order_by or table.primary_key.columns))
        return [dict(r) for r in self.session.execute(query).mappings()]

    def scalar(self, query):
        return self.session.execute(query).scalar()

    def next_receipt_number(self, year: int) -> int:
        """The next donation receipt number of the year; the counter row stays locked until the donation
        commits with it, so numbers have no gaps and no duplicates."""
        current = self.session.execute(
            sa.select(receipt_counters.c.last_number).where(receipt_counters.c.year == year).with_for_update()
        ).scalar()
        if current is None:
            self.session.execute(receipt_counters.insert().values(year=year, last_number=1))
            return 1
        self.session.execute(receipt_counters.update().where(receipt_counters.c.year == year)
                             .values(last_number=current + 1))
        return current + 1


class FundsUnitOfWork(UnitOfWork):
    def open_repositories(self, session):
        self.ledger = LedgerRepository(session)
        self.operations = OperationRepository(session)
        self.records = Records(session)


# -- figures for the metrics (funds' metrics timer) ---------------------------------------------------------

def fund_balances(session: Session) -> list[tuple[str, int]]:
    """(account code, available fen) of every bank, unrestricted and special-fund account: one row each."""
    return [(code, available) for code, available in session.execute(
        sa.select(accounts.c.code, balances.c.available)
        .join(balances, balances.c.account_code == accounts.c.code)
        .where(accounts.c.subkind.in_(("bank", "unrestricted", "restricted")))).all()]


def project_counts(session: Session) -> dict[str, int]:
    """How many autonomy-fund projects are in each status."""
    return dict(session.execute(sa.select(projects.c.status, sa.func.count()).group_by(projects.c.status)).all())
