"""What a unit does with its assignments: sign for (签收), first contact, report, transfer (转办), return (退单)
and extension (延期); and the operations centre's arbitration of a returned case."""
from __future__ import annotations

import dataclasses
from datetime import datetime

from shared.db import utcnow
from shared.errors import Conflict, NotFound
from services.routing import events, metrics
from services.routing.domain import assignments
from services.routing.domain.assignments import RETURN_REASONS, Assignment, RoutedCase
from services.routing.domain.deadlines import escalation_target
from services.routing.domain.directory import Directory, TimeLimit
from services.routing.handlers.deadlines import escalate
from services.routing.handlers.reads import assignment_view
from services.routing.persistence import RoutingUnitOfWork


def _actor(principal) -> str:
    return f"{principal.role}:{principal.token_id}"


def _load(uow: RoutingUnitOfWork, assignment_id: str) -> tuple[Assignment, RoutedCase]:
    assignment = uow.assignments.get(assignment_id, lock=True)
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} does not exist")
    case = uow.cases.get(assignment.case_id, lock=True)
    if case is None:
        raise NotFound(f"case {assignment.case_id} is not known to routing")
    return assignment, case


def sign_assignment(assignment_id: str, principal, uow: RoutingUnitOfWork, directory: Directory,
                    now: datetime | None = None) -> dict:
    now = now or utcnow()
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        assignments.sign(assignment, directory.unit(assignment.unit_code), now, directory.policy)
        uow.assignments.save(assignment)
        uow.emit(events.assignment_signed(assignment, now))
        uow.commit()
    metrics.TIME_TO_SIGN.labels(directory.metric_label(assignment.unit_code)).observe(
        (now - assignment.created_at).total_seconds())
    return assignment_view(assignment, now)


def record_contact(assignment_id: str, principal, uow: RoutingUnitOfWork, directory: Directory,
                   now: datetime | None = None) -> dict:
    now = now or utcnow()
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        assignments.record_contact(assignment, now)
        uow.assignments.save(assignment)
        uow.emit(events.assignment_contacted(assignment, now))
        uow.commit()
    return assignment_view(assignment, now)


def report_result(assignment_id: str, answer: str, principal, uow: RoutingUnitOfWork, directory: Directory,
                  now: datetime | None = None) -> dict:
    """The lead's result or an assist's part; the case resolves when the lead and required assists are done."""
    now = now or utcnow()
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        assignments.report(assignment, answer, now)
        uow.assignments.save(assignment)
        uow.emit(events.assignment_reported(assignment, now))
        everything = uow.assignments.for_case(case.case_id)
        resolved = assignments.resolution(case, everything, directory.units)
        if resolved:
            for other in everything:  # optional assists still open are no longer needed
                if other.is_open and other.role == "assist":
                    assignments.close(other, "superseded", "case resolved", now)
                    uow.assignments.save(other)
            case.status, case.answer, case.resolved_at, case.updated_at = "resolved", resolved["answer"], now, now
            uow.cases.save(case)
            uow.emit(events.case_resolved(case, resolved["lead"], resolved["assisting_units"], resolved["answer"],
                                          resolved["overdue"], now))
        uow.commit()
    if resolved:
        metrics.TIME_TO_RESOLVE.labels(directory.metric_label(resolved["lead"].unit_code)).observe(
            (now - case.created_at).total_seconds())
    return {"assignment": assignment_view(assignment, now), "case_status": case.status, "answer": case.answer}


def transfer_assignment(assignment_id: str, to_unit: str, reason: str, principal, uow: RoutingUnitOfWork,
                        directory: Directory, now: datetime | None = None) -> dict:
    """转办 to another unit; past the street's limit the case is escalated to a supervisor instead."""
    now = now or utcnow()
    target = directory.unit(to_unit, field="to_unit")
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        outcome = assignments.check_transfer(case, assignment, target.code, directory.policy)
        if outcome == "escalate":
            supervisor = escalation_target(case, assignment, directory)
            if assignment.escalated_to is None:  # asking again changes nothing: escalated once
                escalate(uow, case, assignment, supervisor, "transfer-limit", now, due_at=None)
                uow.cases.log(case.case_id, now, "transfer-refused", assignment.unit_code, _actor(principal),
                              {"to_unit": target.code, "reason": reason, "escalated_to": supervisor})
            uow.commit()
            return {"outcome": "escalated", "escalated_to": assignment.escalated_to,
                    "detail": f"{case.transfers} transfers already (limit {directory.policy.max_transfers}); "
                              f"escalated to {assignment.escalated_to} instead"}
        sign_limit = directory.policy.tier_for(dataclasses.asdict(case)).sign
        successor = assignments.new_assignment(case.case_id, case.area, target, rule="transfer",
                                               reason=f"转办 from {assignment.unit_code}: {reason}", now=now,
                                               sign_limit=sign_limit,
                                               handle_limit=TimeLimit.parse(assignment.handle_limit, "handle_limit"))
        assignments.close(assignment, "transferred", f"to {target.code}", now)
        uow.assignments.save(assignment)
        uow.assignments.add(successor)
        case.transfers, case.lead_unit, case.updated_at = case.transfers + 1, target.code, now
        uow.cases.save(case)
        uow.cases.log(case.case_id, now, "transfer", assignment.unit_code, _actor(principal),
                      {"to_unit": target.code, "reason": reason})
        uow.emit(events.assignment_transferred(case, assignment, successor, target, reason, now))
        uow.commit()
    metrics.TRANSFERS.labels(directory.metric_label(assignment.unit_code)).inc()
    return {"outcome": "transferred", "assignment": assignment_view(successor, now)}


def return_assignment(assignment_id: str, reason_code: str, note: str, principal, uow: RoutingUnitOfWork,
                      directory: Directory, now: datetime | None = None) -> dict:
    """退单: the case is not ours; the operations centre arbitrates."""
    now = now or utcnow()
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        assignments.check_return(assignment)
        assignments.close(assignment, "returned", reason_code, now)
        uow.assignments.save(assignment)
        case.status, case.updated_at = "arbitration", now
        uow.cases.save(case)
        arbiter = directory.policy.arbitration_unit
        uow.cases.log(case.case_id, now, "return", assignment.unit_code, _actor(principal),
                      {"reason_code": reason_code, "reason": RETURN_REASONS[reason_code], "note": note})
        uow.emit(events.assignment_returned(assignment, reason_code, note, arbiter, now))
        uow.commit()
    metrics.RETURNS.labels(directory.metric_label(assignment.unit_code), reason_code).inc()
    return {"case_id": case.case_id, "status": case.status, "arbitration_unit": arbiter}


def arbitrate_case(case_id: str, to_unit: str, decision: str, principal, uow: RoutingUnitOfWork,
                   directory: Directory, now: datetime | None = None) -> dict:
    """The operations centre decides who handles a returned case, records why, and re-dispatches it."""
    now = now or utcnow()
    arbiter = directory.policy.arbitration_unit
    assignments.check_acts_for(principal.role, principal.label, arbiter)
    target = directory.unit(to_unit, field="unit")
    with uow:
        case = uow.cases.get(case_id, lock=True)
        if case is None:
            raise NotFound(f"case {case_id} is not known to routing")
        if case.status != "arbitration":
            raise Conflict(f"case {case_id} is {case.status}; only a returned case is arbitrated")
        previous = uow.assignments.for_case(case_id)
        last_lead = [a for a in previous if a.role == "lead"][-1]
        sign_limit = directory.policy.tier_for(dataclasses.asdict(case)).sign
        assignment = assignments.new_assignment(case_id, case.area, target, rule="arbitration",
                                                reason=f"仲裁 by {arbiter}: {decision}", now=now, sign_limit=sign_limit,
                                                handle_limit=TimeLimit.parse(last_lead.handle_limit, "handle_limit"))
        uow.assignments.add(assignment)
        case.status, case.lead_unit, case.updated_at = "open", target.code, now
        uow.cases.save(case)
        uow.cases.log(case_id, now, "arbitration", arbiter, _actor(principal),
                      {"to_unit": target.code, "decision": decision})
        uow.emit(events.case_arbitrated(case, arbiter, target, assignment, decision, now))
        uow.commit()
    return {"case_id": case_id, "status": case.status, "assignment": assignment_view(assignment, now)}


def request_extension(assignment_id: str, working_days: int, reason: str, principal, uow: RoutingUnitOfWork,
                      directory: Directory, now: datetime | None = None) -> dict:
    now = now or utcnow()
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        assignments.request_extension(assignment, working_days, reason)
        uow.assignments.save(assignment)
        approver = directory.supervisor_of(assignment.unit_code)
        uow.cases.log(case.case_id, now, "extension-requested", assignment.unit_code, _actor(principal),
                      {"working_days": working_days, "reason": reason, "approver": approver})
        uow.commit()
    return {"assignment": assignment_view(assignment, now), "approver": approver}


def decide_extension(assignment_id: str, approve: bool, principal, uow: RoutingUnitOfWork, directory: Directory,
                     now: datetime | None = None) -> dict:
    """Only the supervisor unit of the handling unit approves or refuses an extension."""
    now = now or utcnow()
    with uow:
        assignment, case = _load(uow, assignment_id)
        approver = directory.supervisor_of(assignment.unit_code)
        assignments.check_acts_for(principal.role, principal.label, approver)
        days, reason = assignment.extension_days, assignment.extension_reason
        previous_due = assignments.decide_extension(assignment, approve)
        uow.assignments.save(assignment)
        uow.cases.log(case.case_id, now, "extension-approved" if approve else "extension-refused", approver,
                      _actor(principal), {"working_days": days, "reason": reason})
        if approve:
            uow.emit(events.assignment_extended(assignment, approver, days, reason or "", previous_due, now))
        uow.commit()
    return {"approved": approve, "assignment": assignment_view(assignment, now)}
