"""Funds' Prometheus metrics, declared once.

Money is integer fen everywhere else; here, at the edge where operators read it, it is shown in yuan
(``_yuan``): fen / 100 as the float64 every Prometheus sample is anyway. Nothing reads these figures back.

Labels are bounded. ``book`` is ``foundation`` or ``area:<code>``: a book is opened by a treasurer for one of the
street's residential areas (tens), never by the public. ``account`` is ``bank``, ``unrestricted`` or
``fund:<code>`` (a special fund, founded by a treasurer, a few per street); project budget lines, revenue and
expense accounts, which grow with every project, are not exported one by one — an area's budgets hold its bank
balance less its unreserved fund. ``kind`` is a transfer kind from the code (donation, allocation, expense …).
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge

from services.funds.domain.autonomy import PROJECT_STATUSES
from services.funds.domain.chart import FOUNDATION_BOOK

BALANCE = Gauge(
    "doorstep_funds_balance_yuan",
    "Available balance of a fund account: an autonomy fund's unreserved money, the foundation's unrestricted "
    "net assets, a special fund, or a book's bank account",
    ["book", "account"])
POSTINGS = Counter(
    "doorstep_funds_postings_total", "Transfers posted to the ledger, by book type and transfer kind",
    ["book_type", "kind"])
POSTED = Counter(
    "doorstep_funds_posted_yuan_total", "Money moved by posted transfers (their debits), by book type and kind",
    ["book_type", "kind"])
PROJECTS = Gauge(
    "doorstep_funds_projects", "Autonomy-fund projects in each status, counted by funds' metrics timer", ["status"])

# The transfer kinds each type of book receives (services/funds/handlers/); primed so rates start at zero.
TRANSFER_KINDS = {
    "foundation": ("donation", "auction", "payment", "market", "fund-founding", "grant", "manual", "reversal"),
    "autonomy": ("allocation", "budget-reservation", "expense", "budget-release", "cofunding", "manual",
                 "reversal"),
}


def book_type(book: str) -> str:
    return "foundation" if book == FOUNDATION_BOOK else "autonomy"


def balance_labels(code: str) -> tuple[str, str] | None:
    """(book, account) for a fund or bank account code of the chart (services/funds/domain/chart.py); None for the
    accounts not exported one by one (budget lines, revenue, expenses, receivables …)."""
    parts = code.split(":")
    if parts[0] == FOUNDATION_BOOK:
        book, rest = FOUNDATION_BOOK, parts[1:]
    elif parts[0] == "area" and len(parts) > 2:
        book, rest = f"area:{parts[1]}", parts[2:]
    else:
        return None
    if rest in (["bank"], ["unrestricted"]):
        return book, rest[0]
    if book == FOUNDATION_BOOK and len(rest) == 2 and rest[0] == "fund":
        return book, f"fund:{rest[1]}"
    return None


def set_balance(code: str, available_fen: int) -> bool:
    """Show an account's available fen as yuan, if it is one of the exported accounts."""
    labels = balance_labels(code)
    if labels is None:
        return False
    BALANCE.labels(*labels).set(available_fen / 100)
    return True


class Tally:
    """What one transaction posted, published to the metrics only once it has committed."""

    def __init__(self):
        self.postings: dict[tuple[str, str], list[int]] = {}  # (book type, kind) → [transfers, fen]
        self.available: dict[str, int] = {}                    # account code → available fen after

    def add(self, transfers, states) -> None:
        for t in transfers:
            entry = self.postings.setdefault((book_type(t.book), t.kind), [0, 0])
            entry[0] += 1
            entry[1] += sum(leg.amount for leg in t.legs if leg.amount > 0)
        for code, state in states.items():
            self.available[code] = state.available

    def publish(self) -> None:
        for (kind_of_book, kind), (count, fen) in self.postings.items():
            POSTINGS.labels(kind_of_book, kind).inc(count)
            POSTED.labels(kind_of_book, kind).inc(fen / 100)
        for code, fen in self.available.items():
            set_balance(code, fen)


def prime() -> None:
    """Create the series at start-up so dashboards and rate queries see zeros rather than gaps. Balances are
    set by the metrics timer, which runs once at start-up."""
    for kind_of_book, kinds in TRANSFER_KINDS.items():
        for kind in kinds:
            POSTINGS.labels(kind_of_book, kind)
            POSTED.labels(kind_of_book, kind)
    for status in PROJECT_STATUSES:
        PROJECTS.labels(status)
