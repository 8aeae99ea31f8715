"""The pipeline benchmark: cases through intake → routing → notify on RabbitMQ and PostgreSQL, three ways.

``doorstep bench pipeline -n 2000`` measures, in one run:

1. **outbox** — the system as built: ``doorstep run intake|routing|notify``, one process each, events written
   to the outbox in the business transaction and published by the relay.
2. **ceiling** — no services and no database: a raw kombu relay of envelope-sized persistent messages over three
   hops (publisher → hop process → hop process → counter), publisher confirms awaited per batch.
3. **stock** — the same services, handlers and database writes, but each event is published with nameko's
   ``EventDispatcher`` right after the commit (the dual write nameko-examples does); no outbox rows are written
   and no relay runs; each consumed event is handled by a worker and in a transaction of its own, as with
   nameko's ``event_handler`` (no commit groups, no batch consumers: ``consumer_batch_size`` 1).

Cases are submitted over HTTP (``POST /intake/cases``) by a fixed number of concurrent clients, each of which
submits a case, waits until both of its ``notification.sent`` events have arrived and then submits the next.
That keeps a bounded number of cases in the pipeline (the *window*): throughput is measured at saturation and
the latency of a case is its trip through the pipeline, not its wait behind every case injected before it.
Completion is observed by a plain kombu consumer bound to ``notify.events`` / ``notification.sent.v1``.

A case that cannot finish is not waited for: intake answering 5xx, or routing/notify dead-lettering the case's
event (seen on ``doorstep.dead-letter``), is counted and reported, and the run goes on. notify's delivery policy
(quiet hours, a rate limit per recipient) is switched off for the run: it would hold messages back for hours.
Where the time goes is reported too: CPU milliseconds per case of each service process, RabbitMQ, PostgreSQL,
this process and anything else running on the machine meanwhile (from ``/proc``).

Every variant gets a fresh RabbitMQ vhost and fresh databases, dropped afterwards, also on errors and Ctrl-C.
Child processes run in their own session (a Ctrl-C reaches only this process, which then stops them by pid).

Environment knobs for investigation (defaults are what the figures are quoted with):
``DOORSTEP_BENCH_WINDOW`` (cases in flight, 64), ``DOORSTEP_BENCH_MODE`` (``processes`` or ``inproc``: all three
services in this process), ``DOORSTEP_BENCH_VARIANTS`` (comma list of ``ceiling,outbox,stock``, run in that order),
``DOORSTEP_BENCH_KEEP_LOGS`` (keep the child-process logs directory). Service settings such as
``DOORSTEP_CONSUMER_BATCH_SIZE`` or ``DOORSTEP_RELAY_LINGER_S`` pass through to the services (the stock variant
keeps a batch size of one).
"""
from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

PIPELINE_SERVICES = ("routing", "notify", "intake")  # the services of the flow; funds is not needed
WARMUP_CASES = 20
CEILING_WARMUP = 200
DEFAULT_WINDOW = 64
READY_TIMEOUT_S = 60.0
STALL_TIMEOUT_S = 60.0
VHOST_PREFIX = "doorstep-bench-"
FINAL_EXCHANGE = "notify.events"
FINAL_KEY = "notification.sent.v1"
DEAD_LETTER_EXCHANGE = "doorstep.dead-letter"  # as shared.broker declares it (direct, key = service)
FINAL_CAUSE = "doorstep.routing.case.routed.v1"
EVENTS_PER_CASE = 2  # for a routed case notify sends one message to the resident and one to the unit

# Matters handled elsewhere (收受分离), so every case is routed and notified.
_MATTERS = ("property-repair", "parking-dispute", "senior-card", "neighbour-mediation", "residence-permit",
            "property-fee-dispute")
_AREAS = ("shixin", "meiyuan")


class BenchmarkError(RuntimeError):
    """The benchmark could not produce honest figures (a service died, a case got lost, the setup failed)."""


# -- entry point -------------------------------------------------------------------------------------------

def run_pipeline_benchmark(broker_uri: str, db_template: str, n: int, progress: bool = True) -> dict:
    """Run the three variants with ``n`` cases (messages for the ceiling) each; return the figures."""
    _require_green()
    if n < 1:
        raise ValueError("n must be at least 1")
    if "{service}" not in db_template or not db_template.startswith("postgresql"):
        raise ValueError("the benchmark needs a PostgreSQL URL template with {service}, "
                         "e.g. postgresql://postgres@127.0.0.1:5432/doorstep_bench_{service}")
    window = int(os.environ.get("DOORSTEP_BENCH_WINDOW", DEFAULT_WINDOW))
    mode = os.environ.get("DOORSTEP_BENCH_MODE", "processes")
    if mode not in ("processes", "inproc"):
        raise ValueError(f"DOORSTEP_BENCH_MODE={mode!r}: use processes or inproc")
    variants = [v.strip() for v in os.environ.get("DOORSTEP_BENCH_VARIANTS", "ceiling,outbox,stock").split(",")]
    say = _Reporter(progress)

    workdir = Path(tempfile.mkdtemp(prefix="doorstep-bench-"))
    keep_logs = bool(os.environ.get("DOORSTEP_BENCH_KEEP_LOGS"))
    infra = _Infra(broker_uri, db_template, say)
    figures: dict = {}
    restore = _interrupt_on_sigterm()
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(_remove_dir, workdir, keep_logs, say)
            stack.callback(infra.cleanup)
            infra.remove_stale()
            if "ceiling" in variants:
                figures["ceiling"] = _measure_ceiling(infra, workdir, n, say)
            for variant in variants:  # in the order given: each may leave the machine warmer for the next
                if variant in ("outbox", "stock"):
                    figures[variant] = _measure_pipeline(variant, infra, workdir, n, window, mode, say)
    finally:
        restore()
    return _summarise(figures, n, window, mode)


_ANOMALY_KEYS = ("completed", "rejected_submits", "failed_cases", "dead_letters", "other_events_seen", "log_warnings")


def _summarise(figures: dict, n: int, window: int, mode: str) -> dict:
    built, stock, ceiling = figures.get("outbox", {}), figures.get("stock", {}), figures.get("ceiling", {})

    def ratio(a, b):
        return round(a / b, 3) if a and b else None

    result = {
        "n": n,
        "cases_per_s": built.get("cases_per_s"),
        "p50_ms": built.get("p50_ms"),
        "p95_ms": built.get("p95_ms"),
        "p99_ms": built.get("p99_ms"),
        "ceiling_cases_per_s": ceiling.get("cases_per_s"),
        "stock_cases_per_s": stock.get("cases_per_s"),
        "stock_p50_ms": stock.get("p50_ms"),
        "stock_p95_ms": stock.get("p95_ms"),
        "stock_p99_ms": stock.get("p99_ms"),
        "ratio_vs_ceiling": ratio(built.get("cases_per_s"), ceiling.get("cases_per_s")),
        "ratio_vs_stock": ratio(built.get("cases_per_s"), stock.get("cases_per_s")),
        "window": window,
        "mode": mode,
        "cpus": os.cpu_count(),
        "envelope_bytes": built.get("envelope_bytes") or stock.get("envelope_bytes"),
        "ceiling_message_bytes": ceiling.get("message_bytes"),
        "seconds": {k: v.get("seconds") for k, v in figures.items()},
    }
    if ceiling:
        result["ceiling_cpu_ms_per_message"] = ceiling.get("cpu_ms_per_case")
    for name, figs in (("outbox", built), ("stock", stock)):
        if figs:
            result[f"{name}_cpu_ms_per_case"] = figs.get("cpu_ms_per_case")
            result[f"{name}_anomalies"] = {key: figs[key] for key in _ANOMALY_KEYS if key in figs}
    result["notes"] = (
        f"{os.cpu_count()} CPUs shared by RabbitMQ, PostgreSQL, the services and this process. "
        f"outbox/stock: intake, routing and notify as {'one process each' if mode == 'processes' else 'this process'}"
        f", fresh vhost and databases per variant; {window} HTTP clients each submit a case and wait for its "
        f"{EVENTS_PER_CASE} notification.sent events before the next ({window} cases in flight), after "
        f"{WARMUP_CASES} warm-up cases; cases/s from the first timed submit to the last case's final event; "
        "latency = submit -> second notification.sent, observed by a kombu consumer in this process. "
        "stock: same services and DB writes, events sent by nameko's EventDispatcher after commit "
        "(one confirm round trip each), no outbox rows, no relay, a worker and a transaction per consumed event "
        "(as nameko's event_handler: no commit groups, no batch consumers). "
        "ceiling: raw kombu, publisher -> hop -> hop -> counter (hops one process each), persistent messages "
        "of envelope size, confirms per batch, no database. notify runs without quiet hours and rate limit. "
        "Compare figures within one run only."
    )
    disturbed = []
    for name, figs in figures.items():
        cpu = figs.get("cpu_ms_per_case") or {}
        total = sum(v for k, v in cpu.items() if k != "machine_busy_pct")
        if total and cpu.get("other_processes", 0) > 0.1 * total:
            disturbed.append(f"{name} {100 * cpu['other_processes'] / total:.0f}%")
    if disturbed:
        result["notes"] += (" WARNING: other processes took a large share of the CPU during the timed phases ("
                            + ", ".join(disturbed) + "); these figures are disturbed, rerun on a quiet machine.")
    return result


# -- infrastructure: vhosts, databases, child processes -----------------------------------------------------

class _Reporter:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)


class _Infra:
    """Creates what a variant needs and remembers it, so everything is removed however the run ends."""

    def __init__(self, broker_uri: str, db_template: str, say):
        self.broker_uri = broker_uri
        self.db_template = db_template
        self.say = say
        self.vhosts: list[str] = []
        self.databases: list[str] = []
        self.children: list[_Child] = []

    # RabbitMQ --------------------------------------------------------------------------------------------
    def vhost(self, variant: str) -> str:
        """A fresh vhost for the variant; returns the broker URI that points at it."""
        name = f"{VHOST_PREFIX}{os.getpid()}-{variant}"
        _rabbitmqctl("delete_vhost", name, check=False)
        _rabbitmqctl("add_vhost", name)
        self.vhosts.append(name)
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        parts = urllib.parse.urlsplit(self.broker_uri)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))

    # PostgreSQL ------------------------------------------------------------------------------------------
    def variant_template(self, variant: str) -> str:
        return self.db_template.replace("{service}", variant + "_{service}")

    def databases_for(self, variant: str) -> list[str]:
        return [_database_name(self.variant_template(variant).format(service=s)) for s in PIPELINE_SERVICES]

    def create_databases(self, variant: str) -> None:
        for name in self.databases_for(variant):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{name}"')
            self.databases.append(name)

    def drop_databases(self, names) -> None:
        for name in names:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg2
        import sqlalchemy as sa

        url = sa.engine.make_url(self.db_template.format(service="x"))
        args = url.translate_connect_args(username="user")
        args["dbname"] = "postgres"
        args.pop("database", None)
        conn = psycopg2.connect(**args)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    # both ------------------------------------------------------------------------------------------------
    def remove_stale(self) -> None:
        """Vhosts of benchmark runs that are no longer alive, and this run's database names."""
        listed = _rabbitmqctl("list_vhosts", "name", check=False)
        for name in listed.split():
            match = re.match(re.escape(VHOST_PREFIX) + r"(\d+)-", name)
            if match and not _alive(int(match.group(1))):
                self.say(f"bench: removing stale vhost {name}")
                _rabbitmqctl("delete_vhost", name, check=False)
        for variant in ("outbox", "stock"):
            self.drop_databases(self.databases_for(variant))

    def stop_children(self) -> None:
        while self.children:
            child = self.children.pop()
            try:
                child.stop()
            except Exception as exc:  # keep stopping the others
                self.say(f"bench: could not stop {child.name} (pid {child.process.pid}): {exc}")

    def release_variant(self) -> None:
        """Everything a variant created: children first (they hold connections), then vhost and databases.

        A second Ctrl-C would leave processes, vhosts and databases behind, so it is ignored meanwhile.
        """
        with _sigint_ignored():
            self._release()

    def _release(self) -> None:
        self.stop_children()
        while self.vhosts:
            name = self.vhosts.pop()
            try:
                _rabbitmqctl("delete_vhost", name)
            except Exception as exc:  # keep cleaning up the rest
                self.say(f"bench: could not delete vhost {name}: {exc}")
        names, self.databases = self.databases, []
        try:
            self.drop_databases(names)
        except Exception as exc:
            self.say(f"bench: could not drop databases {names}: {exc}")

    cleanup = release_variant


def _database_name(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).database


def _rabbitmqctl(*args, check: bool = True) -> str:
    # Its own session: a Ctrl-C at the terminal must not cut a clean-up call short.
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120,
                          start_new_session=True)
    if check and done.returncode != 0:
        raise BenchmarkError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclasses.dataclass
class _Child:
    """A process this benchmark started: stopped by its pid, its output kept in a log file."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # a graceful stop, as a pod gets
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _spawn(infra: _Infra, name: str, argv: list[str], env: dict, workdir: Path) -> _Child:
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=str(Path(__file__).resolve().parent.parent), start_new_session=True)
    child = _Child(name, process, log_path)
    infra.children.append(child)
    return child


def _child_env(**doorstep) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOORSTEP_") or k in _TUNING_VARS}
    env.update({k: str(v) for k, v in doorstep.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


# Service tuning may be passed through to the children; where they find their databases and broker may not.
_TUNING_VARS = {"DOORSTEP_MAX_WORKERS", "DOORSTEP_RELAY_BATCH_SIZE", "DOORSTEP_RELAY_POLL_S",
                "DOORSTEP_CONSUMER_BATCH_SIZE", "DOORSTEP_RELAY_LINGER_S",
                "DOORSTEP_HANDLER_ATTEMPTS", "DOORSTEP_HANDLER_BACKOFF_S", "DOORSTEP_STREET"}


def _remove_dir(path: Path, keep: bool, say) -> None:
    if keep:
        say(f"bench: logs kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


def _interrupt_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so the clean-up runs; returns a function restoring the old handler."""
    try:
        previous = signal.getsignal(signal.SIGTERM)

        def _raise(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _sigint_ignored():
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _require_green() -> None:
    import eventlet.patcher

    if not eventlet.patcher.is_monkey_patched("socket"):
        raise RuntimeError("run the benchmark under eventlet.monkey_patch() (the doorstep CLI does)")


# -- AMQP plumbing shared by the ceiling and the observers ----------------------------------------------------

class _ConfirmedBatches:
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


def _declare_route(channel, exchange: str, queue: str | None = None, routing_key: str = "#",
                   exchange_type: str = "topic", **queue_args):
    """Exchanges as the services declare them (durable); an optional queue bound to it."""
    channel.exchange_declare(exchange=exchange, type=exchange_type, durable=True, auto_delete=False)
    if queue is not None:
        channel.queue_declare(queue=queue, durable=queue_args.get("durable", True),
                              auto_delete=queue_args.get("auto_delete", False),
                              exclusive=queue_args.get("exclusive", False))
        channel.queue_bind(queue=queue, exchange=exchange, routing_key=routing_key)


class _Observer:
    """A measuring tap in this process: an exclusive queue bound where told, consumed without acks."""

    def __init__(self, uri: str, queue: str, bindings, on_message):
        import eventlet
        import kombu

        self.connection = kombu.Connection(uri, connect_timeout=5)
        self.connection.connect()
        channel = self.connection.channel()
        channel.queue_declare(queue=queue, durable=False, auto_delete=True, exclusive=True)
        for exchange, exchange_type, routing_key in bindings:
            _declare_route(channel, exchange, exchange_type=exchange_type)
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


# -- variant 2: the ceiling ------------------------------------------------------------------------------------

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


def _measure_ceiling(infra: _Infra, workdir: Path, n: int, say) -> dict:
    import eventlet
    import kombu

    say("bench: ceiling (raw kombu, 3 hops, no database)")
    try:
        uri = infra.vhost("ceiling")
        body = _sample_envelope()
        with kombu.Connection(uri, connect_timeout=5) as conn:
            channel = conn.channel()
            for hop, (source, target) in enumerate((("ceiling.x", "ceiling.y"), ("ceiling.y", "ceiling.z")), 1):
                _declare_route(channel, source, f"ceiling.hop{hop}")
                _declare_route(channel, target)
        for hop, (queue, target) in enumerate((("ceiling.hop1", "ceiling.y"), ("ceiling.hop2", "ceiling.z")), 1):
            _spawn(infra, f"hop{hop}", [sys.executable, "-c",
                                        "from doorstep.bench.pipeline import _hop_main; _hop_main()", uri, queue, target],
                   _child_env(), workdir)
        _wait_for_consumers(uri, ["ceiling.hop1", "ceiling.hop2"], infra)

        arrivals: list[float] = []
        finished = eventlet.event.Event()
        expected = [CEILING_WARMUP]

        def on_message(_message):
            arrivals.append(time.perf_counter())
            if len(arrivals) == expected[0] and not finished.ready():
                finished.send(True)

        observer = _Observer(uri, "ceiling.arrivals", [("ceiling.z", "topic", "#")], on_message)
        publisher_conn = kombu.Connection(uri, connect_timeout=5)
        publisher_conn.connect()
        try:
            publisher = _ConfirmedBatches(publisher_conn, "ceiling.x", "hop")
            publisher.publish([body] * CEILING_WARMUP)
            _wait_event(finished, lambda: len(arrivals), CEILING_WARMUP, infra, observer, "ceiling warm-up", say)
            arrivals.clear()
            finished = eventlet.event.Event()
            expected[0] = n

            def publish_all():
                for start in range(0, n, 200):
                    publisher.publish([body] * min(200, n - start))

            meter = _CpuMeter(infra.children)
            started = time.perf_counter()
            producer = eventlet.spawn(publish_all)
            _wait_event(finished, lambda: len(arrivals), n, infra, observer, "ceiling", say, producer)
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


def _hop_main() -> None:
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
    publisher = _ConfirmedBatches(conn, target, "hop")
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


# -- variants 1 and 3: the pipeline ----------------------------------------------------------------------------

def _measure_pipeline(variant: str, infra: _Infra, workdir: Path, n: int, window: int, mode: str, say) -> dict:
    from shared.auth import TokenFile
    from shared.config import load_settings
    from shared.db import dispose_engines
    from services import runner

    label = "outbox (as built)" if variant == "outbox" else "stock (EventDispatcher after commit)"
    say(f"bench: {label}, {'one process per service' if mode == 'processes' else 'in this process'}")
    containers = []
    setup_started = time.monotonic()
    try:
        uri = infra.vhost(variant)
        infra.create_databases(variant)
        data_dir = workdir / variant
        data_dir.mkdir()
        tokens_file = data_dir / "tokens.yaml"
        token, _ = TokenFile(tokens_file).create("counter", label="bench")
        # Notify's delivery policy would hold most messages back (quiet hours at night, 20 an hour per
        # recipient, and every case notifies one of a few units): the benchmark measures the pipeline, so
        # messages go out at once. Services that do not read this file ignore it.
        (data_dir / "notify.yaml").write_text("quiet_hours: null\nrate_limit_per_hour: 1000000\n", "utf-8")
        db_template = infra.variant_template(variant)
        settings = load_settings(environ={}, broker_uri=uri, db_template=db_template, tokens_file=str(tokens_file),
                                 data_dir=str(data_dir), **_tuning_from_env())
        runner.migrate(settings, PIPELINE_SERVICES)
        dispose_engines()

        ports = runner.free_ports(PIPELINE_SERVICES)
        if mode == "processes":
            for name in PIPELINE_SERVICES:
                env = _child_env(DOORSTEP_BROKER=uri, DOORSTEP_DB=db_template, DOORSTEP_TOKENS_FILE=tokens_file,
                                 DOORSTEP_DATA_DIR=data_dir, DOORSTEP_HTTP_PORT=ports[name],
                                 DOORSTEP_NOTIFY_CONFIG=data_dir / "notify.yaml")
                if variant == "outbox":
                    argv = [sys.executable, "-m", "doorstep.cli", "run", name, "--no-migrate"]  # = doorstep run
                else:
                    argv = [sys.executable, "-c", _STOCK_CHILD, name]
                _spawn(infra, f"{variant}-{name}", argv, env, workdir)
            for name in PIPELINE_SERVICES:  # started side by side; no case is submitted before all are ready
                _wait_ready(ports[name], infra)
        else:
            from nameko.containers import ServiceContainer

            for name in PIPELINE_SERVICES:
                cls, own = ((runner.service_class(name), settings) if variant == "outbox"
                            else (stock_service_class(name), stock_settings(settings)))
                config = dataclasses.replace(own, http_port=ports[name]).nameko_config(name)
                container = ServiceContainer(cls, config)
                container.start()
                containers.append(container)
        _wait_for_consumers(uri, _event_queues(PIPELINE_SERVICES), infra)
        say(f"  {variant}: services ready after {time.monotonic() - setup_started:.1f}s")

        figures = _drive(uri, ports["intake"], token, n, window, infra, variant, say)
        figures["log_warnings"] = _log_warnings(infra.children)
        say(f"bench: {variant} {figures['cases_per_s']:.0f} cases/s, p50 {figures['p50_ms']:.0f} ms, "
            f"p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms ({figures['seconds']:.1f}s); "
            f"CPU ms per case {figures['cpu_ms_per_case']}")
        return figures
    finally:
        for container in reversed(containers):
            with contextlib.suppress(Exception):
                container.stop()
        if containers:
            dispose_engines()
        infra.release_variant()


class _CpuMeter:
    """CPU seconds spent during a phase by each child, this process, RabbitMQ and PostgreSQL (Linux /proc).

    Where the time goes on a machine whose cores everything shares: divided by the cases done, it is the
    CPU cost of one case in each component.
    """

    def __init__(self, children, databases=()):
        self.children = list(children)
        self.databases = set(databases)
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start = self._sample()

    def _sample(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        own = {child.process.pid: child.name for child in self.children}
        own[os.getpid()] = "bench"
        try:
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        except OSError:
            return {}
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat", "rb") as fh:
                    raw = fh.read().decode("ascii", "replace")
            except OSError:
                continue
            comm = raw[raw.index("(") + 1:raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            seconds = (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime
            group = own.get(pid) or {"beam.smp": "rabbitmq"}.get(comm)
            if comm == "postgres":
                group = self._postgres_group(pid)
            if group:
                totals[group] = totals.get(group, 0.0) + seconds
        try:
            with open("/proc/stat") as fh:
                cpu = [int(v) for v in fh.readline().split()[1:]]
            totals["machine_busy"] = (sum(cpu) - cpu[3] - cpu[4]) / self._tick
            totals["machine_all"] = sum(cpu) / self._tick
        except (OSError, ValueError, IndexError):
            pass
        return totals

    def _postgres_group(self, pid: int) -> str:
        """A backend of this variant's databases, the server's own processes, or another client's backend."""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                title = fh.read().decode("utf-8", "replace").replace("\0", " ").split()
        except OSError:
            return "postgres_other"
        # "postgres: 15/main: <user> <database> <client> <state>" for a backend, "postgres: 15/main: walwriter" …
        if len(title) >= 5 and ("(" in title[4] or title[4] == "[local]"):
            return "postgres" if title[3] in self.databases else "postgres_other"
        return "postgres_server"

    def per_case_ms(self, cases: int) -> dict:
        end = self._sample()
        used = {k: end[k] - self._start.get(k, 0.0) for k in end}
        result = {k: round(v * 1000 / cases, 1) for k, v in sorted(used.items())
                  if not k.startswith("machine") and k != "postgres_other" and v > 0}
        if used.get("machine_all"):
            ours = sum(v for k, v in used.items() if not k.startswith("machine") and k != "postgres_other")
            # Anything else running meanwhile (other jobs on a shared machine) shows up here.
            result["other_processes"] = round(max(0.0, used["machine_busy"] - ours) * 1000 / cases, 1)
            result["machine_busy_pct"] = round(100 * used["machine_busy"] / used["machine_all"], 1)
        return result


def _log_warnings(children) -> dict:
    """WARNING and ERROR lines of the service logs, counted by service and message (ids stripped)."""
    found: dict[str, int] = {}
    for child in children:
        try:
            text = child.log_path.read_text("utf-8", "replace")
        except OSError:
            continue
        for line in text.splitlines():
            match = re.search(r" (WARNING|ERROR) (\S+): (.*)", line)
            if match:
                message = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", match.group(3))
                message = re.sub(r"\d+(\.\d+)?", "N", message)[:140]
                key = f"{child.name} {match.group(1)} {message}"
                found[key] = found.get(key, 0) + 1
    return found


def _tuning_from_env() -> dict:
    names = {"DOORSTEP_MAX_WORKERS": "max_workers", "DOORSTEP_RELAY_BATCH_SIZE": "relay_batch_size",
             "DOORSTEP_CONSUMER_BATCH_SIZE": "consumer_batch_size",
             "DOORSTEP_RELAY_POLL_S": "relay_poll_s", "DOORSTEP_STREET": "street"}
    return {key: os.environ[var] for var, key in names.items() if os.environ.get(var)}


def _case_body(i: int) -> bytes:
    return json.dumps({
        "matter_code": _MATTERS[i % len(_MATTERS)],
        "channel": "counter",  # accepted at once at the counter, then routed
        "description": f"基准测试事项 {i}：楼道灯不亮，请尽快处理。",
        "resident": {"name": "王阿姨", "phone": f"139{i:08d}", "area": _AREAS[i % len(_AREAS)],
                     "building": f"{i % 40 + 1}号", "room": f"{i % 30 + 101}"},
    }, ensure_ascii=False).encode("utf-8")


class _Tracker:
    """Which cases finished when, from the events the observer sees.

    A case is done at its second ``notification.sent`` caused by its ``case.routed`` (notices about other
    events of the case do not count). A case whose event was dead-lettered by routing or notify never will
    be: it is counted as failed at once instead of stalling its client.
    """

    def __init__(self):
        self.seen: dict[str, int] = {}
        self.done_at: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.dead_letters: dict[str, int] = {}
        self.waiters: dict[str, object] = {}
        self.envelope_bytes = 0
        self.ignored = 0

    def on_message(self, message) -> None:
        now = time.perf_counter()
        info = message.delivery_info or {}
        if info.get("exchange") == DEAD_LETTER_EXCHANGE:
            self._on_dead_letter(message, info.get("routing_key", ""))
            return
        try:
            data = json.loads(message.body)["data"]
        except (ValueError, KeyError, TypeError):
            self.ignored += 1
            return
        case_id = data.get("case_id")
        if data.get("cause_type") != FINAL_CAUSE or not case_id:  # notices about other events of the case
            self.ignored += 1
            return
        self.envelope_bytes = len(message.body)
        count = self.seen[case_id] = self.seen.get(case_id, 0) + 1
        if count == EVENTS_PER_CASE:
            self.done_at[case_id] = now
            self._wake(case_id, now)

    def _on_dead_letter(self, message, service: str) -> None:
        headers = message.headers or {}
        key = f"{headers.get('x-consumer', service)}: {str(headers.get('x-error', '?'))[:160]}"
        self.dead_letters[key] = self.dead_letters.get(key, 0) + 1
        try:
            case_id = json.loads(message.body)["data"]["case_id"]
        except (ValueError, KeyError, TypeError):
            return
        if service != "intake":  # intake's own status update does not hold up the notifications
            self.failed[case_id] = key
            self._wake(case_id, None)

    def _wake(self, case_id, value) -> None:
        waiter = self.waiters.pop(case_id, None)
        if waiter is not None:
            waiter.send(value)

    def wait(self, case_id: str, timeout: float) -> float | None:
        """When the case completed (``perf_counter`` time), or None if it failed."""
        import eventlet

        if case_id in self.done_at:
            return self.done_at[case_id]
        if case_id in self.failed:
            return None
        waiter = self.waiters[case_id] = eventlet.event.Event()
        try:
            with eventlet.Timeout(timeout):
                return waiter.wait()
        except eventlet.Timeout:
            raise BenchmarkError(
                f"case {case_id} did not complete within {timeout:.0f}s and was not dead-lettered "
                f"({self.seen.get(case_id, 0)} of {EVENTS_PER_CASE} {FINAL_KEY} events seen)") from None


@dataclasses.dataclass
class _Phase:
    total: int
    submitted: dict = dataclasses.field(default_factory=dict)  # case id -> submit time
    latencies: list = dataclasses.field(default_factory=list)
    rejected: list = dataclasses.field(default_factory=list)  # submits intake answered with a 5xx
    failed: int = 0

    @property
    def finished(self) -> int:
        return len(self.latencies) + len(self.rejected) + self.failed


def _drive(uri: str, port: int, token: str, n: int, window: int, infra: _Infra, variant: str, say) -> dict:
    """Warm up, then push ``n`` cases through ``window`` closed-loop HTTP clients; measure."""
    tracker = _Tracker()
    observer = _Observer(uri, "bench.arrivals", [
        (FINAL_EXCHANGE, "topic", FINAL_KEY),
        *((DEAD_LETTER_EXCHANGE, "direct", service) for service in PIPELINE_SERVICES),
    ], tracker.on_message)
    try:
        _run_clients(port, token, range(10_000_000, 10_000_000 + WARMUP_CASES), min(window, 10), tracker,
                     infra, observer, "warm-up", say)
        meter = _CpuMeter(infra.children, infra.databases)
        phase = _run_clients(port, token, range(n), window, tracker, infra, observer, variant, say)
        cpu = meter.per_case_ms(max(1, len(phase.submitted)))
    finally:
        observer.close()
    completed = [c for c in phase.submitted if c in tracker.done_at]
    if not completed:
        raise BenchmarkError(f"{variant}: no case completed")
    elapsed = max(tracker.done_at[c] for c in completed) - min(phase.submitted.values())
    latencies = sorted(phase.latencies)
    return {
        "cases_per_s": round(len(completed) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "seconds": round(elapsed, 2),
        "completed": len(completed),
        "rejected_submits": len(phase.rejected),
        "failed_cases": phase.failed,
        "dead_letters": dict(tracker.dead_letters),
        "other_events_seen": tracker.ignored,
        "cpu_ms_per_case": cpu,
        "envelope_bytes": tracker.envelope_bytes,
    }


def _run_clients(port, token, indexes, clients, tracker, infra, observer, label, say) -> _Phase:
    import eventlet

    phase = _Phase(len(indexes))
    shared_indexes = iter(indexes)
    pool = [eventlet.spawn(_client, port, token, shared_indexes, tracker, phase)
            for _ in range(min(clients, phase.total))]
    done = eventlet.event.Event()

    def watch():
        try:
            for gt in pool:
                gt.wait()
        except BaseException as exc:  # handed to the waiting loop, which raises it
            done.send(exc)
        else:
            done.send(True)

    watcher = eventlet.spawn(watch)
    try:
        _wait_event(done, lambda: phase.finished, phase.total, infra, observer, label, say)
    finally:
        for gt in pool:
            gt.kill()
        watcher.kill()
    if len(phase.rejected) > max(3, phase.total // 100):
        raise BenchmarkError(f"{label}: intake rejected {len(phase.rejected)} submits, e.g. {phase.rejected[0]}")
    return phase


def _client(port: int, token: str, indexes, tracker: _Tracker, phase: _Phase) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        for i in indexes:
            body = _case_body(i)
            started = time.perf_counter()
            conn.request("POST", "/intake/cases", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status >= 500:
                phase.rejected.append(f"{response.status} {payload[:200]!r}")
                continue
            if response.status != 201:
                raise BenchmarkError(f"POST /intake/cases answered {response.status}: {payload[:300]!r}")
            case_id = json.loads(payload)["id"]
            phase.submitted[case_id] = started
            finished = tracker.wait(case_id, STALL_TIMEOUT_S)
            if finished is None:
                phase.failed += 1
            else:
                phase.latencies.append(finished - started)
    finally:
        conn.close()


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _wait_event(event, count, total: int, infra: _Infra, observer: _Observer, phase: str, say, worker=None):
    """Wait for ``event`` while checking children, the observer and progress; report every two seconds."""
    last_count, last_change, last_report = -1, time.monotonic(), time.monotonic()
    while True:
        event.wait(timeout=0.5)
        if event.ready():
            value = event.wait()
            if isinstance(value, BaseException):
                raise value
            say(f"  {phase}: {count()}/{total} done")
            return value
        for child in infra.children:
            child.check()
        if observer.error is not None:
            raise BenchmarkError(f"observer failed: {observer.error!r}")
        if worker is not None and worker.dead:
            worker.wait()  # re-raises its error, if any
        now = time.monotonic()
        current = count()
        if current != last_count:
            last_count, last_change = current, now
        elif now - last_change > STALL_TIMEOUT_S:
            raise BenchmarkError(f"{phase}: no progress for {STALL_TIMEOUT_S:.0f}s at {current}/{total}")
        if now - last_report >= 2.0:
            last_report = now
            say(f"  {phase}: {current}/{total}")


def _wait_ready(port: int, infra: _Infra) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        for child in infra.children:
            child.check()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchmarkError(f"no service became ready on port {port} within {READY_TIMEOUT_S:.0f}s")


def _wait_for_consumers(uri: str, queues, infra: _Infra) -> None:
    """Wait until every queue named has a consumer.

    A message published before its queue is bound would be dropped by the exchange (nameko publishes with
    ``mandatory=False``), so the first case must not go out before every consumer is listening.
    """
    import amqp.exceptions
    import kombu

    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = list(queues)
    with kombu.Connection(uri, connect_timeout=5) as conn:
        while waiting:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"no consumer on {', '.join(waiting)} within {READY_TIMEOUT_S:.0f}s")
            for child in infra.children:
                child.check()
            channel = conn.channel()
            try:
                while waiting and channel.queue_declare(queue=waiting[0], passive=True).consumer_count > 0:
                    waiting.pop(0)
            except amqp.exceptions.NotFound:
                pass  # not declared yet; the broker closed this channel
            else:
                channel.close()
            if waiting:
                time.sleep(0.2)


def _event_queues(names) -> list[str]:
    """The queues nameko declares for the services' event consumers (``evt-<source>-<key>--<service>.<method>``)."""
    from nameko.events import SERVICE_POOL, EventHandler
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    from services import runner

    queues = []
    for name in names:
        cls = runner.service_class(name)
        for attr in dir(cls):
            for entrypoint in getattr(getattr(cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ()):
                if isinstance(entrypoint, EventHandler) and entrypoint.handler_type == SERVICE_POOL:
                    queues.append(f"evt-{entrypoint.source_service}-{entrypoint.event_type}--{cls.name}.{attr}")
    return queues


# -- the stock variant: nameko's EventDispatcher after the commit ------------------------------------------

_STOCK_CHILD = (
    "import warnings; warnings.filterwarnings('ignore', message=r'(?s).*Eventlet is deprecated'); "
    "import eventlet; eventlet.monkey_patch(); "
    "import sys; from doorstep.bench.pipeline import _serve_stock; _serve_stock(sys.argv[1])"
)


def _serve_stock(name: str) -> None:
    """`doorstep run <name>` with the stock service class (same logging, settings and shutdown)."""
    from nameko.containers import ServiceContainer

    from shared.config import load_settings
    from services import runner

    settings = stock_settings(load_settings())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    container = ServiceContainer(stock_service_class(name), settings.nameko_config(name))
    container.start()
    print(f"{name} (stock dispatch) running on port {settings.port(name)}", flush=True)
    runner.run_forever([container])


def stock_settings(settings):
    """As nameko's ``event_handler`` delivers: one event per worker call (batch consumers get lists of one)."""
    return dataclasses.replace(settings, consumer_batch_size=1)


class _DispatchAfterCommit:
    """Unit-of-work mixin: events are not written to the outbox; after the commit each is dispatched.

    This is the dual write the outbox exists to avoid (a crash between the commit and the dispatch loses the
    event); it is here only as the baseline the outbox is measured against.
    """

    dispatch = None  # set per worker by the provider: nameko's EventDispatcher for this worker

    def __enter__(self):
        self._after_commit = []
        return super().__enter__()

    def emit(self, type_name: str, *, subject: str, data: dict):
        from shared.events import new_event

        event = new_event(type_name, street=self.street, subject=subject, data=data)
        self._after_commit.append(event)
        return event

    def commit(self) -> None:
        super().commit()
        events, self._after_commit = self._after_commit, []
        self.emitted.extend(events)
        for event in events:
            self.dispatch(event.routing_key, event.to_dict())

    def rollback(self) -> None:
        self._after_commit = []
        super().rollback()


def stock_service_class(name: str):
    """The service ``name`` with every unit-of-work provider replaced by one whose units dispatch after commit."""
    from nameko.events import EventDispatcher
    from nameko.extensions import SharedExtension

    from shared.unit_of_work import UnitOfWork
    from shared.service import UnitOfWorkProvider
    from services import runner

    class _NoRelay(SharedExtension):
        """Stands in for the outbox relay: nothing is written to the outbox, so there is nothing to relay."""

        def wake(self, *_):
            pass

    class _DispatchingProvider:
        """Mixed into a unit-of-work provider: hands each unit the worker's EventDispatcher."""

        relay = _NoRelay()
        # As nameko's event_handler and http entrypoints: every event and every request in a transaction of its
        # own. Commit groups are part of the machinery measured against this baseline (shared.commit_groups).
        commit_groups = False

        def setup(self):
            super().setup()
            found = [d for d in self.container.dependencies if isinstance(d, EventDispatcher)]
            if len(found) != 1:
                raise RuntimeError("the stock service needs exactly one EventDispatcher dependency")
            self.dispatcher = found[0]

        def get_dependency(self, worker_ctx):
            provided = super().get_dependency(worker_ctx)
            dispatch = self.dispatcher.get_dependency(worker_ctx)
            if isinstance(provided, UnitOfWork):
                provided.dispatch = dispatch
                return provided

            def factory(*args, **kwargs):  # providers that hand out a factory of units (notify's sender)
                uow = provided(*args, **kwargs)
                uow.dispatch = dispatch
                return uow

            return factory

    base = runner.service_class(name)
    replaced = {}
    for attr in dir(base):
        provider = getattr(base, attr)
        if isinstance(provider, UnitOfWorkProvider):
            uow_class = provider.uow_class
            stock_uow = type(f"Stock{uow_class.__name__}", (_DispatchAfterCommit, uow_class), {})
            provider_class = type(f"Stock{type(provider).__name__}", (_DispatchingProvider, type(provider)), {})
            replaced[attr] = provider_class(stock_uow)
    if not replaced:
        raise RuntimeError(f"{base.__name__} has no unit-of-work provider to replace")
    return type(f"Stock{base.__name__}", (base,), {
        **replaced,
        "dispatch_event": EventDispatcher(),
        "__module__": __name__,
    })
