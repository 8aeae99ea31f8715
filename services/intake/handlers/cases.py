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
from services.intake import events, metrics
from services.intake.catalog import Catalog
from services.intake.domain import (Case, RecordCallback, RejectCase, RequestSupplement, ResubmitCase, SettleCase,
                                    SubmitCase, check_against_matter, new_case)
from services.intake.handlers.reads import case_view, resident_ref
from services.intake.handlers.residents import check_not_erased
from services.intake.persistence import IntakeUnitOfWork


def _load(uow: IntakeUnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id, for_update=True)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


def submit_case(cmd: SubmitCase, uow: IntakeUnitOfWork, catalog: Catalog) -> dict:
    matter = catalog.get(cmd.matter_code)
    if matter is None:
        raise InvalidInput("matter_code", f"{cmd.matter_code!r} is not in the matter catalog")
    attributes = check_against_matter(cmd, matter)
    now = utcnow()
    with uow:
        resident_id = uow.residents.upsert(cmd.resident, now)
        case = new_case(cmd, matter.category, resident_id, now, handling=matter.handling, attributes=attributes)
        resident = events.resident_ref(resident_id, cmd.resident.phone)
        uow.emit(events.case_submitted(case, resident))
        if case.channel == "counter":
            # 一口受理: the worker at the window checks the matter in front of the resident and accepts it.
            previous = case.accept(now, "accepted at the counter")
            uow.emit(events.case_accepted(case, matter, resident, now))
            uow.emit(events.case_status_changed(case, previous, now))
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
        uow.emit(events.case_accepted(case, catalog.get(case.matter_code), resident_ref(uow, case.resident_id), now))
        uow.emit(events.case_status_changed(case, previous, now))
        uow.commit()
    metrics.CASE_DECISIONS.labels(case.category, "accepted").inc()
    return case_view(case)


def reject_case(cmd: RejectCase, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, cmd.case_id)
        previous = case.reject(cmd.reason, now)
        uow.cases.save(case)
        uow.emit(events.case_rejected(case, now))
        uow.emit(events.case_status_changed(case, previous, now, cmd.reason))
        uow.commit()
    metrics.CASE_DECISIONS.labels(case.category, "rejected").inc()
    return case_view(case)


def request_supplement(cmd: RequestSupplement, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, cmd.case_id)
        previous = case.request_supplement(list(cmd.missing_materials), now, cmd.note)
        uow.cases.save(case)
        uow.emit(events.case_supplement_requested(case, cmd.note, now))
        uow.emit(events.case_status_changed(case, previous, now, "missing: " + ", ".join(cmd.missing_materials)))
        uow.commit()
    metrics.CASE_DECISIONS.labels(case.category, "supplement_requested").inc()
    return case_view(case)


def resubmit_case(cmd: ResubmitCase, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, cmd.case_id)
        previous = case.resubmit(now, cmd.note)
        uow.cases.save(case)
        uow.emit(events.case_resubmitted(case, cmd.note, now))
        uow.emit(events.case_status_changed(case, previous, now))
        uow.commit()
    return case_view(case)


def settle_case(cmd: SettleCase, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, cmd.case_id)
        previous = case.settle(cmd.answer, now)
        uow.cases.save(case)
        uow.emit(events.case_settled(case, now))
        uow.emit(events.case_status_changed(case, previous, now))
        uow.commit()
    return case_view(case)


def record_callback(cmd: RecordCallback, uow: IntakeUnitOfWork) -> dict:
    """回访. 不满意 or worse: the case is reopened as a warning case routing handles again in 3 working days.
    Refused once the resident was erased: the comment would be their words again."""
    now = utcnow()
    with uow:
        case = _load(uow, cmd.case_id)
        check_not_erased(uow, case.resident_id)
        previous, reopened = case.record_callback(cmd.rating, cmd.comment, now)
        uow.cases.save(case)
        uow.emit(events.case_callback_recorded(case, cmd.comment, reopened, now))
        if reopened:
            uow.emit(events.case_reopened(case, cmd.comment, now))
        uow.emit(events.case_status_changed(case, previous, now, f"callback rating {cmd.rating}"))
        uow.commit()
    metrics.CALLBACKS.labels(cmd.rating).inc()
    return case_view(case)


def close_case(case_id: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        case = _load(uow, case_id)
        previous = case.close(now)
        uow.cases.save(case)
        uow.emit(events.case_closed(case, now))
        uow.emit(events.case_status_changed(case, previous, now))
        visits = uow.visits.count_for_case(case.id)
        uow.commit()
    metrics.VISITS_PER_CASE.labels(case.category).observe(visits)
    return case_view(case)


# -- following routing --------------------------------------------------------------------------------------

def _follow(reported: list[Envelope], uow: IntakeUnitOfWork, change) -> None:
    """Apply what routing says happened, ``change(case, data, now)`` for each event in turn, in one transaction;
    an event for a state the case has already passed changes nothing (``change`` returns None)."""
    with uow:
        todo = uow.unhandled(reported)
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
            uow.emit(events.case_status_changed(case, previous, now))
        if changed:
            uow.cases.save(*changed.values())
        uow.commit()


def record_routing(reported: list[Envelope], uow: IntakeUnitOfWork) -> None:
    """routing assigned (or transferred) cases to a lead unit: keep intake's view of their status true."""
    _follow(reported, uow, lambda case, data, now: case.routed_to(data["unit"]["code"], data["unit"]["name"], now))


def record_signed(reported: list[Envelope], uow: IntakeUnitOfWork) -> None:
    """A unit signed for its assignment: the lead unit's signature starts the work (in progress)."""

    def change(case: Case, data: dict, now):
        if data["role"] != "lead" or case.status not in ("routed", "reopened"):
            return None  # an assisting unit (协办), or a signature that arrives after the work moved on
        return case.signed(data["unit"], now)

    _follow(reported, uow, change)


def record_resolution(reported: list[Envelope], uow: IntakeUnitOfWork) -> None:
    """Cases were resolved: store the one merged answer for the resident."""

    def change(case: Case, data: dict, now):
        if case.status in ("resolved", "called_back", "closed"):
            return None
        return case.resolved(data["lead_unit"], data["answer"], now)

    _follow(reported, uow, change)
