"""Booking the last place of a slot on PostgreSQL: of concurrent bookings exactly one succeeds; a resident
cannot hold two bookings of one slot; a cancelled place can be booked again; reminders go out once.

Intake's clock is set to a Monday morning and the slot booked is on the Tuesday, both ordinary working days of
the 2026 calendar: booking "tomorrow" would depend on the day the tests run (a weekend, a holiday, a year the
holiday calendar does not know yet)."""
from datetime import timedelta, timezone

import eventlet
import pytest
import requests

from services.intake.handlers import appointments
from services.intake.appointments import default_stations, is_open_day
from support.clock import MovableClock, shanghai, use_clock
from support.http import base_url
from support.waiting import count_rows

NOW = shanghai(2026, 11, 23, 10, 0)  # Monday
SLOT = shanghai(2026, 11, 24, 9, 0)  # Tuesday's first slot


@pytest.fixture(autouse=True)
def intake_on_monday_morning(monkeypatch):
    assert is_open_day(NOW.date()) and is_open_day(SLOT.date())
    use_clock(monkeypatch, appointments.book_appointment, MovableClock(NOW))


def booking(starts_at, phone, station="meiyuan"):
    return {"station": station, "starts_at": starts_at.isoformat(), "matter_code": "ltc-insurance-assessment",
            "resident": {"name": "居民", "phone": phone, "area": station}}


def test_concurrent_bookings_for_the_last_place_exactly_one_wins(infra_settings, start_services, counter_token):
    settings, _ = start_services(infra_settings, ["intake"])
    headers = {"Authorization": f"Bearer {counter_token(settings)}"}
    url = f"{base_url(settings, 'intake')}/intake/appointments"
    starts_at = SLOT
    assert default_stations()["meiyuan"].capacity == 1

    def book(phone):
        return requests.post(url, json=booking(starts_at, phone), headers=headers, timeout=20)

    pool = eventlet.GreenPool()
    responses = list(pool.imap(book, [f"1391234{i:04d}" for i in range(6)]))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
    assert all("full" in r.json()["detail"] for r in responses if r.status_code == 409)
    assert count_rows(settings, "intake", "appointments", "status = 'booked'") == 1
    assert count_rows(settings, "intake", "appointment_slots", "booked = 1") == 1
    assert count_rows(settings, "intake", "outbox", "type = 'doorstep.intake.appointment.booked.v1'") == 1

    # Cancelling frees the place for someone else.
    winner = next(r for r in responses if r.status_code == 201).json()
    cancelled = requests.post(f"{url}/{winner['id']}/cancel", json={"reason": "改期"}, headers=headers, timeout=10)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert requests.post(f"{url}/{winner['id']}/cancel", json={}, headers=headers, timeout=10).status_code == 409
    assert book("13900000001").status_code == 201


def test_a_resident_cannot_hold_two_bookings_of_one_slot(infra_settings, start_services, counter_token):
    settings, _ = start_services(infra_settings, ["intake"])
    headers = {"Authorization": f"Bearer {counter_token(settings)}"}
    url = f"{base_url(settings, 'intake')}/intake/appointments"
    starts_at = SLOT  # at shixin: two places per slot

    pool = eventlet.GreenPool()
    same_resident = list(pool.imap(
        lambda _: requests.post(url, json=booking(starts_at, "13712345678", "shixin"), headers=headers, timeout=20),
        range(3)))
    assert sorted(r.status_code for r in same_resident) == [201, 409, 409], [r.text for r in same_resident]
    assert count_rows(settings, "intake", "appointments", "status = 'booked'") == 1
    # The refused bookings took no place: another resident still gets the second one.
    assert requests.post(url, json=booking(starts_at, "13712340000", "shixin"), headers=headers,
                         timeout=10).status_code == 201

    # Reminders: once per booking, from the service's unit of work, for notify.
    from sqlalchemy.orm import sessionmaker
    from shared.db import engine_for
    from services.intake.catalog import default_catalog
    from services.intake.handlers.appointments import send_reminders
    from services.intake.persistence import IntakeUnitOfWork

    def uow():
        return IntakeUnitOfWork(sessionmaker(engine_for(settings.db_url("intake"))), settings.street)

    day_before = starts_at.astimezone(timezone.utc) - timedelta(hours=20)
    assert send_reminders(uow(), default_stations(), default_catalog(), now=day_before) == 2
    assert send_reminders(uow(), default_stations(), default_catalog(), now=day_before) == 0
    assert count_rows(settings, "intake", "outbox", "type = 'doorstep.intake.appointment.reminder_due.v1'") == 2
