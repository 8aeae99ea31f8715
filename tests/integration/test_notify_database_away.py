"""A message sent while PostgreSQL went away is recorded as soon as the database is back: it is neither sent a
second time when its claim's lease runs out, nor left waiting for that lease."""
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from services.notify.channels.local import FileChannel
from services.notify.domain.templates import default_templates
from services.notify.handlers import recording, sending
from services.notify.handlers.context import NotifyContext
from services.notify.persistence import NotifyUnitOfWork
from services.notify.settings import parse
from shared.db import engine_for
from shared.events import new_event
from support.notify import json_lines, routed_data
from support.waiting import count_rows

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai: no quiet hours in the way


class DatabaseAway:
    """Units of work as notify opens them, the next ``failures`` of which find the database gone."""

    def __init__(self, settings):
        self.factory = sessionmaker(engine_for(settings.db_url("notify")), expire_on_commit=False)
        self.street = settings.street
        self.failures = 0

    def __call__(self):
        if self.failures:
            self.failures -= 1
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return NotifyUnitOfWork(self.factory, self.street)


def test_an_outcome_waits_for_the_database_and_the_message_goes_out_once(infra_settings, tmp_path):
    outbox_file = tmp_path / "notifications.jsonl"
    ctx = NotifyContext(default_templates(), parse({"quiet_hours": None}, {}), {"file": FileChannel(outbox_file)},
                        lambda: NOW)
    new_uow = DatabaseAway(infra_settings)
    data = routed_data()
    event = new_event("doorstep.routing.case.routed.v1", street="lujiazui", subject=f"case/{data['case_id']}",
                      data=data)
    with new_uow() as uow:
        recording.record_events([event], uow, ctx)
        uow.commit()
    assert count_rows(infra_settings, "notify", "deliveries", "status = 'queued'") == 2

    # The claim commits, the messages go out, then the database is away when their outcomes are recorded.
    original_record = sending._record_outcomes

    def record_with_the_database_away(new_uow_, ctx_, outcomes):
        new_uow.failures = 1 + len(outcomes)  # the group's transaction and any one-by-one attempt after it
        return original_record(new_uow_, ctx_, outcomes)

    sending._record_outcomes = record_with_the_database_away
    try:
        assert sending.dispatch_due(new_uow, ctx) == 2
    finally:
        sending._record_outcomes = original_record
    assert len(json_lines(outbox_file)) == 2
    assert len(ctx.unrecorded) == 2
    assert count_rows(infra_settings, "notify", "deliveries", "claimed_until IS NOT NULL") == 2

    # Back: the next pass records them at once, well inside the lease, and sends nothing again.
    new_uow.failures = 0
    assert sending.dispatch_due(new_uow, ctx) == 0
    assert ctx.unrecorded == []
    assert count_rows(infra_settings, "notify", "deliveries", "status = 'sent' AND claimed_until IS NULL") == 2
    assert len(json_lines(outbox_file)) == 2
