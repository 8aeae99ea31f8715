"""What the notify tests share: notify's settings for tests, publishing routing's events straight to the broker
(so notify is tested on its own), and local receivers for the channels we can reach (SMTP, HTTP)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from shared.broker import OutgoingMessage, make_publisher
from shared.events import new_event


def routed_data(**overrides) -> dict:
    return {"case_id": str(uuid.uuid4()), "assignment_id": str(uuid.uuid4()),
            "unit": {"code": "shixin-pm", "name": "市新居民区物业"}, "rule": "property-repair-to-pm",
            "area": "shixin", "matter_code": "property-repair", "resident_id": str(uuid.uuid4()),
            "phone_masked": "138****5678", "routed_at": datetime.now(timezone.utc).isoformat(), **overrides}


def publish_routed(settings, data: dict | None = None, event=None):
    """Publish a case.routed event as routing's relay would; return the envelope."""
    data = data or routed_data()
    event = event or new_event("doorstep.routing.case.routed.v1", street=settings.street,
                               subject=f"case/{data['case_id']}", data=data)
    publisher = make_publisher(settings.broker_uri)
    try:
        confirmed = publisher.publish([OutgoingMessage("routing.events", event.routing_key, event.to_json(), event.id,
                                                       event.type)])
    finally:
        publisher.close()
    assert all(confirmed)
    return event


# Notify's clock-bound behaviour, off in every test unless the test is about it: the default quiet hours
# (22:00-08:00 Shanghai) defer messages for ten hours a day, and the daily digest (08:30) adds a unit's message
# to what a test counts; either would make a test pass or fail by the hour it runs.
OFF_THE_CLOCK = {"quiet_hours": None, "digest": {"enabled": False}}


def write_notify_config(settings, *, packaged=(), **config) -> None:
    """notify.yaml in the settings' data folder: ``config`` over OFF_THE_CLOCK; the keys named in ``packaged``
    are left out, so notify uses its packaged default for them."""
    config = {key: value for key, value in {**OFF_THE_CLOCK, **config}.items() if key not in packaged}
    path = Path(settings.data_dir) / "notify.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")


def notify_off_the_clock(data_dir) -> None:
    """The notify.yaml every test starts with (see OFF_THE_CLOCK); a test about quiet hours or the digest
    writes its own (``write_notify_config``) and controls notify's clock."""
    path = Path(data_dir) / "notify.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(OFF_THE_CLOCK), "utf-8")


class WebhookReceiver:
    """A local HTTP server that answers with the next scripted status and keeps every request."""

    def __init__(self, statuses=()):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/doorstep"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


_SMTP_SERVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from aiosmtpd.controller import Controller

    out, port = Path(sys.argv[1]), int(sys.argv[2])

    class Keep:
        async def handle_DATA(self, server, session, envelope):
            name = out / f"{time.time_ns()}.eml"
            name.write_bytes(envelope.original_content)
            (out / (name.stem + ".rcpt")).write_text("\\n".join(envelope.rcpt_tos))
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    controller.stop()
""")


class SmtpServer:
    """A real SMTP server (aiosmtpd) on loopback, in its own process so its asyncio loop stays clear of the
    test's green threads. Received messages land as .eml files."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def __enter__(self):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-c", _SMTP_SERVER, str(self.directory), str(self.port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready", "the SMTP server did not start"
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def messages(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.directory.glob("*.eml"))]


def json_lines(path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def watch_notify_events(amqp_url, queue="test-notify-watch"):
    """Bind a queue to notify's exchange (before the events) and return its name, for drain_queue."""
    import kombu

    with kombu.Connection(amqp_url) as conn:
        exchange = kombu.Exchange("notify.events", type="topic", durable=True)
        kombu.Queue(queue, exchange, routing_key="notification.#", durable=True)(conn.default_channel).declare()
    return queue


def notify_on_clock(clock, ticks=None):
    """Notify reading the time from ``clock`` (a MovableClock: the test decides the hour), with every pass of
    its sender counted in ``ticks`` (a waiting.Ticks), so a test can wait for passes in which nothing may
    happen."""
    from services.notify import settings as notify_settings
    from services.notify.service import NotifyRuntime, NotifyService
    from shared.service import SettingsTimer

    class NotifyOnClock(NotifyService):
        runtime = NotifyRuntime(clock=clock)

        @SettingsTimer.decorator(interval_from=lambda settings: notify_settings.load(settings).sender_interval_s)
        def send_due(self):
            NotifyService.send_due(self)
            if ticks is not None:
                ticks.tick()

    return NotifyOnClock
