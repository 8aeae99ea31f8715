#!/usr/bin/env python3
"""A district system subscribing to a street's Doorstep events — plain pika, no Doorstep code.

What a subscriber must do, and this example does:

1. declare its own durable queue and bind it to the street's exchanges (``intake.events``, ``routing.events``,
   ``funds.events``, ``notify.events`` — durable topic exchanges) with routing-key patterns such as
   ``case.#`` or ``#``;
2. validate each message: a CloudEvents 1.0 JSON envelope whose ``data`` matches the JSON Schema of its
   ``type`` (the schema files are published with the event catalog);
3. process it and record its ``id`` in the same local transaction, so a redelivered or replayed event has no
   second effect (delivery is at least once);
4. acknowledge only after that commit; a message that fails validation is rejected without requeue (to the
   queue's dead-letter exchange, if the subscriber configured one).

Run:  pip install pika jsonschema
      python subscriber.py --amqp amqp://guest:guest@localhost:5672/ --queue district-platform \
          --schemas shared/contract/schemas --db platform.db --bind '#'
"""
import argparse
import json
import pathlib
import sqlite3
import sys
import time

import jsonschema
import pika

EXCHANGES = ("intake.events", "routing.events", "funds.events", "notify.events")
ENVELOPE_REQUIRED = ("specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data", "street")


def load_schemas(directory):
    """``doorstep.<service>.<entity>.<verb>.v<N>`` → its JSON Schema, from ``<dir>/<service>/<name>.json``."""
    schemas = {}
    for path in pathlib.Path(directory).glob("*/*.json"):
        schemas[f"doorstep.{path.parent.name}.{path.stem}"] = json.loads(path.read_text("utf-8"))
    return schemas


def validate(envelope, schemas):
    missing = [key for key in ENVELOPE_REQUIRED if key not in envelope]
    if missing:
        raise ValueError(f"not an envelope: missing {missing}")
    if envelope["specversion"] != "1.0":
        raise ValueError(f"unsupported specversion {envelope['specversion']}")
    schema = schemas.get(envelope["type"])
    if schema is None:
        raise ValueError(f"unknown type {envelope['type']}")
    jsonschema.validate(envelope["data"], schema)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--queue", required=True, help="this subscriber's own durable queue")
    parser.add_argument("--bind", action="append", default=None, help="routing-key pattern (repeatable)")
    parser.add_argument("--schemas", required=True, help="directory of the event schema files")
    parser.add_argument("--db", required=True, help="SQLite file for the processed events")
    parser.add_argument("--idle-exit", type=float, default=0, help="exit after this many idle seconds (0: never)")
    args = parser.parse_args(argv)

    schemas = load_schemas(args.schemas)
    store = sqlite3.connect(args.db)
    store.execute("CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, type TEXT, street TEXT, subject TEXT,"
                  " time TEXT, replay INTEGER, body TEXT)")
    store.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER)")
    store.commit()

    connection = pika.BlockingConnection(pika.URLParameters(args.amqp))
    channel = connection.channel()
    channel.queue_declare(queue=args.queue, durable=True)
    for exchange in EXCHANGES:
        channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True)
        for pattern in args.bind or ["#"]:
            channel.queue_bind(queue=args.queue, exchange=exchange, routing_key=pattern)
    channel.basic_qos(prefetch_count=50)
    print(f"ready: queue {args.queue} bound to {', '.join(EXCHANGES)}", flush=True)

    def count(name):
        store.execute("INSERT INTO counters VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1",
                      (name,))

    last_message = time.monotonic()
    for method, _properties, body in channel.consume(args.queue, inactivity_timeout=0.5):
        if method is None:
            if args.idle_exit and time.monotonic() - last_message > args.idle_exit:
                break
            continue
        last_message = time.monotonic()
        try:
            envelope = json.loads(body)
            validate(envelope, schemas)
        except (ValueError, jsonschema.ValidationError) as exc:
            print(f"invalid message rejected: {exc}", file=sys.stderr, flush=True)
            count("invalid")
            store.commit()
            channel.basic_nack(method.delivery_tag, requeue=False)
            continue
        # The effect and the processed id commit together; a duplicate id changes nothing.
        cursor = store.execute("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", (
            envelope["id"], envelope["type"], envelope["street"], envelope["subject"], envelope["time"],
            int(bool(envelope.get("replay"))), body.decode("utf-8")))
        count("processed" if cursor.rowcount else "duplicate")
        store.commit()
        channel.basic_ack(method.delivery_tag)

    totals = dict(store.execute("SELECT name, value FROM counters"))
    print(json.dumps({"events": store.execute("SELECT count(*) FROM events").fetchone()[0], **totals}), flush=True)
    channel.cancel()
    connection.close()


if __name__ == "__main__":
    main()
