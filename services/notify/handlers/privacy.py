"""What notify forgets: everything about a resident intake erased (``resident.erased``): their addresses,
preferences and subscriptions, and the wording of the messages to them or about their cases; and the wording of
any message older than ``DOORSTEP_RETENTION_DELIVERY_BODY_DAYS`` (a timer, a batch a pass). The delivery rows
stay (who was told, when, on which channel) for the counts and the audit; what they said goes."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from shared import metrics
from shared.config import Settings
from shared.events import Envelope
from services.notify.persistence import NotifyUnitOfWork


def resident(resident_id: str) -> str:
    """The recipient reference of a resident, as templates name them."""
    return f"resident:{resident_id}"


def forget_residents(erased: list[Envelope], uow: NotifyUnitOfWork, now: datetime) -> None:
    with uow:
        todo = uow.unhandled(erased)
        recipients = sorted({resident(event.data["resident_id"]) for event in todo})
        case_ids = sorted({case_id for event in todo for case_id in event.data["case_ids"]})
        uow.privacy.forget_recipients(recipients)
        uow.privacy.redact_deliveries(uow.privacy.deliveries_of(recipients, case_ids), now)
        uow.commit()


def apply_retention(new_uow: Callable[[], NotifyUnitOfWork], settings: Settings, now: datetime) -> int:
    """One pass: the oldest batch of finished deliveries past their retention; how many."""
    with new_uow() as uow:
        due = uow.privacy.due_deliveries(now - timedelta(days=settings.retention_delivery_body_days),
                                         settings.retention_batch_size)
        uow.privacy.redact_deliveries(due, now)
        uow.commit()
    metrics.RETENTION_RECORDS.labels("notify", "deliveries").inc(len(due))
    return len(due)
