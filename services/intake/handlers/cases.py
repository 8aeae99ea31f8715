"""A case's life at intake: submitted, accepted, rejected or sent back for materials (补正), settled, called back
(回访), closed; and the statuses routing reports (routed, signed for, resolved).

Every change of a case's status emits its own event (``case.accepted``, ``case.rejected`` …) and
``case.status_changed``, in the same transaction as the change, so subscribers that follow only statuses and
subscribers that want the details both see every step.
"""
from __future__ import annotations

from shared.db import utcnow
from shared.errors import InvalidInput, NotFound
from shared.events import Envelope
from shared.personal_data import mask_phone
from services.intake import metrics
from services.intake.catalog import Catalog
from services.intake.domain import WARNING_CASE_DEADLINE_DAYS, Case, SubmitCase, check_against_matter, new_case, redact
from services.intake.handlers.reads import case_view, resident_ref
from services.intake.persistence import IntakeUnitOfWork


def _subject(case: Case) -> str:
    return f"case/{case.id}"


def _status_changed(uow: IntakeUnitOfWork, case: Case, previous: str, now, reason: str = "") -> None:
    data = {"case_id": case.id, "status": case.status, "previous_status": previous, "changed_at": now.isoformat()}
    if reason:
        data["reason"] = redact(reason)
    uow.emit("doorstep.intake.case.status_changed.v1", subject=_subject(case), data=data)


def _load(uow: IntakeUnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id, for_update=True)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


def _emit_accepted(uow: IntakeUnitOfWork, case: Case, matter, resident: dict, now) -> None:
    uow.emit("doorstep.intake.case.accepted.v1", subject=_subject(case), data={
        "case_id": case.id, "matter_code": case.matter_code, "category": case.category,
        "handling": matter.handling if matter else case.handling, "channel": case.channel, "kind": case.kind,
        "urgency": case.urgency, "area": case.area, "resident": resident,
        "time_limit_days": matter.time_limit_days if matter else 0, "accepted_at": now.isoformat(),
    })


def submit_case(cmd: SubmitCase, uow: IntakeUnitOfWork, catalog: Catalog) -> dict:
    matter = catalog.get(cmd.matter_code)
    if matter is None:
        raise InvalidInput("matter_code", f"{cmd.matter_code!r} is not in the matter catalog")
    attributes = check_against_matter(cmd, matter)
    now = utcnow()
    with uow:
        resident_id = uow.residents.upsert(cmd.resident, now)
        case = new_case(cmd, matter.category, resident_id, now, handling=matter.handling, attributes=attributes)
        resident = {"resident_id": resident_id, "phone_masked": mask_phone(cmd.resident.phone)}
        uow.emit("doorstep.intake.case.submitted.v1", subject=_subject(case), data={
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
            previous = case.accept(now, "accepted at the counter")
            _emit_accepted(uow, case, matter, resident, now)
            _status_changed(uow, case, previous, now)
        uow.cases.add(case)  # stored once, as it stands after the counter's decision, with its whole history
        uow.commit()
    metrics.SUBMITTED.labels(case.category, case.channel).inc()
    if case.status == "accepted":
        metrics.CASE_DECISIONS.labels(case.category, "accepted").inc()
    return {"id": case.id, "status": case.status, "submitted_at": now.isoformat()}


# -- a worker's decisions -----------------------------------------------------------------------------------

def accept_case(case_id: str, uow: IntakeUnitOfWork, catalog: Catalog) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous = case.accept(now)
        uow.cases.save(case)
        _emit_accepted(uow, case, catalog.get(case.matter_code), resident_ref(uow, case.resident_id), now)
        _status_changed(uow, case, previous, now)
        uow.commit()
    metrics.CASE_DECISIONS.labels(case.category, "accepted").inc()
    return case_view(case)


def reject_case(case_id: str, reason: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous = case.reject(reason, now)
        uow.cases.save(case)
        uow.emit("doorstep.intake.case.rejected.v1", subject=_subject(case), data={
            "case_id": case.id, "resident_id": case.resident_id, "matter_code": case.matter_code,
            "reason": redact(reason), "rejected_at": now.isoformat()})
        _status_changed(uow, case, previous, now, reason)
        uow.commit()
    metrics.CASE_DECISIONS.labels(case.category, "rejected").inc()
    return case_view(case)


def request_supplement(case_id: str, missing: list[str], note: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous = case.request_supplement(missing, now, note)
        uow.cases.save(case)
        data = {"case_id": case.id, "resident_id": case.resident_id, "missing_materials": [redact(m) for m in missing],
                "requested_at": now.isoformat()}
        if note:
            data["note"] = redact(note)
        uow.emit("doorstep.intake.case.supplement_requested.v1", subject=_subject(case), data=data)
        _status_changed(uow, case, previous, now, "missing: " + ", ".join(missing))
        uow.commit()
    metrics.CASE_DECISIONS.labels(case.category, "supplement_requested").inc()
    return case_view(case)


def resubmit_case(case_id: str, note: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous = case.resubmit(now, note)
        uow.cases.save(case)
        data = {"case_id": case.id, "resubmitted_at": now.isoformat()}
        if note:
            data["note"] = redact(note)
        uow.emit("doorstep.intake.case.resubmitted.v1", subject=_subject(case), data=data)
        _status_changed(uow, case, previous, now)
        uow.commit()
    return case_view(case)


def settle_case(case_id: str, answer: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous = case.settle(answer, now)
        uow.cases.save(case)
        uow.emit("doorstep.intake.case.settled.v1", subject=_subject(case), data={
            "case_id": case.id, "resident_id": case.resident_id, "matter_code": case.matter_code,
            "answer": redact(answer), "settled_at": now.isoformat()})
        _status_changed(uow, case, previous, now)
        uow.commit()
    return case_view(case)


def record_callback(case_id: str, rating: str, comment: str, uow: IntakeUnitOfWork) -> dict:
    """回访. 不满意 or worse: the case is reopened as a warning case routing handles again in 3 working days."""
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous, reopened = case.record_callback(rating, comment, now)
        uow.cases.save(case)
        data = {"case_id": case.id, "rating": rating, "reopened": reopened, "recorded_at": now.isoformat()}
        if comment:
            data["comment"] = redact(comment)
        if case.lead_unit:
            data["lead_unit"] = case.lead_unit
        uow.emit("doorstep.intake.case.callback_recorded.v1", subject=_subject(case), data=data)
        if reopened:
            reopen = {"case_id": case.id, "rating": rating, "reason": redact(comment or rating),
                      "deadline_working_days": WARNING_CASE_DEADLINE_DAYS, "reopened_at": now.isoformat()}
            if case.lead_unit:
                reopen["previous_unit"] = case.lead_unit
            uow.emit("doorstep.intake.case.reopened.v1", subject=_subject(case), data=reopen)
        _status_changed(uow, case, previous, now, f"callback rating {rating}")
        uow.commit()
    metrics.CALLBACKS.labels(rating).inc()
    return case_view(case)


def close_case(case_id: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous = case.close(now)
        uow.cases.save(case)
        data = {"case_id": case.id, "resident_id": case.resident_id, "matter_code": case.matter_code,
                "closed_at": now.isoformat()}
        if case.rating:
            data["rating"] = case.rating
        uow.emit("doorstep.intake.case.closed.v1", subject=_subject(case), data=data)
        _status_changed(uow, case, previous, now)
        visits = uow.visits.count_for_case(case.id)
        uow.commit()
    metrics.VISITS_PER_CASE.labels(case.category).observe(visits)
    return case_view(case)


# -- following routing --------------------------------------------------------------------------------------

def _follow(events: list[Envelope], uow: IntakeUnitOfWork, change) -> None:
    """Apply what routing says happened, ``change(case, data, now)`` for each event in turn, in one transaction;
    an event for a state the case has already passed changes nothing (``change`` returns None)."""
    with uow:
        todo = uow.unhandled(events)
        found = uow.cases.get_many([event.data["case_id"] for event in todo], for_update=True)
        now = utcnow()
        changed = {}
        for event in todo:
            case = found.get(event.data["case_id"])
            if case is None:
                raise NotFound(f"case {event.data['case_id']} is not known to intake")
            previous = change(case, event.data, now)
            if previous is None:
                continue  # the inbox row alone: handled, nothing to change
            changed[case.id] = case
            _status_changed(uow, case, previous, now)
        if changed:
            uow.cases.save(*changed.values())
        uow.commit()


def record_routing(events: list[Envelope], uow: IntakeUnitOfWork) -> None:
    """routing assigned (or transferred) cases to a lead unit: keep intake's view of their status true."""
    _follow(events, uow, lambda case, data, now: case.routed_to(data["unit"]["code"], data["unit"]["name"], now))


def record_signed(events: list[Envelope], uow: IntakeUnitOfWork) -> None:
    """A unit signed for its assignment: the lead unit's signature starts the work (in progress)."""

    def change(case: Case, data: dict, now):
        if data["role"] != "lead" or case.status not in ("routed", "reopened"):
            return None  # an assisting unit (协办), or a signature that arrives after the work moved on
        return case.signed(data["unit"], now)

    _follow(events, uow, change)


def record_resolution(events: list[Envelope], uow: IntakeUnitOfWork) -> None:
    """Cases were resolved: store the one merged answer for the resident."""

    def change(case: Case, data: dict, now):
        if case.status in ("resolved", "called_back", "closed"):
            return None
        return case.resolved(data["lead_unit"], data["answer"], now)

    _follow(events, uow, change)
