"""Autonomy funds (自治金) and the three meetings (三会制度): a project's proposal and budget, the hearing that
approves it, the coordination and evaluation meetings, its expenses and its lifecycle."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime

from shared.errors import Conflict, InvalidInput
from shared.input import text_field as text
from shared.money import parse_yuan
from services.funds.domain.fields import code, day, moment, names, whole_number

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
