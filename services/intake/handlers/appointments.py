"""Appointments (网上预约): free places in a station's slots, booking one, cancelling, recording a no-show, and the
reminder the day before."""
from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from services.intake import events
from services.intake.appointments import REMINDER_AHEAD, Station
from services.intake.catalog import Catalog
from services.intake.domain import SHANGHAI, BookAppointment, CancelAppointment
from services.intake.handlers.reads import resident_ref
from services.intake.persistence import IntakeUnitOfWork


def list_slots(station: Station, day, uow: IntakeUnitOfWork) -> dict:
    slots = station.slots_on(day)
    with uow:
        booked = uow.appointments.booked_counts(station.code, slots[0].starts_at, slots[-1].ends_at) if slots else {}
    return {"station": station.code, "date": day.isoformat(), "open": bool(slots), "slots": [
        {"starts_at": s.starts_at.isoformat(), "ends_at": s.ends_at.isoformat(), "capacity": station.capacity,
         "free": station.capacity - booked.get(s.starts_at, 0)} for s in slots]}


def book_appointment(cmd: BookAppointment, station: Station, uow: IntakeUnitOfWork, catalog: Catalog) -> dict:
    matter = catalog.get(cmd.matter_code)
    if matter is None:
        raise InvalidInput("matter_code", f"{cmd.matter_code!r} is not in the matter catalog")
    if not matter.appointment:
        raise InvalidInput("matter_code", f"{matter.name} is handled without an appointment")
    now = utcnow()
    slot = station.slot_at(cmd.starts_at, now)
    appointment_id = str(uuid.uuid4())
    with uow:
        resident_id = uow.residents.upsert(cmd.resident, now)
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
        uow.emit(events.appointment_booked(appointment_id, station, slot, matter,
                                           events.resident_ref(resident_id, cmd.resident.phone), now))
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


def cancel_appointment(cmd: CancelAppointment, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        appointment = _live_appointment(uow, cmd.appointment_id)
        uow.appointments.set_status(cmd.appointment_id, "cancelled", now)
        uow.appointments.release_place(appointment["slot_id"])
        uow.emit(events.appointment_cancelled(appointment, cmd.reason, now))
        uow.commit()
    return {"id": cmd.appointment_id, "status": "cancelled"}


def record_no_show(appointment_id: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        appointment = _live_appointment(uow, appointment_id)
        if appointment["starts_at"] > now:
            raise Conflict("the slot has not started yet")
        uow.appointments.set_status(appointment_id, "no_show", now)
        uow.emit(events.appointment_no_show(appointment, now))
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
            uow.emit(events.appointment_reminder_due(
                appointment, resident_ref(uow, appointment["resident_id"]), stations.get(appointment["station_code"]),
                catalog.get(appointment["matter_code"]), now))
            uow.appointments.mark_reminded(appointment["id"], now)
        uow.commit()
    return len(due)
