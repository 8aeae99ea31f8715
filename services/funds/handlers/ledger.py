"""The ledger's use cases, which the others build on: running a request once under its idempotency key,
opening books, posting transfers, reading balances and entries, verifying the chain, and the metrics refresh.

Every request that moves money carries an idempotency key and runs through :func:`run_once`: it locks the
books it will post to, returns the stored answer if the key was done before, and otherwise does the work,
stores the answer with the key and commits — all in one transaction with the transfers and the events.
"""
from __future__ import annotations

import dataclasses
import os
import uuid
from datetime import datetime, timedelta
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.money import format_fen
from services.funds import metrics
from services.funds.domain.autonomy import PROJECT_STATUSES
from services.funds.domain.chart import FOUNDATION_BOOK, area_chart, foundation_chart
from services.funds.domain.ledger import (
    AccountSpec, ChainVerifier, Leg, ManualTransfer, PostedTransfer, TransferDraft, accounts_touched, apply_legs,
    reversal_legs, transfer_hash,
)
from services.funds.domain.ledger import trial_balance as debit_credit_columns
from services.funds.repositories import FundsUnitOfWork, OperationRepository, fund_balances, project_counts

SHANGHAI = ZoneInfo("Asia/Shanghai")
FUTURE_TOLERANCE = timedelta(minutes=5)  # clocks of different hosts differ a little


def local_year(moment: datetime) -> int:
    return moment.astimezone(SHANGHAI).year


def shanghai(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat() if moment else None


# -- running a request once -------------------------------------------------------------------------------

def run_once(uow: FundsUnitOfWork, *, key: str | None, kind: str, request: dict, books: Iterable[str],
             perform: Callable[[datetime], dict]) -> tuple[int, dict]:
    """Do ``perform`` at most once per key: (201, result) the first time, (200, the same result) after."""
    request = {k: v for k, v in request.items() if k != "idempotency_key"}
    digest = OperationRepository.digest(kind, request)
    try:
        with uow:
            uow.ledger.lock_books(books)
            now = utcnow()  # taken under the books' locks, so entries of a book are in time order
            if key:
                done = uow.operations.get(key)
                if done:
                    return _replay(done, kind, digest, key)
            result = perform(now)
            if key:
                uow.operations.add(key, kind, digest, result, now)
            uow.commit()
            _publish_postings(uow)
            return 201, result
    except IntegrityError:
        # Another request with the same key (or the same unique record) committed first.
        if key:
            with uow:
                done = uow.operations.get(key)
            if done:
                return _replay(done, kind, digest, key)
        raise Conflict(f"{kind}: a record with the same identity was created meanwhile") from None


def request_of(command=None, **context) -> dict:
    """What a request asked for, as its idempotency key remembers it: the record it acts on and its command's
    fields. The same key with another request is refused."""
    return {**context, **(dataclasses.asdict(command) if command is not None else {})}


def _replay(done: dict, kind: str, digest: str, key: str) -> tuple[int, dict]:
    if done["kind"] != kind or done["request_digest"] != digest:
        raise Conflict(f"idempotency key {key!r} was used for a different request")
    return 200, done["result"]


def ensure_book(uow: FundsUnitOfWork, book: str) -> None:
    """Open the foundation's book or an area's autonomy-fund book with its chart on first use."""
    with uow:
        if uow.ledger.book(book):
            return
        try:
            if book == FOUNDATION_BOOK:
                uow.ledger.open_book(book, "foundation", "社区公益基金会 community foundation", None,
                                     foundation_chart(), utcnow())
            else:
                area = book.split(":", 1)[1]
                uow.ledger.open_book(book, "autonomy", f"{area} 自治金 autonomy fund", area, area_chart(area),
                                     utcnow())
            uow.commit()
        except IntegrityError:
            pass  # opened meanwhile by another request


# -- posting -------------------------------------------------------------------------------------------------

def post(uow: FundsUnitOfWork, drafts: list[TransferDraft], now: datetime,
         new_accounts: list[AccountSpec] = ()) -> list[PostedTransfer]:
    """Post transfers inside an open unit of work whose books are locked (see :func:`run_once`).

    A transfer whose idempotency key is already posted is returned as it was. The others get the next sequence
    of their book, the previous hash, running balances, and are refused as a whole if an account that must not
    go negative would.
    """
    heads = uow.ledger.lock_books({t.book for t in drafts})
    for draft in drafts:
        if draft.book not in heads:
            raise NotFound(f"book {draft.book} does not exist")
    uow.ledger.add_accounts(list(new_accounts), now)
    existing = uow.ledger.transfers_by_keys([t.idempotency_key for t in drafts])
    fresh = [t for t in drafts if t.idempotency_key not in existing]
    leg_accounts = {leg.account for t in fresh for leg in t.legs}
    specs = uow.ledger.specs(leg_accounts)
    for t in fresh:
        for index, leg in enumerate(t.legs):
            if leg.account not in specs:
                raise InvalidInput(f"legs[{index}].account", f"{leg.account} is not in the chart of accounts")
    # Exactly the accounts the fresh legs move (and their parents): all are written back if all post.
    states = uow.ledger.lock_states(accounts_touched(specs, (leg for t in fresh for leg in t.legs)))
    tips = {book: (head["head_sequence"], head["head_hash"], head["head_occurred_at"]) for book, head in heads.items()}
    posted = []
    for t, transfer_id in zip(fresh, _new_ids(len(fresh))):
        sequence, prev_hash, last_occurred = tips[t.book]
        occurred_at = t.occurred_at
        if occurred_at is None:  # undated: now, or the book's last date if a clock lags behind it
            occurred_at = max(now, last_occurred) if last_occurred else now
        elif last_occurred is not None and occurred_at < last_occurred:
            raise Conflict(f"book {t.book} already has entries up to {shanghai(last_occurred)}; entries are "
                           "recorded in time order — post a later date, or a correcting entry now")
        elif occurred_at > now + FUTURE_TOLERANCE:
            raise InvalidInput("occurred_at", "lies in the future")
        if t.reverses:
            _check_reversal(uow, t, posted)
        balances_after = apply_legs(states, t.legs)
        digest = transfer_hash(prev_hash=prev_hash, id=transfer_id, book=t.book, sequence=sequence + 1,
                               idempotency_key=t.idempotency_key, kind=t.kind, memo=t.memo,
                               occurred_at=occurred_at, recorded_at=now, reverses=t.reverses, legs=t.legs)
        posted.append(PostedTransfer(transfer_id, t.book, sequence + 1, t.idempotency_key, t.kind, t.memo,
                                     occurred_at, now, t.reverses, prev_hash, digest, t.legs, balances_after))
        tips[t.book] = (sequence + 1, digest, occurred_at)
    uow.ledger.append(posted, {b: tip for b, tip in tips.items() if tip[0] != heads[b]["head_sequence"]}, states)
    _tally(uow).add(posted, states)
    by_key = {t.idempotency_key: t for t in posted} | existing
    return [by_key[t.idempotency_key] for t in drafts]


def _tally(uow: FundsUnitOfWork) -> metrics.Tally:
    """The postings of this transaction, kept with its session: published after the commit, gone with a
    rollback (the next ``with uow`` opens a new session)."""
    return uow.session.info.setdefault("doorstep.funds.tally", metrics.Tally())


def _publish_postings(uow: FundsUnitOfWork) -> None:
    tally = uow.session.info.pop("doorstep.funds.tally", None)
    if tally is not None:
        tally.publish()


def _new_ids(count: int) -> list[str]:
    """Random (version 4) UUIDs, their randomness drawn in one system call rather than one per transfer."""
    random = os.urandom(16 * count)
    return [str(uuid.UUID(bytes=random[i:i + 16], version=4)) for i in range(0, 16 * count, 16)]


def _check_reversal(uow: FundsUnitOfWork, draft: TransferDraft, posted: list[PostedTransfer]) -> None:
    original = uow.ledger.transfer(draft.reverses)
    if original is None or original.book != draft.book:
        raise NotFound(f"transfer {draft.reverses} is not in book {draft.book}")
    if uow.ledger.reversal_of(draft.reverses) or any(t.reverses == draft.reverses for t in posted):
        raise Conflict(f"transfer {draft.reverses} is already reversed")
    if original.reverses:
        raise Conflict(f"transfer {draft.reverses} is itself a reversal; post a new transfer instead")
    if sorted(draft.legs, key=lambda leg: leg.account) != sorted(reversal_legs(original.legs),
                                                                 key=lambda leg: leg.account):
        raise InvalidInput("legs", "a reversal must mirror the legs of the transfer it reverses")


def transfer_view(t: PostedTransfer) -> dict:
    return {
        "id": t.id, "book": t.book, "sequence": t.sequence, "idempotency_key": t.idempotency_key, "kind": t.kind,
        "memo": t.memo, "occurred_at": t.occurred_at.isoformat(), "recorded_at": t.recorded_at.isoformat(),
        "reverses": t.reverses, "prev_hash": t.prev_hash, "hash": t.hash,
        "legs": [{"account": leg.account, "amount_fen": leg.amount, "balance_after_fen": after,
                  "debit" if leg.amount > 0 else "credit": format_fen(abs(leg.amount))}
                 for leg, after in zip(t.legs, t.balances_after)],
    }


def post_manual_transfer(transfer: ManualTransfer, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """A treasurer's own transfer (e.g. a bank fee), between accounts already in the book's chart."""
    # Drafted before the books are locked: legs that do not balance are refused without waiting for them.
    draft = TransferDraft(transfer.book, key, "manual", transfer.memo, transfer.legs, transfer.occurred_at)

    def perform(now):
        return transfer_view(post(uow, [draft], now)[0])

    return run_once(uow, key=key, kind="transfer", request=request_of(transfer), books=[transfer.book],
                    perform=perform)


def reverse_transfer(transfer_id: str, reason: str, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """A correction: a new transfer with every leg mirrored, pointing at what it corrects."""
    with uow:
        original = uow.ledger.transfer(transfer_id)
    if original is None:
        raise NotFound(f"transfer {transfer_id} does not exist")

    def perform(now):
        draft = TransferDraft(original.book, key, "reversal", f"reverses #{original.sequence}: {reason}",
                              reversal_legs(original.legs), None, reverses=original.id)
        return transfer_view(post(uow, [draft], now)[0])

    return run_once(uow, key=key, kind="reversal", request={"transfer_id": transfer_id, "reason": reason},
                    books=[original.book], perform=perform)


# -- reading balances and entries ----------------------------------------------------------------------------

def account_balance(code: str, as_of: datetime | None, uow: FundsUnitOfWork) -> dict:
    with uow:
        specs = uow.ledger.specs([code])
        if code not in specs:
            raise NotFound(f"account {code} does not exist")
        spec = specs[code]
        if as_of is None:
            row = uow.ledger.balance(code)
            balance, available = row["balance"], row["available"]
        else:
            sequence = uow.ledger.last_sequence_at(spec.book, as_of)
            balance, available = uow.ledger.balance_as_of(code, sequence), None
    view = {"account": code, "name": spec.name, "kind": spec.kind, "normal_side": spec.normal_side,
            "balance": format_fen(balance), "as_of": as_of.isoformat() if as_of else None}
    if available is not None and (spec.non_negative or spec.kind == "net_assets"):
        view["available"] = format_fen(available)
    return view


def trial_balance(book: str, as_of: datetime | None, uow: FundsUnitOfWork) -> dict:
    with uow:
        head = uow.ledger.book(book)
        if head is None:
            raise NotFound(f"book {book} does not exist")
        rows = uow.ledger.balances_of_book(book)
        if as_of is not None:
            sequence = uow.ledger.last_sequence_at(book, as_of)
            rows = [(spec, uow.ledger.balance_as_of(spec.code, sequence), None) for spec, _, _ in rows]
        else:
            sequence = head["head_sequence"]
    report = debit_credit_columns((spec, balance) for spec, balance, _ in rows)
    return {"book": book, "as_of": as_of.isoformat() if as_of else None, "through_entry": sequence, **report}


def transfers_page(book: str, after: int, limit: int, uow: FundsUnitOfWork) -> dict:
    with uow:
        if uow.ledger.book(book) is None:
            raise NotFound(f"book {book} does not exist")
        entries = [transfer_view(t) for t in uow.ledger.iter_transfers(book, after=after, upto=after + limit,
                                                                         batch=limit)]
    return {"book": book, "transfers": entries, "next_after": entries[-1]["sequence"] if entries else after}


# -- verification --------------------------------------------------------------------------------------------

def verify_book(book: str, uow: FundsUnitOfWork) -> dict:
    """Recompute a book's hash chain and balances from its entries; name the first broken entry."""
    with uow:
        head = uow.ledger.book(book)
        if head is None:
            raise NotFound(f"book {book} does not exist")
        chart = uow.ledger.chart(book)
        verifier = ChainVerifier(book, {spec.code: spec.normal_side for spec in chart})
        for transfer in uow.ledger.iter_transfers(book):
            if not verifier.feed(transfer):
                break
        verifier.check_head(head["head_sequence"], head["head_hash"])
        verifier.check_balances({spec.code: bal for spec, bal, _ in uow.ledger.balances_of_book(book)})
    return {"book": book, "ok": verifier.breach is None, "entries": verifier.count,
            "head": {"sequence": head["head_sequence"], "hash": head["head_hash"]},
            "first_breach": str(verifier.breach) if verifier.breach else None,
            "breach_sequence": verifier.breach.sequence if verifier.breach else None}


def verify_all(uow: FundsUnitOfWork) -> list[dict]:
    with uow:
        codes = [b["code"] for b in uow.ledger.all_books()]
    return [verify_book(code, uow) for code in codes]


def verify_export(export: dict) -> dict:
    """Verify a published ledger export against the chain head a disclosure carries — no database needed."""
    book = export["book"]
    verifier = ChainVerifier(book, {a["code"]: a["normal_side"] for a in export["accounts"]})
    for item in export["transfers"]:
        legs = tuple(Leg(leg["account"], leg["amount_fen"]) for leg in item["legs"])
        verifier.feed(PostedTransfer(
            item["id"], item["book"], item["sequence"], item["idempotency_key"], item["kind"], item["memo"],
            datetime.fromisoformat(item["occurred_at"]), datetime.fromisoformat(item["recorded_at"]),
            item["reverses"], item["prev_hash"], item["hash"], legs,
            tuple(leg["balance_after_fen"] for leg in item["legs"])))
    verifier.check_head(export["chain"]["sequence"], export["chain"]["head"])
    return {"book": book, "ok": verifier.breach is None, "entries": verifier.count,
            "head": {"sequence": export["chain"]["sequence"], "hash": export["chain"]["head"]},
            "first_breach": str(verifier.breach) if verifier.breach else None}


# -- metrics ---------------------------------------------------------------------------------------------------

def refresh_metrics(uow: FundsUnitOfWork) -> dict:
    """Set the balance and project gauges from the ledger (funds' metrics timer). A posting sets the balances it
    changed as it commits; this pass makes every replica agree and covers postings made elsewhere."""
    with uow:
        found = fund_balances(uow.session)
        counts = project_counts(uow.session)
    for code, available in found:
        metrics.set_balance(code, available)
    for status in PROJECT_STATUSES:
        metrics.PROJECTS.labels(status).set(counts.get(status, 0))
    return {"balances": dict(found), "projects": counts}
