"""``doorstep events …``: follow the event stream, replay retained events, generate and freeze the contract."""
from __future__ import annotations

import json
import socket
import sys
import uuid
from typing import Iterator

import click
import kombu

from doorstep.options import common_options, settings_or_exit
from shared.config import SERVICES


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
    from shared.db import engine_for
    from shared.messaging_tables import outbox

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


@click.group()
def events():
    """Watch and handle the event stream."""


@events.command("tail")
@click.option("--broker", help="amqp://… [DOORSTEP_BROKER]")
@click.option("--exchange", "exchanges", multiple=True, help="exchange(s) to follow (default: all four services')")
@click.option("--key", "binding", default="#", help="routing-key pattern, e.g. 'case.*.v1'")
@click.option("--count", type=int, default=0, help="stop after this many events (0: run until interrupted)")
@click.option("--json", "as_json", is_flag=True, help="print each envelope as one JSON line")
def events_tail(broker, exchanges, binding, count, as_json):
    """Print events as they flow, from a temporary queue bound to the services' exchanges."""
    settings = settings_or_exit(broker_uri=broker)
    if settings.embedded_broker:
        raise click.ClickException("events tail needs a real broker (--broker amqp://…): memory:// is per process")
    exchanges = exchanges or [f"{s}.events" for s in SERVICES]
    def ready():
        click.echo(f"following {', '.join(exchanges)} ({binding})", err=True)

    for envelope in tail_events(settings.broker_uri, exchanges, binding, count, on_ready=ready):
        if as_json:
            click.echo(json.dumps(envelope, ensure_ascii=False))
        else:
            click.echo(f"{envelope.get('time', '?')}  {envelope.get('type', '?'):<45} {envelope.get('subject', '')}")
        sys.stdout.flush()


@events.command("replay")
@common_options
@click.option("--since", required=True, help="ISO time, e.g. 2026-11-23T08:00:00+08:00 (no zone: Asia/Shanghai)")
@click.option("--type", "types", multiple=True, help="only these event types (repeatable)")
@click.option("--to", "target", required=True, help="queue:<name> or exchange:<name>")
def events_replay(street, broker, db, since, types, target):
    """Re-publish retained events since a time, in order, marked as replays, for a subscriber that was down."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings = settings_or_exit(street=street, broker_uri=broker, db_template=db)
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise click.BadParameter(f"{since!r} is not an ISO date-time", param_hint="--since") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    try:
        sent = replay_events(settings, moment, types, target,
                             progress=lambda n: click.echo(f"\r{n} events replayed", err=True, nl=False))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--to") from None
    click.echo(f"\n{sent} events replayed to {target}", err=True)


@events.command("docs")
@click.option("--out", type=click.Path(file_okay=False), default="docs", show_default=True,
              help="folder of the event catalog and the AsyncAPI document")
@click.option("--check", is_flag=True, help="only check that the folder is current (exit 1 if not)")
def events_docs(out, check):
    """Write events.md and asyncapi.yaml from the event schemas."""
    from pathlib import Path

    from shared import contract_docs

    if check:
        stale = contract_docs.stale(Path(out))
        if stale:
            raise click.ClickException(f"out of date: {', '.join(p.name for p in stale)}; run 'doorstep events docs'")
        click.echo("docs are current")
        return
    for path in contract_docs.write(Path(out)):
        click.echo(f"wrote {path}")


@events.command("freeze")
def events_freeze():
    """Freeze every schema version not yet frozen, and take additive changes into the frozen copies."""
    from shared import compat

    problems = compat.gate()
    if problems:
        for type_name, changes in problems.items():
            click.echo(f"{type_name}: " + "; ".join(changes), err=True)
        raise click.ClickException("breaking changes to published versions: publish a new version instead")
    for path in compat.freeze() + compat.refresh_additive():
        click.echo(f"froze {path}")
