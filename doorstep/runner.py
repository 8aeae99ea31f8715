"""Starting services: all four in one process (embedded default) or one per process (a Kubernetes pod)."""
from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import subprocess
import sys

import eventlet
from nameko.containers import ServiceContainer

from shared.config import SERVICES, Settings
from shared.migrations import ensure_database, upgrade

log = logging.getLogger("doorstep")

_CLASSES = {
    "intake": "services.intake.service:IntakeService",
    "routing": "services.routing.service:RoutingService",
    "funds": "services.funds.service:FundsService",
    "notify": "services.notify.service:NotifyService",
}


def service_class(name: str):
    module, _, attr = _CLASSES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def migrate(settings: Settings, names=SERVICES) -> list[str]:
    """Upgrade each service's database, creating it first on a PostgreSQL server that lacks it; returns the
    names of the databases created."""
    created = []
    for name in names:
        if ensure_database(settings.db_url(name)):
            created.append(name)
        upgrade(name, settings.db_url(name))
    return created


def start(settings: Settings, names=SERVICES) -> list[ServiceContainer]:
    """Start containers, each with its own HTTP port; consumers first so no event misses its queue."""
    order = sorted(names, key=lambda n: n == "intake")  # intake (first publisher of a flow) last
    containers = []
    try:
        for name in order:
            container = ServiceContainer(service_class(name), settings.nameko_config(name))
            container.start()
            containers.append(container)
    except Exception:
        stop(containers)
        raise
    return containers


def stop(containers: list[ServiceContainer]) -> None:
    for container in reversed(containers):
        container.stop()


def until_stopped(waits) -> bool:
    """Block until SIGTERM/SIGINT (True: a graceful stop) or until one of ``waits`` returns (False: something
    this process runs ended on its own)."""
    stopping = eventlet.event.Event()

    def _on_signal(signum, _frame):
        log.info("signal %s: stopping", signum)
        if not stopping.ready():
            stopping.send(True)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    for wait in waits:
        eventlet.spawn(wait).link(lambda gt: stopping.ready() or stopping.send(False))
    return bool(stopping.wait())


def run_forever(containers: list[ServiceContainer]) -> bool:
    """Block until SIGTERM/SIGINT (graceful stop) or until a container dies; then stop the others.

    Returns False when a container died: the process must then end (non-zero), not live on without it while
    it keeps the other services' ports.
    """
    graceful = until_stopped([c.wait for c in containers])
    if not graceful:
        log.error("a service container stopped on its own: stopping the others")
    for container in reversed(containers):
        try:
            container.stop()
        except Exception:  # the dead one, or one that cannot stop cleanly: it must not keep the process
            container.kill()
    return bool(graceful)


def ports_in_use(settings: Settings, names) -> list[int]:
    """The ports of ``names`` that something already listens on. eventlet listens with SO_REUSEPORT, so a
    second `doorstep run` would otherwise share the port with the first and get half its requests."""
    taken = []
    for name in names:
        port = settings.console_port if name == "console" else settings.port(name)
        with socket.socket() as probe:
            try:
                probe.bind((settings.http_host, port))
            except OSError:
                taken.append(port)
    return taken


def start_console_process(settings: Settings) -> subprocess.Popen:
    """`doorstep run console` as a process of its own beside this one (the demo): it reaches the services through
    their HTTP ports like any other client, with this process's database template and tokens file."""
    env = {**os.environ, "DOORSTEP_DB": settings.db_template, "DOORSTEP_TOKENS_FILE": settings.tokens_file,
           "DOORSTEP_HTTP_HOST": settings.http_host, "DOORSTEP_CONSOLE_PORT": str(settings.console_port)}
    for service in SERVICES:  # the services' ports as this process has them, unless set for the console
        env.setdefault(f"DOORSTEP_CONSOLE_{service.upper()}_URL", settings.console_api(service))
    return subprocess.Popen([sys.executable, "-m", "doorstep", "run", "console"], env=env)


def stop_console_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def free_ports(names) -> dict[str, int]:
    """A distinct free local port for each name.

    Every socket stays bound until all ports are chosen: a port released at once can be handed out again, and
    eventlet listens with SO_REUSEPORT, so two services would silently share one port and split its requests.
    """
    sockets = {name: socket.socket() for name in names}
    try:
        for sock in sockets.values():
            sock.bind(("127.0.0.1", 0))
        return {name: sock.getsockname()[1] for name, sock in sockets.items()}
    finally:
        for sock in sockets.values():
            sock.close()
