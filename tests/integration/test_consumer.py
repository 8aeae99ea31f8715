"""The idempotent consumer on the real broker and PostgreSQL: redelivery has no second effect, failures are
retried and then dead-lettered with the reason, poison messages never stop the service."""
import json

import kombu
import pytest
from prometheus_client import REGISTRY

from shared.consumer import consume
from shared.db import utcnow
from shared.service import DoorstepService, UnitOfWorkProvider
from services.routing.domain.assignments import assign
from services.routing.domain.directory import Decision, Unit
from services.routing.persistence import RoutingUnitOfWork
from support.broker import QueueReader, drain_queue, publish_event, publish_raw
from support.doubles import FAILURES, FlakyRouting
from support.events import accepted_event
from support.waiting import CounterSince, count_rows, wait_for

CONSUMED = "doorstep_events_consumed_total"


def test_redelivered_event_has_no_second_effect(infra_settings, start_services):
    settings, _ = start_services(infra_settings, ["routing"])
    event = accepted_event()
    duplicates = CounterSince(CONSUMED, service="routing", consumer="routing.on_case_accepted", type=event.type,
                              outcome="duplicate")

    # The broker delivers the same event three times (a relay retry, a redelivery after a crash ...).
    for _ in range(3):
        publish_event(settings.broker_uri, event)

    # Once the two copies have met the inbox, the first delivery's effect is all there is.
    wait_for(lambda: duplicates() == 2, message="the two copies taken as duplicates")
    assert count_rows(settings, "routing", "inbox") == 1
    assert count_rows(settings, "routing", "assignments") == 1
    assert count_rows(settings, "routing", "outbox", "type = 'doorstep.routing.case.routed.v1'") == 1


def test_poison_messages_are_dead_lettered_with_reason_and_the_next_is_handled(infra_settings, start_services):
    settings, _ = start_services(infra_settings, ["routing"])

    publish_raw(settings.broker_uri, b"\xff\xfe not json at all", message_id="poison-1")
    broken = accepted_event().to_dict()
    del broken["data"]["area"]  # valid JSON envelope, but the data breaks the schema
    publish_raw(settings.broker_uri, json.dumps(broken).encode(), message_id="poison-2")
    publish_raw(settings.broker_uri, b'{"hello": "world"}', message_id="poison-3")
    good = accepted_event()
    publish_event(settings.broker_uri, good)

    # The good event after the poison is still handled ...
    wait_for(lambda: count_rows(settings, "routing", "assignments") == 1, message="good event handled")
    # ... and each poison message waits in the dead-letter queue with its reason.
    letters = QueueReader(settings.broker_uri, "routing.dead-letter")
    dead = wait_for(lambda: len(letters()) >= 3 and letters.messages, message="three dead letters")
    assert len(dead) == 3
    reasons = {headers["x-dead-letter-reason"] for headers, _ in dead}
    assert reasons == {"invalid-envelope"}
    errors = " | ".join(headers["x-error"] for headers, _ in dead)
    assert "not JSON" in errors
    assert "area" in errors  # names the field the schema missed
    assert all(h["x-original-queue"] == "evt-intake-case.accepted.v1--routing.on_case_accepted" for h, _ in dead)


@pytest.mark.parametrize("failures, handled", [(2, True), (5, False)])
def test_failing_handler_is_retried_then_dead_lettered(infra_settings, start_services, failures, handled):
    # Three attempts: two failures then success is handled once; five failures end in the dead-letter queue.
    settings, _ = start_services(infra_settings, service_class=FlakyRouting)
    event = accepted_event()
    FAILURES[event.id] = failures
    publish_event(settings.broker_uri, event)

    if handled:
        wait_for(lambda: count_rows(settings, "routing", "inbox") == 1, message="handled on the third attempt")
        assert count_rows(settings, "routing", "assignments") == 1  # failed attempts left nothing behind
        assert FAILURES[event.id] == 0
        assert drain_queue(settings.broker_uri, "routing.dead-letter", timeout=0.5) == []
    else:
        dead = wait_for(lambda: drain_queue(settings.broker_uri, "routing.dead-letter", timeout=0.5),
                        message="dead letter")
        headers, body = dead[0]
        assert headers["x-dead-letter-reason"] == "handler-failed"
        assert headers["x-attempts"] == 3
        assert "directory is unavailable" in headers["x-error"]
        assert json.loads(body)["id"] == event.id  # the original message, unchanged, ready for replay
        assert count_rows(settings, "routing", "assignments") == 0
        assert count_rows(settings, "routing", "inbox") == 0


def test_dead_letters_can_be_inspected_and_replayed_once_fixed(infra_settings, start_services):
    from doorstep.dlq import peek_dead_letters, replay_dead_letters

    settings, containers = start_services(infra_settings.replace(metrics_refresh_s=0.1),
                                          service_class=FlakyRouting)
    event = accepted_event()
    FAILURES[event.id] = 3  # fails all three attempts: dead-lettered
    publish_event(settings.broker_uri, event)
    wait_for(lambda: peek_dead_letters(settings.broker_uri, "routing"), message="dead letter")
    assert peek_dead_letters(settings.broker_uri, "routing")[0][0]["x-consumer"] == "routing.flaky"
    # The operator's gauge counts it while it waits (the alert "dead letters present" reads this)...
    wait_for(lambda: _dead_letters_waiting("routing") == 1, message="the gauge counting one dead letter")

    # The cause is fixed; the operator replays, and the event is handled once.
    assert FAILURES[event.id] == 0
    assert replay_dead_letters(settings.broker_uri, "routing") == 1
    wait_for(lambda: count_rows(settings, "routing", "inbox") == 1, message="replayed event handled")
    assert count_rows(settings, "routing", "assignments") == 1
    assert peek_dead_letters(settings.broker_uri, "routing") == []
    wait_for(lambda: _dead_letters_waiting("routing") == 0, message="the gauge back at zero")  # ... until replayed


def _dead_letters_waiting(service):
    return REGISTRY.get_sample_value("doorstep_dead_letter_messages", {"service": service})


def test_a_message_settled_on_a_reset_connection_does_not_stop_the_consumer_and_comes_back(amqp_url):
    """A broker restart resets the socket while a handler runs; settling the message then raises the builtin
    ConnectionResetError, which nameko would let kill the whole service. The consumer lets it go instead, and
    the broker, which never got the ack, delivers the message again."""
    import socket

    from shared.consumer import RawQueueConsumer

    with kombu.Connection(amqp_url) as conn:
        queue = kombu.Queue("reset-while-handling", durable=True, channel=conn.channel())
        queue.declare()
        conn.Producer().publish(b"{}", routing_key=queue.name, message_id="m-1")
        message = wait_for(lambda: queue.get(no_ack=False), message="the message")
        conn.connection.transport.sock.shutdown(socket.SHUT_RDWR)  # the broker goes away mid-handling

        consumer = RawQueueConsumer()
        consumer.ack_message(message)  # raised ConnectionResetError/BrokenPipeError before
        consumer.requeue_message(message)

    with kombu.Connection(amqp_url) as conn:
        again = wait_for(lambda: kombu.Queue(queue.name, channel=conn.channel()).get(no_ack=True), timeout=10,
                         message="the unsettled message delivered again")
        assert again.properties["message_id"] == "m-1"


# -- batch consumers ---------------------------------------------------------------------------------------

BATCHES: list[list[str]] = []  # the event ids of each call of the batch handler below
POISON: set[str] = set()  # case ids the handler below always fails on


class BatchRouting(DoorstepService):
    """Routing with a batch consumer that fails every batch holding a poisoned case."""

    name = "routing"
    uow = UnitOfWorkProvider(RoutingUnitOfWork)

    @consume("intake", "case.accepted.v1", batch=True)
    def take_batch(self, events):
        BATCHES.append([event.id for event in events])
        with self.uow as uow:
            unit = Unit("shixin-pm", "物业", "property-company")
            for event in uow.unhandled(events):
                if event.data["case_id"] in POISON:
                    raise RuntimeError(f"case {event.data['case_id']} breaks the handler")
                uow.assignments.add(assign(event.data["case_id"], "shixin", Decision(unit, "test", "test"), utcnow()))
            uow.commit()


def _queue_waiting(amqp_url, events):
    """Declare the batch consumer's queue (as nameko will) and put ``events`` in it before the service starts,
    so that they are waiting together when its consumer comes up."""
    with kombu.Connection(amqp_url) as conn:
        exchange = kombu.Exchange("intake.events", "topic", durable=True)
        queue = kombu.Queue("evt-intake-case.accepted.v1--routing.take_batch", exchange,
                            routing_key="case.accepted.v1", durable=True, auto_delete=False, channel=conn.channel())
        queue.declare()
    for event in events:
        publish_event(amqp_url, event)


def test_batch_consumer_handles_waiting_events_together_and_each_once(infra_settings, start_services):
    BATCHES.clear()
    events = [accepted_event() for _ in range(30)]
    redelivered = events[:5]  # delivered twice, in the same batch or in another
    _queue_waiting(infra_settings.broker_uri, events + redelivered)
    labels = {"service": "routing", "consumer": "routing.take_batch", "type": "doorstep.intake.case.accepted.v1"}
    handled = CounterSince(CONSUMED, **labels, outcome="handled")
    duplicates = CounterSince(CONSUMED, **labels, outcome="duplicate")
    settings, _ = start_services(infra_settings, service_class=BatchRouting)

    # All 35 messages settled: each event handled once, each copy taken as a duplicate.
    wait_for(lambda: (handled(), duplicates()) == (30, 5), message="30 events handled and 5 copies absorbed")
    assert max(map(len, BATCHES)) > 1  # the waiting events were taken together ...
    assert max(map(len, BATCHES)) <= settings.consumer_batch_size  # ... up to the batch size
    assert count_rows(settings, "routing", "assignments") == 30
    assert count_rows(settings, "routing", "inbox") == 30  # each event recorded once: the copies had no effect


def test_a_poisoned_batch_is_handled_again_event_by_event_and_only_the_poison_is_dead_lettered(
        infra_settings, start_services):
    BATCHES.clear()
    events = [accepted_event() for _ in range(12)]
    poison = events[5]
    POISON.add(poison.data["case_id"])
    _queue_waiting(infra_settings.broker_uri, events)
    settings, _ = start_services(infra_settings.replace(handler_backoff_s=0.05),
                                 service_class=BatchRouting)

    dead = wait_for(lambda: drain_queue(settings.broker_uri, "routing.dead-letter", timeout=0.5),
                    message="the poisoned event dead-lettered")
    assert [json.loads(body)["id"] for _, body in dead] == [poison.id]
    assert dead[0][0]["x-attempts"] == settings.handler_attempts  # its own attempts, alone
    assert "breaks the handler" in dead[0][0]["x-error"]
    wait_for(lambda: count_rows(settings, "routing", "assignments") == 11, message="the 11 others handled")
    assert count_rows(settings, "routing", "inbox") == 11
    assert any(len(batch) > 1 and poison.id in batch for batch in BATCHES)  # it failed a batch first
    assert [batch for batch in BATCHES if batch == [poison.id]]  # and then alone


def test_batch_consumer_with_batch_size_one_gets_lists_of_one(infra_settings, start_services):
    """As nameko's event_handler delivers (the pipeline benchmark's stock variant runs so)."""
    BATCHES.clear()
    events = [accepted_event() for _ in range(8)]
    _queue_waiting(infra_settings.broker_uri, events)
    settings, _ = start_services(infra_settings.replace(consumer_batch_size=1),
                                 service_class=BatchRouting)
    wait_for(lambda: count_rows(settings, "routing", "assignments") == 8, message="8 assignments")
    assert sorted(map(len, BATCHES)) == [1] * 8
