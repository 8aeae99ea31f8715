"""Small helpers for the tests: HTTP calls to a running service and waiting for eventual outcomes."""
import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import kombu
import requests
import sqlalchemy as sa

from shared.db import engine_for

ROOT = Path(__file__).resolve().parents[2]  # the checkout
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"

CASE = {
    "matter_code": "property-repair",
    "kind": "request",
    "urgency": "normal",
    "description": "楼道灯不亮",
    "resident": {"name": "王阿姨", "phone": "13812345678", "area": "shixin", "building": "12", "room": "301"},
}


def base_url(settings, service):
    return f"http://127.0.0.1:{settings.port(service)}"


def submit_case(settings, token, body=None, **overrides):
    payload = {**CASE, **overrides} if body is None else body
    return requests.post(f"{base_url(settings, 'intake')}/intake/cases", json=payload,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def get(settings, service, path, token):
    return requests.get(f"{base_url(settings, service)}{path}", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def wait_for(predicate, timeout=15.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def count_rows(settings, service, table, where=None):
    with engine_for(settings.db_url(service)).connect() as conn:
        query = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return conn.execute(sa.text(query)).scalar()


def wait_until_relayed(settings, services=("intake", "routing", "notify"), timeout=10.0):
    """Until every event the services committed is marked published (the relay marks rows it published from
    memory a moment after the broker confirmed them)."""
    wait_for(lambda: all(count_rows(settings, s, "outbox", "published_at IS NULL") == 0 for s in services),
             timeout=timeout, message=f"the outboxes of {', '.join(services)} relayed")


def case_fully_handled(settings, token, case_id):
    """Routed at intake and both notifications (resident, unit) recorded by notify."""
    case = get(settings, "intake", f"/intake/cases/{case_id}", token).json()
    deliveries = get(settings, "notify", f"/notify/deliveries?case_id={case_id}", token).json()
    return case["status"] == "routed" and len(deliveries) == 2


def drain_queue(amqp_url, queue, timeout=2.0):
    """Every message in ``queue`` as (headers, raw body), acknowledged; waits up to ``timeout`` for the first."""
    out = []
    deadline = time.monotonic() + timeout
    with kombu.Connection(amqp_url) as conn:
        channel = conn.channel()
        q = kombu.Queue(queue, durable=True, channel=channel)
        q.declare()
        while True:
            msg = q.get(no_ack=False)
            if msg is None:
                if out or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
                continue
            out.append((dict(msg.headers or {}), msg.body))
            msg.ack()
    return out


def accepted_data(**overrides):
    """Data of a valid doorstep.intake.case.accepted.v1 event of a matter routing handles."""
    return {
        "case_id": str(uuid.uuid4()), "matter_code": "property-repair", "category": "property", "handling": "routed",
        "channel": "counter", "kind": "request", "urgency": "normal", "area": "shixin",
        "resident": {"resident_id": str(uuid.uuid4()), "phone_masked": "138****5678"},
        "accepted_at": "2026-11-23T08:00:00+00:00", **overrides,
    }


def accepted_events_in_outbox(settings, count=1):
    """Commit ``count`` case.accepted events to intake's outbox, unpublished, as intake does; return their ids."""
    from sqlalchemy.orm import sessionmaker
    from services.intake.persistence import IntakeUnitOfWork

    uow = IntakeUnitOfWork(sessionmaker(engine_for(settings.db_url("intake"))), settings.street)
    ids = []
    with uow:
        for _ in range(count):
            data = accepted_data()
            ids.append(uow.emit("doorstep.intake.case.accepted.v1", subject=f"case/{data['case_id']}",
                                data=data).id)
        uow.commit()
    return ids


def stop_processes(procs) -> None:
    """SIGTERM every process still running (a graceful nameko stop), then kill any that outlast 20 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def without_quiet_hours(data_dir) -> None:
    """Notify's default quiet hours (22:00–08:00 Shanghai) defer messages for ten hours a day, so a test that
    waits for a message would pass or fail by the hour it runs. Every test starts with them switched off in its
    notify.yaml; a test about quiet hours writes its own file (``write_notify_config``) and moves its clock."""
    path = Path(data_dir) / "notify.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("quiet_hours: null\n", "utf-8")
