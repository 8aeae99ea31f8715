"""What intake answers: a case, a search over cases, case rows for Open311, the matter catalog; and the
cases-by-status gauge, counted in the database."""
from __future__ import annotations

from shared.errors import NotFound
from services.intake import events, metrics
from services.intake.catalog import Catalog
from services.intake.domain import STATUSES, Case, CaseFilter
from services.intake.persistence import IntakeUnitOfWork


def resident_ref(uow: IntakeUnitOfWork, resident_id: str) -> dict:
    """The resident as events name them (:func:`services.intake.events.resident_ref`)."""
    return events.resident_ref(resident_id, uow.residents.get(resident_id)["phone"])


def case_view(case: Case) -> dict:
    return {
        "id": case.id, "matter_code": case.matter_code, "category": case.category, "channel": case.channel,
        "kind": case.kind, "urgency": case.urgency, "description": case.description, "area": case.area,
        "resident_id": case.resident_id, "status": case.status, "entered_by": case.entered_by,
        "proxy": case.proxy, "reporter": case.reporter, "handling": case.handling, "attributes": case.attributes,
        "missing_materials": case.missing_materials, "lead_unit": case.lead_unit, "answer": case.answer,
        "rating": case.rating, "reason": case.reason,
        "submitted_at": case.submitted_at.isoformat(), "updated_at": case.updated_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "history": case.history,
    }


def get_case(case_id: str, uow: IntakeUnitOfWork) -> dict:
    with uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} does not exist")
        return case_view(case)


def search_cases(found: CaseFilter, uow: IntakeUnitOfWork) -> dict:
    with uow:
        total, rows = uow.cases.search(found)
    items = [{
        "id": row["id"], "matter_code": row["matter_code"], "category": row["category"], "channel": row["channel"],
        "kind": row["kind"], "urgency": row["urgency"], "area": row["area"], "status": row["status"],
        "submitted_at": row["submitted_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
    } for row in rows]
    return {"total": total, "page": found.page, "per_page": found.per_page, "items": items}


def find_cases(query: dict, uow: IntakeUnitOfWork) -> list[dict]:
    """Case rows for a query of :meth:`CaseRepository.find` (ids, matter codes, statuses, window, limit)."""
    with uow:
        return uow.cases.find(**query)


def matter_view(catalog: Catalog, code: str) -> dict:
    matter = catalog.get(code)
    if matter is None:
        raise NotFound(f"matter {code!r} is not in the catalog")
    return {
        "code": matter.code, "name": matter.name, "category": matter.category,
        "category_name": catalog.categories[matter.category], "channels": list(matter.channels),
        "materials": list(matter.materials), "handling": matter.handling, "unit": matter.unit,
        "time_limit_days": matter.time_limit_days, "appointment": matter.appointment,
        "attributes": [{"code": a.code, "datatype": a.datatype, "required": a.required,
                        "description": a.description, "values": [{"key": v.key, "name": v.name} for v in a.values]}
                       for a in matter.attributes],
    }


def catalog_view(catalog: Catalog) -> dict:
    return {
        "categories": [{"code": code, "name": name} for code, name in catalog.categories.items()],
        "matters": [matter_view(catalog, code) for code in catalog.matters],
    }


def refresh_case_gauges(uow: IntakeUnitOfWork) -> dict[str, int]:
    """Set the cases-by-status gauge from the database (intake's metrics timer); returns the counts."""
    with uow:
        counts = uow.cases.count_by_status()
    for status in STATUSES:
        metrics.CASES.labels(status).set(counts.get(status, 0))
    return counts
