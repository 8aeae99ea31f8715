"""Routing's use cases."""
from __future__ import annotations

import dataclasses

from shared.db import utcnow
from shared.errors import NotFound
from shared.events import Envelope
from services.routing.domain import Directory, assign
from services.routing.persistence import RoutingUnitOfWork


def route_case(event: Envelope, uow: RoutingUnitOfWork, directory: Directory) -> None:
    """An accepted case that is handled elsewhere (收受分离) gets a lead unit; station matters stay at intake."""
    data = event.data
    if data["handling"] != "routed":
        return
    decision = directory.route(data)
    now = utcnow()
    with uow:
        assignment = assign(data["case_id"], data["area"], decision, now)
        uow.assignments.add(assignment)
        uow.emit("doorstep.routing.case.routed.v1", subject=f"case/{data['case_id']}", data={
            "case_id": data["case_id"],
            "assignment_id": assignment.id,
            "unit": {"code": decision.unit.code, "name": decision.unit.name},
            "rule": decision.rule,
            "area": data["area"],
            "matter_code": data["matter_code"],
            "resident_id": data["resident"]["resident_id"],
            "phone_masked": data["resident"]["phone_masked"],
            "routed_at": now.isoformat(),
        })
        uow.commit()


def case_decision(case_id: str, uow: RoutingUnitOfWork) -> dict:
    with uow:
        found = uow.assignments.for_case(case_id)
    if not found:
        raise NotFound(f"no routing decision for case {case_id}")
    return {"case_id": case_id, "assignments": [
        {**dataclasses.asdict(a), "created_at": a.created_at.isoformat()} for a in found]}
