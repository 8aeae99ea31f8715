"""A routed case and its assignments: who may act for a unit, and each step of an assignment's life —
dispatched, signed for (签收), first contact (先行联系), reported, transferred (转办), returned (退单), extended
(延期) — up to the case's resolution with one merged answer."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta

from shared.errors import Conflict, Forbidden, InvalidInput
from services.routing.domain.directory import Decision, Policy, TimeLimit, Unit

# 退单 reason codes: the unit says the case is not theirs, and the operations centre arbitrates.
RETURN_REASONS = {
    "wrong-area": "属地不符",
    "unclear-ownership": "权属不清",
    "overlapping-duties": "职能交叉",
}

# The longest extension (延期) a unit may ask for at once.
MAX_EXTENSION_DAYS = 30


class NotYourUnit(Forbidden):
    pass


# -- authorisation ---------------------------------------------------------------------------------------

def check_acts_for(role: str, label: str, unit_code: str) -> None:
    """A handler acts for the unit named in its token's label (``unit:<code>``); admin acts for any unit."""
    if role == "admin":
        return
    if role == "handler" and unit_code in _label_units(label):
        return
    raise NotYourUnit(f"only a handler of unit {unit_code} (token label 'unit:{unit_code}') or an admin may do this")


def _label_units(label: str) -> set[str]:
    return {part.strip()[5:] for part in (label or "").split(",") if part.strip().startswith("unit:")}


# -- the case and its assignments ------------------------------------------------------------------------

@dataclasses.dataclass
class RoutedCase:
    """Routing's view of a case: the facts it was routed on, the decision, and where it stands."""
    case_id: str
    area: str
    matter_code: str
    category: str
    kind: str
    urgency: str
    rule: str
    reason: str
    explanation: list
    escalation: list
    status: str  # open | arbitration | resolved
    lead_unit: str
    created_at: datetime
    updated_at: datetime
    transfers: int = 0
    escalations: int = 0
    warning: bool = False
    resident_id: str | None = None
    phone_masked: str | None = None
    answer: str | None = None
    resolved_at: datetime | None = None


OPEN_STATES = ("dispatched", "signed", "in_progress")


@dataclasses.dataclass
class Assignment:
    id: str
    case_id: str
    unit_code: str
    rule: str
    reason: str
    area: str
    status: str  # dispatched → signed → in_progress → done; or transferred / returned / superseded
    created_at: datetime
    role: str = "lead"  # lead | assist
    required: bool = True
    handle_limit: str = "working_days:15"
    sign_due_at: datetime | None = None
    signed_at: datetime | None = None
    contact_due_at: datetime | None = None
    contacted_at: datetime | None = None
    due_at: datetime | None = None
    reported_at: datetime | None = None
    result: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    extension_days: int | None = None
    extension_reason: str | None = None
    extensions: int = 0
    escalated_to: str | None = None
    escalated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def is_overdue(self, now: datetime) -> bool:
        if self.status == "dispatched":
            return self.sign_due_at is not None and now > self.sign_due_at
        if self.status in ("signed", "in_progress"):
            return self.due_at is not None and now > self.due_at
        return False


def new_assignment(case_id: str, area: str, unit: Unit, *, rule: str, reason: str, now: datetime,
                   sign_limit: TimeLimit, handle_limit: TimeLimit, role: str = "lead", required: bool = True,
                   due_at: datetime | None = None) -> Assignment:
    return Assignment(str(uuid.uuid4()), case_id, unit.code, rule, reason, area, "dispatched", now, role=role,
                      required=required, handle_limit=handle_limit.stored(),
                      sign_due_at=sign_limit.due(now, unit.opening, unit.closing), due_at=due_at)


def assign(case_id: str, area: str, decision: Decision, now: datetime, policy: Policy = Policy()) -> Assignment:
    """The lead assignment for a routing decision with the street's default time limits."""
    tier = policy.tiers[-1]
    return new_assignment(case_id, area, decision.unit, rule=decision.rule, reason=decision.reason, now=now,
                          sign_limit=tier.sign, handle_limit=decision.deadline or tier.handle)


def _require(assignment: Assignment, states: tuple[str, ...], action: str) -> None:
    if assignment.status not in states:
        raise Conflict(f"assignment {assignment.id} is {assignment.status}; cannot {action} "
                       f"(only when {' or '.join(states)})")


def sign(assignment: Assignment, unit: Unit, now: datetime, policy: Policy) -> None:
    """签收: the handling clock starts now, unless a deadline was fixed at dispatch (a warning case)."""
    _require(assignment, ("dispatched",), "sign for it")
    assignment.status, assignment.signed_at = "signed", now
    assignment.contact_due_at = policy.first_contact.due(now, unit.opening, unit.closing)
    if assignment.due_at is None:
        assignment.due_at = TimeLimit.parse(assignment.handle_limit, "handle_limit").due(now, unit.opening,
                                                                                          unit.closing)


def record_contact(assignment: Assignment, now: datetime) -> None:
    """先行联系: the unit reached the resident; the work is in progress."""
    _require(assignment, ("signed",), "record first contact")
    assignment.status, assignment.contacted_at = "in_progress", now


def report(assignment: Assignment, answer: str, now: datetime) -> None:
    """The lead reports its result, an assisting unit its part."""
    _require(assignment, ("signed", "in_progress"), "report a result")
    assignment.status, assignment.result, assignment.reported_at = "done", answer, now
    assignment.closed_at, assignment.close_reason = now, "reported"


def close(assignment: Assignment, status: str, reason: str, now: datetime) -> None:
    assignment.status, assignment.closed_at, assignment.close_reason = status, now, reason


def resolution(case: RoutedCase, assignments: list[Assignment], units: dict[str, Unit]) -> dict | None:
    """The case is resolved when the current lead has reported and every required assist is done.

    Returns the one merged answer for the resident, or None while something is outstanding.
    """
    if case.status == "resolved":
        return None
    leads = [a for a in assignments if a.role == "lead" and a.status not in ("transferred", "returned",
                                                                             "superseded")]
    if not leads or leads[-1].status != "done":
        return None
    lead = leads[-1]
    assists = [a for a in assignments if a.role == "assist" and a.status not in ("superseded",)]
    if any(a.required and a.status != "done" for a in assists):
        return None
    parts = [lead.result]
    for assist in assists:
        if assist.status == "done":
            name = units[assist.unit_code].name if assist.unit_code in units else assist.unit_code
            parts.append(f"【协办 {name}】{assist.result}")
    done = [lead, *[a for a in assists if a.status == "done"]]
    overdue = any(a.due_at is not None and a.reported_at is not None and a.reported_at > a.due_at for a in done)
    return {"lead": lead, "answer": "\n".join(parts), "assisting_units": [a.unit_code for a in assists],
            "overdue": overdue}


def check_transfer(case: RoutedCase, assignment: Assignment, to_unit: str, policy: Policy) -> str:
    """转办: returns "transfer", or "escalate" once the transfers would pass the street's limit (no ping-pong)."""
    if assignment.role != "lead":
        raise Conflict("only the lead unit transfers a case; an assisting unit reports its part")
    _require(assignment, OPEN_STATES, "transfer it")
    if to_unit == assignment.unit_code:
        raise InvalidInput("to_unit", "案件已在本单位 / the case is already with this unit")
    return "escalate" if case.transfers >= policy.max_transfers else "transfer"


def check_return(assignment: Assignment) -> None:
    """退单 (with one of RETURN_REASONS): only by the lead, and only before the work has started."""
    if assignment.role != "lead":
        raise Conflict("only the lead unit returns a case")
    _require(assignment, ("dispatched", "signed"), "return it")


def request_extension(assignment: Assignment, working_days: int, reason: str) -> None:
    """延期 by 1 to MAX_EXTENSION_DAYS working days: asked by the handling unit with a reason; takes effect only
    when the supervisor approves."""
    _require(assignment, ("signed", "in_progress"), "ask for an extension")
    if assignment.extension_days:
        raise Conflict(f"assignment {assignment.id} already waits for a decision on an extension")
    assignment.extension_days, assignment.extension_reason = working_days, reason


def decide_extension(assignment: Assignment, approve: bool) -> datetime | None:
    """The supervisor's decision; an approved extension moves the deadline on by working days."""
    if not assignment.extension_days:
        raise Conflict(f"assignment {assignment.id} has no extension request")
    _require(assignment, ("signed", "in_progress"), "extend it")
    previous = assignment.due_at
    if approve:
        # A deadline is the end of its last day (midnight after it): N more working days count from that day,
        # not from the day that starts at the deadline, or N would give N + 1.
        assignment.due_at = TimeLimit(assignment.extension_days, "working_days").due(previous - timedelta(microseconds=1))
        assignment.extensions += 1
    assignment.extension_days = None
    return previous if approve else None
