"""Notify's use cases."""
from __future__ import annotations

import uuid

from shared.db import utcnow
from shared.events import Envelope
from services.notify.channels import Channel
from services.notify.domain import MessageTemplate, messages_for
from services.notify.persistence import NotifyUnitOfWork


def notify(event: Envelope, uow: NotifyUnitOfWork, templates: dict[str, list[MessageTemplate]],
           channel: Channel) -> int:
    """Render and deliver the messages an event causes; record each delivery and announce it."""
    messages = messages_for(event.type, event.data, templates)
    with uow:
        for message in messages:
            delivery_id = str(uuid.uuid4())
            now = utcnow()
            uow.deliveries.add(
                id=delivery_id, cause_event_id=event.id, cause_type=event.type, case_id=event.data.get("case_id"),
                recipient=message.recipient, channel=channel.name, template=message.template,
                subject=message.subject, body=message.body, status="sent", created_at=now, sent_at=now,
            )
            # Sent inside the transaction: if the commit then fails the message may go out twice
            # (at-least-once towards the outside world); the delivery row and the event never disagree.
            channel.send(message, delivery_id)
            uow.emit("doorstep.notify.notification.sent.v1", subject=f"delivery/{delivery_id}", data={
                "delivery_id": delivery_id, "cause_event_id": event.id, "cause_type": event.type,
                "case_id": event.data["case_id"], "recipient": message.recipient, "channel": channel.name,
                "template": message.template, "sent_at": now.isoformat(),
            })
        uow.commit()
    return len(messages)


def list_deliveries(uow: NotifyUnitOfWork, case_id: str | None, recipient: str | None) -> list[dict]:
    with uow:
        rows = uow.deliveries.list(case_id=case_id, recipient=recipient)
    for row in rows:
        for key in ("created_at", "sent_at"):
            if row[key] is not None:
                row[key] = row[key].isoformat()
    return rows
