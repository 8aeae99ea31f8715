"""Notify's use cases.

Two halves, as the outbox pattern wants them:

* **deciding and recording** (:func:`record_events`), in the event handler's transaction: one delivery row per
  recipient with its channel plan and status (queued, or deferred for quiet hours and the rate limit); the
  inbox makes a redelivered event a no-op, and the row's unique key (event, recipient, channel) keeps a
  recipient from getting two messages about one event;
* **sending** (:func:`dispatch_due`): claim due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, plus a lease so
  no transaction stays open while a channel talks to the network), send, and record the outcome together with
  ``notification.sent`` / ``notification.failed`` in one unit of work.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import uuid
from datetime import datetime
from typing import Callable, Mapping

from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import Envelope
from services.notify import metrics
from services.notify.channels import Channel, DeliveryFailed, Outgoing
from services.notify.domain.delivery import after_failure, decide, reads_recent_sends
from services.notify.domain.digest import DIGEST_KEY, AssignmentView, compose_digest, digest_due, digest_moment
from services.notify.domain.recipients import (ADDRESSLESS_CHANNELS, Preferences, check_contact, check_recipient,
                                               check_topic, mask_address, parse_preferences, plan_channels)
from services.notify.domain.templates import Notice, Templates, find_template, notices_for
from services.notify.persistence import NotifyUnitOfWork
from services.notify.settings import NotifySettings

log = logging.getLogger("doorstep.notify")

SENT = "doorstep.notify.notification.sent.v1"
FAILED = "doorstep.notify.notification.failed.v1"
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"']+@[A-Za-z0-9.\-]+")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")

UnitOfWorkFactory = Callable[[], NotifyUnitOfWork]


@dataclasses.dataclass
class NotifyContext:
    """What the use cases need besides a unit of work: templates, settings, channels and the clock."""
    templates: Templates
    settings: NotifySettings
    channels: Mapping[str, Channel]
    clock: Callable[[], datetime]


def _scrub(text: str) -> str:
    """An error text goes into an event and the dead-letter table: mask addresses a server may echo."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_address("email", m.group(0)), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_address("sms", m.group(0)), text)


def _iso(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


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


# -- sending -------------------------------------------------------------------------------------------------

def dispatch_due(new_uow: UnitOfWorkFactory, ctx: NotifyContext, ids: list[str] | None = None) -> int:
    """Send what is due (or only ``ids``); return how many were attempted."""
    now = ctx.clock()
    with new_uow() as uow:
        claimed = uow.deliveries.claim_due(now, now + ctx.settings.sender_lease, ctx.settings.sender_batch_size, ids)
        uow.commit()
    outcomes = []
    for row in claimed:
        try:
            outcomes.append(_send_one(new_uow, ctx, row))
        except Exception:
            # The claim's lease runs out and the row is tried again; one bad row must not stop the batch.
            log.exception("sending delivery %s failed", row["id"])
    _record_outcomes(new_uow, ctx, outcomes)
    return len(claimed)


class SendRounds:
    """Deliveries due at once, sent in rounds that concurrent event handlers share.

    A handler whose deliveries are due calls :meth:`send`. If no round is under way, it runs one, and then
    further ones for the ids other handlers left meanwhile (a few at most, so its own event is not held up);
    if a round is under way, it leaves its ids to that round and returns. One claim and one transaction of
    outcomes then serve the deliveries of many events. Whatever is left over, or fails, the timer's sender
    picks up (due rows stay queued until they are sent).
    """

    MAX_ROUNDS = 4

    def __init__(self):
        self._waiting: list[str] = []
        self._running = False

    def send(self, new_uow: UnitOfWorkFactory, ctx: NotifyContext, ids: list[str]) -> None:
        self._waiting.extend(ids)
        # Only a shortcut: the rows are queued in the database, so ids dropped here are sent by the timer.
        del self._waiting[:-20 * ctx.settings.sender_batch_size]
        if self._running:
            return
        self._running = True
        try:
            for _ in range(self.MAX_ROUNDS):
                batch = self._waiting[:ctx.settings.sender_batch_size]
                if not batch:
                    break
                del self._waiting[:len(batch)]
                dispatch_due(new_uow, ctx, batch)
        finally:
            self._running = False


def _template_key(row: dict) -> str:
    return DIGEST_KEY if row["cause_type"] == DIGEST_KEY else row["cause_type"]


def _send_one(new_uow: UnitOfWorkFactory, ctx: NotifyContext, row: dict) -> tuple:
    plan = json.loads(row["channel_plan"]) or [row["channel"]]
    index = min(row["channel_index"], len(plan) - 1)
    channel_name = plan[index]
    address = None
    if channel_name not in ADDRESSLESS_CHANNELS:
        with new_uow() as uow:
            address = uow.recipients.address(row["recipient"], channel_name)
    failure: DeliveryFailed | None = None
    try:
        template = find_template(ctx.templates, _template_key(row), row["template"])
        if template is None:
            raise DeliveryFailed(f"template {row['template']} no longer exists", permanent=True)
        channel = ctx.channels.get(channel_name)
        if channel is None:
            raise DeliveryFailed(f"channel {channel_name} is not configured", permanent=True)
        if channel_name not in ADDRESSLESS_CHANNELS and not address:
            raise DeliveryFailed(f"no {channel_name} address registered", permanent=True)
        rendered = template.render(json.loads(row["context"]), channel_name)
        channel.send(Outgoing(row["id"], row["recipient"], address, row["template"], row["category"],
                              row["cause_type"], rendered))
    except DeliveryFailed as exc:
        failure = exc
    except Exception as exc:  # a bug or an outage in a channel: worth another try, and visible in the log
        log.exception("channel %s raised on delivery %s", channel_name, row["id"])
        failure = DeliveryFailed(f"{type(exc).__name__}: {exc}")
    return row, plan, index, channel_name, address, failure


def _record_outcomes(new_uow: UnitOfWorkFactory, ctx: NotifyContext, outcomes: list[tuple]) -> None:
    """Record what a sending round did, in one transaction. If that fails, each outcome is recorded in a
    transaction of its own, so one bad row does not send the others again when their lease runs out."""
    if not outcomes:
        return
    try:
        with new_uow() as uow:
            statuses = uow.deliveries.statuses([outcome[0]["id"] for outcome in outcomes], lock=True)
            with uow.deliveries.together():
                reports = [_record_outcome(uow, ctx, *outcome, status=statuses.get(outcome[0]["id"]))
                           for outcome in outcomes]
            uow.commit()
    except Exception:
        if len(outcomes) == 1:
            log.exception("recording the outcome of delivery %s failed", outcomes[0][0]["id"])
            return
        reports = []
        for outcome in outcomes:
            try:
                with new_uow() as uow:
                    reports.append(_record_outcome(uow, ctx, *outcome))
                    uow.commit()
            except Exception:
                log.exception("recording the outcome of delivery %s failed", outcome[0]["id"])
    for report in reports:  # metrics and log lines only once the outcome is committed
        if report is not None:
            report()


def _record_outcome(uow: NotifyUnitOfWork, ctx: NotifyContext, row: dict, plan: list[str], index: int,
                    channel_name: str, address: str | None, failure: DeliveryFailed | None, status: str | None = None):
    """Write one delivery's outcome in ``uow``; return what to report after the commit. ``status``: the row's
    current status, read and locked by the caller (else here)."""
    now = ctx.clock()
    attempts, total = row["attempts"] + 1, row["total_attempts"] + 1
    if status is None:
        current = uow.deliveries.get(row["id"], lock=True)
        status = current["status"] if current else None
    if status not in ("queued", "deferred"):
        return None  # finished meanwhile by a sender whose claim followed an expired lease of ours
    reason = _scrub(failure.reason) if failure else None
    uow.deliveries.add_attempt(delivery_id=row["id"], channel=channel_name, attempt=attempts,
                               outcome="failed" if failure else "sent", error=reason, attempted_at=now)
    masked = mask_address(channel_name, address) if address else None
    if failure is None:
        uow.deliveries.update(row["id"], status="sent", sent_at=now, channel=channel_name, attempts=attempts,
                              total_attempts=total, claimed_until=None, last_error=None, address_masked=masked,
                              deferred_reason=None, next_attempt_at=None)
        data = {"delivery_id": row["id"], "cause_event_id": row["cause_event_id"],
                "cause_type": row["cause_type"], "recipient": row["recipient"], "channel": channel_name,
                "template": row["template"], "sent_at": now.isoformat(), "attempts": total}
        if row["case_id"]:
            data["case_id"] = row["case_id"]
        uow.emit(SENT, subject=f"delivery/{row['id']}", data=data)

        def report_sent():
            metrics.DELIVERIES.labels(channel_name, "sent").inc()
            metrics.DELIVERY_LATENCY.labels(channel_name).observe(max(0.0, (now - row["created_at"]).total_seconds()))
        return report_sent
    step = after_failure(tuple(plan), index, attempts, failure.permanent, now, ctx.settings.retry)
    if step.action == "retry":
        uow.deliveries.update(row["id"], status="queued", attempts=attempts, total_attempts=total,
                              next_attempt_at=step.next_attempt_at, claimed_until=None, last_error=reason)
        outcome = "retried"
    elif step.action == "fallback":
        uow.deliveries.update(row["id"], status="queued", channel=plan[step.channel_index],
                              channel_index=step.channel_index, attempts=0, total_attempts=total,
                              next_attempt_at=now, claimed_until=None, last_error=reason)
        outcome = "fell_back"
    else:
        uow.deliveries.update(row["id"], status="failed", failed_at=now, attempts=attempts, total_attempts=total,
                              next_attempt_at=None, claimed_until=None, last_error=reason)
        uow.deliveries.add_dead_letter(delivery_id=row["id"], recipient=row["recipient"],
                                       channels=json.dumps(plan), reason=reason, created_at=now)
        data = {"delivery_id": row["id"], "cause_event_id": row["cause_event_id"],
                "cause_type": row["cause_type"], "recipient": row["recipient"], "channel": channel_name,
                "template": row["template"], "reason": reason, "failed_at": now.isoformat(), "attempts": total}
        if row["case_id"]:
            data["case_id"] = row["case_id"]
        uow.emit(FAILED, subject=f"delivery/{row['id']}", data=data)
        outcome = "failed"

    def report_failure():
        metrics.DELIVERIES.labels(channel_name, outcome).inc()
        log.warning("delivery %s on %s: %s (%s)", row["id"], channel_name, outcome, reason)
    return report_failure


def measure_backlog(new_uow: UnitOfWorkFactory) -> None:
    with new_uow() as uow:
        for status in ("queued", "deferred"):
            metrics.BACKLOG.labels(status).set(uow.deliveries.backlog(status))


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


# -- the API's use cases --------------------------------------------------------------------------------------

def list_deliveries(uow: NotifyUnitOfWork, case_id: str | None = None, recipient: str | None = None,
                    status: str | None = None) -> list[dict]:
    if status is not None and status not in ("queued", "deferred", "sent", "failed"):
        raise InvalidInput("status", "expected queued, deferred, sent or failed")
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
        preferences = uow.recipients.preferences(row["recipient"], Preferences(quiet_hours=ctx.settings.quiet_hours))
        plan = plan_channels(preferences, uow.recipients.contacts(row["recipient"]), ctx.settings.default_channel)
        uow.deliveries.update(delivery_id, status="queued", channel=plan[0], channel_plan=json.dumps(list(plan)),
                              channel_index=0, attempts=0, next_attempt_at=now, claimed_until=None,
                              failed_at=None, last_error=None, deferred_reason=None, resent_at=now)
        uow.commit()
    metrics.DELIVERIES.labels(plan[0], "queued").inc()
    return {"id": delivery_id, "status": "queued", "channel": plan[0]}


def get_preferences(uow: NotifyUnitOfWork, ctx: NotifyContext, recipient: str) -> dict:
    check_recipient(recipient)
    with uow:
        preferences = uow.recipients.preferences(recipient, Preferences(quiet_hours=ctx.settings.quiet_hours))
    return {"recipient": recipient, **preferences.to_dict()}


def set_preferences(uow: NotifyUnitOfWork, ctx: NotifyContext, recipient: str, body: dict) -> dict:
    check_recipient(recipient)
    preferences = parse_preferences(body, ctx.settings.quiet_hours)
    with uow:
        uow.recipients.save_preferences(recipient, preferences, ctx.clock())
        uow.commit()
    return {"recipient": recipient, **preferences.to_dict()}


def get_contacts(uow: NotifyUnitOfWork, recipient: str) -> dict:
    check_recipient(recipient)
    with uow:
        found = uow.recipients.contacts(recipient)
    return {"recipient": recipient, "contacts": {c: mask_address(c, a) for c, a in sorted(found.items())}}


def set_contacts(uow: NotifyUnitOfWork, ctx: NotifyContext, recipient: str, body: dict) -> dict:
    """Register (or, with null, remove) a recipient's addresses; the answer shows them masked."""
    check_recipient(recipient)
    raw = body.get("contacts")
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput("contacts", "must map channels (email, sms, wechat, webhook) to addresses")
    addresses = {channel: None if address is None else check_contact(channel, address)
                 for channel, address in raw.items()}
    with uow:
        uow.recipients.replace_contacts(recipient, addresses, ctx.clock())
        uow.commit()
    return get_contacts(uow, recipient)


def subscribe(uow: NotifyUnitOfWork, ctx: NotifyContext, topic: str, recipient: str) -> tuple[int, dict]:
    check_topic(topic)
    check_recipient(recipient)
    with uow:
        created = uow.recipients.subscribe(topic, recipient, ctx.clock())
        uow.commit()
    return (201 if created else 200), {"topic": topic, "recipient": recipient}


def unsubscribe(uow: NotifyUnitOfWork, topic: str, recipient: str) -> dict:
    check_topic(topic)
    with uow:
        removed = uow.recipients.unsubscribe(topic, recipient)
        uow.commit()
    if not removed:
        raise NotFound(f"{recipient} is not subscribed to {topic}")
    return {"topic": topic, "recipient": recipient, "removed": True}


def list_dead_letters(uow: NotifyUnitOfWork) -> list[dict]:
    with uow:
        rows = uow.deliveries.dead_letters()
    return [{**_iso(row), "channels": json.loads(row["channels"])} for row in rows]
