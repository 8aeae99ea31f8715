"""Every event intake publishes, each built in one place from the domain's objects: a use case emits
``uow.emit(events.case_submitted(case, resident))`` and never spells an event's type or data itself.

The data follows the type's schema (``shared/contract/schemas/intake/``); free text leaves with any phone or
ID-card number in it masked (every event's data is, by :func:`shared.events.new_event`), and a resident is
referred to by id and a masked phone only.
"""
from __future__ import annotations

from datetime import datetime

from shared.events import Outgoing
from shared.personal_data import mask_phone, redact_fields
from services.intake.appointments import Slot, Station
from services.intake.catalog import Matter
from services.intake.domain import WARNING_CASE_DEADLINE_DAYS, Case, RecordVisit, StartVideo


def resident_ref(resident_id: str, phone: str) -> dict:
    """A resident as events name them: the id and the phone masked (138****5678)."""
    return {"resident_id": resident_id, "phone_masked": mask_phone(phone)}


def _case(case: Case) -> str:
    return f"case/{case.id}"


def _appointment(appointment_id: str) -> str:
    return f"appointment/{appointment_id}"


# -- cases --------------------------------------------------------------------------------------------------

def case_submitted(case: Case, resident: dict) -> Outgoing:
    return Outgoing("doorstep.intake.case.submitted.v1", _case(case), {
        "case_id": case.id, "matter_code": case.matter_code, "category": case.category, "handling": case.handling,
        "channel": case.channel, "kind": case.kind, "urgency": case.urgency, "area": case.area,
        "resident": resident, "entered_by": case.entered_by, "submitted_at": case.submitted_at.isoformat()})


def case_accepted(case: Case, matter: Matter | None, resident: dict, at: datetime) -> Outgoing:
    """受理; the matter gives the time limit (a matter since removed from the catalog: none)."""
    return Outgoing("doorstep.intake.case.accepted.v1", _case(case), {
        "case_id": case.id, "matter_code": case.matter_code, "category": case.category,
        "handling": matter.handling if matter else case.handling, "channel": case.channel, "kind": case.kind,
        "urgency": case.urgency, "area": case.area, "resident": resident,
        "time_limit_days": matter.time_limit_days if matter else 0, "accepted_at": at.isoformat()})


def case_status_changed(case: Case, previous: str, at: datetime, reason: str = "") -> Outgoing:
    data = {"case_id": case.id, "status": case.status, "previous_status": previous, "changed_at": at.isoformat()}
    if reason:
        data["reason"] = reason
    return Outgoing("doorstep.intake.case.status_changed.v1", _case(case), data)


def case_rejected(case: Case, at: datetime) -> Outgoing:
    """不予受理, with the reason the resident is told."""
    return Outgoing("doorstep.intake.case.rejected.v1", _case(case), {
        "case_id": case.id, "resident_id": case.resident_id, "matter_code": case.matter_code,
        "reason": case.reason, "rejected_at": at.isoformat()})


def case_supplement_requested(case: Case, note: str, at: datetime) -> Outgoing:
    """补正: the materials the resident must still bring."""
    data = {"case_id": case.id, "resident_id": case.resident_id,
            "missing_materials": [m for m in case.missing_materials], "requested_at": at.isoformat()}
    if note:
        data["note"] = note
    return Outgoing("doorstep.intake.case.supplement_requested.v1", _case(case), data)


def case_resubmitted(case: Case, note: str, at: datetime) -> Outgoing:
    data = {"case_id": case.id, "resubmitted_at": at.isoformat()}
    if note:
        data["note"] = note
    return Outgoing("doorstep.intake.case.resubmitted.v1", _case(case), data)


def case_settled(case: Case, at: datetime) -> Outgoing:
    """当场办结, with the answer given."""
    return Outgoing("doorstep.intake.case.settled.v1", _case(case), {
        "case_id": case.id, "resident_id": case.resident_id, "matter_code": case.matter_code,
        "answer": case.answer, "settled_at": at.isoformat()})


def case_callback_recorded(case: Case, comment: str, reopened: bool, at: datetime) -> Outgoing:
    """回访: the rating, and whether it reopened the case."""
    data = {"case_id": case.id, "rating": case.rating, "reopened": reopened, "recorded_at": at.isoformat()}
    if comment:
        data["comment"] = comment
    if case.lead_unit:
        data["lead_unit"] = case.lead_unit
    return Outgoing("doorstep.intake.case.callback_recorded.v1", _case(case), data)


def case_reopened(case: Case, comment: str, at: datetime) -> Outgoing:
    """A warning case (预警工单): routing handles it again within the warning deadline."""
    data = {"case_id": case.id, "rating": case.rating, "reason": comment or case.rating,
            "deadline_working_days": WARNING_CASE_DEADLINE_DAYS, "reopened_at": at.isoformat()}
    if case.lead_unit:
        data["previous_unit"] = case.lead_unit
    return Outgoing("doorstep.intake.case.reopened.v1", _case(case), data)


def case_closed(case: Case, at: datetime) -> Outgoing:
    """结案."""
    data = {"case_id": case.id, "resident_id": case.resident_id, "matter_code": case.matter_code,
            "closed_at": at.isoformat()}
    if case.rating:
        data["rating"] = case.rating
    return Outgoing("doorstep.intake.case.closed.v1", _case(case), data)


# -- visits and video sessions ------------------------------------------------------------------------------

def visit_recorded(visit_id: str, visit: RecordVisit, resident_id: str, at: datetime) -> Outgoing:
    return Outgoing("doorstep.intake.visit.recorded.v1", f"visit/{visit_id}", {
        "visit_id": visit_id, "resident_id": resident_id, "station": visit.station,
        "case_ids": list(visit.case_ids), "visited_at": at.isoformat()})


def video_session_started(session_id: str, video: StartVideo, at: datetime) -> Outgoing:
    return Outgoing("doorstep.intake.video_session.started.v1", f"case/{video.case_id}", {
        "session_id": session_id, "case_id": video.case_id, "kind": video.kind, "worker": video.worker,
        "started_at": at.isoformat()})


def video_session_ended(session: dict, at: datetime) -> Outgoing:
    """``session`` is the stored session (id, case_id, kind, worker, started_at)."""
    return Outgoing("doorstep.intake.video_session.ended.v1", f"case/{session['case_id']}", {
        "session_id": session["id"], "case_id": session["case_id"], "kind": session["kind"],
        "worker": session["worker"], "started_at": session["started_at"].isoformat(), "ended_at": at.isoformat(),
        "duration_s": int((at - session["started_at"]).total_seconds())})


# -- appointments (网上预约) -----------------------------------------------------------------------------------

def appointment_booked(appointment_id: str, station: Station, slot: Slot, matter: Matter, resident: dict,
                       at: datetime) -> Outgoing:
    return Outgoing("doorstep.intake.appointment.booked.v1", _appointment(appointment_id), {
        "appointment_id": appointment_id, "station": station.code, "station_name": station.name,
        "starts_at": slot.starts_at.isoformat(), "ends_at": slot.ends_at.isoformat(), "matter_code": matter.code,
        "resident": resident, "booked_at": at.isoformat()})


def appointment_cancelled(appointment: dict, reason: str, at: datetime) -> Outgoing:
    """``appointment`` is the stored booking (id, station_code, starts_at, resident_id)."""
    data = {"appointment_id": appointment["id"], "station": appointment["station_code"],
            "starts_at": appointment["starts_at"].isoformat(), "resident_id": appointment["resident_id"],
            "cancelled_at": at.isoformat()}
    if reason:
        data["reason"] = reason
    return Outgoing("doorstep.intake.appointment.cancelled.v1", _appointment(appointment["id"]), data)


def appointment_no_show(appointment: dict, at: datetime) -> Outgoing:
    return Outgoing("doorstep.intake.appointment.no_show.v1", _appointment(appointment["id"]), {
        "appointment_id": appointment["id"], "station": appointment["station_code"],
        "starts_at": appointment["starts_at"].isoformat(), "resident_id": appointment["resident_id"],
        "recorded_at": at.isoformat()})


def appointment_reminder_due(appointment: dict, resident: dict, station: Station | None, matter: Matter | None,
                             at: datetime) -> Outgoing:
    """The day before the slot; the station's and matter's names when the street still has them."""
    data = {"appointment_id": appointment["id"], "station": appointment["station_code"],
            "starts_at": appointment["starts_at"].isoformat(), "matter_code": appointment["matter_code"],
            "resident": resident, "due_at": at.isoformat()}
    if station:
        data["station_name"] = station.name
    if matter:
        data["matter_name"] = matter.name
    return Outgoing("doorstep.intake.appointment.reminder_due.v1", _appointment(appointment["id"]), data)


# -- residents ----------------------------------------------------------------------------------------------

def resident_erased(resident_id: str, case_ids: list[str], reason: str, at: datetime) -> Outgoing:
    """The resident was pseudonymised (``reason`` request or retention): the others erase what they hold."""
    return Outgoing("doorstep.intake.resident.erased.v1", f"resident/{resident_id}", {
        "resident_id": resident_id, "case_ids": list(case_ids), "reason": reason, "erased_at": at.isoformat()})


# What of each event is someone's own words about the resident (a reason, a note, an answer, a comment): redacted
# in the outbox once the resident is erased, so a replay does not publish it again. Ids, codes, statuses and
# times stay; a masked phone stays too (the schemas require it, and the outbox keeps rows only for
# DOORSTEP_OUTBOX_RETENTION_DAYS).
FREE_TEXT = {
    "doorstep.intake.case.rejected.v1": ("reason",),
    "doorstep.intake.case.supplement_requested.v1": ("note",),
    "doorstep.intake.case.resubmitted.v1": ("note",),
    "doorstep.intake.case.settled.v1": ("answer",),
    "doorstep.intake.case.callback_recorded.v1": ("comment",),
    "doorstep.intake.case.reopened.v1": ("reason",),
    "doorstep.intake.case.status_changed.v1": ("reason",),
    "doorstep.intake.appointment.cancelled.v1": ("reason",),
}


def redacted(event_type: str, data: dict) -> dict:
    """An event's data as it may still be replayed once its resident is erased."""
    return redact_fields(data, FREE_TEXT.get(event_type, ()))
