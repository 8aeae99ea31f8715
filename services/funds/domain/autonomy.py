"""Autonomy funds (自治金) and the three meetings (三会制度): a project's proposal and budget, the hearing that
approves it, the coordination and evaluation meetings, its expenses and its lifecycle."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Iterable

from shared.errors import Conflict, InvalidInput

PROJECT_STATUSES = ("proposed", "approved", "rejected", "evaluated", "closed")
TRANSITIONS = {
    "proposed": {"approved", "rejected"},   # 事前听证 decides
    "approved": {"evaluated"},              # execution, 事中协调, then 事后评议
    "evaluated": {"closed"},                # unspent budget released
    "rejected": set(),
    "closed": set(),
}
MEETING_KINDS = ("hearing", "coordination", "evaluation")
DECISIONS = ("approve", "reject")


@dataclasses.dataclass(frozen=True)
class Allocation:
    """The street's yearly allocation (街道拨款) to an area's autonomy fund."""
    year: int
    amount: int
    allocated_at: datetime | None  # None: now


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

    @classmethod
    def of(cls, *, area: str, year: int, title: str, description: str, team_name: str, lead: str,
           members: Iterable[str], budget: Iterable[tuple[str, int]]) -> "ProposeProject":
        """The lead is a member of the team; budget lines are numbered from 1 in the order given."""
        members = tuple(members)
        if lead not in members:
            members = (lead, *members)
        lines = tuple(BudgetLine(number, name, amount) for number, (name, amount) in enumerate(budget, start=1))
        return cls(area, year, title, description, team_name, lead, members, lines)

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.budget)


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

    def __post_init__(self):
        votes = self.votes_for + self.votes_against + self.abstain
        if votes > len(self.attendees):
            raise InvalidInput("votes", f"{votes} votes from {len(self.attendees)} attendees")
        if self.decision == "approve" and self.votes_for <= self.votes_against:
            raise InvalidInput("decision", "approval needs more votes for than against")


@dataclasses.dataclass(frozen=True)
class Coordination:
    """事中协调: a meeting during execution."""
    held_on: date
    attendees: tuple[str, ...]
    minutes: str


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """事后评议: scores per criterion (0–100), resident satisfaction (percent), findings."""
    held_on: date
    attendees: tuple[str, ...]
    scores: dict
    satisfaction: int
    findings: str


@dataclasses.dataclass(frozen=True)
class RecordExpense:
    line_no: int
    amount: int
    payee: str
    receipt_ref: str
    description: str
    spent_at: datetime | None  # None: now


@dataclasses.dataclass(frozen=True)
class Cofunding:
    """A partner adds money to a budget line; the foundation (from_foundation) grants it out of a special fund
    (fund_code, for its purpose) or out of its unrestricted money."""
    partner: str
    amount: int
    line_no: int
    from_foundation: bool
    fund_code: str | None
    purpose: str | None
    funded_at: datetime | None  # None: now


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
