"""The double-entry ledger's rules: accounts and their running figures, balanced transfers, the hash chain and
its verification, the trial balance.

Amounts are integer fen. A leg's amount is signed: positive is a debit, negative a credit; a transfer balances
when its legs sum to zero.

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
from datetime import datetime, timezone
from typing import Iterable, Sequence

from shared.errors import Conflict, InvalidInput
from shared.money import format_fen

GENESIS_HASH = "0" * 64
KINDS = ("asset", "liability", "net_assets", "revenue", "expense")
DEBIT_NORMAL = ("asset", "expense")


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
class ManualTransfer:
    """A treasurer's own transfer (e.g. a bank fee) between accounts already in the book's chart."""
    book: str
    memo: str
    legs: tuple[Leg, ...]
    occurred_at: datetime | None  # None: when it is posted


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
            raise InvalidInput(f"legs[{index}]", "amount must be a non-zero integer number of fen")
        if leg.account in seen:
            raise InvalidInput(f"legs[{index}].account", f"{leg.account} appears twice; merge the legs")
        if not leg.account.startswith(book + ":"):
            raise InvalidInput(f"legs[{index}].account", f"{leg.account} is not an account of book {book}")
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
