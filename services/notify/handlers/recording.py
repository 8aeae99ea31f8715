"""Deciding and recording, in the event handler's transaction: which deliveries an event causes (or a unit's daily
digest), each with its channel plan and status; and the read model of assignments the digests report on."""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import uuid
from datetime import datetime
from typing import Callable

from shared.events import Envelope
from services.notify import metrics
from services.notify.domain.delivery import decide, reads_recent_sends
from services.notify.domain.digest import DIGEST_KEY, AssignmentView, compose_digest, digest_due, digest_moment
from services.notify.domain.recipients import Preferences, plan_channels
from services.notify.domain.templates import Notice, find_template, notices_for
from services.notify.handlers.context import NotifyContext, UnitOfWorkFactory
from services.notify.persistence import NotifyUnitOfWork

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# -- the read model of assignments (for digests) -------------------------------------------------------------

def _parse_time(value) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _assignment_opened(uow: NotifyUnitOfWork, data: dict, now: datetime) -> None:
    uow.assignments.record(AssignmentView(
        assignment_id=data["assignment_id"], case_id=data["case_id"], unit_code=data["unit"]["code"],
        unit_name=data["unit"].get("name", data["unit"]["code"]), area=data.get("area", ""),
        matter_code=data.get("matter_code", ""), routed_at=_parse_time(data.get("routed_at")) or now,
        due_at=_parse_time(data.get("due_at") or data.get("deadline"))))


def _assignment_escalated(uow: NotifyUnitOfWork, data: dict, now: datetime) -> None:
    uow.assignments.escalated(data["assignment_id"], _parse_time(data.get("escalated_at")) or now)


def _assignment_transferred(uow: NotifyUnitOfWork, data: dict, now: datetime) -> None:
    at = _parse_time(data.get("transferred_at")) or now
    previous = uow.assignments.get(data["assignment_id"])
    uow.assignments.close(at, assignment_id=data["assignment_id"])
    uow.assignments.record(AssignmentView(
        assignment_id=data["new_assignment_id"], case_id=data["case_id"], unit_code=data["to_unit"],
        unit_name=data.get("to_unit_name", data["to_unit"]), area=previous.area if previous else "",
        matter_code=previous.matter_code if previous else "", routed_at=at))


def _case_resolved(uow: NotifyUnitOfWork, data: dict, now: datetime) -> None:
    uow.assignments.close(_parse_time(data.get("resolved_at")) or now, case_id=data["case_id"])


# Event type → how it changes the read model of assignments (what a unit's digest reports).
READ_MODEL_FEEDS: dict[str, Callable[[NotifyUnitOfWork, dict, datetime], None]] = {
    "doorstep.routing.case.routed.v1": _assignment_opened,
    "doorstep.routing.case.escalated.v1": _assignment_escalated,
    "doorstep.routing.assignment.transferred.v1": _assignment_transferred,
    "doorstep.routing.case.resolved.v1": _case_resolved,
}


# -- deciding and recording ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Cause:
    """What notices are recorded for: an event, or a unit's daily digest."""
    id: str
    type: str
    template_key: str
    data: dict


def record_events(events: list[Envelope], uow: NotifyUnitOfWork, ctx: NotifyContext) -> list[str]:
    """Record the deliveries the events cause, in one transaction; return the ids due now (the caller may send
    them at once)."""
    now = ctx.clock()
    with uow:
        causes = []
        for event in uow.unhandled(events):
            feed = READ_MODEL_FEEDS.get(event.type)
            if feed:
                feed(uow, event.data, now)
            causes.append(Cause(event.id, event.type, event.type, event.data))
        due = _record_notices(uow, ctx, causes, now)
        uow.commit()
    return due


def _expand(notices: list[Notice], subscribers: Callable[[str], list[str]]) -> list[Notice]:
    """``subscribers:<topic>`` becomes one notice per subscriber; nobody is named twice."""
    expanded, seen = [], set()
    for notice in notices:
        if notice.recipient.startswith("subscribers:"):
            recipients = subscribers(notice.recipient.removeprefix("subscribers:"))
        else:
            recipients = [notice.recipient]
        for recipient in recipients:
            if recipient not in seen:
                seen.add(recipient)
                expanded.append(dataclasses.replace(notice, recipient=recipient))
    return expanded


def _record_notices(uow: NotifyUnitOfWork, ctx: NotifyContext, causes: list[Cause], now: datetime) -> list[str]:
    settings = ctx.settings
    default_preferences = Preferences(quiet_hours=settings.quiet_hours)
    subscribers = functools.cache(uow.recipients.subscribers)
    wanted = [(cause, notice) for cause in causes
              for notice in _expand(notices_for(cause.template_key, cause.data, ctx.templates), subscribers)]
    if not wanted:
        return []
    # What is known about all recipients, in one query each rather than a few per recipient and cause.
    recipients = sorted({notice.recipient for _, notice in wanted})
    notified = uow.deliveries.notified([cause.id for cause in causes], recipients)
    preferences_of = uow.recipients.preferences_of(recipients, default_preferences)
    contacts_of = uow.recipients.contacts_of(recipients)
    rated = sorted({notice.recipient for _, notice in wanted
                    if reads_recent_sends(notice, preferences_of[notice.recipient])})
    stored_sends = (uow.deliveries.scheduled_since(rated, now - settings.rate_limit.window,
                                                   settings.rate_limit.per_hour) if rated else {})
    scheduled_here: dict[str, list[datetime]] = {}  # recorded by earlier causes of this call, not yet stored
    due, rows = [], []
    for cause, notice in wanted:
        if (cause.id, notice.recipient) in notified:
            continue
        preferences = preferences_of[notice.recipient]
        plan = plan_channels(preferences, contacts_of[notice.recipient], settings.default_channel)
        recent = []
        if reads_recent_sends(notice, preferences):
            recent = stored_sends[notice.recipient] + scheduled_here.get(notice.recipient, [])
        decision = decide(notice, preferences, now, recent, settings.rate_limit)
        metrics.DELIVERIES.labels(plan[0], decision.status).inc()
        if decision.status == "skipped":
            continue
        rendered = find_template(ctx.templates, cause.template_key, notice.template).render(cause.data)
        delivery_id = str(uuid.uuid4())
        case_id = cause.data.get("case_id")
        rows.append(dict(
            id=delivery_id, cause_event_id=cause.id, cause_type=cause.type,
            case_id=case_id if isinstance(case_id, str) and _UUID_RE.match(case_id) else None,
            recipient=notice.recipient, channel=plan[0], template=notice.template, category=notice.category,
            urgent=notice.urgent, subject=rendered.subject, body=rendered.body, status=decision.status,
            context=json.dumps(cause.data, ensure_ascii=False), channel_plan=json.dumps(list(plan)),
            channel_index=0, attempts=0, total_attempts=0, next_attempt_at=decision.next_attempt_at,
            deferred_reason=decision.reason or None, created_at=now,
        ))
        if not notice.urgent:
            scheduled_here.setdefault(notice.recipient, []).append(decision.next_attempt_at)
        if decision.status == "queued":
            due.append(delivery_id)
    if rows:
        uow.deliveries.add_all(rows)
    return due


# -- the daily digest -------------------------------------------------------------------------------------

def queue_digests(new_uow: UnitOfWorkFactory, ctx: NotifyContext) -> int:
    """Once a day at the configured time, record a digest delivery for each unit with something to report."""
    if not ctx.settings.digest_enabled or DIGEST_KEY not in ctx.templates:
        return 0
    now = ctx.clock()
    day = digest_due(now, ctx.settings.digest_at)
    if day is None:
        return 0
    moment = digest_moment(day, ctx.settings.digest_at)
    with new_uow() as uow:
        units = uow.assignments.open_units(moment)
    queued = 0
    for unit_code in units:
        with new_uow() as uow:
            if not uow.assignments.claim_digest(unit_code, day.isoformat(), now):
                continue
            context = compose_digest(unit_code, uow.assignments.for_unit(unit_code), moment)
            if context is not None:
                cause = Cause(f"digest:{unit_code}:{day.isoformat()}", DIGEST_KEY, DIGEST_KEY, context)
                queued += len(_record_notices(uow, ctx, [cause], now))
            uow.commit()
    return queued
