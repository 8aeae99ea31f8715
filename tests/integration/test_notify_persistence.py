"""notify's set-based queries on PostgreSQL and on the embedded SQLite: what several recipients' rate limits
read in one query, and a sending round's writes held back and written together."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import sessionmaker

from shared.db import engine_for
from services.notify.persistence import NotifyUnitOfWork

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["infra_settings", "embedded_settings"])
def new_uow(request):
    settings = request.getfixturevalue(request.param)
    factory = sessionmaker(engine_for(settings.db_url("notify")), expire_on_commit=False)
    return lambda: NotifyUnitOfWork(factory, settings.street)


def _delivery(recipient, minutes_ago, status="sent", urgent=False):
    at = NOW - timedelta(minutes=minutes_ago)
    return dict(id=str(uuid.uuid4()), cause_event_id=str(uuid.uuid4()), cause_type="t", case_id=None,
                recipient=recipient, channel="console", template="x", category="progress", urgent=urgent,
                subject="s", body="b", status=status, context="{}", channel_plan='["console"]', channel_index=0,
                attempts=0, total_attempts=0, next_attempt_at=at, sent_at=at if status == "sent" else None,
                created_at=at)


def test_recent_sends_of_several_recipients_in_one_query(new_uow):
    rows = [_delivery("a", m) for m in (5, 10, 20, 30, 90)]  # 90 minutes ago: outside the window
    rows += [_delivery("a", 1, urgent=True), _delivery("a", 2, status="failed")]  # neither counts
    rows += [_delivery("b", 15)]
    with new_uow() as uow:
        uow.deliveries.add_all(rows)
        uow.commit()
    with new_uow() as uow:
        found = uow.deliveries.scheduled_since(["a", "b", "c"], NOW - timedelta(hours=1), limit=3)
    assert found == {"a": [NOW - timedelta(minutes=m) for m in (5, 10, 20)],  # the latest three, newest first
                     "b": [NOW - timedelta(minutes=15)], "c": []}


def test_writes_held_back_in_a_sending_round_are_all_written_at_its_end(new_uow):
    rows = [_delivery("a", 1, status="queued"), _delivery("b", 1, status="queued")]
    with new_uow() as uow:
        uow.deliveries.add_all(rows)
        uow.commit()
    with new_uow() as uow:
        with uow.deliveries.together():
            for row in rows:
                uow.deliveries.add_attempt(delivery_id=row["id"], channel="console", attempt=1, outcome="sent",
                                           error=None, attempted_at=NOW)
                uow.deliveries.update(row["id"], status="sent", sent_at=NOW, attempts=1)
            assert uow.deliveries.get(rows[0]["id"])["status"] == "queued"  # held back ...
        uow.commit()
    with new_uow() as uow:
        for row in rows:  # ... and written when the round ended
            assert uow.deliveries.get(row["id"])["status"] == "sent"
            assert [a["outcome"] for a in uow.deliveries.attempts_of(row["id"])] == ["sent"]
