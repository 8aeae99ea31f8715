"""``doorstep dlq …``: what failed and why, and sending it back once fixed."""
from __future__ import annotations

import click
import kombu

from doorstep.options import settings_or_exit
from shared.broker import declare_dead_letter_queue
from shared.config import SERVICES


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


@click.group()
def dlq():
    """Dead-letter queues: what failed and why, and replay once fixed."""


@dlq.command("list")
@click.argument("service", type=click.Choice(SERVICES))
@click.option("--broker", help="amqp://… [DOORSTEP_BROKER]")
def dlq_list(service, broker):
    """Show the dead letters of SERVICE without removing them."""
    for headers, body in peek_dead_letters(settings_or_exit(broker_uri=broker).broker_uri, service):
        click.echo(f"{headers.get('x-dead-lettered-at')}  {headers.get('x-consumer')}  "
                   f"{headers.get('x-dead-letter-reason')}: {headers.get('x-error')}")


@dlq.command("replay")
@click.argument("service", type=click.Choice(SERVICES))
@click.option("--broker", help="amqp://… [DOORSTEP_BROKER]")
def dlq_replay(service, broker):
    """Send SERVICE's dead letters back to the queues they failed on."""
    moved = replay_dead_letters(settings_or_exit(broker_uri=broker).broker_uri, service)
    click.echo(f"{moved} message(s) returned to their queues")
