"""What routing answers: the decision behind a case and what happened since, a unit's worklist, its scores."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from shared.db import utcnow
from shared.errors import InvalidInput, NotFound
from services.routing.domain.assignments import Assignment, check_acts_for
from services.routing.domain.directory import Directory
from services.routing.domain.scores import unit_scores
from services.routing.persistence import RoutingUnitOfWork

_WORKLIST_STATES = ("open", "overdue", "escalated", "supervising", "arbitration", "closed", "all")


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


def worklist(unit_code: str, args: dict, principal, uow: RoutingUnitOfWork, directory: Directory,
             now: datetime | None = None) -> dict:
    now = now or utcnow()
    directory.unit(unit_code)
    if principal.role != "auditor":
        check_acts_for(principal.role, principal.label, unit_code)
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
