"""What an operator does with deliveries: list them, read one with its attempts, send one again, see the dead
letters."""
from __future__ import annotations

import json
from datetime import datetime

from shared.errors import Conflict, NotFound
from services.notify import metrics
from services.notify.domain.recipients import Preferences, plan_channels
from services.notify.handlers.context import NotifyContext
from services.notify.persistence import NotifyUnitOfWork


def _iso(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def list_deliveries(uow: NotifyUnitOfWork, case_id: str | None = None, recipient: str | None = None,
                    status: str | None = None) -> list[dict]:
    with uow:
        rows = uow.deliveries.list(case_id=case_id, recipient=recipient, status=status)
    return [_iso(row) for row in rows]


def delivery_detail(uow: NotifyUnitOfWork, delivery_id: str) -> dict:
    with uow:
        row = uow.deliveries.get(delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        attempts = uow.deliveries.attempts_of(delivery_id)
    public = {k: v for k, v in row.items() if k not in ("context", "claimed_until", "channel_plan")}
    return {**_iso(public), "channel_plan": json.loads(row["channel_plan"]),
            "attempt_log": [_iso(a) for a in attempts]}


def resend(uow: NotifyUnitOfWork, ctx: NotifyContext, delivery_id: str) -> dict:
    """Send a delivery again from its first preferred channel, with the recipient's current contacts."""
    now = ctx.clock()
    with uow:
        row = uow.deliveries.get(delivery_id, lock=True)
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        if row["status"] in ("queued", "deferred"):
            raise Conflict(f"delivery {delivery_id} is {row['status']}: it will be sent without a resend")
        if row["redacted_at"] is not None:
            raise Conflict(f"delivery {delivery_id} was redacted (its recipient erased, or its retention over): "
                           "there is nothing left to send")
        preferences = uow.recipients.preferences(row["recipient"], Preferences(quiet_hours=ctx.settings.quiet_hours))
        plan = plan_channels(preferences, uow.recipients.contacts(row["recipient"]), ctx.settings.default_channel)
        uow.deliveries.update(delivery_id, status="queued", channel=plan[0], channel_plan=json.dumps(list(plan)),
                              channel_index=0, attempts=0, next_attempt_at=now, claimed_until=None,
                              failed_at=None, last_error=None, deferred_reason=None, resent_at=now)
        uow.commit()
    metrics.DELIVERIES.labels(plan[0], "queued").inc()
    return {"id": delivery_id, "status": "queued", "channel": plan[0]}


def list_dead_letters(uow: NotifyUnitOfWork) -> list[dict]:
    with uow:
        rows = uow.deliveries.dead_letters()
    return [{**_iso(row), "channels": json.loads(row["channels"])} for row in rows]
