"""Funds' use cases: the ledger's posting and verification, the foundation, the autonomy funds, disclosure.

Every request that moves money carries an idempotency key and runs through :func:`run_once`: it locks the
books it will post to, returns the stored answer if the key was done before, and otherwise does the work,
stores the answer with the key and commits — all in one transaction with the transfers and the events.
"""
from __future__ import annotations

import dataclasses
import os
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.input import text_field as text
from shared.money import format_fen, parse_yuan
from services.funds import metrics
from services.funds.domain import fields
from services.funds.domain.autonomy import PROJECT_STATUSES
from services.funds.domain.chart import (
    FOUNDATION_BOOK, area_chart, foundation_chart, grant_expense_account, special_fund_account,
)
from services.funds.domain.foundation import (
    Lot, RecordDonation, RegisterDonor, check_grant_purpose, donor_display_name, parse_found_fund, receipt_number,
)
from services.funds.domain.ledger import (
    AccountSpec, ChainVerifier, Leg, PostedTransfer, TransferDraft, accounts_touched, apply_legs, credit, debit,
    reversal_legs, transfer_hash,
)
from services.funds.domain.ledger import trial_balance as debit_credit_columns
from services.funds import persistence as p
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
                raise InvalidInput(f"legs/{index}/account", f"{leg.account} is not in the chart of accounts")
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


def parse_legs(body: dict) -> tuple[Leg, ...]:
    raw = body.get("legs")
    if not isinstance(raw, list):
        raise InvalidInput("legs", "is required: a list of {account, debit} or {account, credit}")
    legs = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(f"legs/{index}", "must be an object")
        account = text(item, "account", max_len=80, prefix=f"legs/{index}/")
        if ("debit" in item) == ("credit" in item):
            raise InvalidInput(f"legs/{index}", "give exactly one of debit or credit")
        side = "debit" if "debit" in item else "credit"
        fen = parse_yuan(item[side], f"legs/{index}/{side}")
        legs.append(Leg(account, fen if side == "debit" else -fen))
    return tuple(legs)


def post_manual_transfer(body: dict, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """A treasurer's own transfer (e.g. a bank fee), between accounts already in the book's chart."""
    book = text(body, "book", max_len=60)
    legs = parse_legs(body)
    memo = text(body, "memo", max_len=300)

    def perform(now):
        draft = TransferDraft(book, key, "manual", memo, legs, fields.moment(body, "occurred_at"))
        return transfer_view(post(uow, [draft], now)[0])

    return run_once(uow, key=key, kind="transfer", request=body, books=[book], perform=perform)


def reverse_transfer(transfer_id: str, body: dict, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """A correction: a new transfer with every leg mirrored, pointing at what it corrects."""
    reason = text(body, "reason", max_len=250)
    with uow:
        original = uow.ledger.transfer(transfer_id)
    if original is None:
        raise NotFound(f"transfer {transfer_id} does not exist")

    def perform(now):
        draft = TransferDraft(original.book, key, "reversal", f"reverses #{original.sequence}: {reason}",
                              reversal_legs(original.legs), None, reverses=original.id)
        return transfer_view(post(uow, [draft], now)[0])

    return run_once(uow, key=key, kind="reversal", request={"transfer_id": transfer_id, **body},
                    books=[original.book], perform=perform)


# -- reading balances ----------------------------------------------------------------------------------------

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


# -- the charity foundation ----------------------------------------------------------------------------------

def register_donor(cmd: RegisterDonor, key: str | None, uow: FundsUnitOfWork) -> tuple[int, dict]:
    def perform(now):
        donor_id = str(uuid.uuid4())
        uow.records.insert(p.donors, id=donor_id, kind=cmd.kind, name=cmd.name, created_at=now)
        return {"id": donor_id, "kind": cmd.kind, "name": donor_display_name(cmd.kind, cmd.name)}

    return run_once(uow, key=key, kind="donor", request=dataclasses.asdict(cmd), books=[], perform=perform)


def create_event(body: dict, uow: FundsUnitOfWork) -> tuple[int, dict]:
    event_code, name = fields.code(body, "code"), text(body, "name", max_len=120)
    held_on, place = fields.day(body, "held_on"), text(body, "place", required=False, max_len=120)

    def perform(now):
        if uow.records.one(p.charity_events, p.charity_events.c.code == event_code):
            raise Conflict(f"event {event_code} already exists")
        uow.records.insert(p.charity_events, code=event_code, name=name, held_on=held_on, place=place,
                           created_at=now)
        return {"code": event_code, "name": name, "held_on": held_on.isoformat(), "place": place}

    return run_once(uow, key=None, kind="event", request=body, books=[], perform=perform)


def _donor(uow, donor_id: str, field: str = "donor_id") -> dict:
    donor = uow.records.one(p.donors, p.donors.c.id == donor_id)
    if donor is None:
        raise InvalidInput(field, f"donor {donor_id} is not registered")
    return donor


def _event(uow, event_code: str, field: str = "event_code") -> dict:
    event = uow.records.one(p.charity_events, p.charity_events.c.code == event_code)
    if event is None:
        raise NotFound(f"event {event_code} does not exist") if field is None else \
            InvalidInput(field, f"event {event_code} does not exist")
    return event


def record_donation(cmd: RecordDonation, body: dict, uow: FundsUnitOfWork) -> tuple[int, dict]:
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK

    def perform(now):
        donor = _donor(uow, cmd.donor_id)
        if cmd.event_code:
            _event(uow, cmd.event_code)
        asset = f"{b}:bank" if cmd.kind == "cash" else f"{b}:in-kind"
        memo = f"donation from {donor_display_name(donor['kind'], donor['name'])}"
        [transfer] = post(uow, [TransferDraft(b, cmd.key, "donation", memo[:300], (
            debit(asset, cmd.amount), credit(f"{b}:revenue:donation", cmd.amount)), cmd.received_at)], now)
        received_at = transfer.occurred_at
        year = local_year(received_at)
        number = uow.records.next_receipt_number(year)
        donation_id = str(uuid.uuid4())
        uow.records.insert(p.donations, id=donation_id, donor_id=donor["id"], kind=cmd.kind, amount=cmd.amount,
                           description=cmd.description, valuation_basis=cmd.valuation_basis,
                           event_code=cmd.event_code, receipt_year=year, receipt_number=number,
                           transfer_id=transfer.id, received_at=received_at)
        result = {"id": donation_id, "donor_id": donor["id"], "kind": cmd.kind, "amount": format_fen(cmd.amount),
                  "receipt_number": receipt_number(year, number), "event_code": cmd.event_code,
                  "received_at": received_at.isoformat(), "transfer_id": transfer.id}
        uow.emit("doorstep.funds.donation.received.v1", subject=f"donation/{donation_id}", data={
            "donation_id": donation_id, "kind": cmd.kind, "amount": format_fen(cmd.amount), "currency": "CNY",
            "donor": {"donor_id": donor["id"], "kind": donor["kind"],
                      "display_name": donor_display_name(donor["kind"], donor["name"])},
            "receipt_number": result["receipt_number"], "event_code": cmd.event_code,
            "received_at": received_at.isoformat(), "transfer_id": transfer.id,
            "thank_you": True,
        })
        return result

    return run_once(uow, key=cmd.key, kind="donation", request=body, books=[b], perform=perform)


def _load_lot(uow, lot_id: str, lock: bool = False) -> tuple[Lot, dict]:
    row = uow.records.one(p.lots, p.lots.c.id == lot_id, lock=lock)
    if row is None:
        raise NotFound(f"lot {lot_id} does not exist")
    bids = uow.records.all(p.bids, p.bids.c.lot_id == lot_id, p.bids.c.id)
    lot = Lot(row["id"], row["event_code"], row["lot_number"], row["title"], row["donor_id"], row["status"],
              [(b["bidder"], b["amount"]) for b in bids], row["hammer_price"], row["buyer"])
    return lot, row


def lot_view(lot: Lot) -> dict:
    best = lot.highest_bid
    return {"id": lot.id, "event_code": lot.event_code, "lot_number": lot.lot_number, "title": lot.title,
            "donor_id": lot.donor_id, "status": lot.status, "bids": len(lot.bids),
            "highest_bid": format_fen(best[1]) if best else None,
            "hammer_price": format_fen(lot.hammer_price) if lot.hammer_price is not None else None,
            "buyer": lot.buyer}


def add_lot(event_code: str, body: dict, uow: FundsUnitOfWork) -> tuple[int, dict]:
    lot_number = fields.whole_number(body, "lot_number", low=1, high=999)
    title = text(body, "title", max_len=120)
    donor_id = text(body, "donor_id", max_len=36)

    def perform(now):
        _event(uow, event_code, field=None)
        _donor(uow, donor_id)
        if uow.records.one(p.lots, (p.lots.c.event_code == event_code) & (p.lots.c.lot_number == lot_number)):
            raise Conflict(f"event {event_code} already has lot {lot_number}")
        lot = Lot(str(uuid.uuid4()), event_code, lot_number, title, donor_id)
        uow.records.insert(p.lots, id=lot.id, event_code=event_code, lot_number=lot_number, title=title,
                           donor_id=donor_id, status=lot.status)
        return lot_view(lot)

    return run_once(uow, key=None, kind="lot", request=body, books=[], perform=perform)


def place_bid(lot_id: str, body: dict, uow: FundsUnitOfWork) -> tuple[int, dict]:
    bidder = text(body, "bidder", max_len=100)
    amount = parse_yuan(body.get("amount"), "amount")

    def perform(now):
        lot, _ = _load_lot(uow, lot_id, lock=True)  # bids on one lot queue up behind each other
        lot.place_bid(bidder, amount)
        uow.records.insert(p.bids, lot_id=lot_id, bidder=bidder, amount=amount, placed_at=now)
        return lot_view(lot)

    return run_once(uow, key=None, kind="bid", request=body, books=[], perform=perform)


def hammer_lot(lot_id: str, body: dict, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """The hammer falls: a sold lot's price becomes a receivable from the buyer and auction revenue."""
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK

    def perform(now):
        lot, row = _load_lot(uow, lot_id, lock=True)
        lot.hammer()
        occurred_at = fields.moment(body, "at") or now
        transfer_id = None
        if lot.status == "sold":
            [transfer] = post(uow, [TransferDraft(
                b, key, "auction", f"{lot.event_code} lot {lot.lot_number} {lot.title}"[:300],
                (debit(f"{b}:receivables", lot.hammer_price), credit(f"{b}:revenue:auction", lot.hammer_price)),
                fields.moment(body, "at"))], now)
            transfer_id, occurred_at = transfer.id, transfer.occurred_at
        uow.records.update(p.lots, p.lots.c.id == lot_id, status=lot.status, hammer_price=lot.hammer_price,
                           buyer=lot.buyer, settled_transfer_id=transfer_id)
        donor = _donor(uow, lot.donor_id)
        uow.emit("doorstep.funds.auction.settled.v1", subject=f"lot/{lot.id}", data={
            "lot_id": lot.id, "event_code": lot.event_code, "lot_number": lot.lot_number, "title": lot.title,
            "donor": {"donor_id": donor["id"], "kind": donor["kind"],
                      "display_name": donor_display_name(donor["kind"], donor["name"])},
            "sold": lot.status == "sold",
            "hammer_price": format_fen(lot.hammer_price) if lot.hammer_price is not None else None,
            "settled_at": occurred_at.isoformat(), "transfer_id": transfer_id,
        })
        return {**lot_view(lot), "transfer_id": transfer_id}

    return run_once(uow, key=key, kind="hammer", request={"lot_id": lot_id, **body}, books=[b], perform=perform)


def record_lot_payment(lot_id: str, body: dict, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """The buyer pays: the receivable becomes cash in the bank."""
    b = FOUNDATION_BOOK

    def perform(now):
        lot, _ = _load_lot(uow, lot_id, lock=True)
        lot.record_payment()
        [transfer] = post(uow, [TransferDraft(
            b, key, "payment", f"payment for {lot.event_code} lot {lot.lot_number}",
            (debit(f"{b}:bank", lot.hammer_price), credit(f"{b}:receivables", lot.hammer_price)),
            fields.moment(body, "paid_at"))], now)
        uow.records.update(p.lots, p.lots.c.id == lot_id, status=lot.status, paid_transfer_id=transfer.id)
        return {**lot_view(lot), "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="lot-payment", request={"lot_id": lot_id, **body}, books=[b],
                    perform=perform)


def record_market_sale(event_code: str, body: dict, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK
    description = text(body, "description", max_len=200)
    amount = parse_yuan(body.get("amount"), "amount")

    def perform(now):
        _event(uow, event_code, field=None)
        [transfer] = post(uow, [TransferDraft(b, key, "market", f"{event_code} market: {description}"[:300],
                                              (debit(f"{b}:bank", amount), credit(f"{b}:revenue:market", amount)),
                                              fields.moment(body, "sold_at"))], now)
        sold_at = transfer.occurred_at
        sale_id = str(uuid.uuid4())
        uow.records.insert(p.market_sales, id=sale_id, event_code=event_code, description=description,
                           amount=amount, transfer_id=transfer.id, sold_at=sold_at)
        return {"id": sale_id, "event_code": event_code, "description": description, "amount": format_fen(amount),
                "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="market-sale", request={"event_code": event_code, **body}, books=[b],
                    perform=perform)


def _event_proceeds(uow, event_code: str) -> tuple[int, int]:
    """(auction hammer total of sold lots, market sales total) of an event."""
    auction = uow.records.scalar(sa.select(sa.func.coalesce(sa.func.sum(p.lots.c.hammer_price), 0))
                                 .where(p.lots.c.event_code == event_code, p.lots.c.status.in_(("sold", "paid"))))
    market = uow.records.scalar(sa.select(sa.func.coalesce(sa.func.sum(p.market_sales.c.amount), 0))
                                .where(p.market_sales.c.event_code == event_code))
    return int(auction), int(market)


def found_fund(body: dict, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """Found a restricted special fund (专项基金) from named sources: an event's proceeds, donations."""
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK
    fund_code, name, purpose, sources = parse_found_fund(body)

    def perform(now):
        if uow.records.one(p.special_funds, p.special_funds.c.code == fund_code):
            raise Conflict(f"special fund {fund_code} already exists")
        amounts = []
        for index, source in enumerate(sources):
            if source.kind == "event":
                _event(uow, source.ref, field=f"sources/{index}/event")
                amount = sum(_event_proceeds(uow, source.ref))
            else:
                donation = uow.records.one(p.donations, p.donations.c.id == source.ref)
                if donation is None:
                    raise InvalidInput(f"sources/{index}/donation", f"donation {source.ref} does not exist")
                amount = donation["amount"]
            used = uow.records.one(p.fund_sources, (p.fund_sources.c.source_kind == source.kind)
                                   & (p.fund_sources.c.source_ref == source.ref))
            if used:
                raise Conflict(f"{source.kind} {source.ref} already founded fund {used['fund_code']}")
            if amount <= 0:
                raise InvalidInput(f"sources/{index}", f"{source.kind} {source.ref} has raised nothing")
            amounts.append(amount)
        total = sum(amounts)
        account = special_fund_account(fund_code, name)
        [transfer] = post(uow, [TransferDraft(
            b, key, "fund-founding", f"found special fund {fund_code} {name}"[:300],
            (debit(f"{b}:unrestricted", total), credit(account.code, total)), fields.moment(body, "founded_at"))],
            now, [account])
        founded_at = transfer.occurred_at
        uow.records.insert(p.special_funds, code=fund_code, name=name, purpose=purpose, account_code=account.code,
                           founding_amount=total, transfer_id=transfer.id, founded_at=founded_at)
        source_views = []
        for source, amount in zip(sources, amounts):
            uow.records.insert(p.fund_sources, source_kind=source.kind, source_ref=source.ref, fund_code=fund_code,
                               amount=amount)
            source_views.append({"kind": source.kind, "ref": source.ref, "amount": format_fen(amount)})
        result = {"code": fund_code, "name": name, "purpose": purpose, "amount": format_fen(total),
                  "account": account.code, "sources": source_views, "founded_at": founded_at.isoformat(),
                  "transfer_id": transfer.id}
        uow.emit("doorstep.funds.fund.founded.v1", subject=f"fund/{fund_code}", data={
            "fund_code": fund_code, "name": name, "purpose": purpose, "amount": format_fen(total),
            "sources": source_views, "founded_at": founded_at.isoformat(), "transfer_id": transfer.id})
        return result

    return run_once(uow, key=key, kind="fund", request=body, books=[b], perform=perform)


def special_fund(uow, fund_code: str) -> dict:
    fund = uow.records.one(p.special_funds, p.special_funds.c.code == fund_code)
    if fund is None:
        raise NotFound(f"special fund {fund_code} does not exist")
    return fund


def grant_from_fund(fund_code: str, body: dict, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """Pay out of a special fund, only for its purpose and never beyond what it holds."""
    b = FOUNDATION_BOOK
    purpose = fields.code(body, "purpose")
    recipient = text(body, "recipient", max_len=100)
    project = fields.code(body, "project")
    amount = parse_yuan(body.get("amount"), "amount")

    def perform(now):
        fund = special_fund(uow, fund_code)
        check_grant_purpose(fund["purpose"], purpose)
        expense = grant_expense_account(fund_code, project)
        [transfer] = post(uow, [TransferDraft(
            b, key, "grant", f"grant from {fund_code} to {recipient} for {project}"[:300],
            (debit(expense.code, amount), credit(f"{b}:bank", amount)), fields.moment(body, "granted_at"))],
            now, [expense])
        granted_at = transfer.occurred_at
        grant_id = str(uuid.uuid4())
        uow.records.insert(p.grants, id=grant_id, fund_code=fund_code, purpose=purpose, recipient=recipient,
                           project_id=project, amount=amount, transfer_id=transfer.id, granted_at=granted_at)
        uow.emit("doorstep.funds.expense.posted.v1", subject=f"grant/{grant_id}", data={
            "expense_id": grant_id, "book": b, "fund_code": fund_code, "project_id": project,
            "amount": format_fen(amount), "payee": recipient, "spent_at": granted_at.isoformat(),
            "transfer_id": transfer.id})
        return {"id": grant_id, "fund_code": fund_code, "purpose": purpose, "recipient": recipient,
                "project": project, "amount": format_fen(amount), "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="grant", request={"fund_code": fund_code, **body}, books=[b],
                    perform=perform)


def event_report(event_code: str, uow: FundsUnitOfWork) -> dict:
    with uow:
        event = _event(uow, event_code, field=None)
        lot_rows = uow.records.all(p.lots, p.lots.c.event_code == event_code, p.lots.c.lot_number)
        donors_by_id = {r["id"]: r for r in uow.records.all(p.donors)}
        sales = uow.records.all(p.market_sales, p.market_sales.c.event_code == event_code, p.market_sales.c.sold_at)
        gifts = uow.records.all(p.donations, p.donations.c.event_code == event_code, p.donations.c.received_at)
        auction, market = _event_proceeds(uow, event_code)
    donated = sum(g["amount"] for g in gifts)
    return {
        "event": {"code": event["code"], "name": event["name"], "held_on": event["held_on"].isoformat(),
                  "place": event["place"]},
        "lots": [{"lot_number": r["lot_number"], "title": r["title"], "status": r["status"],
                  "donor": donor_display_name(donors_by_id[r["donor_id"]]["kind"], donors_by_id[r["donor_id"]]["name"]),
                  "hammer_price": format_fen(r["hammer_price"]) if r["hammer_price"] is not None else None}
                 for r in lot_rows],
        "lots_sold": sum(1 for r in lot_rows if r["status"] in ("sold", "paid")),
        "lots_paid": sum(1 for r in lot_rows if r["status"] == "paid"),
        "auction_total": format_fen(auction),
        "market_sales": len(sales),
        "market_total": format_fen(market),
        "proceeds_total": format_fen(auction + market),
        "donations_total": format_fen(donated),
        "total": format_fen(auction + market + donated),
    }


def fund_report(fund_code: str, uow: FundsUnitOfWork) -> dict:
    with uow:
        fund = special_fund(uow, fund_code)
        sources = uow.records.all(p.fund_sources, p.fund_sources.c.fund_code == fund_code)
        fund_grants = uow.records.all(p.grants, p.grants.c.fund_code == fund_code, p.grants.c.granted_at)
        balance = uow.ledger.balance(fund["account_code"])
    granted = sum(g["amount"] for g in fund_grants)
    return {"code": fund["code"], "name": fund["name"], "purpose": fund["purpose"], "account": fund["account_code"],
            "founded_at": shanghai(fund["founded_at"]), "founding_amount": format_fen(fund["founding_amount"]),
            "sources": [{"kind": s["source_kind"], "ref": s["source_ref"], "amount": format_fen(s["amount"])}
                        for s in sources],
            "grants": [{"id": g["id"], "recipient": g["recipient"], "project": g["project_id"],
                        "amount": format_fen(g["amount"]), "granted_at": shanghai(g["granted_at"])}
                       for g in fund_grants],
            "granted_total": format_fen(granted), "available": format_fen(balance["available"])}


def donor_statement(donor_id: str, uow: FundsUnitOfWork) -> dict:
    with uow:
        donor = uow.records.one(p.donors, p.donors.c.id == donor_id)
        if donor is None:
            raise NotFound(f"donor {donor_id} does not exist")
        gifts = uow.records.all(p.donations, p.donations.c.donor_id == donor_id, p.donations.c.received_at)
        donated_lots = uow.records.all(p.lots, p.lots.c.donor_id == donor_id, p.lots.c.event_code,
                                       p.lots.c.lot_number)
    lots_raised = sum(lot["hammer_price"] or 0 for lot in donated_lots if lot["status"] in ("sold", "paid"))
    return {
        "donor": {"id": donor["id"], "kind": donor["kind"], "name": donor_display_name(donor["kind"], donor["name"])},
        "donations": [{"id": g["id"], "kind": g["kind"], "amount": format_fen(g["amount"]),
                       "description": g["description"], "event_code": g["event_code"],
                       "receipt_number": receipt_number(g["receipt_year"], g["receipt_number"]),
                       "received_at": shanghai(g["received_at"])} for g in gifts],
        "lots_donated": [{"event_code": lot["event_code"], "lot_number": lot["lot_number"], "title": lot["title"],
                          "status": lot["status"],
                          "hammer_price": format_fen(lot["hammer_price"]) if lot["hammer_price"] is not None else None}
                         for lot in donated_lots],
        "donations_total": format_fen(sum(g["amount"] for g in gifts)),
        "lots_raised_total": format_fen(lots_raised),
    }


def foundation_totals(year: int | None, uow: FundsUnitOfWork) -> dict:
    """Totals per event, per special fund and per donor (for a year of receipt, or all years)."""
    with uow:
        gifts = uow.records.all(p.donations, sa.true() if year is None else p.donations.c.receipt_year == year)
        donors_by_id = {r["id"]: r for r in uow.records.all(p.donors)}
        events = uow.records.all(p.charity_events)
        funds = uow.records.all(p.special_funds)
        fund_balances = {f["code"]: uow.ledger.balance(f["account_code"]) for f in funds}
        per_event = []
        for event in events:
            if year is not None and event["held_on"].year != year:
                continue
            auction, market = _event_proceeds(uow, event["code"])
            donated = sum(g["amount"] for g in gifts if g["event_code"] == event["code"])
            per_event.append({"code": event["code"], "name": event["name"], "auction": format_fen(auction),
                              "market": format_fen(market), "donations": format_fen(donated),
                              "total": format_fen(auction + market + donated)})
    per_donor: dict[str, int] = {}
    for gift in gifts:
        per_donor[gift["donor_id"]] = per_donor.get(gift["donor_id"], 0) + gift["amount"]
    return {
        "year": year,
        "donations_total": format_fen(sum(g["amount"] for g in gifts)),
        "per_event": per_event,
        "per_fund": [{"code": f["code"], "name": f["name"], "founded_with": format_fen(f["founding_amount"]),
                      "available": format_fen(fund_balances[f["code"]]["available"])} for f in funds],
        "per_donor": [{"donor_id": donor_id,
                       "name": donor_display_name(donors_by_id[donor_id]["kind"], donors_by_id[donor_id]["name"]),
                       "total": format_fen(total)}
                      for donor_id, total in sorted(per_donor.items(), key=lambda item: -item[1])],
    }


def transfers_page(book: str, after: int, limit: int, uow: FundsUnitOfWork) -> dict:
    with uow:
        if uow.ledger.book(book) is None:
            raise NotFound(f"book {book} does not exist")
        entries = [transfer_view(t) for t in uow.ledger.iter_transfers(book, after=after, upto=after + limit,
                                                                         batch=limit)]
    return {"book": book, "transfers": entries, "next_after": entries[-1]["sequence"] if entries else after}


def parse_as_of(value: str | None) -> datetime | None:
    if not value:
        return None
    if len(value) == 10:  # a date: the end of that day in Shanghai
        try:
            day_ = datetime.fromisoformat(value).date()
        except ValueError:
            raise InvalidInput("as_of", f"{value!r} is not a date or date-time") from None
        return datetime(day_.year, day_.month, day_.day, 23, 59, 59, 999999, tzinfo=SHANGHAI).astimezone(timezone.utc)
    return fields.moment({"as_of": value}, "as_of", None)


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
