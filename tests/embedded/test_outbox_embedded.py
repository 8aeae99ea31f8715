"""The outbox on the embedded default (SQLite, in-memory broker): backlog metrics and retention."""
from datetime import timedelta

import sqlalchemy as sa

from shared import metrics
from shared.broker import InProcessPublisher
from shared.db import engine_for, utcnow
from shared.messaging_tables import outbox
from shared.outbox import Relay
from support.events import accepted_events_in_outbox
from support.waiting import count_rows


def test_backlog_and_age_are_measured_and_published_rows_are_kept_until_retention(embedded_settings):
    accepted_events_in_outbox(embedded_settings, count=5)
    engine = engine_for(embedded_settings.db_url("intake"))
    relay = Relay("intake", engine, InProcessPublisher())

    relay.measure_backlog()
    assert metrics.OUTBOX_BACKLOG.labels("intake")._value.get() == 5
    assert metrics.OUTBOX_OLDEST_AGE.labels("intake")._value.get() >= 0

    assert relay.drain() == 5
    relay.measure_backlog()
    assert metrics.OUTBOX_BACKLOG.labels("intake")._value.get() == 0
    assert metrics.OUTBOX_OLDEST_AGE.labels("intake")._value.get() == 0

    # Published rows stay for replay; past the retention period they go.
    assert relay.purge_published(retention_days=30) == 0
    with engine.begin() as conn:
        conn.execute(sa.update(outbox).where(outbox.c.position <= 2)
                     .values(published_at=utcnow() - timedelta(days=31)))
    assert relay.purge_published(retention_days=30) == 2
    assert count_rows(embedded_settings, "intake", "outbox") == 3
