"""Faults the backbone must absorb: a relay killed between publish and mark-sent, a broker restart mid-stream."""
import subprocess
import sys
import textwrap

import eventlet

from shared import metrics
from shared.broker import ConfirmingPublisher
from shared.db import engine_for
from shared.outbox import Relay
from support.broker import rabbitmqctl
from support.events import accepted_events_in_outbox
from support.http import submit_case
from support.waiting import CounterSince, case_fully_handled, count_rows, wait_for

KILLED_RELAY = textwrap.dedent("""
    import os, sys
    from shared.broker import ConfirmingPublisher
    from shared.db import engine_for
    from shared.outbox import Relay

    class DiesAfterConfirm(ConfirmingPublisher):
        def publish(self, messages):
            confirmed = super().publish(messages)
            print(f"confirmed {sum(confirmed)}", flush=True)
            os._exit(137)  # killed before the UPDATE that marks the rows sent

    db_url, amqp_url = sys.argv[1:3]
    Relay("intake", engine_for(db_url), DiesAfterConfirm(amqp_url)).relay_once()
""")


def test_relay_killed_between_publish_and_mark_sent_publishes_again_and_the_consumer_absorbs_it(
        infra_settings, start_services):
    settings, _ = start_services(infra_settings, ["routing"])
    event_ids = accepted_events_in_outbox(settings, count=3)

    # A relay process publishes the batch, the broker confirms, and the process dies before marking it sent.
    killed = subprocess.run([sys.executable, "-c", KILLED_RELAY, settings.db_url("intake"), settings.broker_uri],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == 137, killed.stderr
    assert "confirmed 3" in killed.stdout
    wait_for(lambda: count_rows(settings, "routing", "inbox") == 3, message="first delivery handled")
    assert count_rows(settings, "intake", "outbox", "published_at IS NULL") == 3  # still pending

    # The restarted relay publishes the same rows again ...
    duplicates = CounterSince("doorstep_events_consumed_total", service="routing", consumer="routing.on_case_accepted",
                              type="doorstep.intake.case.accepted.v1", outcome="duplicate")
    assert Relay("intake", engine_for(settings.db_url("intake")), ConfirmingPublisher(settings.broker_uri)).drain() == 3
    # ... and the consumer absorbs every duplicate: no second assignment, no second case.routed.
    wait_for(lambda: duplicates() == 3, message="duplicates absorbed")
    assert count_rows(settings, "routing", "assignments") == 3
    assert count_rows(settings, "routing", "outbox") == 3
    assert count_rows(settings, "intake", "outbox", "published_at IS NULL") == 0
    assert len(event_ids) == 3


def test_broker_restart_mid_stream_loses_nothing(infra_settings, start_services, counter_token):
    settings, _ = start_services(infra_settings, ["intake", "routing", "notify"])
    token = counter_token(settings)
    case_ids = []

    def submit_stream(n):
        for i in range(n):
            response = submit_case(settings, token, resident={
                "name": "居民", "phone": f"139{i:08d}", "area": "meiyuan" if i % 2 else "shixin"})
            assert response.status_code == 201, response.text
            case_ids.append(response.json()["id"])
            eventlet.sleep(0.05)

    # Cases keep arriving at the counter while the broker goes down and comes back.
    relay_errors_before = metrics.RELAY_ERRORS.labels("intake")._value.get()
    stream = eventlet.spawn(submit_stream, 80)
    wait_for(lambda: len(case_ids) >= 10, message="the first cases submitted")  # the outage comes mid-stream
    rabbitmqctl("stop_app")
    eventlet.sleep(2.0)
    rabbitmqctl("start_app")
    stream.wait()
    assert metrics.RELAY_ERRORS.labels("intake")._value.get() > relay_errors_before  # the outage was felt

    # Every case is routed and notified, exactly once.
    for case_id in case_ids:
        wait_for(lambda: case_fully_handled(settings, token, case_id), timeout=90, message=f"case {case_id}")
    assert count_rows(settings, "routing", "assignments") == 80
    assert count_rows(settings, "notify", "deliveries") == 160
    assert count_rows(settings, "intake", "cases", "status = 'routed'") == 80
