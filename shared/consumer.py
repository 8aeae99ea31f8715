"""The idempotent event consumer: a nameko entrypoint with retries and a dead-letter queue.

``@consume("intake", "case.submitted.v1")`` binds a queue named as nameko names it
(``evt-intake-case.submitted.v1--routing.on_case_submitted``) to the exchange ``intake.events``. Compared with
nameko's ``event_handler``, which acknowledges and drops a message whose handler raised:

* the raw message is parsed here, so a body that is not JSON, not a valid envelope or not valid for its
  schema is dead-lettered at once with the reason, and the service keeps consuming;
* a handler that raises is retried in-process with exponential backoff (the message stays unacknowledged,
  so a crash meanwhile means redelivery, not loss); after the last attempt the message goes to the
  service's dead-letter queue with the error, and only then is it acknowledged;
* a redelivered event already handled (see :class:`shared.unit_of_work.UnitOfWork`) is acknowledged with no effect;
* the events handled at the same moment share one transaction (see :class:`shared.commit_groups.CommitGroups`); if one
  of them fails, the others are handled again each alone, and a retry always runs alone.

``@consume(..., batch=True)`` makes a *batch consumer*: the handler is called with a list of events
(:class:`shared.unit_of_work.EventBatch`, up to ``consumer_batch_size``: the messages that arrived while the previous
batch was being handled) and handles them in one transaction, with set-based statements, so a busy queue costs
a few statements per batch instead of a few per event. If a batch fails, each of its events is handled again
alone (a list of one), with the retries and dead-lettering above: one poison message still only dead-letters
itself. With ``consumer_batch_size`` 1 a batch consumer behaves as nameko's ``event_handler`` does, a worker
and a transaction per message.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from functools import partial
from operator import attrgetter

import eventlet
from nameko.containers import ContainerBeingKilled
from nameko.events import EventHandler
from nameko.extensions import SharedExtension
from nameko.messaging import QueueConsumer

from shared import metrics
from shared.broker import DEAD_LETTER_EXCHANGE, OutgoingMessage, dead_letter_queue, make_publisher
from shared.commit_groups import GroupAborted, GroupMembership
from shared.events import Envelope, InvalidEnvelope, registry
from shared.unit_of_work import AlreadyHandled, EventBatch

log = logging.getLogger(__name__)


class RawQueueConsumer(QueueConsumer):
    """nameko's queue consumer, but it hands over undecoded messages.

    nameko decodes in kombu's callback; a body that fails to decode raises inside the consumer thread and
    kills the container. Passing ``on_message`` makes kombu skip decoding, and the entrypoint decides.
    """

    def consume(self, *args, **kwargs):
        # kombu checks for a stop request between waits of ``safety_interval`` (1 s by default); a shorter
        # wait makes a container stop (a rolling update, a test teardown) in a tenth of the time.
        kwargs.setdefault("safety_interval", 0.1)
        return super().consume(*args, **kwargs)

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            consumer = consumer_cls(
                queues=[provider.queue],
                on_message=partial(self._on_raw_message, provider),
                accept=self.accept,
            )
            consumer.qos(prefetch_count=getattr(provider, "prefetch_count", None) or self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()

    def _on_raw_message(self, provider, message):
        self.handle_message(provider, None, message)

    # nameko skips a dead connection and catches amqp's ConnectionError, but a socket the broker reset while
    # the handler ran raises the builtin ConnectionResetError, which would kill the container. Nothing is lost
    # by letting it go: the broker redelivers an unsettled message, and the inbox makes that a duplicate.
    def ack_message(self, message):
        self._settle(super().ack_message, message)

    def requeue_message(self, message):
        self._settle(super().requeue_message, message)

    @staticmethod
    def _settle(action, message):
        try:
            action(message)
        except OSError as exc:
            log.warning("could not settle message %s, the broker will redeliver it: %r",
                        message.properties.get("message_id"), exc)


class DeadLetters(SharedExtension):
    """Publishes failed messages to ``<service>.dead-letter`` with the reason in the headers."""

    def setup(self):
        settings = self.container.config["DOORSTEP"]
        self.service = self.container.service_name
        self.queue = dead_letter_queue(self.service)
        self.publisher = make_publisher(settings.broker_uri)
        self._declared = False

    def stop(self):
        self.publisher.close()

    kill = stop

    def send(self, message, *, consumer: str, queue: str, reason: str, error: str, attempts: int) -> None:
        if not self._declared:
            self.publisher.ensure_queue(self.queue, DEAD_LETTER_EXCHANGE, self.service)
            self._declared = True
        info = message.delivery_info or {}
        headers = dict(message.headers or {})
        headers.update({
            "x-dead-letter-reason": reason,
            "x-error": error[:2000],
            "x-consumer": consumer,
            "x-original-exchange": info.get("exchange", ""),
            "x-original-routing-key": info.get("routing_key", ""),
            "x-original-queue": queue,
            "x-attempts": attempts,
            "x-dead-lettered-at": datetime.now(timezone.utc).isoformat(),
        })
        body = message.body if isinstance(message.body, bytes) else str(message.body).encode("utf-8")
        confirmed = self.publisher.publish([
            OutgoingMessage(DEAD_LETTER_EXCHANGE, self.service, body,
                            message.properties.get("message_id") or "", headers=headers, exchange_type="direct")
        ])
        if not all(confirmed):
            raise RuntimeError(f"dead-letter queue {self.queue} refused a message")


class EventConsumer(EventHandler):
    queue_consumer = RawQueueConsumer()
    dead_letters = DeadLetters()
    # Batches of one consumer being handled at once. One: the next batch is whatever arrived while this one
    # was handled, so the busier the queue the larger the batch (measured: 2 in flight made smaller batches,
    # more CPU per event and a slower pipeline).
    BATCHES_IN_FLIGHT = 1

    def __init__(self, source_service: str, routing_key: str, batch: bool = False, **kwargs):
        super().__init__(source_service, routing_key, expected_exceptions=(AlreadyHandled, GroupAborted), **kwargs)
        self.batch = batch
        # A batch is one transaction already; single events join commit groups, each attempt known by the event id.
        self.group_membership = GroupMembership(takes_part=not batch, key=attrgetter("id"))

    def setup(self):
        # An unknown type is a typo in code: fail at start-up, not at the first message.
        self.expected_type = registry().find(self.source_service, self.event_type).type
        settings = self.container.config["DOORSTEP"]
        self.attempts = settings.handler_attempts
        self.backoff_s = settings.handler_backoff_s
        self.service = self.container.service_name
        self.consumer_name = f"{self.service}.{self.method_name}"
        self.batch_size = settings.consumer_batch_size if self.batch else 1
        # Enough messages on hand to fill the next batch while one is being handled.
        self.prefetch_count = max(self.container.max_workers, 2 * self.batch_size) if self.batch_size > 1 else None
        self._waiting: list = []  # (message, event) received and not yet in a batch
        self._batches = 0
        self._forming = False
        super().setup()
        metrics.prime(self.service, consumers=[(self.consumer_name, self.expected_type)])

    def handle_message(self, body, message):
        try:
            event = Envelope.from_json(message.body)
            if event.type != self.expected_type:
                raise InvalidEnvelope(f"type {event.type} arrived on the queue for {self.expected_type}")
        except InvalidEnvelope as exc:
            self._dead_letter(message, "invalid-envelope", str(exc), self.expected_type, attempts=0)
            return
        if self.batch_size == 1:
            self._spawn(message, event, 1)
            return
        self._waiting.append((message, event))
        self._next_batch()

    # -- batches -------------------------------------------------------------------------------------------
    def _next_batch(self) -> None:
        """Start forming a batch, unless one is being formed or ``BATCHES_IN_FLIGHT`` are being handled.

        Called when a message arrives and when a batch is done. So while a batch is being handled, the messages
        that arrive wait, and become the next batch together: the busier the queue, the larger the batch and the
        fewer statements per event, while on a quiet queue each message is handled at once, in a batch of one.
        """
        if self._forming or self._batches >= self.BATCHES_IN_FLIGHT or not self._waiting:
            return
        self._forming = True
        self.container.spawn_managed_thread(self._form_batch, identifier="consumer_batch")

    def _form_batch(self) -> None:
        """Hand up to ``batch_size`` waiting messages to one worker, as one :class:`EventBatch`.

        It yields once first: the messages kombu has already read from the socket are delivered meanwhile and
        join this batch rather than start the next. If the container is being killed, the messages are requeued
        unacknowledged.
        """
        eventlet.sleep(0)  # messages already read from the socket join this batch
        taken, self._waiting = self._waiting[:self.batch_size], self._waiting[self.batch_size:]
        self._forming = False
        if not taken:
            return
        self._batches += 1
        batch = EventBatch(event for _, event in taken)
        handle_result = partial(self._batch_result, taken, batch, time.perf_counter())
        try:
            self.container.spawn_worker(self, (batch,), {}, context_data=self.unpack_message_headers(taken[0][0]),
                                        handle_result=handle_result)
        except ContainerBeingKilled:
            self._batches -= 1
            for message, _ in taken:
                self.queue_consumer.requeue_message(message)
            return
        self._next_batch()

    def _batch_result(self, taken, batch, started, worker_ctx, result=None, exc_info=None):
        """Acknowledge a batch that committed (or whose events were all handled before); if it failed, handle
        each of its events again alone.

        A failed batch rolled back whole, and which of its events made it fail is unknown. Handled one by one,
        each as a batch of one with a single event's attempts, backoff and dead-lettering, the good events
        commit and a poison message dead-letters only itself. The batch's failure is not counted as an attempt
        of any of them.
        """
        self._batches -= 1
        metrics.HANDLER_DURATION.labels(self.service, self.consumer_name).observe(time.perf_counter() - started)
        metrics.CONSUMER_BATCH_SIZE.labels(self.service, self.consumer_name).observe(len(taken))
        if exc_info is None or isinstance(exc_info[1], AlreadyHandled):
            counted = set(batch.duplicates)  # a second copy of an event in the same batch is a duplicate too
            for message, event in taken:
                outcome = "duplicate" if event.id in counted else "handled"
                counted.add(event.id)
                metrics.EVENTS_CONSUMED.labels(self.service, self.consumer_name, event.type, outcome).inc()
                self.queue_consumer.ack_message(message)
        else:
            # Which event failed is unknown: each is handled again alone, where its own attempts count.
            log.warning("%s: a batch of %d failed (%s: %s); handling its events one by one", self.consumer_name,
                        len(taken), type(exc_info[1]).__name__, exc_info[1])
            for message, event in taken:
                self.container.spawn_managed_thread(partial(self._spawn, message, event, 1, alone=True),
                                                    identifier="consumer_unbatch")
        self._next_batch()
        return result, None

    def _spawn(self, message, event, attempt, alone=False):
        if alone:
            self.group_membership.run_alone(event)
        handle_result = partial(self.handle_result, message, event, attempt, time.perf_counter())
        try:
            args = (EventBatch([event]),) if self.batch else (event,)
            self.container.spawn_worker(self, args, {}, context_data=self.unpack_message_headers(message),
                                        handle_result=handle_result)
        except ContainerBeingKilled:
            self.group_membership.forget(event)
            self.queue_consumer.requeue_message(message)

    def handle_result(self, message, event, attempt, started, worker_ctx, result=None, exc_info=None):
        """Settle one event's message after an attempt: acknowledge it, try it again later, or dead-letter it.

        An event whose commit group was rolled back for another member's failure (:class:`GroupAborted`) is
        handled again at once, alone, and that attempt is not counted: the failure was not the event's own.
        A retry after a failure of its own runs alone as well, so that one failing event cannot make the events
        grouped with it fail again and again (see :class:`shared.commit_groups.Grouping`).
        """
        metrics.HANDLER_DURATION.labels(self.service, self.consumer_name).observe(time.perf_counter() - started)
        if exc_info is not None and isinstance(exc_info[1], GroupAborted):
            # Another event of its commit group failed and took this one's work with it; not this event's
            # failure, so not an attempt: handle it again at once, alone. (From a thread of its own: this
            # worker still holds its slot in the worker pool, and spawn_worker waits for a free one.)
            self.group_membership.run_alone(event)
            self.container.spawn_managed_thread(partial(self._spawn, message, event, attempt, alone=True),
                                                identifier="consumer_regroup")
            return result, None
        if exc_info is None or isinstance(exc_info[1], AlreadyHandled):
            self.group_membership.forget(event)
            outcome = "handled" if exc_info is None else "duplicate"
            metrics.EVENTS_CONSUMED.labels(self.service, self.consumer_name, event.type, outcome).inc()
            self.queue_consumer.ack_message(message)
            return result, None
        metrics.EVENTS_FAILED.labels(self.service, self.consumer_name, event.type).inc()
        error = f"{type(exc_info[1]).__name__}: {exc_info[1]}"
        if attempt < self.attempts:
            delay = self.backoff_s * 2 ** (attempt - 1)
            log.warning("%s failed on %s (attempt %d/%d), retrying in %.2fs: %s",
                        self.consumer_name, event.id, attempt, self.attempts, delay, error)
            self.container.spawn_managed_thread(
                partial(self._retry_later, delay, message, event, attempt + 1), identifier="consumer_retry")
        else:
            self.group_membership.forget(event)
            self._dead_letter(message, "handler-failed", error, event.type, attempts=attempt)
        return result, exc_info

    def _retry_later(self, delay, message, event, attempt):
        eventlet.sleep(delay)
        self._spawn(message, event, attempt, alone=True)

    def _dead_letter(self, message, reason, error, type_name, attempts):
        log.error("%s: dead-lettering message %s (%s): %s", self.consumer_name,
                  message.properties.get("message_id"), reason, error)
        try:
            self.dead_letters.send(message, consumer=self.consumer_name, queue=self.queue.name, reason=reason,
                                   error=error, attempts=attempts)
        except Exception as exc:
            # Not acknowledged: the broker redelivers it and we try again; nothing is lost.
            log.error("%s: could not dead-letter (%s); requeueing", self.consumer_name, exc)
            eventlet.sleep(1)
            self.queue_consumer.requeue_message(message)
            return
        metrics.EVENTS_DEAD_LETTERED.labels(self.service, self.consumer_name, type_name, reason).inc()
        self.queue_consumer.ack_message(message)


consume = EventConsumer.decorator
