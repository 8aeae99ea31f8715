"""The ceiling: no services and no database, a raw kombu relay of envelope-sized persistent messages over three
hops (publisher → hop process → hop process → counter), publisher confirms awaited per batch.

Each hop is a child process running :func:`hop_main`.
"""
from __future__ import annotations

import contextlib
import json
import signal
import socket
import sys
import time
from pathlib import Path

from doorstep.bench.infra import CpuMeter, Infra, child_env, spawn, wait_for_consumers
from doorstep.bench.load import wait_event
from doorstep.bench.messaging import ConfirmedBatches, Observer, declare_route

CEILING_WARMUP = 200


def _sample_envelope() -> bytes:
    """A case.submitted envelope as intake publishes it (built by hand: the ceiling must not depend on schemas)."""
    case_id = "3f0c2a9e-5b1d-4c8e-9a7f-2d6b8e4c1a05"
    return json.dumps({
        "id": "8d1e4b7a-2c3f-4e5d-9a6b-7c8d9e0f1a2b", "source": "/doorstep/lujiazui/intake",
        "type": "doorstep.intake.case.submitted.v1", "time": "2026-01-05T08:00:00.000Z",
        "subject": f"case/{case_id}", "street": "lujiazui",
        "dataschema": "urn:doorstep:schema:doorstep.intake.case.submitted.v1", "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": {
            "case_id": case_id, "matter_code": "property-repair", "category": "property", "handling": "routed",
            "channel": "counter", "kind": "request", "urgency": "normal", "area": "shixin",
            "resident": {"resident_id": "9b2e7c14-0d3a-4f6b-8e15-7a9c2d4b6e80", "phone_masked": "138****5678"},
            "entered_by": "counter", "submitted_at": "2026-01-05T08:00:00.000000+00:00",
        },
    }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def measure_ceiling(infra: Infra, workdir: Path, n: int, say) -> dict:
    import eventlet
    import kombu

    say("bench: ceiling (raw kombu, 3 hops, no database)")
    try:
        uri = infra.vhost("ceiling")
        body = _sample_envelope()
        with kombu.Connection(uri, connect_timeout=5) as conn:
            channel = conn.channel()
            for hop, (source, target) in enumerate((("ceiling.x", "ceiling.y"), ("ceiling.y", "ceiling.z")), 1):
                declare_route(channel, source, f"ceiling.hop{hop}")
                declare_route(channel, target)
        for hop, (queue, target) in enumerate((("ceiling.hop1", "ceiling.y"), ("ceiling.hop2", "ceiling.z")), 1):
            spawn(infra, f"hop{hop}", [sys.executable, "-c",
                                       "from doorstep.bench.ceiling import hop_main; hop_main()", uri, queue, target],
                  child_env(), workdir)
        wait_for_consumers(uri, ["ceiling.hop1", "ceiling.hop2"], infra)

        arrivals: list[float] = []
        finished = eventlet.event.Event()
        expected = [CEILING_WARMUP]

        def on_message(_message):
            arrivals.append(time.perf_counter())
            if len(arrivals) == expected[0] and not finished.ready():
                finished.send(True)

        observer = Observer(uri, "ceiling.arrivals", [("ceiling.z", "topic", "#")], on_message)
        publisher_conn = kombu.Connection(uri, connect_timeout=5)
        publisher_conn.connect()
        try:
            publisher = ConfirmedBatches(publisher_conn, "ceiling.x", "hop")
            publisher.publish([body] * CEILING_WARMUP)
            wait_event(finished, lambda: len(arrivals), CEILING_WARMUP, infra, observer, "ceiling warm-up", say)
            arrivals.clear()
            finished = eventlet.event.Event()
            expected[0] = n

            def publish_all():
                for start in range(0, n, 200):
                    publisher.publish([body] * min(200, n - start))

            meter = CpuMeter(infra.children)
            started = time.perf_counter()
            producer = eventlet.spawn(publish_all)
            wait_event(finished, lambda: len(arrivals), n, infra, observer, "ceiling", say, producer)
            producer.wait()
            elapsed = arrivals[-1] - started
            cpu = meter.per_case_ms(n)
        finally:
            observer.close()
            with contextlib.suppress(Exception):
                publisher_conn.release()
        rate = n / elapsed
        say(f"bench: ceiling {rate:.0f} messages/s over 3 hops ({elapsed:.1f}s); CPU ms per message {cpu}")
        return {"cases_per_s": round(rate, 1), "seconds": round(elapsed, 2), "message_bytes": len(body),
                "cpu_ms_per_case": cpu}
    finally:
        infra.release_variant()


def hop_main() -> None:
    """A relay hop in its own process: consume a batch, publish it onward, await confirms, ack the batch."""
    import kombu

    uri, queue, target = sys.argv[1:4]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    conn = kombu.Connection(uri, connect_timeout=5)
    conn.connect()
    consumer = conn.channel()
    consumer.basic_qos(0, 400, False)
    received: list = []
    consumer.basic_consume(queue=queue, callback=received.append)
    publisher = ConfirmedBatches(conn, target, "hop")
    while True:
        if not received:  # deliveries may also have arrived while the last batch awaited its confirms
            try:
                conn.drain_events(timeout=1.0)
            except socket.timeout:
                continue
        while len(received) < 200:  # gather what has already arrived into one batch
            try:
                conn.drain_events(timeout=0.001)
            except socket.timeout:
                break
        if not received:
            continue
        batch = received[:]
        del received[:]
        publisher.publish([message.body for message in batch])
        consumer.basic_ack(batch[-1].delivery_tag, multiple=True)
