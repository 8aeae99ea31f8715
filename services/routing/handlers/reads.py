"""What routing answers: the decision behind a case and what happened since, a unit's worklist, its scores."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta

from shared.db import utcnow
from shared.errors import InvalidInput, NotFound
from shared.workdays import SHANGHAI
from services.routing.domain.assignments import Assignment, check_acts_for
from services.routing.domain.directory import Directory
from services.routing.domain.scores import unit_scores
from services.routing.persistence import RoutingUnitOfWork


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def assignment_view(a: Assignment, now: datetime | None = None) -> dict:
    view = {k: (iso(v) if isinstance(v, datetime) else v) for k, v in dataclasses.asdict(a).items()}
    view["overdue"] = a.is_overdue(now or utcnow())
    return view


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
            "resolved_at": iso(case.resolved_at),
        })
    elif found:  # routed before the decision was stored in full
        body.update({"rule": found[0].rule, "reason": found[0].reason, "lead_unit": found[-1].unit_code})
    return body


def worklist(unit_code: str, state: str, principal, uow: RoutingUnitOfWork, directory: Directory, *,
             role: str | None = None, area: str | None = None, page: int = 1, per_page: int = 20,
             now: datetime | None = None) -> dict:
    """A unit's assignments in one ``state`` (open, overdue, escalated, supervising, arbitration, closed, all),
    most urgent first, a page at a time."""
    now = now or utcnow()
    _known_unit(unit_code, directory)
    if principal.role != "auditor":
        check_acts_for(principal.role, principal.label, unit_code)
    if state == "arbitration" and unit_code != directory.policy.arbitration_unit:
        raise InvalidInput("state", f"只有{directory.policy.arbitration_unit}仲裁退单 / only "
                                    f"{directory.policy.arbitration_unit} arbitrates returned cases")
    with uow:
        total, items = uow.assignments.worklist(unit_code, state, now, role=role, area=area, limit=per_page,
                                                offset=(page - 1) * per_page)
    return {"unit": unit_code, "state": state, "page": page, "per_page": per_page, "total": total,
            "items": [assignment_view(a, now) for a in items]}


def scores(unit_code: str, start: date, end: date, uow: RoutingUnitOfWork, directory: Directory) -> dict:
    """三率 of a unit over a period of dates (Asia/Shanghai), ``start`` and ``end`` inclusive."""
    _known_unit(unit_code, directory)
    since = datetime.combine(start, time(0), SHANGHAI)
    until = datetime.combine(end + timedelta(days=1), time(0), SHANGHAI)
    with uow:
        found, dissatisfied = uow.assignments.for_unit_between(unit_code, since, until)
    return {"unit": unit_code, "from": start.isoformat(), "to": end.isoformat(),
            **unit_scores(found, dissatisfied)}


def _known_unit(unit_code: str, directory: Directory) -> None:
    if unit_code not in directory.units:
        raise NotFound(f"no unit {unit_code} in this street's directory")
