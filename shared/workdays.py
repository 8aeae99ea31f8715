"""Chinese working days and working hours, in Asia/Shanghai.

Statutory holidays and the adjusted working weekends (调休) come from the ``chinese_calendar`` package, which
is updated each year when the State Council publishes the next year's schedule. For a year the installed
package does not know yet, Monday to Friday are taken as working days (logged once): a deadline then may be
off by the holidays of that year, which is why the package must be kept current.

Conventions (those of the 12345 hotline rules):

* ``N working days`` from a moment ends at the close of the N-th working day *after* that moment's day
  (midnight Asia/Shanghai), whatever the hour of the start;
* ``N working hours`` counts only the time inside the opening hours of working days;
* plain ``hours`` are calendar hours (for the most urgent tier, which does not wait for office hours).
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_OPENING = time(8, 30)
DEFAULT_CLOSING = time(17, 30)

log = logging.getLogger(__name__)
_warned_years: set[int] = set()


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("the holiday calendar does not know %s yet; counting Monday-Friday as working days",
                        day.year)
        return day.weekday() < 5


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass timezone-aware times")
    return moment.astimezone(SHANGHAI)


def add_working_days(start: datetime, days: int) -> datetime:
    """The end (midnight Asia/Shanghai) of the ``days``-th working day after ``start``'s day."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = _local(start).date()
    if days == 0:
        return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI)
    for _ in range(days):
        day = next_working_day(day)
    return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI)


def add_working_hours(start: datetime, hours: float, opening: time = DEFAULT_OPENING,
                      closing: time = DEFAULT_CLOSING) -> datetime:
    """``start`` plus ``hours`` counted only inside opening hours on working days."""
    if hours < 0:
        raise ValueError("hours must not be negative")
    remaining = timedelta(hours=hours)
    moment = _local(start)
    while True:
        day = moment.date()
        opens = datetime.combine(day, opening, SHANGHAI)
        closes = datetime.combine(day, closing, SHANGHAI)
        if is_working_day(day) and moment < closes:
            moment = max(moment, opens)
            available = closes - moment
            if remaining <= available:
                return moment + remaining
            remaining -= available
        moment = datetime.combine(next_working_day(day), opening, SHANGHAI)


def working_days_between(start: datetime, end: datetime) -> int:
    """Whole working days after ``start``'s day up to and including ``end``'s day (0 when not later)."""
    first, last = _local(start).date(), _local(end).date()
    count, day = 0, first
    while day < last:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
