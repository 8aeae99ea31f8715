"""Operator tools on the broker: follow the event stream, inspect and replay dead letters."""
from __future__ import annotations

import json
import socket
import uuid
from typing import Iterator

import kombu

from shared.broker import DEAD_LETTER_EXCHANGE, dead_letter_queue


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


def _dead_letter_queue(conn, service):
    channel = conn.channel()
    exchange = kombu.Exchange(DEAD_LETTER_EXCHANGE, "direct", durable=True)
    queue = kombu.Queue(dead_letter_queue(service), exchange, routing_key=service, durable=True, channel=channel)
    queue.declare()
    return channel, queue


def peek_dead_letters(amqp_url: str, service: str) -> list[tuple[dict, bytes]]:
    """Every dead letter of ``service`` as (headers, body); they stay in the queue."""
    with kombu.Connection(amqp_url) as conn:
        _, queue = _dead_letter_queue(conn, service)
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
        channel, queue = _dead_letter_queue(conn, service)
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
