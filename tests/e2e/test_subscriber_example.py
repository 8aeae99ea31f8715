"""A district system's subscriber (examples/subscriber.py: pika, no Doorstep code) on the real broker:
it receives every event of a scenario exactly once in effect, validates all of them, and catches up by replay
after an outage in which its queue was lost."""
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import kombu

from doorstep.events import replay_events
from shared.config import SERVICES
from support.http import submit_case
from support.waiting import case_fully_handled, count_rows, wait_for, wait_until_relayed

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBER = ROOT / "examples" / "subscriber.py"
SCHEMAS = ROOT / "shared" / "contract" / "schemas"


def start_subscriber(amqp_url, db, queue="district-platform", idle_exit=2.0):
    proc = subprocess.Popen([sys.executable, str(SUBSCRIBER), "--amqp", amqp_url, "--queue", queue, "--schemas",
                             str(SCHEMAS), "--db", str(db), "--idle-exit", str(idle_exit)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("ready"), line + proc.stderr.read()
    return proc


def finish(proc):
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def run_scenario(settings, token, cases=3):
    ids = []
    for i in range(cases):
        response = submit_case(settings, token, resident={"name": "居民", "phone": f"1360000{i:04d}",
                                                          "area": ("shixin", "meiyuan")[i % 2]})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for case_id in ids:
        wait_for(lambda: case_fully_handled(settings, token, case_id), message="case handled")
    return ids


def published_events(settings):
    return sum(count_rows(settings, s, "outbox", "published_at IS NOT NULL") for s in SERVICES)


def stored_ids(db):
    with closing(sqlite3.connect(db)) as conn:  # sqlite3's own context manager commits but never closes
        return {row[0] for row in conn.execute("SELECT id FROM events")}


def test_plain_amqp_subscriber_gets_every_event_once_in_effect_and_validates_all(
        infra_settings, start_services, counter_token, tmp_path):
    settings, _ = start_services(infra_settings, ["intake", "routing", "notify"])
    token = counter_token(settings)
    subscriber = start_subscriber(settings.broker_uri, tmp_path / "platform.db")

    run_scenario(settings, token)
    wait_until_relayed(settings)
    # A duplicate arrives too (at-least-once delivery): republish one event as it was.
    with kombu.Connection(settings.broker_uri) as conn:
        body = json.dumps(json.loads(_first_outbox_body(settings))).encode()
        conn.Producer().publish(body, exchange="intake.events", routing_key="case.submitted.v1",
                                content_type="application/json")

    summary = finish(subscriber)
    published = published_events(settings)
    assert published >= 18  # per case at least: submitted, accepted, status changed, routed, 2 notifications
    assert summary["events"] == summary["processed"] == published
    assert summary["duplicate"] == 1
    assert "invalid" not in summary


def _first_outbox_body(settings):
    from shared.db import engine_for
    import sqlalchemy as sa
    with engine_for(settings.db_url("intake")).connect() as conn:
        return conn.execute(sa.text("SELECT body FROM outbox ORDER BY position LIMIT 1")).scalar()


def test_subscriber_that_was_down_catches_up_by_replay(infra_settings, start_services, counter_token, tmp_path):
    settings, _ = start_services(infra_settings, ["intake", "routing", "notify"])
    token = counter_token(settings)
    db = tmp_path / "platform.db"

    # The subscriber takes a first scenario, then goes down and its queue is lost with it.
    subscriber = start_subscriber(settings.broker_uri, db)
    run_scenario(settings, token, cases=2)
    wait_until_relayed(settings)  # all of it on the wire before the subscriber goes
    first = finish(subscriber)["events"]
    stopped_at = datetime.now(timezone.utc)
    with kombu.Connection(settings.broker_uri) as conn:
        conn.default_channel.queue_delete("district-platform")

    # Meanwhile the street carries on: these events reach no queue of the subscriber.
    run_scenario(settings, token, cases=2)
    assert len(stored_ids(db)) == first

    # Back up: it declares its queue again, and the operator replays everything since the stop.
    wait_until_relayed(settings)
    subscriber = start_subscriber(settings.broker_uri, db, idle_exit=3.0)
    replayed = replay_events(settings, stopped_at, target="queue:district-platform")
    summary = finish(subscriber)

    assert replayed == published_events(settings) - first
    assert summary["events"] == published_events(settings)  # the full set, nothing twice
    with closing(sqlite3.connect(db)) as conn:
        replays = conn.execute("SELECT count(*) FROM events WHERE replay = 1").fetchone()[0]
    assert replays == replayed
