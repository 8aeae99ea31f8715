"""The charity foundation's rules: donors and donations, receipt numbers, auction lots and special funds."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime

from shared.errors import Conflict, InvalidInput
from shared.money import format_fen

DONOR_KINDS = ("company", "individual", "anonymous")
DONATION_KINDS = ("cash", "in_kind")
LOT_STATUSES = ("open", "sold", "paid", "unsold")
SOURCE_KINDS = ("event", "donation")


@dataclasses.dataclass(frozen=True)
class RegisterDonor:
    kind: str
    name: str

    def __post_init__(self):
        if self.kind == "anonymous":  # an anonymous donor's name is not kept, whatever was said
            object.__setattr__(self, "name", "")


def donor_display_name(kind: str, name: str) -> str:
    """What reports and thank-you messages show: an anonymous donor stays anonymous."""
    return "匿名捐赠人 anonymous donor" if kind == "anonymous" else name


@dataclasses.dataclass(frozen=True)
class RecordDonation:
    donor_id: str
    kind: str
    amount: int           # cash received, or the in-kind valuation
    description: str
    valuation_basis: str  # how an in-kind gift was valued
    event_code: str | None
    received_at: datetime | None  # None: now


def receipt_number(year: int, number: int) -> str:
    return f"{year}-{number:06d}"


@dataclasses.dataclass(frozen=True)
class NewEvent:
    """A charity event (慈善之夜, 公益市集) whose auction, market and gifts are reported together."""
    code: str
    name: str
    held_on: date
    place: str


@dataclasses.dataclass(frozen=True)
class NewLot:
    lot_number: int
    title: str
    donor_id: str


@dataclasses.dataclass(frozen=True)
class MarketSale:
    description: str
    amount: int
    sold_at: datetime | None  # None: now


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


@dataclasses.dataclass(frozen=True)
class FoundFund:
    """A restricted special fund (专项基金) founded from named sources, each used for one fund only."""
    code: str
    name: str
    purpose: str
    sources: tuple[FundSource, ...]
    founded_at: datetime | None  # None: now


@dataclasses.dataclass(frozen=True)
class Grant:
    """A payment out of a special fund to a project, for the fund's purpose."""
    purpose: str
    recipient: str
    project: str
    amount: int
    granted_at: datetime | None  # None: now


def check_grant_purpose(fund_purpose: str, requested_purpose: str) -> None:
    """A restricted fund pays only for what it was founded for."""
    if fund_purpose != requested_purpose:
        raise InvalidInput("purpose", f"this fund may only pay for {fund_purpose!r}, not {requested_purpose!r}")
