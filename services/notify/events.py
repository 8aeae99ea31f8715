"""The events notify publishes, each built here and only here: one function per event type, whose data matches the
type's schema (``shared/contract/schemas/notify/``). A use case emits ``uow.emit(events.notification_sent(...))``.

``delivery`` is a delivery as notify stores it (``persistence.deliveries``): its ``id``, ``cause_event_id``,
``cause_type``, ``recipient``, ``template`` and ``case_id`` (None when the cause is about no case).
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from shared.events import Outgoing


def _about(delivery: Mapping, channel: str, attempts: int) -> dict:
    data = {"delivery_id": delivery["id"], "cause_event_id": delivery["cause_event_id"],
            "cause_type": delivery["cause_type"], "recipient": delivery["recipient"], "channel": channel,
            "template": delivery["template"], "attempts": attempts}
    if delivery["case_id"]:
        data["case_id"] = delivery["case_id"]
    return data


def notification_sent(delivery: Mapping, channel: str, sent_at: datetime, attempts: int) -> Outgoing:
    """A channel accepted the message; ``attempts`` over all channels tried."""
    return Outgoing("doorstep.notify.notification.sent.v1", f"delivery/{delivery['id']}",
                    {**_about(delivery, channel, attempts), "sent_at": sent_at.isoformat()})


def notification_failed(delivery: Mapping, channel: str, reason: str, failed_at: datetime,
                        attempts: int) -> Outgoing:
    """Every channel of the plan failed; ``reason`` is the last error, addresses masked."""
    return Outgoing("doorstep.notify.notification.failed.v1", f"delivery/{delivery['id']}",
                    {**_about(delivery, channel, attempts), "reason": reason, "failed_at": failed_at.isoformat()})
