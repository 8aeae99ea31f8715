"""Publishing to the broker in batches with publisher confirms, on one long-lived channel.

nameko's stock dispatcher pays a connection checkout, an exchange declaration and a confirm round trip for
every message. Here a batch is written to the channel back to back and the confirms are awaited together
(they overlap), which is what makes the outbox relay fast. Only confirmed messages are reported as such.

With ``memory://`` (the embedded default) publishing is an in-process call and counts as confirmed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Sequence

import amqp
import kombu
from eventlet.semaphore import Semaphore

DEAD_LETTER_EXCHANGE = "doorstep.dead-letter"


class PublishError(Exception):
    """The broker could not be reached or did not confirm in time."""


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    type: str = ""
    headers: dict = dataclasses.field(default_factory=dict)
    exchange_type: str = "topic"


def make_publisher(uri: str, confirm_timeout: float = 10.0):
    if uri.startswith("memory://"):
        return InProcessPublisher(uri)
    return ConfirmingPublisher(uri, confirm_timeout)


def dead_letter_queue(service: str) -> str:
    return f"{service}.dead-letter"


def declare_dead_letter_queue(conn: kombu.Connection, service: str):
    """``service``'s dead-letter queue on a new channel of ``conn``, declared as the consumers declare it;
    returns (channel, queue)."""
    channel = conn.channel()
    exchange = kombu.Exchange(DEAD_LETTER_EXCHANGE, "direct", durable=True)
    queue = kombu.Queue(dead_letter_queue(service), exchange, routing_key=service, durable=True, channel=channel)
    queue.declare()
    return channel, queue


def dead_letters_waiting(amqp_url: str, service: str) -> int:
    """How many messages wait in ``service``'s dead-letter queue."""
    with kombu.Connection(amqp_url, connect_timeout=3) as conn:
        channel, queue = declare_dead_letter_queue(conn, service)
        return channel.queue_declare(queue=queue.name, passive=True).message_count


class ConfirmingPublisher:
    """AMQP 0-9-1 publisher: confirm mode, overlapping confirms, reconnect on the next batch after a failure."""

    def __init__(self, uri: str, confirm_timeout: float = 10.0):
        self.uri = uri
        self.confirm_timeout = confirm_timeout
        self._conn: kombu.Connection | None = None
        self._channel = None
        self._declared: set = set()
        self._acked: dict[int, bool] = {}
        self._lock = Semaphore(1)

    # -- connection ---------------------------------------------------------------------------------
    def _connect(self):
        if self._channel is not None:
            return self._channel
        conn = kombu.Connection(self.uri, connect_timeout=5)
        try:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            channel.confirm_select()
        except Exception as exc:
            conn.release()
            raise PublishError(f"cannot reach the broker at {conn.as_uri()}: {exc}") from exc
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self._conn, self._channel, self._next_tag = conn, channel, 1
        self._declared = set()
        return channel

    def _on_ack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, False)

    def _settle(self, delivery_tag, multiple, ok):
        if multiple:
            for tag in [t for t in self._acked if t <= delivery_tag and self._acked[t] is None]:
                self._acked[tag] = ok
        elif delivery_tag in self._acked:
            self._acked[delivery_tag] = ok

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.release()
            except Exception:  # closing a dead connection is not an error worth raising
                pass
        self._conn = self._channel = None

    # -- declarations -------------------------------------------------------------------------------
    def ensure_exchange(self, name: str, type_: str = "topic") -> None:
        """Declare the exchange as nameko does (durable topic), once per connection."""
        with self._lock:
            self._ensure_exchange(self._connect(), name, type_)

    def _ensure_exchange(self, channel, name, type_):
        if name and name not in self._declared:
            channel.exchange_declare(exchange=name, type=type_, durable=True, auto_delete=False)
            self._declared.add(name)

    def ensure_queue(self, queue: str, exchange: str, routing_key: str, exchange_type: str = "direct") -> None:
        with self._lock:
            try:
                channel = self._connect()
                self._ensure_exchange(channel, exchange, exchange_type)
                channel.queue_declare(queue=queue, durable=True, auto_delete=False)
                channel.queue_bind(queue=queue, exchange=exchange, routing_key=routing_key)
            except PublishError:
                raise
            except Exception as exc:
                self.close()
                raise PublishError(f"declaring {queue}: {exc}") from exc

    # -- publishing ---------------------------------------------------------------------------------
    def publish(self, messages: Sequence[OutgoingMessage]) -> list[bool]:
        """Publish all, wait for their confirms together; return which ones the broker confirmed."""
        if not messages:
            return []
        with self._lock:
            try:
                return self._publish(messages)
            except PublishError:
                self.close()
                raise
            except Exception as exc:  # socket errors, channel closed by the broker, ...
                self.close()
                raise PublishError(f"publishing to {self.uri.split('@')[-1]}: {exc!r}") from exc

    def _publish(self, messages):
        channel = self._connect()
        tags = []
        self._acked = {}
        for exchange in {(msg.exchange, msg.exchange_type) for msg in messages}:
            self._ensure_exchange(channel, *exchange)  # a declaration waits for its answer: not while corked
        with _corked(self._conn.connection.transport):
            self._write_all(channel, messages, tags)
        deadline = time.monotonic() + self.confirm_timeout
        while any(self._acked[t] is None for t in tags):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError(f"broker did not confirm {sum(self._acked[t] is None for t in tags)} messages")
            try:
                self._conn.drain_events(timeout=min(remaining, 1.0))
            except TimeoutError:
                continue
        return [bool(self._acked[t]) for t in tags]

    def _write_all(self, channel, messages, tags):
        for msg in messages:
            tag = self._next_tag
            self._next_tag += 1
            self._acked[tag] = None
            tags.append(tag)
            channel.basic_publish(
                amqp.Message(
                    msg.body,
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=msg.message_id,
                    type=msg.type,
                    application_headers=msg.headers or None,
                ),
                exchange=msg.exchange,
                routing_key=msg.routing_key,
            )


@contextlib.contextmanager
def _corked(transport):
    """The frames written inside go to the socket in one write when the block ends.

    py-amqp writes every frame of every message with its own ``sendall``; for a batch of small messages the
    system calls (and eventlet's wrapping of each) cost more than building the frames. The frame writer hands
    over a view of a buffer it reuses, so each frame is copied. If the block raises, nothing is sent: the
    caller closes the connection, and the messages stay unconfirmed.
    """
    frames: list[bytes] = []
    original = transport._write
    transport._write = lambda data: frames.append(bytes(data))
    try:
        yield
    finally:
        transport._write = original
    if frames:
        transport.write(b"".join(frames))


class InProcessPublisher:
    """kombu's in-memory transport: everything in one process, publishing is synchronous."""

    def __init__(self, uri: str = "memory://"):
        self._conn = kombu.Connection(uri)
        self._lock = Semaphore(1)

    def ensure_exchange(self, name: str, type_: str = "topic") -> None:
        with self._lock:
            kombu.Exchange(name, type=type_, durable=True)(self._conn.default_channel).declare()

    def ensure_queue(self, queue: str, exchange: str, routing_key: str, exchange_type: str = "direct") -> None:
        with self._lock:
            ex = kombu.Exchange(exchange, type=exchange_type, durable=True)
            kombu.Queue(queue, ex, routing_key=routing_key, durable=True)(self._conn.default_channel).declare()

    def publish(self, messages: Sequence[OutgoingMessage]) -> list[bool]:
        with self._lock:
            producer = kombu.Producer(self._conn.default_channel)
            for msg in messages:
                producer.publish(
                    msg.body,
                    exchange=kombu.Exchange(msg.exchange, type=msg.exchange_type, durable=True) if msg.exchange else "",
                    routing_key=msg.routing_key,
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=msg.message_id,
                    type=msg.type,
                    headers=msg.headers,
                    declare=[kombu.Exchange(msg.exchange, type=msg.exchange_type, durable=True)] if msg.exchange else [],
                )
            return [True] * len(messages)

    def close(self) -> None:
        self._conn.release()
