"""The charity foundation's use cases: donors and donations with their receipts, charity events with their
auctions and market sales, special funds and their grants, and the foundation's reports."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from shared.errors import Conflict, InvalidInput, NotFound
from shared.money import format_fen
from services.funds import events
from services.funds import persistence as p
from services.funds.domain.chart import FOUNDATION_BOOK, grant_expense_account, special_fund_account
from services.funds.domain.foundation import (
    FoundFund, Grant, Lot, MarketSale, NewEvent, NewLot, RecordDonation, RegisterDonor, check_grant_purpose,
    donor_display_name, receipt_number,
)
from services.funds.domain.ledger import TransferDraft, credit, debit
from services.funds.repositories import FundsUnitOfWork
from services.funds.handlers.ledger import ensure_book, local_year, post, request_of, run_once, shanghai


def register_donor(cmd: RegisterDonor, key: str | None, uow: FundsUnitOfWork) -> tuple[int, dict]:
    def perform(now):
        donor_id = str(uuid.uuid4())
        uow.records.insert(p.donors, id=donor_id, kind=cmd.kind, name=cmd.name, created_at=now)
        return {"id": donor_id, "kind": cmd.kind, "name": donor_display_name(cmd.kind, cmd.name)}

    return run_once(uow, key=key, kind="donor", request=request_of(cmd), books=[], perform=perform)


def create_event(event: NewEvent, uow: FundsUnitOfWork) -> tuple[int, dict]:
    def perform(now):
        if uow.records.one(p.charity_events, p.charity_events.c.code == event.code):
            raise Conflict(f"event {event.code} already exists")
        uow.records.insert(p.charity_events, code=event.code, name=event.name, held_on=event.held_on,
                           place=event.place, created_at=now)
        return {"code": event.code, "name": event.name, "held_on": event.held_on.isoformat(), "place": event.place}

    return run_once(uow, key=None, kind="event", request=request_of(event), books=[], perform=perform)


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


def record_donation(cmd: RecordDonation, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK

    def perform(now):
        donor = _donor(uow, cmd.donor_id)
        if cmd.event_code:
            _event(uow, cmd.event_code)
        asset = f"{b}:bank" if cmd.kind == "cash" else f"{b}:in-kind"
        memo = f"donation from {donor_display_name(donor['kind'], donor['name'])}"
        [transfer] = post(uow, [TransferDraft(b, key, "donation", memo[:300], (
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
        uow.emit(events.donation_received(donation_id, cmd, donor, result["receipt_number"], received_at,
                                          transfer.id))
        return result

    return run_once(uow, key=key, kind="donation", request=request_of(cmd), books=[b], perform=perform)


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


def add_lot(event_code: str, new: NewLot, uow: FundsUnitOfWork) -> tuple[int, dict]:
    def perform(now):
        _event(uow, event_code, field=None)
        _donor(uow, new.donor_id)
        if uow.records.one(p.lots, (p.lots.c.event_code == event_code) & (p.lots.c.lot_number == new.lot_number)):
            raise Conflict(f"event {event_code} already has lot {new.lot_number}")
        lot = Lot(str(uuid.uuid4()), event_code, new.lot_number, new.title, new.donor_id)
        uow.records.insert(p.lots, id=lot.id, event_code=event_code, lot_number=lot.lot_number, title=lot.title,
                           donor_id=lot.donor_id, status=lot.status)
        return lot_view(lot)

    return run_once(uow, key=None, kind="lot", request=request_of(new, event_code=event_code), books=[],
                    perform=perform)


def place_bid(lot_id: str, bidder: str, amount: int, uow: FundsUnitOfWork) -> tuple[int, dict]:
    def perform(now):
        lot, _ = _load_lot(uow, lot_id, lock=True)  # bids on one lot queue up behind each other
        lot.place_bid(bidder, amount)
        uow.records.insert(p.bids, lot_id=lot_id, bidder=bidder, amount=amount, placed_at=now)
        return lot_view(lot)

    return run_once(uow, key=None, kind="bid", request=request_of(lot_id=lot_id, bidder=bidder, amount=amount),
                    books=[], perform=perform)


def hammer_lot(lot_id: str, at: datetime | None, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """The hammer falls: a sold lot's price becomes a receivable from the buyer and auction revenue."""
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK

    def perform(now):
        lot, row = _load_lot(uow, lot_id, lock=True)
        lot.hammer()
        occurred_at = at or now
        transfer_id = None
        if lot.status == "sold":
            [transfer] = post(uow, [TransferDraft(
                b, key, "auction", f"{lot.event_code} lot {lot.lot_number} {lot.title}"[:300],
                (debit(f"{b}:receivables", lot.hammer_price), credit(f"{b}:revenue:auction", lot.hammer_price)),
                at)], now)
            transfer_id, occurred_at = transfer.id, transfer.occurred_at
        uow.records.update(p.lots, p.lots.c.id == lot_id, status=lot.status, hammer_price=lot.hammer_price,
                           buyer=lot.buyer, settled_transfer_id=transfer_id)
        uow.emit(events.auction_settled(lot, _donor(uow, lot.donor_id), occurred_at, transfer_id))
        return {**lot_view(lot), "transfer_id": transfer_id}

    return run_once(uow, key=key, kind="hammer", request=request_of(lot_id=lot_id, at=at), books=[b],
                    perform=perform)


def record_lot_payment(lot_id: str, paid_at: datetime | None, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """The buyer pays: the receivable becomes cash in the bank."""
    b = FOUNDATION_BOOK

    def perform(now):
        lot, _ = _load_lot(uow, lot_id, lock=True)
        lot.record_payment()
        [transfer] = post(uow, [TransferDraft(
            b, key, "payment", f"payment for {lot.event_code} lot {lot.lot_number}",
            (debit(f"{b}:bank", lot.hammer_price), credit(f"{b}:receivables", lot.hammer_price)),
            paid_at)], now)
        uow.records.update(p.lots, p.lots.c.id == lot_id, status=lot.status, paid_transfer_id=transfer.id)
        return {**lot_view(lot), "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="lot-payment", request=request_of(lot_id=lot_id, paid_at=paid_at),
                    books=[b], perform=perform)


def record_market_sale(event_code: str, sale: MarketSale, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK

    def perform(now):
        _event(uow, event_code, field=None)
        [transfer] = post(uow, [TransferDraft(
            b, key, "market", f"{event_code} market: {sale.description}"[:300],
            (debit(f"{b}:bank", sale.amount), credit(f"{b}:revenue:market", sale.amount)), sale.sold_at)], now)
        sold_at = transfer.occurred_at
        sale_id = str(uuid.uuid4())
        uow.records.insert(p.market_sales, id=sale_id, event_code=event_code, description=sale.description,
                           amount=sale.amount, transfer_id=transfer.id, sold_at=sold_at)
        return {"id": sale_id, "event_code": event_code, "description": sale.description,
                "amount": format_fen(sale.amount), "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="market-sale", request=request_of(sale, event_code=event_code), books=[b],
                    perform=perform)


def _event_proceeds(uow, event_code: str) -> tuple[int, int]:
    """(auction hammer total of sold lots, market sales total) of an event."""
    auction = uow.records.scalar(sa.select(sa.func.coalesce(sa.func.sum(p.lots.c.hammer_price), 0))
                                 .where(p.lots.c.event_code == event_code, p.lots.c.status.in_(("sold", "paid"))))
    market = uow.records.scalar(sa.select(sa.func.coalesce(sa.func.sum(p.market_sales.c.amount), 0))
                                .where(p.market_sales.c.event_code == event_code))
    return int(auction), int(market)


def found_fund(fund: FoundFund, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """Found a restricted special fund (专项基金) from named sources: an event's proceeds, donations."""
    ensure_book(uow, FOUNDATION_BOOK)
    b = FOUNDATION_BOOK
    fund_code, name, purpose, sources = fund.code, fund.name, fund.purpose, fund.sources

    def perform(now):
        if uow.records.one(p.special_funds, p.special_funds.c.code == fund_code):
            raise Conflict(f"special fund {fund_code} already exists")
        amounts = []
        for index, source in enumerate(sources):
            if source.kind == "event":
                _event(uow, source.ref, field=f"sources[{index}].event")
                amount = sum(_event_proceeds(uow, source.ref))
            else:
                donation = uow.records.one(p.donations, p.donations.c.id == source.ref)
                if donation is None:
                    raise InvalidInput(f"sources[{index}].donation", f"donation {source.ref} does not exist")
                amount = donation["amount"]
            used = uow.records.one(p.fund_sources, (p.fund_sources.c.source_kind == source.kind)
                                   & (p.fund_sources.c.source_ref == source.ref))
            if used:
                raise Conflict(f"{source.kind} {source.ref} already founded fund {used['fund_code']}")
            if amount <= 0:
                raise InvalidInput(f"sources[{index}]", f"{source.kind} {source.ref} has raised nothing")
            amounts.append(amount)
        total = sum(amounts)
        account = special_fund_account(fund_code, name)
        [transfer] = post(uow, [TransferDraft(
            b, key, "fund-founding", f"found special fund {fund_code} {name}"[:300],
            (debit(f"{b}:unrestricted", total), credit(account.code, total)), fund.founded_at)],
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
        uow.emit(events.fund_founded(fund, list(zip(sources, amounts)), founded_at, transfer.id))
        return result

    return run_once(uow, key=key, kind="fund", request=request_of(fund), books=[b], perform=perform)


def special_fund(uow, fund_code: str) -> dict:
    fund = uow.records.one(p.special_funds, p.special_funds.c.code == fund_code)
    if fund is None:
        raise NotFound(f"special fund {fund_code} does not exist")
    return fund


def grant_from_fund(fund_code: str, grant: Grant, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """Pay out of a special fund, only for its purpose and never beyond what it holds."""
    b = FOUNDATION_BOOK
    purpose, recipient, project, amount = grant.purpose, grant.recipient, grant.project, grant.amount

    def perform(now):
        fund = special_fund(uow, fund_code)
        check_grant_purpose(fund["purpose"], purpose)
        expense = grant_expense_account(fund_code, project)
        [transfer] = post(uow, [TransferDraft(
            b, key, "grant", f"grant from {fund_code} to {recipient} for {project}"[:300],
            (debit(expense.code, amount), credit(f"{b}:bank", amount)), grant.granted_at)],
            now, [expense])
        granted_at = transfer.occurred_at
        grant_id = str(uuid.uuid4())
        uow.records.insert(p.grants, id=grant_id, fund_code=fund_code, purpose=purpose, recipient=recipient,
                           project_id=project, amount=amount, transfer_id=transfer.id, granted_at=granted_at)
        uow.emit(events.expense_posted(grant_id, b, amount, recipient, granted_at, transfer.id, project_id=project,
                                       fund_code=fund_code))
        return {"id": grant_id, "fund_code": fund_code, "purpose": purpose, "recipient": recipient,
                "project": project, "amount": format_fen(amount), "transfer_id": transfer.id}

    return run_once(uow, key=key, kind="grant", request=request_of(grant, fund_code=fund_code), books=[b],
                    perform=perform)


# Each report has a reader that opens its own unit of work and a form for a unit of work already open (a
# disclosure draws several reports inside its own transaction, under its book's lock).

def event_report(event_code: str, uow: FundsUnitOfWork) -> dict:
    with uow:
        return event_report_of(uow, event_code)


def event_report_of(uow: FundsUnitOfWork, event_code: str) -> dict:
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
        return fund_report_of(uow, fund_code)


def fund_report_of(uow: FundsUnitOfWork, fund_code: str) -> dict:
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
        return foundation_totals_of(uow, year)


def foundation_totals_of(uow: FundsUnitOfWork, year: int | None) -> dict:
    gifts = uow.records.all(p.donations, sa.true() if year is None else p.donations.c.receipt_year == year)
    donors_by_id = {r["id"]: r for r in uow.records.all(p.donors)}
    charity_events = uow.records.all(p.charity_events)
    funds = uow.records.all(p.special_funds)
    fund_balances = {f["code"]: uow.ledger.balance(f["account_code"]) for f in funds}
    per_event = []
    for event in charity_events:
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
