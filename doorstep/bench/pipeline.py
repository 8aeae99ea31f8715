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

This module runs the variants and sums up their figures; the rest lives beside it: :mod:`.infra` (vhosts,
databases, child processes, waits, the CPU meter), :mod:`.messaging` (confirmed publishing, the observer),
:mod:`.load` (the clients and the tracker of cases), :mod:`.ceiling` and :mod:`.stock` (the two baselines).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from doorstep.bench.ceiling import measure_ceiling
from doorstep.bench.infra import (PIPELINE_SERVICES, Infra, Reporter, child_env, interrupt_on_sigterm, remove_dir,
                                  require_green, spawn, wait_for_consumers, wait_ready)
from doorstep.bench.load import EVENTS_PER_CASE, WARMUP_CASES, drive
from doorstep.bench.stock import STOCK_CHILD, stock_service_class, stock_settings

DEFAULT_WINDOW = 64


# -- entry point -------------------------------------------------------------------------------------------

def run_pipeline_benchmark(broker_uri: str, db_template: str, n: int, progress: bool = True) -> dict:
    """Run the three variants with ``n`` cases (messages for the ceiling) each; return the figures."""
    require_green()
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
    say = Reporter(progress)

    workdir = Path(tempfile.mkdtemp(prefix="doorstep-bench-"))
    keep_logs = bool(os.environ.get("DOORSTEP_BENCH_KEEP_LOGS"))
    infra = Infra(broker_uri, db_template, say)
    figures: dict = {}
    restore = interrupt_on_sigterm()
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(remove_dir, workdir, keep_logs, say)
            stack.callback(infra.cleanup)
            infra.remove_stale()
            if "ceiling" in variants:
                figures["ceiling"] = measure_ceiling(infra, workdir, n, say)
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


# -- variants 1 and 3: the pipeline ----------------------------------------------------------------------------

def _measure_pipeline(variant: str, infra: Infra, workdir: Path, n: int, window: int, mode: str, say) -> dict:
    from shared.auth import TokenFile
    from shared.config import load_settings
    from shared.db import dispose_engines
    from doorstep import runner

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
                env = child_env(DOORSTEP_BROKER=uri, DOORSTEP_DB=db_template, DOORSTEP_TOKENS_FILE=tokens_file,
                                DOORSTEP_DATA_DIR=data_dir, DOORSTEP_HTTP_PORT=ports[name],
                                DOORSTEP_NOTIFY_CONFIG=data_dir / "notify.yaml")
                if variant == "outbox":
                    argv = [sys.executable, "-m", "doorstep.cli", "run", name, "--no-migrate"]  # = doorstep run
                else:
                    argv = [sys.executable, "-c", STOCK_CHILD, name]
                spawn(infra, f"{variant}-{name}", argv, env, workdir)
            for name in PIPELINE_SERVICES:  # started side by side; no case is submitted before all are ready
                wait_ready(ports[name], infra)
        else:
            from nameko.containers import ServiceContainer

            for name in PIPELINE_SERVICES:
                cls, own = ((runner.service_class(name), settings) if variant == "outbox"
                            else (stock_service_class(name), stock_settings(settings)))
                config = own.replace(http_port=ports[name]).nameko_config(name)
                container = ServiceContainer(cls, config)
                container.start()
                containers.append(container)
        wait_for_consumers(uri, _event_queues(PIPELINE_SERVICES), infra)
        say(f"  {variant}: services ready after {time.monotonic() - setup_started:.1f}s")

        figures = drive(uri, ports["intake"], token, n, window, infra, variant, say)
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


def _event_queues(names) -> list[str]:
    """The queues nameko declares for the services' event consumers (``evt-<source>-<key>--<service>.<method>``)."""
    from nameko.events import SERVICE_POOL, EventHandler
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    from doorstep import runner

    queues = []
    for name in names:
        cls = runner.service_class(name)
        for attr in dir(cls):
            for entrypoint in getattr(getattr(cls, attr), ENTRYPOINT_EXTENSIONS_ATTR, ()):
                if isinstance(entrypoint, EventHandler) and entrypoint.handler_type == SERVICE_POOL:
                    queues.append(f"evt-{entrypoint.source_service}-{entrypoint.event_type}--{cls.name}.{attr}")
    return queues
