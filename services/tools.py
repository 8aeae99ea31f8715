"""Operator tools on the broker: follow the event stream, inspect and replay dead letters."""
from __future__ import annotations

import json
import socket
import uuid
from typing import Iterator

import kombu

from shared.broker import declare_dead_letter_queue


def tail_events(amqp_url: str, exchanges, binding: str = "#", count: int = 0, on_ready=None) -> Iterator[dict]:
    """Yield envelopes from a temporary queue (exclusive, auto-deleted) bound to ``exchanges``.

    ``on_ready`` is called once the queue is bound: from then on no event is missed."""
    seen = 0
    with kombu.Connection(amqp_url) as conn:
        channel = conn.channel()
        queue = kombu.Queue(f"doorstep-tail-{uuid.uuid4().hex[:12]}", exclusive=True, auto_delete=True,
                            durable=False, channel=channel)
        queue.declare()
        for name in exchanges:
            exchange = kombu.Exchange(name, "topic", durable=True, channel=channel)
            exchange.declare()
            queue.bind_to(exchange, routing_key=binding)
        pending: list[dict] = []

        def on_message(message):
            try:
                pending.append(json.loads(message.body))
            except ValueError:
                pending.append({"type": "(not JSON)", "subject": repr(message.body[:80])})
            message.ack()

        with kombu.Consumer(channel, [queue], on_message=on_message):
            if on_ready:
                on_ready()
            while not count or seen < count:
                try:
                    conn.drain_events(timeout=1)
                except socket.timeout:
                    continue
                while pending and (not count or seen < count):
                    seen += 1
                    yield pending.pop(0)


def peek_dead_letters(amqp_url: str, service: str) -> list[tuple[dict, bytes]]:
    """Every dead letter of ``service`` as (headers, body); they stay in the queue."""
    with kombu.Connection(amqp_url) as conn:
        _, queue = declare_dead_letter_queue(conn, service)
        found, held = [], []
        while (message := queue.get(no_ack=False)) is not None:
            found.append((dict(message.headers or {}), message.body))
            held.append(message)
        for message in held:
            message.requeue()
        return found


def replay_dead_letters(amqp_url: str, service: str) -> int:
    """Return each dead letter to the queue it failed on (only that consumer sees it again)."""
    moved = 0
    with kombu.Connection(amqp_url) as conn:
        channel, queue = declare_dead_letter_queue(conn, service)
        producer = kombu.Producer(channel)
        # Only what is there now: a message that fails again comes back and must not loop forever.
        waiting = channel.queue_declare(queue=queue.name, passive=True).message_count
        for _ in range(waiting):
            message = queue.get(no_ack=False)
            if message is None:
                break
            headers = dict(message.headers or {})
            target = headers.get("x-original-queue")
            if not target:
                message.requeue()
                break
            replay_headers = {k: v for k, v in headers.items() if not k.startswith("x-")}
            replay_headers["x-replayed-from-dead-letter"] = True
            producer.publish(message.body, exchange="", routing_key=target, headers=replay_headers,
                             content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                             message_id=message.properties.get("message_id"))
            message.ack()
            moved += 1
    return moved


def replay_events(settings, since, types=(), target: str = "", batch_size: int = 500, progress=None) -> int:
    """Re-publish retained events (published at or after ``since``) in order, marked as replays.

    Reads every service's outbox and changes nothing in it. ``target`` is ``queue:<name>`` (straight into one
    subscriber's queue) or ``exchange:<name>`` (original routing keys). Event ids are unchanged, so a
    subscriber that dedupes on ``id`` takes each event at most once whether or not it saw it before.
    """
    import heapq

    import sqlalchemy as sa

    from shared.broker import OutgoingMessage, make_publisher
    from shared.config import SERVICES
    from shared.db import engine_for, outbox

    kind, _, name = target.partition(":")
    if kind not in ("queue", "exchange") or not name:
        raise ValueError("target must be queue:<name> or exchange:<name>")

    def rows(service):
        query = (sa.select(outbox.c.created_at, outbox.c.position, outbox.c.type, outbox.c.routing_key,
                           outbox.c.event_id, outbox.c.body)
                 .where(outbox.c.published_at.is_not(None), outbox.c.created_at >= since)
                 .order_by(outbox.c.created_at, outbox.c.position))
        if types:
            query = query.where(outbox.c.type.in_(list(types)))
        with engine_for(settings.db_url(service)).connect() as conn:
            for row in conn.execute(query.execution_options(yield_per=batch_size)):
                yield row.created_at, service, row

    publisher = make_publisher(settings.broker_uri)
    sent, batch = 0, []

    def flush():
        nonlocal sent
        if batch and not all(publisher.publish(batch)):
            raise RuntimeError("the broker refused part of the replay; run it again (ids are unchanged)")
        sent += len(batch)
        batch.clear()
        if progress:
            progress(sent)

    try:
        for _, _, row in heapq.merge(*(rows(s) for s in SERVICES), key=lambda item: (item[0], item[1])):
            envelope = json.loads(row.body)
            envelope["replay"] = True
            batch.append(OutgoingMessage(
                exchange="" if kind == "queue" else name,
                routing_key=name if kind == "queue" else row.routing_key,
                body=json.dumps(envelope, ensure_ascii=False).encode("utf-8"),
                message_id=row.event_id, type=row.type, headers={"x-replay": True},
            ))
            if len(batch) >= batch_size:
                flush()
        flush()
    finally:
        publisher.close()
    return sent


FAN_IN_QUEUE = "district-fan-in.{service}"


def fan_in_shovels(street: str, street_uri: str, district_uri: str) -> dict[str, dict]:
    """Dynamic shovel definitions carrying one street's events to the district broker.

    Per service, a durable queue on the street's broker takes every event of ``<service>.events`` (so nothing is
    lost while the link is down) and a shovel moves it, with publisher confirms, to the district's exchange of
    the same name; the routing key is kept and the envelope names the street, so a district subscriber binds
    exactly as it would on one street.
    """
    from shared.config import SERVICES

    return {
        f"doorstep-{street}-{service}": {
            "src-protocol": "amqp091", "src-uri": street_uri, "src-queue": FAN_IN_QUEUE.format(service=service),
            "dest-protocol": "amqp091", "dest-uri": district_uri, "dest-exchange": f"{service}.events",
            "ack-mode": "on-confirm", "reconnect-delay": 5,
        }
        for service in SERVICES
    }


def prepare_fan_in(street_uri: str, district_uri: str) -> None:
    """Declare the street-side queues (bound to everything) and the district-side exchanges."""
    from shared.config import SERVICES

    with kombu.Connection(street_uri) as conn:
        channel = conn.channel()
        for service in SERVICES:
            exchange = kombu.Exchange(f"{service}.events", "topic", durable=True, channel=channel)
            exchange.declare()
            kombu.Queue(FAN_IN_QUEUE.format(service=service), exchange, routing_key="#", durable=True,
                        channel=channel).declare()
    with kombu.Connection(district_uri) as conn:
        channel = conn.channel()
        for service in SERVICES:
            kombu.Exchange(f"{service}.events", "topic", durable=True, channel=channel).declare()
