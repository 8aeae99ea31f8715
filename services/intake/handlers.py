"""Intake's use cases. Each takes a command or an event and a unit of work; none knows about nameko or HTTP.

Every change of a case's status emits its own event (``case.accepted``, ``case.rejected`` …) and
``case.status_changed``, in the same transaction as the change, so subscribers that follow only statuses and
subscribers that want the details both see every step.
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import IntegrityError

from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope
from shared.personal_data import mask_phone
from services.intake import metrics
from services.intake.appointments import REMINDER_AHEAD, Station
from services.intake.catalog import Catalog
from services.intake.domain import (
    SHANGHAI, STATUSES, WARNING_CASE_DEADLINE_DAYS, Case, CaseFilter, SubmitCase, check_against_matter, new_case,
    redact,
)
from services.intake.persistence import IntakeUnitOfWork

log = logging.getLogger(__name__)


def _subject(case: Case) -> str:
    return f"case/{case.id}"


def _status_changed(uow: IntakeUnitOfWork, case: Case, previous: str, now, reason: str = "") -> None:
    data = {"case_id": case.id, "status": case.status, "previous_status": previous, "changed_at": now.isoformat()}
    if reason:
        data["reason"] = redact(reason)
    uow.emit("doorstep.intake.case.status_changed.v1", subject=_subject(case), data=data)


def _resident_ref(uow: IntakeUnitOfWork, resident_id: str) -> dict:
    resident = uow.residents.get(resident_id)
    return {"resident_id": resident_id, "phone_masked": mask_phone(resident["phone"])}


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
        _emit_accepted(uow, case, catalog.get(case.matter_code), _resident_ref(uow, case.resident_id), now)
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


# -- reading ------------------------------------------------------------------------------------------------

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


# -- appointments (网上预约) ----------------------------------------------------------------------------------

def list_slots(station: Station, day, uow: IntakeUnitOfWork) -> dict:
    slots = station.slots_on(day)
    with uow:
        booked = uow.appointments.booked_counts(station.code, slots[0].starts_at, slots[-1].ends_at) if slots else {}
    return {"station": station.code, "date": day.isoformat(), "open": bool(slots), "slots": [
        {"starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(), "capacity": station.capacity,
         "free": station.capacity - booked.get(s.starts_at, 0)} for s in slots]}


def book_appointment(station: Station, starts_at, matter_code: str, resident_details, uow: IntakeUnitOfWork,
                     catalog: Catalog) -> dict:
    matter = catalog.get(matter_code)
    if matter is None:
        raise InvalidInput("matter_code", f"{matter_code!r} is not in the matter catalog")
    if not matter.appointment:
        raise InvalidInput("matter_code", f"{matter.name} is handled without an appointment")
    now = utcnow()
    slot = station.slot_at(starts_at, now)
    appointment_id = str(uuid.uuid4())
    with uow:
        resident_id = uow.residents.upsert(resident_details, now)
        uow.appointments.ensure_slot(slot.id, station.code, slot.starts_at, slot.ends_at, station.capacity)
        if uow.appointments.holds(resident_id, slot.id):
            raise Conflict("the resident already holds a booking for this slot")
        if not uow.appointments.take_place(slot.id):
            raise Conflict(f"the slot at {slot.starts_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} is full")
        try:
            uow.appointments.add(id=appointment_id, slot_id=slot.id, station_code=station.code,
                                 starts_at=slot.starts_at, resident_id=resident_id, matter_code=matter.code,
                                 status="booked", booked_at=now, changed_at=now)
            uow.session.flush()
        except IntegrityError:  # the same resident booking the same slot twice at the same moment
            raise Conflict("the resident already holds a booking for this slot") from None
        uow.emit("doorstep.intake.appointment.booked.v1", subject=f"appointment/{appointment_id}", data={
            "appointment_id": appointment_id, "station": station.code, "station_name": station.name,
            "starts_at": slot.starts_at.isoformat(), "ends_at": slot.ends_at.isoformat(),
            "matter_code": matter.code,
            "resident": {"resident_id": resident_id, "phone_masked": mask_phone(resident_details.phone)},
            "booked_at": now.isoformat()})
        uow.commit()
    return {"id": appointment_id, "status": "booked", "station": station.code,
            "starts_at": slot.starts_at.isoformat(), "resident_id": resident_id}


def _live_appointment(uow: IntakeUnitOfWork, appointment_id: str) -> dict:
    appointment = uow.appointments.get(appointment_id, for_update=True)
    if appointment is None:
        raise NotFound(f"appointment {appointment_id} does not exist")
    if appointment["status"] != "booked":
        raise Conflict(f"appointment {appointment_id} is {appointment['status']}")
    return appointment


def cancel_appointment(appointment_id: str, reason: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        appointment = _live_appointment(uow, appointment_id)
        uow.appointments.set_status(appointment_id, "cancelled", now)
        uow.appointments.release_place(appointment["slot_id"])
        data = {"appointment_id": appointment_id, "station": appointment["station_code"],
                "starts_at": appointment["starts_at"].isoformat(), "resident_id": appointment["resident_id"],
                "cancelled_at": now.isoformat()}
        if reason:
            data["reason"] = redact(reason)
        uow.emit("doorstep.intake.appointment.cancelled.v1", subject=f"appointment/{appointment_id}", data=data)
        uow.commit()
    return {"id": appointment_id, "status": "cancelled"}


def record_no_show(appointment_id: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        appointment = _live_appointment(uow, appointment_id)
        if appointment["starts_at"] > now:
            raise Conflict("the slot has not started yet")
        uow.appointments.set_status(appointment_id, "no_show", now)
        uow.emit("doorstep.intake.appointment.no_show.v1", subject=f"appointment/{appointment_id}", data={
            "appointment_id": appointment_id, "station": appointment["station_code"],
            "starts_at": appointment["starts_at"].isoformat(), "resident_id": appointment["resident_id"],
            "recorded_at": now.isoformat()})
        uow.commit()
    return {"id": appointment_id, "status": "no_show"}


def send_reminders(uow: IntakeUnitOfWork, stations: dict[str, Station], catalog: Catalog, now=None) -> int:
    """One reminder per live booking, the day before its slot; notify tells the resident."""
    now = now or utcnow()
    with uow:
        due = uow.appointments.due_for_reminder(now + REMINDER_AHEAD)
        for appointment in due:
            if appointment["starts_at"] <= now:
                uow.appointments.mark_reminded(appointment["id"], now)  # too late to remind
                continue
            station, matter = stations.get(appointment["station_code"]), catalog.get(appointment["matter_code"])
            data = {"appointment_id": appointment["id"], "station": appointment["station_code"],
                    "starts_at": appointment["starts_at"].isoformat(), "matter_code": appointment["matter_code"],
                    "resident": _resident_ref(uow, appointment["resident_id"]), "due_at": now.isoformat()}
            if station:
                data["station_name"] = station.name
            if matter:
                data["matter_name"] = matter.name
            uow.emit("doorstep.intake.appointment.reminder_due.v1", subject=f"appointment/{appointment['id']}",
                     data=data)
            uow.appointments.mark_reminded(appointment["id"], now)
        uow.commit()
    return len(due)


# -- visits (一口受理, 只跑一次) and video sessions (可视化咨询) ---------------------------------------------------

def record_visit(station_code: str, case_ids: list[str], worker: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    visit_id = str(uuid.uuid4())
    if len(set(case_ids)) != len(case_ids):
        raise InvalidInput("case_ids", "names a case twice")
    with uow:
        residents = set()
        for case_id in case_ids:
            case = uow.cases.get(case_id)
            if case is None:
                raise NotFound(f"case {case_id} does not exist")
            residents.add(case.resident_id)
        if len(residents) != 1:
            raise Conflict("a visit is one resident's: the cases belong to different residents")
        resident_id = residents.pop()
        uow.visits.add(visit_id, resident_id, station_code, worker, now, case_ids)
        uow.emit("doorstep.intake.visit.recorded.v1", subject=f"visit/{visit_id}", data={
            "visit_id": visit_id, "resident_id": resident_id, "station": station_code, "case_ids": case_ids,
            "visited_at": now.isoformat()})
        uow.commit()
    return {"id": visit_id, "resident_id": resident_id, "case_ids": case_ids, "visited_at": now.isoformat()}


def visit_metrics(uow: IntakeUnitOfWork) -> dict:
    """Visits per done case, and the share of done cases that took at most one visit (只跑一次)."""
    with uow:
        per_case = uow.visits.visits_per_case()
    done = len(per_case)
    visits = sum(per_case.values())
    one_visit = sum(1 for count in per_case.values() if count <= 1)
    return {"cases_done": done, "visits": visits,
            "visits_per_done_case": round(visits / done, 3) if done else None,
            "share_done_in_one_visit": round(one_visit / done, 3) if done else None}


def refresh_case_gauges(uow: IntakeUnitOfWork) -> dict[str, int]:
    """Set the cases-by-status gauge from the database (intake's metrics timer); returns the counts."""
    with uow:
        counts = uow.cases.count_by_status()
    for status in STATUSES:
        metrics.CASES.labels(status).set(counts.get(status, 0))
    return counts


def start_video(case_id: str, kind: str, worker: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    session_id = str(uuid.uuid4())
    with uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} does not exist")
        if case.status in ("closed", "rejected"):
            raise Conflict(f"case {case_id} is {case.status}")
        uow.video_sessions.add(id=session_id, case_id=case_id, kind=kind, worker=worker, started_at=now)
        uow.emit("doorstep.intake.video_session.started.v1", subject=f"case/{case_id}", data={
            "session_id": session_id, "case_id": case_id, "kind": kind, "worker": worker,
            "started_at": now.isoformat()})
        uow.commit()
    return {"id": session_id, "case_id": case_id, "kind": kind, "worker": worker, "started_at": now.isoformat()}


def end_video(session_id: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        session = uow.video_sessions.get(session_id)
        if session is None:
            raise NotFound(f"video session {session_id} does not exist")
        if session["ended_at"] is not None:
            raise Conflict(f"video session {session_id} has already ended")
        uow.video_sessions.end(session_id, now)
        uow.emit("doorstep.intake.video_session.ended.v1", subject=f"case/{session['case_id']}", data={
            "session_id": session_id, "case_id": session["case_id"], "kind": session["kind"],
            "worker": session["worker"], "started_at": session["started_at"].isoformat(), "ended_at": now.isoformat(),
            "duration_s": int((now - session["started_at"]).total_seconds())})
        uow.commit()
    return {"id": session_id, "ended_at": now.isoformat()}
