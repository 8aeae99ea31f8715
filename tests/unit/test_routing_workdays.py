"""Working days and hours on real 2026 dates: National Day, Mid-Autumn, Spring Festival and the adjusted
working weekends (调休), as the holiday calendar package publishes them."""
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from shared.workdays import SHANGHAI, add_working_days, add_working_hours, is_working_day, working_days_between


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_the_calendar_knows_national_day_2026():
    for day in range(1, 8):
        assert not is_working_day(date(2026, 10, day)), f"2026-10-0{day} is a holiday"
        assert chinese_calendar.get_holiday_detail(date(2026, 10, day)) == (True, "National Day")
    assert is_working_day(date(2026, 10, 8))
    assert is_working_day(date(2026, 10, 10))  # a Saturday, worked in exchange (调休)
    assert date(2026, 10, 10).weekday() == 5
    assert is_working_day(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6  # Sunday worked
    assert not is_working_day(date(2026, 9, 25))  # Mid-Autumn Festival, a Friday


def test_the_calendar_knows_spring_festival_2026():
    for day in range(15, 24):
        assert not is_working_day(date(2026, 2, day)), f"2026-02-{day} is a holiday"
    assert is_working_day(date(2026, 2, 14)) and date(2026, 2, 14).weekday() == 5  # Saturday worked
    assert is_working_day(date(2026, 2, 28)) and date(2026, 2, 28).weekday() == 5  # Saturday worked
    assert is_working_day(date(2026, 2, 24))


def test_working_days_skip_national_day_and_count_the_adjusted_saturday():
    # Signed on the last day before the holiday: the 1st working day after is 8 October.
    assert add_working_days(at(2026, 9, 30, 10), 1) == at(2026, 10, 9)
    # 3 working days: 8, 9 and Saturday 10 October (调休).
    assert add_working_days(at(2026, 9, 30, 16), 3) == at(2026, 10, 11)
    # 5 working days: 8, 9, 10, then Monday 12 and Tuesday 13 (Sunday 11 is rest).
    assert add_working_days(at(2026, 9, 30, 16), 5) == at(2026, 10, 14)
    # Signed during the holiday: counting starts on the first working day.
    assert add_working_days(at(2026, 10, 3, 11), 1) == at(2026, 10, 9)


def test_working_days_around_spring_festival():
    assert add_working_days(at(2026, 2, 13, 9), 1) == at(2026, 2, 15)  # Saturday 14 February is worked
    assert add_working_days(at(2026, 2, 13, 9), 2) == at(2026, 2, 25)  # then nine days off, Tuesday 24
    assert add_working_days(at(2026, 2, 27, 9), 1) == at(2026, 3, 1)  # Saturday 28 February is worked
    assert add_working_days(at(2026, 2, 27, 9), 2) == at(2026, 3, 3)  # Sunday 1 March is not
    # 15 working days from 10 February: 11,12,13,14, 24,25,26,27,28, 2,3,4,5,6, 9 March.
    assert add_working_days(at(2026, 2, 10, 9), 15) == at(2026, 3, 10)


def test_deadlines_are_midnight_shanghai_stored_as_utc():
    due = add_working_days(at(2026, 9, 30, 10), 1)
    assert due.astimezone(SHANGHAI).hour == 0
    assert due.utcoffset() == timedelta(hours=8)
    assert due == datetime.fromisoformat("2026-10-08T16:00:00+00:00")


def test_working_hours_stop_at_closing_and_resume_after_the_holiday():
    # 16:30 on 30 September: one hour today, the second at 08:30-09:30 on 8 October.
    assert add_working_hours(at(2026, 9, 30, 16, 30), 2) == at(2026, 10, 8, 9, 30)
    # Friday 13 February 17:00: half an hour, then Saturday 14 (worked) from 08:30.
    assert add_working_hours(at(2026, 2, 13, 17), 4) == at(2026, 2, 14, 12)
    # Before opening on a working day: the clock starts at opening.
    assert add_working_hours(at(2026, 10, 12, 7), 1) == at(2026, 10, 12, 9, 30)
    # Exactly a full day (9 hours) from opening ends at closing that day.
    assert add_working_hours(at(2026, 10, 12, 8, 30), 9) == at(2026, 10, 12, 17, 30)


def test_working_days_between_counts_only_working_days():
    assert working_days_between(at(2026, 9, 30, 12), at(2026, 10, 12, 12)) == 4  # 8, 9, 10, 12
    assert working_days_between(at(2026, 10, 12), at(2026, 10, 1)) == 0


def test_a_year_the_package_does_not_know_falls_back_to_monday_to_friday():
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 3, 3))
    assert is_working_day(date(2027, 3, 3))  # a Wednesday
    assert not is_working_day(date(2027, 3, 6))  # a Saturday
    # Wrong by the New Year holiday until the package knows 2027: the reason to keep it current.
    assert add_working_days(at(2026, 12, 31, 10), 1) == at(2027, 1, 2)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        add_working_days(datetime(2026, 10, 1), 1)


# -- a year's schedule supplied as data ------------------------------------------------------------------

from support.clock import HOLIDAYS_2027  # noqa: E402


@pytest.fixture
def calendar_2027(tmp_path):
    from shared import workdays

    path = tmp_path / "holidays.yaml"
    path.write_text(HOLIDAYS_2027, "utf-8")
    before = workdays.calendar()
    workdays.use_calendar(workdays.load_holidays(path))
    yield workdays.calendar()
    workdays.use_calendar(before)


def test_a_street_supplied_year_wins_and_deadlines_count_its_holidays(calendar_2027):
    assert not is_working_day(date(2027, 1, 1)) and calendar_2027.holiday_name(date(2027, 1, 1)) == "元旦"
    assert is_working_day(date(2027, 2, 14))  # a Sunday worked instead (调休)
    assert not is_working_day(date(2027, 2, 10)) and calendar_2027.holiday_name(date(2027, 2, 10)) == "春节"
    # Two working days from Thursday 31 December 2026: Monday 4 and Tuesday 5 January, the New Year off.
    assert add_working_days(at(2026, 12, 31, 10), 2) == at(2027, 1, 6)
    # The package still answers for the years the file does not hold.
    assert calendar_2027.holiday_name(date(2026, 10, 1)) == "国庆节"
    assert calendar_2027.covered_until() == date(2027, 12, 31)


def test_a_bad_holidays_file_names_the_entry(tmp_path):
    from shared.workdays import HolidaysError, load_holidays

    path = tmp_path / "holidays.yaml"
    path.write_text("2027:\n  holidays:\n    - {name: 春节, from: 2027-02-13, to: 2027-02-06}\n"
                    "  working_day: [2027-02-14]\n", "utf-8")
    with pytest.raises(HolidaysError) as error:
        load_holidays(path)
    assert "2027.holidays[0] (春节): 结束日期早于开始日期 / 'to' is before 'from'" in str(error.value)
    assert "2027.working_day: 不是可用的字段 / is not a known field" in str(error.value)
    path.write_text("2027:\n  working_days: [2028-01-02]\n", "utf-8")
    with pytest.raises(HolidaysError, match="2028-01-02 is not in 2027"):
        load_holidays(path)
