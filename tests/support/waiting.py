"""Waiting for an eventual effect, and reading it back.

A test waits for exactly the effect it then asserts: the rows it counts, the messages it reads, the counter it
compares. Where it asserts that something did *not* happen, it waits for what would have caused it (a timer's
ticks, a redelivered copy reaching the inbox), never for a fixed time.
"""
import time

import sqlalchemy as sa
from prometheus_client import REGISTRY

from shared.db import engine_for
from support.http import get


def wait_for(predicate, timeout=15.0, interval=0.05, message="condition"):
    """The predicate's first truthy value, checked every ``interval`` s; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def count_rows(settings, service, table, where=None):
    with engine_for(settings.db_url(service)).connect() as conn:
        query = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return conn.execute(sa.text(query)).scalar()


def wait_until_relayed(settings, services=("intake", "routing", "notify"), timeout=10.0):
    """Until every event the services committed is marked published (the relay marks rows it published from
    memory a moment after the broker confirmed them)."""
    wait_for(lambda: all(count_rows(settings, s, "outbox", "published_at IS NULL") == 0 for s in services),
             timeout=timeout, message=f"the outboxes of {', '.join(services)} relayed")


def case_fully_handled(settings, token, case_id):
    """Routed at intake, and both its notifications (resident, unit) sent by notify: the deliveries, when done."""
    case = get(settings, "intake", f"/intake/cases/{case_id}", token).json()
    deliveries = get(settings, "notify", f"/notify/deliveries?case_id={case_id}", token).json()
    done = case["status"] == "routed" and len(deliveries) == 2 and all(d["status"] == "sent" for d in deliveries)
    return done and deliveries


class CounterSince:
    """How far a sample of this process's metrics moved since this was made (metrics live as long as the test
    process, so a test compares with where they stood when it began)::

        duplicates = CounterSince("doorstep_events_consumed_total", service="routing", outcome="duplicate", ...)
    """

    def __init__(self, name, **labels):
        self.name, self.labels = name, labels
        self.start = self.value()

    def value(self) -> float:
        return REGISTRY.get_sample_value(self.name, self.labels) or 0.0

    def __call__(self) -> float:
        return self.value() - self.start


class Ticks:
    """Counts the completed runs of a timer a test double wraps, so that "N ticks later nothing more happened"
    waits for N ticks rather than for a time in which they ought to have happened."""

    def __init__(self):
        self.count = 0

    def tick(self) -> None:
        self.count += 1

    def wait_for_more(self, n, timeout=15.0, message="timer"):
        target = self.count + n
        wait_for(lambda: self.count >= target, timeout=timeout, message=f"{n} more runs of the {message}")
