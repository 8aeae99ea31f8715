"""End to end as in production: each service its own process (`doorstep run <service>`, as a pod runs it),
on the real RabbitMQ and PostgreSQL, watched by `doorstep events tail` as an operator would."""
import json
import os
import signal
import subprocess

import eventlet
import pytest
import requests

from shared.auth import TokenFile
from doorstep.runner import free_ports
from shared.config import SERVICES
from support.notify import notify_off_the_clock
from support.processes import DOORSTEP, ready, stop_processes
from support.waiting import wait_for



@pytest.fixture
def processes(pg_databases, amqp_url, tmp_path):
    env = {**os.environ, "DOORSTEP_BROKER": amqp_url, "DOORSTEP_DB": pg_databases,
           "DOORSTEP_TOKENS_FILE": str(tmp_path / "tokens.yaml"), "DOORSTEP_DATA_DIR": str(tmp_path / "var"),
           "DOORSTEP_STREET": "lujiazui"}
    notify_off_the_clock(tmp_path / "var")
    migrate = subprocess.run([DOORSTEP, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    ports, procs = free_ports(SERVICES), {}
    for service in SERVICES:
        procs[service] = subprocess.Popen([DOORSTEP, "run", service, "--port", str(ports[service])], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for service in SERVICES:
            wait_for(lambda: ready(ports[service]), timeout=60, message=f"{service} ready")
        yield env, ports, procs
    finally:
        stop_processes(procs.values())


def _all_published(db_template):
    """Ids of every event in the four outboxes, once none is pending; None while some are."""
    import sqlalchemy as sa

    from shared.db import engine_for

    ids = []
    for service in SERVICES:
        with engine_for(db_template.format(service=service)).connect() as conn:
            rows = conn.execute(sa.text("SELECT event_id, published_at FROM outbox")).all()
        if any(published_at is None for _, published_at in rows):
            return None
        ids += [event_id for event_id, _ in rows]
    return ids


def test_case_flows_across_service_processes_and_the_tail_sees_every_event(processes):
    env, ports, procs = processes
    token, _ = TokenFile(env["DOORSTEP_TOKENS_FILE"]).create("counter")
    auth = {"Authorization": f"Bearer {token}"}

    # An operator follows the event stream; it prints a line once its queue is bound.
    tail = subprocess.Popen([DOORSTEP, "events", "tail", "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert "following" in tail.stderr.readline()
    seen = []
    reader = eventlet.spawn(lambda: [seen.append(json.loads(line)) for line in tail.stdout])

    # A resident of 梅园 (no owners' committee) reports a property-fee dispute at the counter.
    response = requests.post(f"http://127.0.0.1:{ports['intake']}/intake/cases", headers=auth, timeout=10, json={
        "matter_code": "property-fee-dispute", "kind": "complaint",
        "resident": {"name": "赵先生", "phone": "13700001111", "area": "meiyuan"}})
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]

    def handled():
        case = requests.get(f"http://127.0.0.1:{ports['intake']}/intake/cases/{case_id}", headers=auth).json()
        sent = requests.get(f"http://127.0.0.1:{ports['notify']}/notify/deliveries?case_id={case_id}",
                            headers=auth).json()
        return case["status"] == "routed" and len(sent) == 2 and all(d["status"] == "sent" for d in sent) and sent

    # Sent, not only recorded: the notification.sent events are then committed, so the outboxes below are all
    # the case produced.
    deliveries = wait_for(handled, timeout=30, message="case routed and notified across processes")
    # 居委会暂代业委会职责: the residents' committee takes it.
    assert {d["recipient"] for d in deliveries} >= {"unit:meiyuan-rc"}

    # The tail shows every event the services published, each once.
    published = wait_for(lambda: _all_published(env["DOORSTEP_DB"]), timeout=30, message="outboxes relayed")
    wait_for(lambda: len(seen) >= len(published), timeout=30, message="tail caught up")
    tail.terminate()
    tail.wait(timeout=20)
    reader.kill()
    assert sorted(e["id"] for e in seen) == sorted(published)
    types = {e["type"] for e in seen}
    assert {"doorstep.intake.case.submitted.v1", "doorstep.intake.case.accepted.v1",
            "doorstep.routing.case.routed.v1", "doorstep.notify.notification.sent.v1"} <= types
    assert all(e["street"] == "lujiazui" and e["specversion"] == "1.0" for e in seen)
    assert "13700001111" not in json.dumps(seen, ensure_ascii=False)  # personal data never leaves intake

    # A pod is stopped with SIGTERM: it finishes cleanly.
    procs["routing"].send_signal(signal.SIGTERM)
    assert procs["routing"].wait(timeout=20) == 0
