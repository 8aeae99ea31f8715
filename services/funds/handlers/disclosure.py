"""Disclosure (公示): a year's report of a book, published with the chain head it was drawn from, and the ledger
export anyone can check against that head."""
from __future__ import annotations

import uuid

from shared.errors import InvalidInput, NotFound
from shared.money import format_fen
from services.funds import events
from services.funds import persistence as p
from services.funds.domain.chart import FOUNDATION_BOOK, area_book
from services.funds.repositories import FundsUnitOfWork
from services.funds.handlers.autonomy import project_report, project_spent
from services.funds.handlers.foundation import event_report_of, foundation_totals_of, fund_report_of
from services.funds.handlers.ledger import request_of, run_once, shanghai, transfer_view


def publish_disclosure(year: int, area: str | None, key: str, uow: FundsUnitOfWork) -> tuple[int, dict]:
    """Publish a year's report (公示) of the foundation's book, or of an area's autonomy fund, with the chain head
    it was drawn from: anyone holding the disclosure can fetch the ledger export and check it against that head."""
    book = area_book(area) if area else FOUNDATION_BOOK

    def perform(now):
        head = uow.ledger.book(book)
        if head is None:
            raise InvalidInput("area" if area else "book", f"book {book} has no entries")
        report = _area_report(uow, area, year) if area else _foundation_report(uow, year)
        disclosure_id = str(uuid.uuid4())
        chain = {"book": book, "sequence": head["head_sequence"], "head": head["head_hash"]}
        document = {"id": disclosure_id, "book": book, "year": year, "published_at": now.isoformat(),
                    "published_at_local": shanghai(now), "chain": chain, **report}
        uow.records.insert(p.disclosures, id=disclosure_id, book=book, year=year,
                           chain_sequence=head["head_sequence"], chain_head=head["head_hash"], body=document,
                           published_at=now)
        uow.emit(events.disclosure_published(disclosure_id, book, area, year, chain, now))
        return document

    return run_once(uow, key=key, kind="disclosure", request=request_of(year=year, area=area), books=[book],
                    perform=perform)


def _area_report(uow, area: str, year: int) -> dict:
    book = area_book(area)
    allocation = uow.records.one(p.allocations, (p.allocations.c.area == area) & (p.allocations.c.year == year))
    rows = uow.records.all(p.projects, (p.projects.c.area == area) & (p.projects.c.year == year), p.projects.c.id)
    projects_report = [project_report(uow, row) for row in rows]
    unreserved = uow.ledger.balance(f"{book}:unrestricted")
    bank = uow.ledger.balance(f"{book}:bank")
    return {"kind": "autonomy-fund", "area": area,
            "allocation": format_fen(allocation["amount"]) if allocation else format_fen(0),
            "projects": projects_report,
            "spent_total": format_fen(sum(project_spent(uow, row["id"]) for row in rows)),
            "unreserved_fund": format_fen(unreserved["available"]), "bank": format_fen(bank["balance"])}


def _foundation_report(uow, year: int) -> dict:
    totals = foundation_totals_of(uow, year)
    funds = [fund_report_of(uow, f["code"]) for f in uow.records.all(p.special_funds)]
    reports = [event_report_of(uow, event["code"]) for event in uow.records.all(p.charity_events)
               if event["held_on"].year == year]
    return {"kind": "foundation", **totals, "events": reports, "funds": funds}


def get_disclosure(disclosure_id: str, uow: FundsUnitOfWork) -> dict:
    with uow:
        row = uow.records.one(p.disclosures, p.disclosures.c.id == disclosure_id)
    if row is None:
        raise NotFound(f"disclosure {disclosure_id} does not exist")
    return row["body"]


def disclosure_ledger(disclosure_id: str, uow: FundsUnitOfWork) -> dict:
    """The book's entries up to the disclosure's chain head, with the chart: everything needed to verify."""
    with uow:
        row = uow.records.one(p.disclosures, p.disclosures.c.id == disclosure_id)
        if row is None:
            raise NotFound(f"disclosure {disclosure_id} does not exist")
        chart = uow.ledger.chart(row["book"])
        entries = [transfer_view(t) for t in uow.ledger.iter_transfers(row["book"], upto=row["chain_sequence"])]
    return {"book": row["book"], "chain": {"sequence": row["chain_sequence"], "head": row["chain_head"]},
            "accounts": [{"code": s.code, "name": s.name, "kind": s.kind, "normal_side": s.normal_side}
                         for s in chart],
            "transfers": entries}
