"""A case arrives from intake: routed (收受分离) to its lead and assisting units, or reopened as a warning case."""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from shared.db import utcnow
from shared.events import Envelope
from services.routing.domain.assignments import Assignment, RoutedCase, new_assignment
from services.routing.domain.deadlines import time_limits
from services.routing import events
from services.routing.domain.directory import Decision, Directory, TimeLimit
from services.routing.persistence import RoutingUnitOfWork

log = logging.getLogger(__name__)


def route_case(event: Envelope, uow: RoutingUnitOfWork, directory: Directory, now: datetime | None = None) -> None:
    route_cases([event], uow, directory, now)


def route_cases(accepted: list[Envelope], uow: RoutingUnitOfWork, directory: Directory,
                now: datetime | None = None) -> None:
    """Accepted cases that are handled elsewhere (收受分离) get a lead unit and their assisting units; station
    matters stay at intake. All in one transaction, the rows of all cases in one statement per table."""
    now = now or utcnow()
    with uow:
        cases, added = [], []
        for event in uow.unhandled(accepted):
            data = event.data
            if data["handling"] != "routed":
                continue
            case, decision, assignments = _route(data, directory, now)
            cases.append(case)
            added.extend(assignments)
            assists = list(zip(assignments[1:], (unit for unit, _ in decision.assists)))
            uow.emit(events.case_routed(case, assignments[0], decision.unit, assists, "initial", now))
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
    lead = new_assignment(case.case_id, case.area, decision.unit, rule=decision.rule,
                          reason=decision.reason, now=now, sign_limit=sign_limit, handle_limit=handle_limit)
    assists = [new_assignment(case.case_id, case.area, unit, rule=decision.rule,
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
        assignment = new_assignment(
            case.case_id, case.area, unit, rule="warning", reason=reason, now=now, sign_limit=sign_limit,
            handle_limit=warning_limit, due_at=warning_limit.due(reopened_at))
        uow.assignments.add(assignment)
        case.status, case.warning, case.lead_unit, case.updated_at = "open", True, code, now
        case.answer, case.resolved_at = None, None
        uow.cases.save(case)
        uow.cases.log(case.case_id, now, "warning", code, "intake", {"reason": data["reason"],
                                                                     "rating": data["rating"]})
        uow.emit(events.case_routed(case, assignment, unit, [], "warning", now))
        uow.commit()
