"""Clocks a test controls. Domain functions take ``now=``; notify's runtime takes a clock; elsewhere a test sets
the clock a module reads (``use_clock``). Fixed moments are chosen on ordinary working days of the 2026
calendar, so that a test passes whatever day and hour it runs."""
import sys
from datetime import datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8))


def shanghai(year, month, day, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


class MovableClock:
    """Real time plus an offset the test sets: time still flows (retries back off, "in the past" stays true of
    a moment just gone), but the test decides what day and hour it is."""

    def __init__(self, moment: datetime | None = None):
        self.offset = timedelta(0)
        if moment is not None:
            self.set(moment)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(timezone.utc)


def use_clock(monkeypatch, function, clock) -> None:
    """Make the module that defines ``function`` read ``clock`` where it calls ``utcnow()`` (for code reached
    through HTTP, where a test cannot pass ``now=``)."""
    module = sys.modules[function.__module__]
    assert hasattr(module, "utcnow"), f"{module.__name__} does not read utcnow(); its clock is elsewhere"
    monkeypatch.setattr(module, "utcnow", clock)


HOLIDAYS_2027 = """\
# A street's copy of the State Council's notice for 2027 (the dates here are the tests' own).
2027:
  holidays:
    - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
    - {name: 春节, from: 2027-02-06, to: 2027-02-13}
  working_days: [2027-02-14, 2027-02-20]
"""
