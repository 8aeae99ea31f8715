"""The events funds publishes, one builder per event type: each payload is shaped here and nowhere else.

A use case emits what a builder returns (``uow.emit(events.donation_received(...))``); the unit of work gives it
its envelope and checks it against the type's schema (``shared/contract/schemas/funds/``). Money leaves as a
decimal string of yuan, times in ISO 8601. ``donor`` is a donor as funds stores it (``persistence.donors``): its
``id``, ``kind`` and ``name``; the events carry its display name only (匿名捐赠人 for an anonymous donor).
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

from shared.events import Outgoing
from shared.money import format_fen
from services.funds.domain.autonomy import BudgetLine, Hearing, Project
from services.funds.domain.chart import FOUNDATION_BOOK
from services.funds.domain.foundation import FoundFund, FundSource, Lot, RecordDonation, donor_display_name

_PREFIX = "doorstep.funds."


def _donor(donor: Mapping) -> dict:
    return {"donor_id": donor["id"], "kind": donor["kind"],
            "display_name": donor_display_name(donor["kind"], donor["name"])}


# -- the foundation -----------------------------------------------------------------------------------------

def donation_received(donation_id: str, donation: RecordDonation, donor: Mapping, receipt_number: str,
                      received_at: datetime, transfer_id: str) -> Outgoing:
    """A gift in cash or in kind was booked and its receipt numbered; notify thanks the donor."""
    return Outgoing(f"{_PREFIX}donation.received.v1", f"donation/{donation_id}", {
        "donation_id": donation_id, "kind": donation.kind, "amount": format_fen(donation.amount), "currency": "CNY",
        "donor": _donor(donor), "receipt_number": receipt_number, "event_code": donation.event_code,
        "received_at": received_at.isoformat(), "transfer_id": transfer_id, "thank_you": True,
    })


def auction_settled(lot: Lot, donor: Mapping, settled_at: datetime, transfer_id: str | None) -> Outgoing:
    """The hammer fell: the lot sold at its hammer price (a receivable, posted as ``transfer_id``) or unsold."""
    return Outgoing(f"{_PREFIX}auction.settled.v1", f"lot/{lot.id}", {
        "lot_id": lot.id, "event_code": lot.event_code, "lot_number": lot.lot_number, "title": lot.title,
        "donor": _donor(donor), "sold": lot.status == "sold",
        "hammer_price": format_fen(lot.hammer_price) if lot.hammer_price is not None else None,
        "settled_at": settled_at.isoformat(), "transfer_id": transfer_id,
    })


def fund_founded(fund: FoundFund, sources: Sequence[tuple[FundSource, int]], founded_at: datetime,
                 transfer_id: str) -> Outgoing:
    """A special fund (专项基金) was founded with what each of its sources raised."""
    return Outgoing(f"{_PREFIX}fund.founded.v1", f"fund/{fund.code}", {
        "fund_code": fund.code, "name": fund.name, "purpose": fund.purpose,
        "amount": format_fen(sum(amount for _, amount in sources)),
        "sources": [{"kind": source.kind, "ref": source.ref, "amount": format_fen(amount)}
                    for source, amount in sources],
        "founded_at": founded_at.isoformat(), "transfer_id": transfer_id,
    })


# -- autonomy funds -----------------------------------------------------------------------------------------

def project_approved(project: Project, team_name: str, team_size: int, budget: Sequence[BudgetLine],
                     hearing: Hearing, approved_at: datetime, transfer_id: str) -> Outgoing:
    """事前听证 approved the project; its budget was reserved from the area's fund by ``transfer_id``."""
    return Outgoing(f"{_PREFIX}project.approved.v1", f"project/{project.id}", {
        "project_id": project.id, "area": project.area, "year": project.year, "title": project.title,
        "team": {"name": team_name, "members": team_size},
        "budget_total": format_fen(sum(line.amount for line in budget)),
        "budget": [{"line": line.line_no, "name": line.name, "amount": format_fen(line.amount)} for line in budget],
        "hearing": {"held_on": hearing.held_on.isoformat(), "for": hearing.votes_for,
                    "against": hearing.votes_against, "abstain": hearing.abstain},
        "approved_at": approved_at.isoformat(), "transfer_id": transfer_id,
    })


def expense_posted(expense_id: str, book: str, amount: int, payee: str, spent_at: datetime, transfer_id: str, *,
                   project_id: str | None, line: int | None = None, receipt_ref: str | None = None,
                   fund_code: str | None = None) -> Outgoing:
    """Money was spent: an area's project expense against budget ``line`` (with its receipt), or a foundation
    grant, out of special fund ``fund_code`` or (None) its unrestricted money."""
    data = {"expense_id": expense_id, "book": book, "project_id": project_id}
    if book == FOUNDATION_BOOK:
        subject = f"grant/{expense_id}"
        data["fund_code"] = fund_code
    else:
        subject = f"expense/{expense_id}"
        data.update(line=line, receipt_ref=receipt_ref)
    data.update(amount=format_fen(amount), payee=payee, spent_at=spent_at.isoformat(), transfer_id=transfer_id)
    return Outgoing(f"{_PREFIX}expense.posted.v1", subject, data)


def project_closed(project: Project, budget_total: int, spent: int, released: int, satisfaction: int,
                   closed_at: datetime, transfer_id: str | None) -> Outgoing:
    """After 事后评议 the project closed; what its budget lines had left (``released``) went back to the fund."""
    return Outgoing(f"{_PREFIX}project.closed.v1", f"project/{project.id}", {
        "project_id": project.id, "area": project.area, "year": project.year, "title": project.title,
        "budget_total": format_fen(budget_total), "spent": format_fen(spent), "released": format_fen(released),
        "satisfaction": satisfaction, "closed_at": closed_at.isoformat(), "transfer_id": transfer_id,
    })


# -- disclosure ---------------------------------------------------------------------------------------------

def disclosure_published(disclosure_id: str, book: str, area: str | None, year: int, chain: Mapping,
                         published_at: datetime) -> Outgoing:
    """A year's report (公示) of ``book`` was published with the chain head (book, sequence, head) it was drawn
    from; anyone can fetch it and its ledger export at the paths given."""
    return Outgoing(f"{_PREFIX}disclosure.published.v1", f"disclosure/{disclosure_id}", {
        "disclosure_id": disclosure_id, "book": book, "area": area, "year": year,
        "chain": {"book": chain["book"], "sequence": chain["sequence"], "head": chain["head"]},
        "json_path": f"/funds/disclosures/{disclosure_id}", "html_path": f"/funds/disclosures/{disclosure_id}/html",
        "published_at": published_at.isoformat(),
    })
