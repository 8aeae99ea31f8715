"""Appointment slots follow the Chinese working-day calendar on real 2026 dates."""
from datetime import date, datetime, timezone

import pytest

from shared.errors import InvalidInput
from services.intake.appointments import default_stations

SHIXIN = default_stations()["shixin"]
BEFORE = datetime(2026, 9, 15, tzinfo=timezone.utc)


@pytest.mark.parametrize("day, open_, why", [
    (date(2026, 10, 1), False, "国庆节"),
    (date(2026, 10, 7), False, "国庆节"),
    (date(2026, 10, 10), True, None),                  # Saturday, adjusted working day (调休上班)
    (date(2026, 9, 20), True, None),                   # Sunday, adjusted working day
    (date(2026, 10, 11), False, "weekend"),            # an ordinary Sunday
    (date(2026, 10, 12), True, None),                  # an ordinary Monday
    (date(2026, 2, 17), False, "春节"),
    (date(2026, 2, 14), True, None),                   # Saturday before Spring Festival, a working day
])
def test_station_days_follow_the_2026_calendar(day, open_, why):
    slots = SHIXIN.slots_on(day)
    assert bool(slots) is open_
    if open_:
        # 09:00–11:30 and 13:30–17:00 in half hours, Shanghai time
        assert len(slots) == 12
        assert slots[0].starts_at == datetime(day.year, day.month, day.day, 1, 0, tzinfo=timezone.utc)
    else:
        starts = datetime(day.year, day.month, day.day, 1, 0, tzinfo=timezone.utc)
        with pytest.raises(InvalidInput, match=why) as error:
            SHIXIN.slot_at(starts, BEFORE if day.month >= 9 else datetime(2026, 2, 1, tzinfo=timezone.utc))
        assert error.value.field == "starts_at"


def test_only_slot_starts_in_the_window_are_bookable():
    monday_9 = datetime(2026, 10, 12, 1, 0, tzinfo=timezone.utc)
    assert SHIXIN.slot_at(monday_9, BEFORE).id == "shixin@2026-10-12T01:00Z"
    for starts, reason in [(datetime(2026, 10, 12, 1, 10, tzinfo=timezone.utc), "not the start of a slot"),
                           (datetime(2026, 10, 12, 4, 0, tzinfo=timezone.utc), "not the start of a slot"),  # lunch
                           (monday_9, "in the past")]:
        now = BEFORE if reason != "in the past" else datetime(2026, 10, 13, tzinfo=timezone.utc)
        with pytest.raises(InvalidInput, match=reason):
            SHIXIN.slot_at(starts, now)
    with pytest.raises(InvalidInput, match="days ahead"):
        SHIXIN.slot_at(monday_9, datetime(2026, 8, 1, tzinfo=timezone.utc))
