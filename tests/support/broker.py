"""RabbitMQ as the tests use it: publishing as a service's relay would, draining a queue, and rabbitmqctl."""
import subprocess
import time

import kombu
import pytest


def publish_raw(amqp_url, body, routing_key="case.accepted.v1", exchange="intake.events", **props):
    """Any body to a topic exchange, as another system (or a broken one) might publish it."""
    with kombu.Connection(amqp_url) as conn:
        producer = conn.Producer()
        producer.publish(body, exchange=kombu.Exchange(exchange, "topic", durable=True), routing_key=routing_key,
                         content_type=props.pop("content_type", "application/json"), content_encoding="utf-8",
                         declare=[kombu.Exchange(exchange, "topic", durable=True)], **props)


def publish_event(amqp_url, envelope):
    """An event to its service's exchange, as that service's relay publishes it."""
    publish_raw(amqp_url, envelope.to_json(), routing_key=envelope.routing_key, exchange=f"{envelope.service}.events",
                message_id=envelope.id)


def drain_queue(amqp_url, queue, timeout=2.0):
    """Every message in ``queue`` as (headers, raw body), acknowledged; waits up to ``timeout`` for the first."""
    out = []
    deadline = time.monotonic() + timeout
    with kombu.Connection(amqp_url) as conn:
        channel = conn.channel()
        q = kombu.Queue(queue, durable=True, channel=channel)
        q.declare()
        while True:
            msg = q.get(no_ack=False)
            if msg is None:
                if out or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
                continue
            out.append((dict(msg.headers or {}), msg.body))
            msg.ack()
    return out


class QueueReader:
    """Everything a queue received so far, kept across reads: ``wait_for(lambda: len(reader()) == 3)`` waits
    for the third message however the three arrive."""

    def __init__(self, amqp_url, queue):
        self.amqp_url, self.queue, self.messages = amqp_url, queue, []

    def __call__(self):
        self.messages.extend(drain_queue(self.amqp_url, self.queue, timeout=0))
        return self.messages


def rabbitmqctl(*args, check=True, attempts=3):
    """Run rabbitmqctl; its CLI node occasionally fails to start under load, so try again before failing."""
    for attempt in range(1, attempts + 1):
        result = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=90)
        if result.returncode == 0 or not check:
            return result
        if attempt == attempts:
            pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip() or result.stdout.strip()}",
                        pytrace=False)
        time.sleep(1)
