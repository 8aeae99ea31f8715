"""Funds' domain: a double-entry ledger with a hash chain, the charity foundation and the autonomy funds.

No nameko, HTTP or SQL here. Amounts are integer fen. A leg's amount is signed: positive is a debit, negative
a credit; a transfer balances when its legs sum to zero.

Each account has a normal side (debit for assets and expenses, credit for net assets, liabilities and
revenue) and its ``balance`` is kept on that side. A net-asset account may be the *parent* of revenue and
expense accounts: its ``available`` figure is its own balance plus what its children brought in or spent.
That is the figure the non-negative rule guards for funds and budgets — a budget line is spent through its
expense account, so ``available`` of the line is "reserved minus spent" and can never go below zero.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from datetime import date, datetime, timezone
from typing import Iterable, Sequence

from shared.errors import Conflict, InvalidInput
from shared.input import text_field as text
from shared.money import format_fen, parse_yuan

GENESIS_HASH = "0" * 64
FOUNDATION_BOOK = "foundation"
KINDS = ("asset", "liability", "net_assets", "revenue", "expense")
DEBIT_NORMAL = ("asset", "expense")
REVENUE_KINDS = ("donation", "auction", "market", "allocation")
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._/-]{0,119}$")


class InsufficientFunds(Conflict):
    """A posting would take an account that must not go negative below zero."""

    def __init__(self, account: str, available: int, change: int):
        super().__init__(f"{account} has {format_fen(available)} available; "
                         f"this would take it to {format_fen(available + change)}")
        self.account, self.available, self.change = account, available, change


# -- accounts ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AccountSpec:
    code: str
    book: str
    name: str
    kind: str            # asset, liability, net_assets, revenue, expense
    subkind: str         # bank, receivables, in_kind, unrestricted, restricted, budget, donation, ..., project
    parent: str | None = None
    non_negative: bool = False

    @property
    def normal_side(self) -> str:
        return "debit" if self.kind in DEBIT_NORMAL else "credit"


def area_book(area: str) -> str:
    return f"area:{area}"


def foundation_chart() -> list[AccountSpec]:
    """The community foundation's fixed accounts; special funds and grant expenses are added as they come."""
    b = FOUNDATION_BOOK
    unrestricted = f"{b}:unrestricted"
    return [
        AccountSpec(f"{b}:bank", b, "银行存款 bank", "asset", "bank", non_negative=True),
        AccountSpec(f"{b}:receivables", b, "应收款 receivables", "asset", "receivables"),
        AccountSpec(f"{b}:in-kind", b, "实物资产 in-kind assets", "asset", "in_kind"),
        AccountSpec(unrestricted, b, "非限定性净资产 unrestricted net assets", "net_assets", "unrestricted",
                    non_negative=True),
        AccountSpec(f"{b}:revenue:donation", b, "捐赠收入 donations", "revenue", "donation", unrestricted),
        AccountSpec(f"{b}:revenue:auction", b, "慈善拍卖收入 charity auction", "revenue", "auction", unrestricted),
        AccountSpec(f"{b}:revenue:market", b, "公益市集收入 charity market", "revenue", "market", unrestricted),
        AccountSpec(f"{b}:expense:general", b, "一般支出 general expenses", "expense", "project", unrestricted),
    ]


def special_fund_account(fund_code: str, name: str) -> AccountSpec:
    return AccountSpec(f"{FOUNDATION_BOOK}:fund:{fund_code}", FOUNDATION_BOOK, f"限定性净资产 {name}",
                       "net_assets", "restricted", non_negative=True)


def grant_expense_account(fund_code: str, project: str) -> AccountSpec:
    return AccountSpec(f"{FOUNDATION_BOOK}:expense:{fund_code}:{project}", FOUNDATION_BOOK,
                       f"资助支出 grant to {project}", "expense", "project",
                       parent=f"{FOUNDATION_BOOK}:fund:{fund_code}")


def area_chart(area: str) -> list[AccountSpec]:
    """A residential area's autonomy fund (自治金): its fixed accounts; project budgets are added per project."""
    b = area_book(area)
    unrestricted = f"{b}:unrestricted"
    return [
        AccountSpec(f"{b}:bank", b, "自治金存款 bank", "asset", "bank", non_negative=True),
        AccountSpec(unrestricted, b, "可用自治金 unreserved fund", "net_assets", "unrestricted",
                    non_negative=True),
        AccountSpec(f"{b}:revenue:allocation", b, "街道拨款 yearly allocation", "revenue", "allocation",
                    unrestricted),
        AccountSpec(f"{b}:revenue:donation", b, "合作方资助 partner grants", "revenue", "donation", unrestricted),
    ]


def budget_line_accounts(area: str, project: str, line_no: int, name: str) -> list[AccountSpec]:
    """A budget line is a restricted net-asset account; its spending goes through its own expense account."""
    b = area_book(area)
    budget = f"{b}:budget:{project}:{line_no}"
    return [
        AccountSpec(budget, b, f"项目预算 {project} #{line_no} {name}", "net_assets", "budget", non_negative=True),
        AccountSpec(f"{b}:expense:{project}:{line_no}", b, f"项目支出 {project} #{line_no} {name}", "expense",
                    "project", parent=budget),
    ]


@dataclasses.dataclass
class AccountState:
    """An account's running figures while postings are applied to it."""
    code: str
    normal_side: str
    parent: str | None
    non_negative: bool
    balance: int = 0
    available: int = 0

    def signed(self, amount: int) -> int:
        """A leg's signed amount (+debit) expressed on this account's normal side."""
        return amount if self.normal_side == "debit" else -amount


# -- transfers -----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Leg:
    account: str
    amount: int  # + debit, − credit, in fen


def debit(account: str, fen: int) -> Leg:
    return Leg(account, fen)


def credit(account: str, fen: int) -> Leg:
    return Leg(account, -fen)


@dataclasses.dataclass(frozen=True)
class TransferDraft:
    """What a use case wants posted; the ledger gives it a sequence, a hash and running balances."""
    book: str
    idempotency_key: str
    kind: str
    memo: str
    legs: tuple[Leg, ...]
    occurred_at: datetime | None  # None: when it is posted
    reverses: str | None = None

    def __post_init__(self):
        check_legs(self.legs, self.book)
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")


def check_legs(legs: Sequence[Leg], book: str) -> None:
    if len(legs) < 2:
        raise InvalidInput("legs", "a transfer needs at least two legs")
    seen = set()
    for index, leg in enumerate(legs):
        if not isinstance(leg.amount, int) or isinstance(leg.amount, bool) or leg.amount == 0:
            raise InvalidInput(f"legs/{index}", "amount must be a non-zero integer number of fen")
        if leg.account in seen:
            raise InvalidInput(f"legs/{index}/account", f"{leg.account} appears twice; merge the legs")
        if not leg.account.startswith(book + ":"):
            raise InvalidInput(f"legs/{index}/account", f"{leg.account} is not an account of book {book}")
        seen.add(leg.account)
    total = sum(leg.amount for leg in legs)
    if total != 0:
        raise InvalidInput("legs", f"debits and credits differ by {format_fen(abs(total))}")


def reversal_legs(legs: Iterable[Leg]) -> tuple[Leg, ...]:
    return tuple(Leg(leg.account, -leg.amount) for leg in legs)


@dataclasses.dataclass(frozen=True)
class PostedTransfer:
    id: str
    book: str
    sequence: int
    idempotency_key: str
    kind: str
    memo: str
    occurred_at: datetime
    recorded_at: datetime
    reverses: str | None
    prev_hash: str
    hash: str
    legs: tuple[Leg, ...]
    balances_after: tuple[int, ...]


@functools.lru_cache(maxsize=64)  # a batch hashes many transfers recorded (and often dated) at one instant
def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


# The canonical form: sorted keys, no spaces, text as is. Built once; json.dumps builds an encoder per call.
_CANONICAL_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def transfer_hash(*, prev_hash: str, id: str, book: str, sequence: int, idempotency_key: str, kind: str, memo: str,
                  occurred_at: datetime, recorded_at: datetime, reverses: str | None, legs: Sequence[Leg]) -> str:
    """SHA-256 over the canonical JSON of the transfer and the previous hash: changing any stored field of any
    transfer (an amount, an account, a date) breaks its own hash, and removing one breaks the next link."""
    canonical = _CANONICAL_JSON.encode({
        "prev": prev_hash, "id": id, "book": book, "seq": sequence, "key": idempotency_key, "kind": kind,
        "memo": memo, "occurred_at": _utc_iso(occurred_at), "recorded_at": _utc_iso(recorded_at),
        "reverses": reverses, "legs": [[leg.account, leg.amount] for leg in legs],
    })
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def apply_legs(states: dict[str, AccountState], legs: Sequence[Leg]) -> tuple[int, ...]:
    """Apply a transfer's legs to the accounts' running figures; refuse it if an account that must not go
    negative would. Returns each leg's account balance after the transfer. ``states`` is left unchanged when
    the transfer is refused."""
    changes: dict[str, tuple[int, int]] = {}  # code → (balance change, available change)
    for leg in legs:
        account = states[leg.account]
        bal, avail = changes.get(account.code, (0, 0))
        changes[account.code] = (bal + account.signed(leg.amount), avail + account.signed(leg.amount))
        if account.parent:
            parent = states[account.parent]
            p_bal, p_avail = changes.get(parent.code, (0, 0))
            changes[parent.code] = (p_bal, p_avail + parent.signed(leg.amount))
    for code in sorted(changes):
        account = states[code]
        change = changes[code][1]
        if account.non_negative and change < 0 and account.available + change < 0:
            raise InsufficientFunds(code, account.available, change)
    for code, (bal, avail) in changes.items():
        states[code].balance += bal
        states[code].available += avail
    return tuple(states[leg.account].balance for leg in legs)


def accounts_touched(specs: dict[str, AccountSpec] | dict[str, AccountState], legs: Iterable[Leg]) -> set[str]:
    """The accounts a posting changes: the legs' accounts and their parents."""
    codes = set()
    for leg in legs:
        codes.add(leg.account)
        parent = specs[leg.account].parent if leg.account in specs else None
        if parent:
            codes.add(parent)
    return codes


# -- verification --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Breach:
    book: str
    sequence: int
    transfer_id: str
    idempotency_key: str
    reason: str

    def __str__(self) -> str:
        return (f"book {self.book}, entry #{self.sequence} (transfer {self.transfer_id}, "
                f"key {self.idempotency_key}): {self.reason}")


class ChainVerifier:
    """Recomputes a book's chain and running balances transfer by transfer (in sequence order) and remembers the
    first breach. Used by ``doorstep ledger verify`` on the database and by anyone on a published export."""

    def __init__(self, book: str, normal_sides: dict[str, str]):
        self.book = book
        self.normal_sides = normal_sides
        self.expected_prev = GENESIS_HASH
        self.expected_sequence = 1
        self.balances: dict[str, int] = {}
        self.count = 0
        self.breach: Breach | None = None

    def feed(self, t: PostedTransfer) -> bool:
        """Check one transfer; returns False (and records the breach) at the first problem."""
        if self.breach:
            return False

        def broken(reason: str) -> bool:
            self.breach = Breach(self.book, t.sequence, t.id, t.idempotency_key, reason)
            return False

        if t.sequence != self.expected_sequence:
            return broken(f"expected entry #{self.expected_sequence} here: an entry is missing or out of order")
        if t.prev_hash != self.expected_prev:
            return broken("its link to the previous entry does not match the previous entry's hash")
        recomputed = transfer_hash(prev_hash=t.prev_hash, id=t.id, book=t.book, sequence=t.sequence,
                                   idempotency_key=t.idempotency_key, kind=t.kind, memo=t.memo,
                                   occurred_at=t.occurred_at, recorded_at=t.recorded_at, reverses=t.reverses,
                                   legs=t.legs)
        if recomputed != t.hash:
            return broken("its stored contents do not match its hash (an amount, account, date or memo was altered)")
        total = sum(leg.amount for leg in t.legs)
        if total != 0:
            return broken(f"debits and credits differ by {format_fen(abs(total))}")
        for leg, stored_after in zip(t.legs, t.balances_after):
            side = self.normal_sides.get(leg.account)
            if side is None:
                return broken(f"account {leg.account} is not in the chart")
            after = self.balances.get(leg.account, 0) + (leg.amount if side == "debit" else -leg.amount)
            self.balances[leg.account] = after
            if stored_after is not None and stored_after != after:
                return broken(f"running balance of {leg.account} is stored as {format_fen(stored_after)}, "
                              f"the entries give {format_fen(after)}")
        self.expected_prev = t.hash
        self.expected_sequence += 1
        self.count += 1
        return True

    def check_head(self, sequence: int, head_hash: str) -> bool:
        """The book's recorded head (or a disclosure's) must be where the chain ends."""
        if self.breach:
            return False
        if sequence != self.count or head_hash != self.expected_prev:
            self.breach = Breach(self.book, sequence, "-", "-",
                                 f"the head says entry #{sequence} with hash {head_hash[:12]}…, the chain ends at "
                                 f"#{self.count} with {self.expected_prev[:12]}…")
            return False
        return True

    def check_balances(self, stored: dict[str, int]) -> bool:
        """Stored current balances must equal what the entries add up to."""
        if self.breach:
            return False
        for code in sorted(set(stored) | set(self.balances)):
            if stored.get(code, 0) != self.balances.get(code, 0):
                self.breach = Breach(self.book, self.count, "-", "-",
                                     f"stored balance of {code} is {format_fen(stored.get(code, 0))}, the entries "
                                     f"give {format_fen(self.balances.get(code, 0))}")
                return False
        return True


def trial_balance(rows: Iterable[tuple[AccountSpec, int]]) -> dict:
    """Debit and credit columns from normal-side balances; the two totals are equal when the books balance."""
    lines, debits, credits = [], 0, 0
    for spec, balance in rows:
        signed = balance if spec.normal_side == "debit" else -balance  # + debit
        dr, cr = (signed, 0) if signed >= 0 else (0, -signed)
        debits, credits = debits + dr, credits + cr
        lines.append({"account": spec.code, "name": spec.name, "kind": spec.kind,
                      "debit": format_fen(dr), "credit": format_fen(cr)})
    return {"accounts": lines, "total_debit": format_fen(debits), "total_credit": format_fen(credits),
            "balanced": debits == credits}


# -- input parsing shared by the commands --------------------------------------------------------------------

def code(body: dict, field: str, *, prefix: str = "") -> str:
    value = text(body, field, max_len=24, prefix=prefix)
    if not CODE_RE.match(value):
        raise InvalidInput(f"{prefix}{field}", "must be a short code: lower-case letters, digits, '-'")
    return value


def idempotency_key(body: dict, header: str | None = None) -> str:
    """Every money-moving request names itself, so that a retry cannot post twice."""
    value = header or body.get("idempotency_key")
    if not value:
        raise InvalidInput("idempotency_key", "is required (body field or Idempotency-Key header)")
    if not isinstance(value, str) or not KEY_RE.match(value):
        raise InvalidInput("idempotency_key", "must be 1–120 letters, digits or ':._/-'")
    return value


def moment(body: dict, field: str, default: datetime | None = None) -> datetime | None:
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(field, "must be an ISO 8601 date-time with a zone, e.g. 2018-11-29T20:00:00+08:00")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidInput(field, "needs a zone offset, e.g. +08:00")
    return parsed.astimezone(timezone.utc)


def day(body: dict, field: str, *, required: bool = True) -> date | None:
    value = body.get(field)
    if value is None:
        if required:
            raise InvalidInput(field, "is required as YYYY-MM-DD")
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(field, f"{value!r} is not a date YYYY-MM-DD")


def whole_number(body: dict, field: str, *, low: int = 0, high: int = 1_000_000, required: bool = True,
                 prefix: str = "") -> int | None:
    value = body.get(field)
    name = f"{prefix}{field}"
    if value is None:
        if required:
            raise InvalidInput(name, "is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(name, f"must be a whole number, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}")
    return value


def names(body: dict, field: str, *, required: bool = True, max_items: int = 500) -> list[str]:
    value = body.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInput(field, "must be a non-empty list of names")
    if len(value) > max_items:
        raise InvalidInput(field, f"has more than {max_items} entries")
    if any(len(v) > 50 for v in value):
        raise InvalidInput(field, "a name is longer than 50 characters")
    return [v.strip() for v in value]


# -- the charity foundation ----------------------------------------------------------------------------------

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


# -- autonomy funds (自治金) and the three meetings (三会制度) -------------------------------------------------

PROJECT_STATUSES = ("proposed", "approved", "rejected", "evaluated", "closed")
TRANSITIONS = {
    "proposed": {"approved", "rejected"},   # 事前听证 decides
    "approved": {"evaluated"},              # execution, 事中协调, then 事后评议
    "evaluated": {"closed"},                # unspent budget released
    "rejected": set(),
    "closed": set(),
}


@dataclasses.dataclass(frozen=True)
class BudgetLine:
    line_no: int
    name: str
    amount: int


@dataclasses.dataclass(frozen=True)
class ProposeProject:
    area: str
    year: int
    title: str
    description: str
    team_name: str
    lead: str
    members: tuple[str, ...]
    budget: tuple[BudgetLine, ...]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.budget)


def parse_propose_project(body: dict) -> ProposeProject:
    team = body.get("team")
    if not isinstance(team, dict):
        raise InvalidInput("team", "is required: {name, lead, members}")
    lead = text(team, "lead", max_len=50, prefix="team.")
    members = tuple(names(team, "members"))
    if lead not in members:
        members = (lead, *members)
    lines = body.get("budget")
    if not isinstance(lines, list) or not lines:
        raise InvalidInput("budget", "is required: a list of {name, amount}")
    if len(lines) > 20:
        raise InvalidInput("budget", "has more than 20 lines")
    budget = []
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            raise InvalidInput(f"budget/{index}", "must be an object {name, amount}")
        budget.append(BudgetLine(index + 1, text(line, "name", max_len=60, prefix=f"budget/{index}/"),
                                 parse_yuan(line.get("amount"), f"budget/{index}/amount")))
    return ProposeProject(
        area=code(body, "area"), year=whole_number(body, "year", low=2009, high=2100), title=text(body, "title"),
        description=text(body, "description", required=False, max_len=2000),
        team_name=text(team, "name", max_len=60, prefix="team."), lead=lead, members=members, budget=tuple(budget))


@dataclasses.dataclass(frozen=True)
class Hearing:
    """事前听证: who came, how they voted, what was decided and why."""
    held_on: date
    attendees: tuple[str, ...]
    votes_for: int
    votes_against: int
    abstain: int
    minutes: str
    decision: str  # approve | reject


def parse_hearing(body: dict) -> Hearing:
    attendees = tuple(names(body, "attendees"))
    votes = body.get("votes")
    if not isinstance(votes, dict):
        raise InvalidInput("votes", "is required: {for, against, abstain}")
    counts = [whole_number(votes, k, prefix="votes.", high=10_000) for k in ("for", "against", "abstain")]
    if sum(counts) > len(attendees):
        raise InvalidInput("votes", f"{sum(counts)} votes from {len(attendees)} attendees")
    decision = body.get("decision")
    if decision not in ("approve", "reject"):
        raise InvalidInput("decision", "must be approve or reject")
    if decision == "approve" and counts[0] <= counts[1]:
        raise InvalidInput("decision", "approval needs more votes for than against")
    return Hearing(day(body, "held_on"), attendees, *counts, text(body, "minutes", max_len=5000), decision)


@dataclasses.dataclass(frozen=True)
class Coordination:
    """事中协调: a meeting during execution."""
    held_on: date
    attendees: tuple[str, ...]
    minutes: str


def parse_coordination(body: dict) -> Coordination:
    return Coordination(day(body, "held_on"), tuple(names(body, "attendees")), text(body, "minutes", max_len=5000))


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """事后评议: scores per criterion (0–100), resident satisfaction (percent), findings."""
    held_on: date
    attendees: tuple[str, ...]
    scores: dict
    satisfaction: int
    findings: str


def parse_evaluation(body: dict) -> Evaluation:
    scores = body.get("scores")
    if not isinstance(scores, dict) or not scores:
        raise InvalidInput("scores", "is required: {criterion: 0–100}")
    for criterion in scores:
        if not isinstance(criterion, str) or len(criterion) > 40:
            raise InvalidInput("scores", "criteria are names of at most 40 characters")
        whole_number(scores, criterion, high=100, prefix="scores.")
    return Evaluation(day(body, "held_on"), tuple(names(body, "attendees")), dict(scores),
                      whole_number(body, "satisfaction", high=100), text(body, "findings", max_len=5000))


@dataclasses.dataclass(frozen=True)
class RecordExpense:
    key: str
    line_no: int
    amount: int
    payee: str
    receipt_ref: str
    description: str
    spent_at: datetime | None  # None: now


def parse_record_expense(body: dict, key: str) -> RecordExpense:
    return RecordExpense(key, whole_number(body, "line", low=1, high=20), parse_yuan(body.get("amount"), "amount"),
                         text(body, "payee", max_len=100), text(body, "receipt_ref", max_len=60),
                         text(body, "description", required=False, max_len=500), moment(body, "spent_at"))


@dataclasses.dataclass
class Project:
    id: str
    area: str
    year: int
    title: str
    status: str

    def move_to(self, status: str) -> None:
        if status not in TRANSITIONS[self.status]:
            raise Conflict(f"project {self.id} is {self.status}; it cannot become {status}")
        self.status = status

    def require(self, *statuses: str, doing: str) -> None:
        if self.status not in statuses:
            raise Conflict(f"project {self.id} is {self.status}; {doing} needs it {' or '.join(statuses)}")
