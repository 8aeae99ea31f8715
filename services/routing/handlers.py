"""Routing's use cases: an event, a request or a timer tick, and one unit of work each."""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.exc import IntegrityError

from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope
from services.routing import metrics
from services.routing.domain import assignments
from services.routing.domain.assignments import RETURN_REASONS, Assignment, RoutedCase
from services.routing.domain.deadlines import breaches, escalation_target, time_limits
from services.routing.domain.directory import Decision, Directory, TimeLimit
from services.routing.domain.scores import unit_scores
from services.routing.persistence import RoutingUnitOfWork

log = logging.getLogger(__name__)

_WORKLIST_STATES = ("open", "overdue", "escalated", "supervising", "arbitration", "closed", "all")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _actor(principal) -> str:
    return f"{principal.role}:{principal.token_id}"


# -- routing ---------------------------------------------------------------------------------------------

def route_case(event: Envelope, uow: RoutingUnitOfWork, directory: Directory, now: datetime | None = None) -> None:
    route_cases([event], uow, directory, now)


def route_cases(events: list[Envelope], uow: RoutingUnitOfWork, directory: Directory,
                now: datetime | None = None) -> None:
    """Accepted cases that are handled elsewhere (收受分离) get a lead unit and their assisting units; station
    matters stay at intake. All in one transaction, the rows of all cases in one statement per table."""
    now = now or utcnow()
    with uow:
        cases, added = [], []
        for event in uow.unhandled(events):
            data = event.data
            if data["handling"] != "routed":
                continue
            case, decision, assignments = _route(data, directory, now)
            cases.append(case)
            added.extend(assignments)
            lead, assists = assignments[0], zip(assignments[1:], (unit for unit, _ in decision.assists))
            uow.emit("doorstep.routing.case.routed.v1", subject=f"case/{case.case_id}", data={
                "case_id": case.case_id,
                "assignment_id": lead.id,
                "unit": {"code": decision.unit.code, "name": decision.unit.name},
                "rule": case.rule,
                "reason": case.reason,
                "area": case.area,
                "matter_code": case.matter_code,
                "resident_id": case.resident_id,
                "phone_masked": case.phone_masked,
                "assists": [{"code": unit.code, "name": unit.name, "assignment_id": assist.id,
                             "required": assist.required} for assist, unit in assists],
                "sign_due_at": _iso(lead.sign_due_at),
                "dispatch": "initial",
                "routed_at": now.isoformat(),
            })
        if cases:
            uow.cases.add(*cases)
            uow.assignments.add(*added)
        uow.commit()


def _route(data: dict, directory: Directory, now: datetime) -> tuple[RoutedCase, Decision, list[Assignment]]:
    """The routed case, the decision and the case's assignments, the lead's first, then the assisting units' in
    the decision's order."""
    decision = directory.route(data)
    sign_limit, handle_limit = time_limits(directory.policy, data, decision)
    case = RoutedCase(
        case_id=data["case_id"], area=data["area"], matter_code=data["matter_code"], category=data["category"],
        kind=data["kind"], urgency=data["urgency"], rule=decision.rule, reason=decision.reason,
        explanation=list(decision.explanation), escalation=list(decision.escalation), status="open",
        lead_unit=decision.unit.code, created_at=now, updated_at=now,
        resident_id=data["resident"]["resident_id"], phone_masked=data["resident"]["phone_masked"])
    lead = assignments.new_assignment(case.case_id, case.area, decision.unit, rule=decision.rule,
                                      reason=decision.reason, now=now, sign_limit=sign_limit, handle_limit=handle_limit)
    assists = [assignments.new_assignment(case.case_id, case.area, unit, rule=decision.rule,
                                          reason=f"协办: {decision.reason}", now=now, sign_limit=sign_limit,
                                          handle_limit=handle_limit, role="assist", required=required)
               for unit, required in decision.assists]
    return case, decision, [lead, *assists]


def reopen_case(event: Envelope, uow: RoutingUnitOfWork, directory: Directory, now: datetime | None = None) -> None:
    """预警工单: the resident was not satisfied; the case goes back to its previous lead with the reason and a
    deadline of 3 working days (or as intake says), fixed now rather than at sign-for."""
    data = event.data
    now = now or utcnow()
    with uow:
        case = uow.cases.get(data["case_id"], lock=True)
        history = uow.assignments.for_case(data["case_id"])
        leads = [a for a in history if a.role == "lead" and a.status == "done"]
        code = data.get("previous_unit") or (leads[-1].unit_code if leads else None)
        if code not in directory.units:
            log.warning("warning case %s: previous unit %r unknown; sent to triage", data["case_id"], code)
            code = directory.triage_unit
        unit = directory.units[code]
        if leads:
            uow.assignments.mark_dissatisfied(leads[-1].id)
        warning_limit = (TimeLimit(data["deadline_working_days"], "working_days")
                         if data.get("deadline_working_days") else directory.policy.warning)
        reason = f"预警工单 ({data['rating']}): {data['reason']}"
        if case is None:  # never routed here before (e.g. settled at the station): route what we know
            case = RoutedCase(case_id=data["case_id"], area="", matter_code="", category="", kind="complaint",
                              urgency="normal", rule="warning", reason=reason, explanation=[], escalation=[],
                              status="open", lead_unit=code, created_at=now, updated_at=now)
            uow.cases.add(case)
        sign_limit = directory.policy.tier_for(dataclasses.asdict(case)).sign
        reopened_at = datetime.fromisoformat(data["reopened_at"])
        assignment = assignments.new_assignment(
            case.case_id, case.area, unit, rule="warning", reason=reason, now=now, sign_limit=sign_limit,
            handle_limit=warning_limit, due_at=warning_limit.due(reopened_at))
        uow.assignments.add(assignment)
        case.status, case.warning, case.lead_unit, case.updated_at = "open", True, code, now
        case.answer, case.resolved_at = None, None
        uow.cases.save(case)
        uow.cases.log(case.case_id, now, "warning", code, "intake", {"reason": data["reason"],
                                                                     "rating": data["rating"]})
        uow.emit("doorstep.routing.case.routed.v1", subject=f"case/{case.case_id}", data={
            "case_id": case.case_id, "assignment_id": assignment.id,
            "unit": {"code": unit.code, "name": unit.name}, "rule": "warning", "reason": reason,
            "area": case.area, **({"matter_code": case.matter_code} if case.matter_code else {}),
            **({"resident_id": case.resident_id} if case.resident_id else {}),
            **({"phone_masked": case.phone_masked} if case.phone_masked else {}),
            "assists": [], "sign_due_at": _iso(assignment.sign_due_at), "due_at": _iso(assignment.due_at),
            "dispatch": "warning", "routed_at": now.isoformat(),
        })
        uow.commit()


# -- the lifecycle of an assignment ----------------------------------------------------------------------

def _load(uow: RoutingUnitOfWork, assignment_id: str) -> tuple[Assignment, RoutedCase]:
    assignment = uow.assignments.get(assignment_id, lock=True)
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} does not exist")
    case = uow.cases.get(assignment.case_id, lock=True)
    if case is None:
        raise NotFound(f"case {assignment.case_id} is not known to routing")
    return assignment, case


def assignment_view(a: Assignment, now: datetime | None = None) -> dict:
    view = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in dataclasses.asdict(a).items()}
    view["overdue"] = a.is_overdue(now or utcnow())
    return view


def sign_assignment(assignment_id: str, principal, uow: RoutingUnitOfWork, directory: Directory,
                    now: datetime | None = None) -> dict:
    now = now or utcnow()
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        assignments.sign(assignment, directory.unit(assignment.unit_code), now, directory.policy)
        uow.assignments.save(assignment)
        uow.emit("doorstep.routing.assignment.signed.v1", subject=f"case/{case.case_id}", data={
            "case_id": case.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
            "role": assignment.role, "due_at": _iso(assignment.due_at), "signed_at": now.isoformat()})
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
        uow.emit("doorstep.routing.assignment.contacted.v1", subject=f"case/{case.case_id}", data={
            "case_id": case.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
            "on_time": assignment.contact_due_at is None or now <= assignment.contact_due_at,
            "contacted_at": now.isoformat()})
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
        uow.emit("doorstep.routing.assignment.reported.v1", subject=f"case/{case.case_id}", data={
            "case_id": case.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
            "role": assignment.role, "result": assignment.result,
            "overdue": assignment.due_at is not None and now > assignment.due_at, "reported_at": now.isoformat()})
        everything = uow.assignments.for_case(case.case_id)
        resolved = assignments.resolution(case, everything, directory.units)
        if resolved:
            for other in everything:  # optional assists still open are no longer needed
                if other.is_open and other.role == "assist":
                    assignments.close(other, "superseded", "case resolved", now)
                    uow.assignments.save(other)
            case.status, case.answer, case.resolved_at, case.updated_at = "resolved", resolved["answer"], now, now
            uow.cases.save(case)
            uow.emit("doorstep.routing.case.resolved.v1", subject=f"case/{case.case_id}", data={
                "case_id": case.case_id, **({"resident_id": case.resident_id} if case.resident_id else {}),
                "lead_unit": resolved["lead"].unit_code, "assisting_units": resolved["assisting_units"],
                "answer": resolved["answer"], "overdue": resolved["overdue"], "resolved_at": now.isoformat()})
        uow.commit()
    if resolved:
        metrics.TIME_TO_RESOLVE.labels(directory.metric_label(resolved["lead"].unit_code)).observe(
            (now - case.created_at).total_seconds())
    return {"assignment": assignment_view(assignment, now), "case_status": case.status, "answer": case.answer}


def transfer_assignment(assignment_id: str, to_unit: str, reason: str, principal, uow: RoutingUnitOfWork,
                        directory: Directory, now: datetime | None = None) -> dict:
    """转办 to another unit; past the street's limit the case is escalated to a supervisor instead."""
    now = now or utcnow()
    target = directory.unit(to_unit)
    with uow:
        assignment, case = _load(uow, assignment_id)
        assignments.check_acts_for(principal.role, principal.label, assignment.unit_code)
        outcome = assignments.check_transfer(case, assignment, target.code, reason, directory.policy)
        if outcome == "escalate":
            supervisor = escalation_target(case, assignment, directory)
            if assignment.escalated_to is None:  # asking again changes nothing: escalated once
                _escalate(uow, case, assignment, supervisor, "transfer-limit", now, due_at=None)
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
        uow.emit("doorstep.routing.assignment.transferred.v1", subject=f"case/{case.case_id}", data={
            "case_id": case.case_id, "assignment_id": assignment.id, "from_unit": assignment.unit_code,
            "to_unit": target.code, "to_unit_name": target.name, "new_assignment_id": successor.id,
            "reason": reason, "transfers": case.transfers, "sign_due_at": _iso(successor.sign_due_at),
            "transferred_at": now.isoformat()})
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
        assignments.check_return(assignment, reason_code)
        assignments.close(assignment, "returned", reason_code, now)
        uow.assignments.save(assignment)
        case.status, case.updated_at = "arbitration", now
        uow.cases.save(case)
        arbiter = directory.policy.arbitration_unit
        uow.cases.log(case.case_id, now, "return", assignment.unit_code, _actor(principal),
                      {"reason_code": reason_code, "reason": RETURN_REASONS[reason_code], "note": note or ""})
        uow.emit("doorstep.routing.assignment.returned.v1", subject=f"case/{case.case_id}", data={
            "case_id": case.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
            "reason_code": reason_code, "note": note or "", "arbitration_unit": arbiter,
            "returned_at": now.isoformat()})
        uow.commit()
    metrics.RETURNS.labels(directory.metric_label(assignment.unit_code), reason_code).inc()
    return {"case_id": case.case_id, "status": case.status, "arbitration_unit": arbiter}


def arbitrate_case(case_id: str, to_unit: str, decision: str, principal, uow: RoutingUnitOfWork,
                   directory: Directory, now: datetime | None = None) -> dict:
    """The operations centre decides who handles a returned case, records why, and re-dispatches it."""
    now = now or utcnow()
    arbiter = directory.policy.arbitration_unit
    assignments.check_acts_for(principal.role, principal.label, arbiter)
    if not (decision or "").strip():
        raise InvalidInput("decision", "record why this unit handles the case")
    target = directory.unit(to_unit)
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
        uow.emit("doorstep.routing.case.arbitrated.v1", subject=f"case/{case_id}", data={
            "case_id": case_id, "arbitration_unit": arbiter, "unit": target.code, "unit_name": target.name,
            "assignment_id": assignment.id, "decision": decision, "arbitrated_at": now.isoformat()})
        uow.commit()
    return {"case_id": case_id, "status": case.status, "assignment": assignment_view(assignment, now)}


def request_extension(assignment_id: str, working_days, reason: str, principal, uow: RoutingUnitOfWork,
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
    if not isinstance(approve, bool):
        raise InvalidInput("approve", "true or false")
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
            uow.emit("doorstep.routing.assignment.extended.v1", subject=f"case/{case.case_id}", data={
                "case_id": case.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
                "approved_by": approver, "reason": reason or "", "working_days": days,
                "previous_due_at": previous_due.isoformat(), "due_at": assignment.due_at.isoformat(),
                "extended_at": now.isoformat()})
        uow.commit()
    return {"approved": approve, "assignment": assignment_view(assignment, now)}


# -- deadlines -------------------------------------------------------------------------------------------

def _escalate(uow: RoutingUnitOfWork, case: RoutedCase, assignment: Assignment, to_unit: str, reason: str,
              now: datetime, due_at: datetime | None) -> None:
    case.escalations += 1
    case.updated_at = now
    assignment.escalated_to, assignment.escalated_at = to_unit, now
    uow.assignments.save(assignment)
    uow.cases.save(case)
    uow.cases.log(case.case_id, now, "escalation", assignment.unit_code, "timer" if due_at else None,
                  {"to_unit": to_unit, "reason": reason})
    data = {"case_id": case.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
            "to_unit": to_unit, "reason": reason, "level": case.escalations, "escalated_at": now.isoformat()}
    if due_at is not None:
        data["due_at"] = due_at.isoformat()
    uow.emit("doorstep.routing.case.escalated.v1", subject=f"case/{case.case_id}", data=data)
    metrics.ESCALATIONS.labels(assignment.unit_code, reason).inc()  # a directory code: bounded


def check_deadlines(new_uow: Callable[[], RoutingUnitOfWork], directory: Directory,
                    now: datetime | None = None) -> list[tuple[str, str, str]]:
    """One pass of the deadline timer: remind (催办) and escalate (督办) each breach exactly once.

    Each assignment is handled in its own transaction, locked (FOR UPDATE on PostgreSQL) so that a second
    timer replica waits and then sees what the first did; the unique (assignment, deadline, due time, step)
    row commits with the event, so even without the lock a step can only happen once.
    Returns the (assignment id, clock, step) done by this pass.
    """
    now = now or utcnow()
    with new_uow() as uow:
        candidates = uow.assignments.open_ids()
    done: list[tuple[str, str, str]] = []
    for assignment_id in candidates:
        uow = new_uow()
        try:
            with uow:
                assignment = uow.assignments.get(assignment_id, lock=True)
                if assignment is None:
                    continue
                steps = breaches(assignment, now, directory.policy)
                recorded = uow.breaches.recorded(assignment_id)
                steps = [s for s in steps if (s.clock, s.due_at, s.step) not in recorded]
                if not steps:
                    continue
                case = uow.cases.get(assignment.case_id, lock=True)
                for step in steps:
                    target = escalation_target(case, assignment, directory) if step.step == "escalate" else None
                    uow.breaches.record(assignment_id, step.clock, step.due_at, step.step, assignment.unit_code,
                                        target, now)
                    if step.step == "remind":
                        uow.emit("doorstep.routing.assignment.reminded.v1", subject=f"case/{case.case_id}", data={
                            "case_id": case.case_id, "assignment_id": assignment_id, "unit": assignment.unit_code,
                            "clock": step.clock, "due_at": step.due_at.isoformat(), "reminded_at": now.isoformat()})
                        metrics.REMINDERS.labels(directory.metric_label(assignment.unit_code), step.clock).inc()
                    else:
                        _escalate(uow, case, assignment, target, f"{step.clock}-overdue", now, step.due_at)
                    done.append((assignment_id, step.clock, step.step))
                uow.commit()
        except IntegrityError:
            # Another replica recorded this step between our read and our insert: it is done, once.
            done = [d for d in done if d[0] != assignment_id]
    refresh_gauges(new_uow, directory, now)
    return done


def refresh_gauges(new_uow: Callable[[], RoutingUnitOfWork], directory: Directory, now: datetime) -> None:
    with new_uow() as uow:
        opened, overdue = uow.assignments.open_counts(now)
    for code in directory.units:
        metrics.OPEN_ASSIGNMENTS.labels(code).set(opened.get(code, 0))
        metrics.OVERDUE_ASSIGNMENTS.labels(code).set(overdue.get(code, 0))


# -- reading ---------------------------------------------------------------------------------------------

def case_decision(case_id: str, uow: RoutingUnitOfWork, now: datetime | None = None) -> dict:
    """Which rule matched and why, every rule tried before it, and what happened to the case since."""
    now = now or utcnow()
    with uow:
        case = uow.cases.get(case_id)
        found = uow.assignments.for_case(case_id)
        history = uow.cases.history(case_id)
    if case is None and not found:
        raise NotFound(f"no routing decision for case {case_id}")
    body = {"case_id": case_id, "assignments": [assignment_view(a, now) for a in found], "history": history}
    if case is not None:
        body.update({
            "status": case.status, "lead_unit": case.lead_unit, "rule": case.rule, "reason": case.reason,
            "facts": {"matter_code": case.matter_code, "category": case.category, "area": case.area,
                      "kind": case.kind, "urgency": case.urgency},
            "explanation": case.explanation, "escalation_chain": case.escalation, "transfers": case.transfers,
            "escalations": case.escalations, "warning": case.warning, "answer": case.answer,
            "resolved_at": _iso(case.resolved_at),
        })
    elif found:  # routed before the decision was stored in full
        body.update({"rule": found[0].rule, "reason": found[0].reason, "lead_unit": found[-1].unit_code})
    return body


def worklist(unit_code: str, args: dict, principal, uow: RoutingUnitOfWork, directory: Directory,
             now: datetime | None = None) -> dict:
    now = now or utcnow()
    directory.unit(unit_code)
    if principal.role != "auditor":
        assignments.check_acts_for(principal.role, principal.label, unit_code)
    state = args.get("state", "open")
    if state not in _WORKLIST_STATES:
        raise InvalidInput("state", f"one of {list(_WORKLIST_STATES)}")
    if state == "arbitration" and unit_code != directory.policy.arbitration_unit:
        raise InvalidInput("state", f"only {directory.policy.arbitration_unit} arbitrates returned cases")
    role = args.get("role") or None
    if role not in (None, "lead", "assist"):
        raise InvalidInput("role", "lead or assist")
    page, per_page = _positive(args, "page", 1, 10_000), _positive(args, "per_page", 20, 100)
    with uow:
        total, items = uow.assignments.worklist(unit_code, state, now, role=role, area=args.get("area") or None,
                                                limit=per_page, offset=(page - 1) * per_page)
    return {"unit": unit_code, "state": state, "page": page, "per_page": per_page, "total": total,
            "items": [assignment_view(a, now) for a in items]}


def _positive(args: dict, name: str, default: int, most: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(name, f"a whole number, got {raw!r}") from None
    if not 1 <= value <= most:
        raise InvalidInput(name, f"from 1 to {most}, got {value}")
    return value


def scores(unit_code: str, args: dict, uow: RoutingUnitOfWork, directory: Directory) -> dict:
    """三率 of a unit over a period of dates (Asia/Shanghai), ``from`` inclusive, ``to`` inclusive."""
    from shared.workdays import SHANGHAI
    from datetime import date, time as dtime

    directory.unit(unit_code)
    try:
        start = date.fromisoformat(args.get("from") or "")
        end = date.fromisoformat(args.get("to") or "")
    except ValueError:
        raise InvalidInput("from" if not _is_date(args.get("from")) else "to", "a date like 2026-10-01") from None
    if end < start:
        raise InvalidInput("to", "must not be before from")
    since = datetime.combine(start, dtime(0), SHANGHAI)
    until = datetime.combine(end + timedelta(days=1), dtime(0), SHANGHAI)
    with uow:
        found, dissatisfied = uow.assignments.for_unit_between(unit_code, since, until)
    return {"unit": unit_code, "from": start.isoformat(), "to": end.isoformat(),
            **unit_scores(found, dissatisfied)}


def _is_date(raw) -> bool:
    from datetime import date
    try:
        date.fromisoformat(raw or "")
        return True
    except ValueError:
        return False
