"""Appointment rules (网上预约), pure: stations, their hours, the holiday calendar and the slots it gives.

A station is open on Chinese working days as the State Council sets them each year — statutory holidays
closed, adjusted working weekends (调休上班) open — as :mod:`shared.workdays` knows them (the street's
``holidays.yaml`` over the ``chinesecalendar`` package).
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, Field, ValidationError

from shared import street_files, workdays
from shared.errors import InvalidInput, NotFound
from shared.fields import Clock, Required, invalid
from shared.street_files import Code, StreetModel
from services.intake.domain import SHANGHAI

DEFAULT_STATIONS = Path(__file__).parent / "data" / "stations.yaml"
BOOKING_HORIZON_DAYS = 30
REMINDER_AHEAD = timedelta(hours=24)


@dataclasses.dataclass(frozen=True)
class Slot:
    station: str
    starts_at: datetime  # UTC
    ends_at: datetime

    @property
    def id(self) -> str:
        return f"{self.station}@{self.starts_at.strftime('%Y-%m-%dT%H:%MZ')}"


@dataclasses.dataclass(frozen=True)
class Station:
    code: str
    name: str
    area: str
    hours: tuple[tuple[time, time], ...]
    slot_minutes: int
    capacity: int

    def slots_on(self, day: date) -> list[Slot]:
        """The day's slots; none on a day the station is closed."""
        if not is_open_day(day):
            return []
        slots, step = [], timedelta(minutes=self.slot_minutes)
        for opens, closes in self.hours:
            start = datetime.combine(day, opens, SHANGHAI)
            end_of_period = datetime.combine(day, closes, SHANGHAI)
            while start + step <= end_of_period:
                slots.append(Slot(self.code, start.astimezone(timezone.utc), (start + step).astimezone(timezone.utc)))
                start += step
        return slots

    def slot_at(self, starts_at: datetime, now: datetime) -> Slot:
        """The slot starting at ``starts_at`` (an aware instant), or an error saying why it cannot be booked."""
        local = starts_at.astimezone(SHANGHAI)
        if not is_open_day(local.date()):
            raise InvalidInput("starts_at", f"{local.date()} is not a working day at the station ({closure(local.date())})")
        if starts_at <= now:
            raise InvalidInput("starts_at", "is in the past")
        if starts_at > now + timedelta(days=BOOKING_HORIZON_DAYS):
            raise InvalidInput("starts_at", f"is more than {BOOKING_HORIZON_DAYS} days ahead")
        for slot in self.slots_on(local.date()):
            if slot.starts_at == starts_at.astimezone(timezone.utc):
                return slot
        raise InvalidInput("starts_at", f"is not the start of a slot of {self.name}")


def is_open_day(day: date) -> bool:
    return workdays.is_working_day(day)


def closure(day: date) -> str:
    name = workdays.calendar().holiday_name(day)
    return f"法定节假日：{name} / statutory holiday" if name else "周末 / weekend"


class StationsError(Exception):
    """A stations file cannot be used; the message names the file, the entry and the reason."""


def _forward(period: list[time]) -> tuple[time, time]:
    opens, closes = period
    if opens >= closes:
        raise invalid("hours", "应先开始后结束", "must open before it closes")
    return opens, closes


Period = Annotated[list[Clock], Field(min_length=2, max_length=2, description='opens, closes: ["09:00", "11:30"]'),
                   AfterValidator(_forward)]


class StationEntry(StreetModel):
    """A doorstep service station (家门口服务站) and when residents may book it."""

    code: Code = Field(description="the station's code, in bookings and slot ids")
    name: Required(100) = Field(description="the station's name, as residents know it")
    area: Code = Field(description="the residential area (居民区) it serves")
    hours: list[Period] = Field(description="its opening periods on a working day, Asia/Shanghai")
    slot_minutes: int = Field(ge=1, description="the length of an appointment slot (预约时段), in minutes")
    capacity: int = Field(ge=1, description="appointments one slot takes")


class StationsFile(StreetModel):
    """``stations.yaml``: the street's service stations, their opening hours and appointment slots. A station is
    open on Chinese working days: closed on statutory holidays, open on adjusted working weekends (调休)."""

    stations: list[StationEntry] = Field(min_length=1)


def load_stations(path: Path = DEFAULT_STATIONS) -> dict[str, Station]:
    try:
        raw = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StationsError(f"{path}: cannot be read: {exc}") from None
    try:
        file = StationsFile.model_validate(raw)
    except ValidationError as exc:
        raise StationsError("\n".join(street_files.problems(exc, path, raw))) from None
    stations = {}
    for index, entry in enumerate(file.stations):
        if entry.code in stations:
            raise StationsError(f"{path}: stations[{index}] ({entry.code}): station {entry.code!r} appears twice")
        stations[entry.code] = Station(entry.code, entry.name, entry.area, tuple(entry.hours), entry.slot_minutes,
                                       entry.capacity)
    return stations


@lru_cache(maxsize=None)
def _cached(path: str) -> dict[str, Station]:
    return load_stations(Path(path))


def default_stations() -> dict[str, Station]:
    """The packaged default stations."""
    return _cached(str(DEFAULT_STATIONS))


def street_stations(settings) -> dict[str, Station]:
    """The street's stations (DOORSTEP_STATIONS, or stations.yaml in DOORSTEP_STREET_DIR), else the default."""
    return _cached(str(settings.street_file("stations") or DEFAULT_STATIONS))


def find_station(stations: dict[str, Station], code: str) -> Station:
    station = stations.get(code)
    if station is None:
        raise NotFound(f"station {code!r} does not exist")
    return station
