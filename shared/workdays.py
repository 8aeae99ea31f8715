"""Chinese working days and working hours, in Asia/Shanghai.

Statutory holidays and the adjusted working weekends (调休) come from two places: a street's (or district's)
``holidays.yaml``, holding each year's schedule as the State Council publishes it (around November for the
next year), and the ``chinese_calendar`` package for the years it knows. A year in the file is taken wholly
from the file. For a year known to neither, Monday to Friday are working days (logged once): deadlines and
bookings go on, off by that year's holidays, and ``doorstep_holiday_calendar_covered_until`` lets an alert
warn operators two months before the known years end. The file::

    2027:                                    # 国务院办公厅关于2027年部分节假日安排的通知
      holidays:
        - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
        - {name: 春节, from: 2027-02-06, to: 2027-02-13}
      working_days: [2027-02-14]             # 调休上班

Conventions (those of the 12345 hotline rules):

* ``N working days`` from a moment ends at the close of the N-th working day *after* that moment's day
  (midnight Asia/Shanghai), whatever the hour of the start;
* ``N working hours`` counts only the time inside the opening hours of working days;
* plain ``hours`` are calendar hours (for the most urgent tier, which does not wait for office hours).
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from pydantic import ConfigDict, Field, RootModel, ValidationError, model_validator

from shared.fields import invalid
from shared.street_files import StreetModel, problems

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_OPENING = time(8, 30)
DEFAULT_CLOSING = time(17, 30)

log = logging.getLogger(__name__)

# The package's names of holidays, in Chinese for the people who read them.
_PACKAGE_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
                  "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节",
                  "National Day": "国庆节", "Anti-Fascist 70th Day": "抗战胜利纪念日"}


class Holiday(StreetModel):
    """A statutory holiday (法定节假日), its days off from the first to the last."""

    model_config = ConfigDict(populate_by_name=True)

    name: Annotated[str, Field(min_length=1, max_length=20, description="e.g. 春节")]
    # A date is a date whether YAML reads it as one or it is quoted.
    first: date = Field(alias="from", strict=False, description="the first day off")
    last: date = Field(alias="to", strict=False, description="the last day off")

    @model_validator(mode="after")
    def _forward(self):
        if self.last < self.first:
            raise invalid("holiday", "结束日期早于开始日期", "'to' is before 'from'")
        return self


class YearSchedule(StreetModel):
    """One year as the State Council's notice sets it: the holidays, and the weekend days worked instead."""

    holidays: list[Holiday] = Field(default_factory=list)
    working_days: list[Annotated[date, Field(strict=False)]] = Field(
        default_factory=list, description="调休: weekend days that are worked")


def _years(schema: dict) -> None:
    # YAML's year keys are numbers; an editor sees them as the strings JSON keys are.
    schema["propertyNames"] = {"pattern": "^(20[0-9]{2}|21[0-9]{2})$"}


class HolidaysFile(RootModel[dict[Annotated[int, Field(ge=2000, le=2199)], YearSchedule]]):
    """``holidays.yaml``: year → its schedule (国务院办公厅关于部分节假日安排的通知). A year given here is taken wholly
    from here; others from the chinese_calendar package."""

    model_config = ConfigDict(strict=True, json_schema_extra=_years)


class HolidaysError(Exception):
    """A holidays file cannot be used; the message names the file, the entry and the reason."""


class HolidayCalendar:
    """Which days are worked, and the names of the holidays that are not."""

    def __init__(self, schedules: dict[int, YearSchedule] | None = None):
        self._years = set(schedules or {})
        self._holidays: dict[date, str] = {}
        self._worked: set[date] = set()
        for year, schedule in (schedules or {}).items():
            for holiday in schedule.holidays:
                day = holiday.first
                while day <= holiday.last:
                    self._holidays[day] = holiday.name
                    day += timedelta(days=1)
            self._worked.update(schedule.working_days)
        package_years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
        self._package_years = package_years - self._years
        self._cache: dict[date, bool] = {}
        self._warned: set[int] = set()

    @property
    def supplied_years(self) -> list[int]:
        """The years the street's file gives."""
        return sorted(self._years)

    def knows(self, year: int) -> bool:
        return year in self._years or year in self._package_years

    def covered_until(self) -> date:
        """The last day of the last year of an unbroken run of known years from this one on."""
        year = datetime.now(SHANGHAI).year
        while self.knows(year + 1):
            year += 1
        return date(year, 12, 31) if self.knows(year) else date(year - 1, 12, 31)

    def is_working_day(self, day: date) -> bool:
        found = self._cache.get(day)
        if found is None:
            found = self._cache[day] = self._working(day)
        return found

    def _working(self, day: date) -> bool:
        if day.year in self._years:
            return day in self._worked or (day.weekday() < 5 and day not in self._holidays)
        if day.year in self._package_years:
            return chinese_calendar.is_workday(day)
        if day.year not in self._warned:
            self._warned.add(day.year)
            log.warning("the holiday calendar does not know %s; counting Monday-Friday as working days (add the "
                        "year's schedule to holidays.yaml)", day.year)
        return day.weekday() < 5

    def holiday_name(self, day: date) -> str | None:
        """The statutory holiday ``day`` belongs to (元旦, 春节 …), or None."""
        if day.year in self._years:
            return self._holidays.get(day)
        if day.year in self._package_years:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
            return _PACKAGE_NAMES.get(name, name) if on_holiday and name else None
        return None


def load_holidays(path: Path | str) -> HolidayCalendar:
    """A street's ``holidays.yaml`` over the package; :class:`HolidaysError` names the entry that is wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HolidaysError(f"{path}: cannot be read: {exc}".replace("\n", " ")) from None
    try:
        schedules = HolidaysFile.model_validate(raw).root
    except ValidationError as exc:
        raise HolidaysError("\n".join(problems(exc, path, raw))) from None
    for year, schedule in schedules.items():
        for day in [d for h in schedule.holidays for d in (h.first, h.last)] + schedule.working_days:
            if day.year != year:
                raise HolidaysError(f"{path}: {year}: {day} is not in {year}")
    return HolidayCalendar(schedules)


_calendar = HolidayCalendar()


def use_calendar(calendar: HolidayCalendar) -> None:
    """The calendar every working-day rule of this process follows (set once at start-up)."""
    global _calendar
    _calendar = calendar


def calendar() -> HolidayCalendar:
    return _calendar


def is_working_day(day: date) -> bool:
    return _calendar.is_working_day(day)


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
