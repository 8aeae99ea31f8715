"""Intake's use cases. Each takes a command or an event and a unit of work; none knows about nameko or HTTP."""
from __future__ import annotations

from shared.db import utcnow
from shared.errors import InvalidInput, NotFound
from shared.events import Envelope
from shared.personal_data import mask_phone
from services.intake.catalog import Catalog
from services.intake.domain import SubmitCase, new_case
from services.intake.persistence import IntakeUnitOfWork


def submit_case(cmd: SubmitCase, uow: IntakeUnitOfWork, catalog: Catalog) -> dict:
    matter = catalog.get(cmd.matter_code)
    if matter is None:
        raise InvalidInput("matter_code", f"{cmd.matter_code!r} is not in the matter catalog")
    now = utcnow()
    with uow:
        resident_id = uow.residents.upsert(cmd.resident, now)
        case = new_case(cmd, matter.category, resident_id, now)
        uow.cases.add(case)
        resident = {"resident_id": resident_id, "phone_masked": mask_phone(cmd.resident.phone)}
        uow.emit("doorstep.intake.case.submitted.v1", subject=f"case/{case.id}", data={
            "case_id": case.id,
            "matter_code": case.matter_code,
            "category": case.category,
            "handling": matter.handling,
            "channel": case.channel,
            "kind": case.kind,
            "urgency": case.urgency,
            "area": case.area,
            "resident": resident,
            "entered_by": cmd.entered_by,
            "submitted_at": now.isoformat(),
        })
        if case.channel == "counter":
            # 一口受理: the worker at the window checks the matter in front of the resident and accepts it.
            case.move_to("accepted", now, "accepted at the counter")
            uow.cases.save(case)
            uow.emit("doorstep.intake.case.accepted.v1", subject=f"case/{case.id}", data={
                "case_id": case.id, "matter_code": case.matter_code, "category": case.category,
                "handling": matter.handling, "channel": case.channel, "kind": case.kind, "urgency": case.urgency,
                "area": case.area, "resident": resident, "time_limit_days": matter.time_limit_days,
                "accepted_at": now.isoformat(),
            })
        uow.commit()
    return {"id": case.id, "status": case.status, "submitted_at": now.isoformat()}


def record_routing(event: Envelope, uow: IntakeUnitOfWork) -> None:
    """routing assigned the case: keep intake's view of its status true."""
    data = event.data
    with uow:
        case = uow.cases.get(data["case_id"])
        if case is None:
            raise NotFound(f"case {data['case_id']} is not known to intake")
        now = utcnow()
        previous = case.move_to("routed", now, f"assigned to {data['unit']['name']} ({data['unit']['code']})")
        uow.cases.save(case)
        uow.emit("doorstep.intake.case.status_changed.v1", subject=f"case/{case.id}", data={
            "case_id": case.id, "status": case.status, "previous_status": previous, "changed_at": now.isoformat(),
        })
        uow.commit()


def get_case(case_id: str, uow: IntakeUnitOfWork) -> dict:
    with uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} does not exist")
        return {
            "id": case.id, "matter_code": case.matter_code, "category": case.category, "channel": case.channel,
            "kind": case.kind, "urgency": case.urgency, "description": case.description, "area": case.area,
            "resident_id": case.resident_id, "status": case.status, "entered_by": case.entered_by,
            "submitted_at": case.submitted_at.isoformat(), "updated_at": case.updated_at.isoformat(),
            "history": case.history,
        }
