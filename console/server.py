"""Serving the console: ``doorstep run console`` (a process of its own), or in the background of a process
that already runs eventlet (the tests)."""
from __future__ import annotations

import logging
import signal

import eventlet
import eventlet.wsgi

from console.app import Console
from shared.config import Settings

log = logging.getLogger("doorstep.console")


def _server(sock, app):
    # The access log would print query strings; the console logs each request itself, without them.
    eventlet.wsgi.server(sock, app, log=logging.getLogger("doorstep.console.wsgi"), log_output=False, debug=False)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    app = Console(settings)
    sock = eventlet.listen((host, port))
    server = eventlet.spawn(_server, sock, app)
    stopping = eventlet.event.Event()

    def _on_signal(signum, _frame):
        log.info("signal %s: stopping", signum)
        if not stopping.ready():
            stopping.send(True)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server.link(lambda _gt: stopping.ready() or stopping.send(False))
    stopping.wait()
    server.kill()
    sock.close()


class Running:
    """The console served by a green thread of this process; ``stop()`` ends it."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 0):
        self.app = Console(settings)
        self.sock = eventlet.listen((host, port))
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.thread = eventlet.spawn(_server, self.sock, self.app)

    def stop(self) -> None:
        self.thread.kill()
        self.sock.close()
