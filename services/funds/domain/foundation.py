"""The charity foundation's rules: donors and donations, receipt numbers, auction lots and special funds."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from shared.errors import Conflict, InvalidInput
from shared.input import text_field as text
from shared.money import format_fen, parse_yuan
from services.funds.domain.fields import code, moment

DONOR_KINDS = ("company", "individual", "anonymous")
DONATION_KINDS = ("cash", "in_kind")


@dataclasses.dataclass(frozen=True)
class RegisterDonor:
    kind: str
    name: str


def parse_register_donor(body: dict) -> RegisterDonor:
    kind = body.get("kind")
    if kind not in DONOR_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(DONOR_KINDS)}")
    if kind == "anonymous":
        return RegisterDonor(kind, "")
    return RegisterDonor(kind, text(body, "name", max_len=100))


def donor_display_name(kind: str, name: str) -> str:
    """What reports and thank-you messages show: an anonymous donor stays anonymous."""
    return "匿名捐赠人 anonymous donor" if kind == "anonymous" else name


@dataclasses.dataclass(frozen=True)
class RecordDonation:
    key: str
    donor_id: str
    kind: str
    amount: int           # cash received, or the in-kind valuation
    description: str
    valuation_basis: str  # how an in-kind gift was valued
    event_code: str | None
    received_at: datetime | None  # None: now


def parse_record_donation(body: dict, key: str) -> RecordDonation:
    kind = body.get("kind", "cash")
    if kind not in DONATION_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(DONATION_KINDS)}")
    if kind == "in_kind":
        amount = parse_yuan(body.get("valuation"), "valuation")
        description = text(body, "description", max_len=500)
        basis = text(body, "valuation_basis", max_len=200)
    else:
        amount = parse_yuan(body.get("amount"), "amount")
        description = text(body, "description", required=False, max_len=500)
        basis = ""
    event_code = code(body, "event_code") if body.get("event_code") else None
    return RecordDonation(key, text(body, "donor_id", max_len=36), kind, amount, description, basis, event_code,
                          moment(body, "received_at"))


def receipt_number(year: int, number: int) -> str:
    return f"{year}-{number:06d}"


@dataclasses.dataclass
class Lot:
    """A charity-auction lot: open for bids, then sold at the hammer (a receivable), then paid (cash)."""
    id: str
    event_code: str
    lot_number: int
    title: str
    donor_id: str
    status: str = "open"  # open → sold → paid; open → unsold
    bids: list[tuple[str, int]] = dataclasses.field(default_factory=list)  # (bidder, fen)
    hammer_price: int | None = None
    buyer: str | None = None

    @property
    def highest_bid(self) -> tuple[str, int] | None:
        return max(self.bids, key=lambda bid: bid[1]) if self.bids else None

    def place_bid(self, bidder: str, amount: int) -> None:
        if self.status != "open":
            raise Conflict(f"lot {self.lot_number} is {self.status}; bidding is over")
        best = self.highest_bid
        if best and amount <= best[1]:
            raise InvalidInput("amount", f"must be more than the highest bid {format_fen(best[1])}")
        self.bids.append((bidder, amount))

    def hammer(self) -> None:
        """The auctioneer's hammer: the highest bid buys the lot; without bids it is unsold."""
        if self.status != "open":
            raise Conflict(f"lot {self.lot_number} is already {self.status}")
        best = self.highest_bid
        if best is None:
            self.status = "unsold"
            return
        self.status, self.buyer, self.hammer_price = "sold", best[0], best[1]

    def record_payment(self) -> None:
        if self.status != "sold":
            raise Conflict(f"lot {self.lot_number} is {self.status}; only a sold lot can be paid for")
        self.status = "paid"


@dataclasses.dataclass(frozen=True)
class FundSource:
    kind: str  # "event" (its auction and market proceeds) or "donation"
    ref: str


def parse_found_fund(body: dict) -> tuple[str, str, str, list[FundSource]]:
    fund_code = code(body, "code")
    name = text(body, "name", max_len=100)
    purpose = code(body, "purpose")
    sources = body.get("sources")
    if not isinstance(sources, list) or not sources:
        raise InvalidInput("sources", "name at least one source: {\"event\": code} or {\"donation\": id}")
    parsed = []
    for index, source in enumerate(sources):
        if not isinstance(source, dict) or len(source) != 1 or next(iter(source)) not in ("event", "donation"):
            raise InvalidInput(f"sources/{index}", "must be {\"event\": code} or {\"donation\": id}")
        kind, ref = next(iter(source.items()))
        if not isinstance(ref, str) or not ref:
            raise InvalidInput(f"sources/{index}/{kind}", "must be a non-empty string")
        parsed.append(FundSource(kind, ref))
    if len(set(parsed)) != len(parsed):
        raise InvalidInput("sources", "a source is named twice")
    return fund_code, name, purpose, parsed


def check_grant_purpose(fund_purpose: str, requested_purpose: str) -> None:
    """A restricted fund pays only for what it was founded for."""
    if fund_purpose != requested_purpose:
        raise InvalidInput("purpose", f"this fund may only pay for {fund_purpose!r}, not {requested_purpose!r}")
