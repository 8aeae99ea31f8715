"""Serving the console from a green thread of a process that runs eventlet: ``doorstep run console`` (a process
of its own, until it is signalled to stop), or a test's process."""
from __future__ import annotations

import logging

import eventlet
import eventlet.wsgi

from console.app import Console
from shared.config import Settings



def _server(sock, app):
    # The access log would print query strings; the console logs each request itself, without them.
    eventlet.wsgi.server(sock, app, log=logging.getLogger("doorstep.console.wsgi"), log_output=False, debug=False)


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
