"""Deadlines: the time limits a case gets, and the reminders (催办) and escalations (督办) due once they pass."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from services.routing.domain.assignments import Assignment, RoutedCase
from services.routing.domain.directory import Decision, Directory, Policy, TimeLimit


@dataclasses.dataclass(frozen=True)
class Breach:
    assignment_id: str
    clock: str  # sign | contact | handle
    due_at: datetime
    step: str  # remind | escalate


def breaches(assignment: Assignment, now: datetime, policy: Policy) -> list[Breach]:
    """The reminder and escalation steps due for an assignment now.

    One breach is one deadline (the clock and its due time): a reminder once it has passed, an escalation once
    it has passed by the street's grace (1 working day by default). An approved extension gives a new due
    time, hence a new breach. Recording each (assignment, clock, due time, step) once is the caller's part.
    """
    found = []
    if assignment.status == "signed" and assignment.contact_due_at and now > assignment.contact_due_at:
        # No first contact (先行联系) yet: a reminder only; the handling deadline is what escalates.
        found.append(Breach(assignment.id, "contact", assignment.contact_due_at, "remind"))
    if assignment.status == "dispatched":
        clock, due = "sign", assignment.sign_due_at
    elif assignment.status in ("signed", "in_progress"):
        clock, due = "handle", assignment.due_at
    else:
        return found
    if due is None or now <= due:
        return found
    found.append(Breach(assignment.id, clock, due, "remind"))
    if now > policy.escalate_after.due(due):
        found.append(Breach(assignment.id, clock, due, "escalate"))
    return found


def escalation_target(case: RoutedCase, assignment: Assignment, directory: Directory) -> str:
    """The rule's escalation chain, one step further each time; then the unit's supervisor."""
    chain = [code.replace("{area}", case.area) for code in case.escalation]
    chain = [code for code in chain if code in directory.units and code != assignment.unit_code]
    if case.escalations < len(chain):
        return chain[case.escalations]
    return directory.supervisor_of(assignment.unit_code)



def time_limits(policy: Policy, case: dict, decision: Decision) -> tuple[TimeLimit, TimeLimit]:
    """(sign-for, handling) limits of a case: its tier by urgency and kind; below the special tiers the matter's
    own time limit from the catalog; a rule's deadline overrides both."""
    tier = policy.tier_for(case)
    handle = tier.handle
    if not tier.when and case.get("time_limit_days"):
        handle = TimeLimit(int(case["time_limit_days"]), "working_days")
    if decision.deadline is not None:
        handle = decision.deadline
    return tier.sign, handle
