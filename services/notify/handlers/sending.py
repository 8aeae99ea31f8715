"""Sending: claim what is due, send it on its channel, and record each outcome with ``notification.sent`` or
``notification.failed``; retries, fallback to the next channel and dead letters as the delivery policy says."""
from __future__ import annotations

import json
import logging
import re

import sqlalchemy as sa

from services.notify import events, metrics
from services.notify.channels import DeliveryFailed, Outgoing
from services.notify.domain.delivery import after_failure
from services.notify.domain.digest import DIGEST_KEY
from services.notify.domain.recipients import ADDRESSLESS_CHANNELS, mask_address
from services.notify.domain.templates import find_template
from services.notify.handlers.context import NotifyContext, UnitOfWorkFactory
from services.notify.persistence import NotifyUnitOfWork
from shared.personal_data import mask_text

log = logging.getLogger("doorstep.notify")

_EMAIL_IN_TEXT = re.compile(r"[^@\s<>\"']+@[A-Za-z0-9.\-]+")


def _scrub(text: str) -> str:
    """An error text goes into an event and the dead-letter table: mask addresses a server may echo."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_address("email", m.group(0)), text)
    return mask_text(text)


def dispatch_due(new_uow: UnitOfWorkFactory, ctx: NotifyContext, ids: list[str] | None = None) -> int:
    """Send what is due (or only ``ids``); return how many were attempted.

    Outcomes that could not be recorded before (the database was away) are recorded first: the deliveries
    were sent, so they complete as soon as the database is back, instead of waiting out their claim's lease
    and going out a second time.
    """
    if ctx.unrecorded:
        waiting, ctx.unrecorded = ctx.unrecorded, []
        _record_outcomes(new_uow, ctx, waiting)
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
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:  # the database is away, not a bad row
        log.warning("%d delivery outcome(s) wait for the database to be recorded: %s", len(outcomes),
                    type(exc).__name__)
        ctx.unrecorded.extend(outcomes)
        return
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
        uow.emit(events.notification_sent(row, channel_name, now, total))

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
        uow.emit(events.notification_failed(row, channel_name, reason, now, total))
        outcome = "failed"

    def report_failure():
        metrics.DELIVERIES.labels(channel_name, outcome).inc()
        log.warning("delivery %s on %s: %s (%s)", row["id"], channel_name, outcome, reason)
    return report_failure


def measure_backlog(new_uow: UnitOfWorkFactory) -> None:
    with new_uow() as uow:
        for status in ("queued", "deferred"):
            metrics.BACKLOG.labels(status).set(uow.deliveries.backlog(status))
