"""Notify's events are built in one place, one builder per event type, and what each builds matches the type's
frozen schema (the public contract other district systems read)."""
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.events import Outgoing, new_event
from services.notify import events
from support import contract
from support.contract import published_types, schema_errors

ROOT = Path(__file__).parents[2]
SCHEMAS = ROOT / "shared" / "contract" / "schemas" / "notify"
FROZEN = ROOT / "shared" / "contract" / "frozen" / "notify"
NOW = datetime(2026, 11, 24, 1, 30, tzinfo=timezone.utc)

CASE_DELIVERY = {"id": str(uuid.uuid4()), "cause_event_id": str(uuid.uuid4()),
                 "cause_type": "doorstep.routing.case.routed.v1", "case_id": str(uuid.uuid4()),
                 "recipient": "unit:shixin-pm", "channel": "webhook", "template": "case-routed-unit",
                 "created_at": NOW, "status": "queued", "attempts": 0, "total_attempts": 0}
DIGEST_DELIVERY = {**CASE_DELIVERY, "id": str(uuid.uuid4()), "cause_event_id": "digest:shixin-pm:2026-11-24",
                   "cause_type": "digest.unit", "case_id": None, "template": "unit-digest"}

# Every builder, called as the use cases call it, once for a delivery about a case and once for a digest.
SAMPLES = {
    events.notification_sent: [
        lambda delivery: events.notification_sent(delivery, "webhook", NOW, 1),
        lambda delivery: events.notification_sent(delivery, "sms", NOW, 4),
    ],
    events.notification_failed: [
        lambda delivery: events.notification_failed(delivery, "email", "550 mailbox w***@example.org unknown", NOW, 3),
        lambda delivery: events.notification_failed(delivery, "file", "template unit-digest no longer exists", NOW, 1),
    ],
}


def builders():
    return [f for f in contract.builders(events).values()]


@pytest.mark.parametrize("delivery", [CASE_DELIVERY, DIGEST_DELIVERY], ids=["case", "digest"])
def test_every_builder_makes_data_its_frozen_schema_accepts(delivery):
    assert set(SAMPLES) == set(builders()), "a builder without samples here"
    for calls in SAMPLES.values():
        for call in calls:
            outgoing = call(delivery)
            assert isinstance(outgoing, Outgoing) and outgoing.subject == f"delivery/{delivery['id']}"
            assert schema_errors(outgoing.type, outgoing.data) == []
            assert ("case_id" in outgoing.data) == (delivery["case_id"] is not None)
            # As published: checked against the current schema, formats included.
            new_event(outgoing.type, street="lujiazui", subject=outgoing.subject, data=outgoing.data)


def test_each_event_type_notify_publishes_has_exactly_one_builder():
    published = sorted(published_types("notify"))
    built = sorted(SAMPLES[builder][0](CASE_DELIVERY).type for builder in builders())
    assert built == published

