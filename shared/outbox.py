"""The outbox relay: publishes committed events, in order, with confirms; marks only confirmed rows sent.

A batch is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL), so several replicas of a service
can relay side by side without publishing a row twice in normal operation. If the process dies after the
broker confirmed but before the ``UPDATE``, the rows are published again on restart: consumers are
idempotent (see the inbox), so that duplicate is harmless. Published rows are kept for replay and deleted
after the retention period.
"""
from __future__ import annotations

import logging
from collections import deque
from datetime import timedelta

import eventlet
import sqlalchemy as sa
from eventlet.queue import LightQueue, Empty, Full
from nameko.extensions import SharedExtension

from shared import metrics
from shared.broker import OutgoingMessage, PublishError, make_publisher
from shared.db import engine_for, utcnow
from shared.messaging_tables import outbox

log = logging.getLogger(__name__)


class Relay:
    """Moves outbox rows to the broker. Plain object: the nameko extension below schedules it."""

    def __init__(self, service: str, engine: sa.Engine, publisher, batch_size: int = 200):
        self.service = service
        self.engine = engine
        self.publisher = publisher
        self.batch_size = batch_size
        self._locking = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def relay_once(self, min_age_s: float = 0.0) -> int:
        """Publish one batch; return how many rows were marked published.

        ``min_age_s``: only rows written at least that long ago. The service's relay publishes what its own
        units commit straight from memory (:meth:`publish_committed`); its poll of the table is the safety net
        for what that path missed (a crash, a broker outage, another process's rows) and leaves young rows to
        it, so that in normal operation a row is not published twice.
        """
        query = (
            sa.select(outbox.c.position, outbox.c.event_id, outbox.c.type, outbox.c.exchange,
                      outbox.c.routing_key, outbox.c.body)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.position)
            .limit(self.batch_size)
        )
        if min_age_s > 0:
            query = query.where(outbox.c.created_at < utcnow() - timedelta(seconds=min_age_s))
        if self._locking:
            query = query.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return 0
            confirmed = self.publisher.publish([
                OutgoingMessage(row.exchange, row.routing_key, row.body.encode("utf-8"), row.event_id, row.type)
                for row in rows
            ])
            done = [row.position for row, ok in zip(rows, confirmed) if ok]
            if done:
                conn.execute(outbox.update().where(outbox.c.position.in_(done)).values(published_at=utcnow()))
        self._count(rows, confirmed)
        return len(done)

    def publish_committed(self, messages: list[OutgoingMessage]) -> list[str]:
        """Publish events whose outbox rows just committed, from memory; return the ids the broker confirmed.

        No query and no row lock. The caller marks the confirmed rows sent (:meth:`mark_published`), for many
        batches at once. If the process dies before that, or the broker refuses, the rows stay pending and the
        poll publishes them again later; consumers absorb the duplicate.
        """
        confirmed = self.publisher.publish(messages)
        self._count(messages, confirmed)
        return [msg.message_id for msg, ok in zip(messages, confirmed) if ok]

    def mark_published(self, event_ids: list[str]) -> None:
        """One UPDATE (in autocommit) for rows published from memory."""
        if event_ids:
            with self._autocommit.connect() as conn:
                conn.execute(outbox.update().where(outbox.c.event_id.in_(event_ids), outbox.c.published_at.is_(None))
                             .values(published_at=utcnow()))

    def _count(self, rows, confirmed) -> None:
        done = 0
        for row, ok in zip(rows, confirmed):
            if ok:
                done += 1
                metrics.EVENTS_PUBLISHED.labels(self.service, row.type).inc()
        if done < len(rows):
            metrics.EVENTS_PUBLISH_FAILED.labels(self.service).inc(len(rows) - done)

    def drain(self) -> int:
        """Publish until nothing is pending (used by tools and tests)."""
        total = 0
        while (n := self.relay_once()):
            total += n
        return total

    def measure_backlog(self) -> None:
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
            ).one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        age = 0.0
        if oldest is not None:
            age = max(0.0, (utcnow() - oldest).total_seconds())
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(age)

    def purge_published(self, retention_days: int) -> int:
        cutoff = utcnow() - timedelta(days=retention_days)
        with self.engine.begin() as conn:
            result = conn.execute(outbox.delete().where(outbox.c.published_at < cutoff))
        return result.rowcount


class OutboxRelay(SharedExtension):
    """Runs the relay in a managed green thread of the service container.

    Units of work of this process hand over what they committed (:meth:`wake`): it is published from memory
    at once, many commits per batch. The table is polled as well, for rows this process did not hand over (a
    migration, a previous crashed instance, a batch the broker refused); the poll leaves rows younger than
    ``relay_grace_s`` to the first path, so a row is normally published once.
    """

    # Committed events waiting in memory; beyond this (a long broker outage) they are left to the poll.
    MAX_IN_MEMORY = 20_000
    # Rows published from memory are marked sent in one UPDATE at most this often (or once this many wait):
    # a statement per publish was most of the relay's database work. Well below ``relay_grace_s``, so the
    # poll does not take them for missed rows meanwhile.
    MARK_EVERY_S = 0.25
    MARK_AT_MOST = 2_000

    def setup(self):
        settings = self.container.config["DOORSTEP"]
        self.settings = settings
        service = self.container.service_name
        self.relay = Relay(service, engine_for(settings.db_url(service)), make_publisher(settings.broker_uri),
                           settings.relay_batch_size)
        self._committed: deque[OutgoingMessage] = deque()
        self._published: list[str] = []  # confirmed, not yet marked sent
        self._wakeup = LightQueue(maxsize=1)
        self._running = False
        self._gt = None

    def start(self):
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._run, identifier="outbox_relay")
        self.container.spawn_managed_thread(self._declare_exchange, identifier="outbox_declare")

    def _declare_exchange(self):
        """``<service>.events`` exists from start-up, so a subscriber can bind before the first event; if the
        broker is away now, the first publish declares it."""
        exchange = f"{self.container.service_name}.events"
        try:
            self.relay.publisher.ensure_exchange(exchange)
        except Exception as exc:
            log.warning("could not declare %s at start-up (it is declared with the first publish): %s", exchange, exc)

    def stop(self):
        self._running = False
        self._signal()
        if self._gt is not None:
            self._gt.wait()
        self._mark_published()
        self.relay.publisher.close()

    def kill(self):
        self._running = False
        if self._gt is not None:
            self._gt.kill()
        self.relay.publisher.close()

    def wake(self, committed: list[OutgoingMessage] = ()):
        """Called after a commit with the events it committed."""
        if len(self._committed) < self.MAX_IN_MEMORY:
            self._committed.extend(committed)
        self._signal()

    def _mark_published(self) -> None:
        published, self._published = self._published, []
        try:
            self.relay.mark_published(published)
        except sa.exc.SQLAlchemyError as exc:  # the poll publishes them again once their grace is over
            log.warning("outbox relay of %s: could not mark %d rows sent: %s", self.relay.service, len(published),
                        exc)

    def _signal(self):
        try:
            self._wakeup.put_nowait(True)
        except Full:
            pass

    def _run(self):
        failures = 0
        last_measure = last_purge = last_poll = last_mark = 0.0
        clock = eventlet.hubs.get_hub().clock
        grace = self.settings.relay_grace_s
        while self._running:
            published = 0
            now = clock()
            try:
                if self._committed:
                    batch = [self._committed.popleft()
                             for _ in range(min(len(self._committed), self.relay.batch_size))]
                    confirmed = self.relay.publish_committed(batch)
                    self._published.extend(confirmed)
                    published = len(confirmed)
                if now - last_poll >= self.settings.relay_poll_s:
                    last_poll = now
                    published += self.relay.relay_once(min_age_s=grace)
                failures = 0
            except (PublishError, sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
                failures += 1
                # What waits in memory is committed: the poll publishes it once the broker is back, so keeping
                # it here as well would only publish it twice.
                self._committed.clear()
                metrics.RELAY_ERRORS.labels(self.relay.service).inc()
                log.warning("outbox relay of %s: %s (retry %d)", self.relay.service, exc, failures)
                eventlet.sleep(min(5.0, 0.2 * 2 ** min(failures, 5)))
            if self._published and (now - last_mark >= self.MARK_EVERY_S or len(self._published) >= self.MARK_AT_MOST):
                last_mark = now
                self._mark_published()
            if now - last_measure > 1.0:
                last_measure = now
                try:
                    self.relay.measure_backlog()
                except sa.exc.SQLAlchemyError:
                    pass
            if now - last_purge > 3600:
                last_purge = now
                try:
                    self.relay.purge_published(self.settings.outbox_retention_days)
                except sa.exc.SQLAlchemyError as exc:
                    log.warning("outbox purge of %s failed: %s", self.relay.service, exc)
            if not self._committed and published < self.relay.batch_size:
                try:
                    # With rows to mark, wake in time to mark them even if nothing else happens.
                    self._wakeup.get(timeout=self.MARK_EVERY_S if self._published else self.settings.relay_poll_s)
                    # Let the commits of concurrent workers gather, so one publish carries several events.
                    eventlet.sleep(self.settings.relay_linger_s)
                except Empty:
                    pass
