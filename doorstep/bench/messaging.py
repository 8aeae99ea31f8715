"""AMQP plumbing of the measurements: publishing in batches with confirms, routes declared as the services
declare them, and the observer, a tap in the measuring process that sees what arrives where."""
from __future__ import annotations

import contextlib
import socket
import time

from doorstep.bench.infra import BenchmarkError


class ConfirmedBatches:
    """Publishes bodies to one exchange a batch at a time; the batch's confirms are awaited together."""

    def __init__(self, connection, exchange: str, routing_key: str):
        self.connection = connection
        self.exchange = exchange
        self.routing_key = routing_key
        self.channel = connection.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self._next_tag = 1
        self._outstanding: set[int] = set()
        self._nacked = 0

    def _on_ack(self, tag, multiple):
        if multiple:
            self._outstanding = {t for t in self._outstanding if t > tag}
        else:
            self._outstanding.discard(tag)

    def _on_nack(self, tag, multiple):
        before = len(self._outstanding)
        self._on_ack(tag, multiple)
        self._nacked += before - len(self._outstanding)

    def publish(self, bodies, timeout: float = 30.0) -> None:
        import amqp

        for body in bodies:
            self.channel.basic_publish(
                amqp.Message(body, content_type="application/json", content_encoding="utf-8", delivery_mode=2),
                exchange=self.exchange, routing_key=self.routing_key)
            self._outstanding.add(self._next_tag)
            self._next_tag += 1
        deadline = time.monotonic() + timeout
        while self._outstanding:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{len(self._outstanding)} messages not confirmed in {timeout}s")
            try:
                self.connection.drain_events(timeout=1.0)
            except socket.timeout:
                pass
        if self._nacked:
            raise BenchmarkError(f"the broker refused {self._nacked} messages")


def declare_route(channel, exchange: str, queue: str | None = None, routing_key: str = "#",
                   exchange_type: str = "topic", **queue_args):
    """Exchanges as the services declare them (durable); an optional queue bound to it."""
    channel.exchange_declare(exchange=exchange, type=exchange_type, durable=True, auto_delete=False)
    if queue is not None:
        channel.queue_declare(queue=queue, durable=queue_args.get("durable", True),
                              auto_delete=queue_args.get("auto_delete", False),
                              exclusive=queue_args.get("exclusive", False))
        channel.queue_bind(queue=queue, exchange=exchange, routing_key=routing_key)


class Observer:
    """A measuring tap in this process: an exclusive queue bound where told, consumed without acks."""

    def __init__(self, uri: str, queue: str, bindings, on_message):
        import eventlet
        import kombu

        self.connection = kombu.Connection(uri, connect_timeout=5)
        self.connection.connect()
        channel = self.connection.channel()
        channel.queue_declare(queue=queue, durable=False, auto_delete=True, exclusive=True)
        for exchange, exchange_type, routing_key in bindings:
            declare_route(channel, exchange, exchange_type=exchange_type)
            channel.queue_bind(queue=queue, exchange=exchange, routing_key=routing_key)
        channel.basic_consume(queue=queue, no_ack=True, callback=on_message)
        self._running = True
        self.error: BaseException | None = None
        self._gt = eventlet.spawn(self._run)

    def _run(self):
        try:
            while self._running:
                try:
                    self.connection.drain_events(timeout=0.5)
                except socket.timeout:
                    pass
        except Exception as exc:  # reported by the measuring loop
            if self._running:
                self.error = exc

    def close(self):
        self._running = False
        self._gt.wait()
        with contextlib.suppress(Exception):
            self.connection.release()
