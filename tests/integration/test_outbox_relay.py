"""The transactional outbox and its relay on the real broker and PostgreSQL."""
import json
import uuid

import kombu
import pytest
import sqlalchemy as sa

from shared.broker import ConfirmingPublisher, PublishError
from shared.db import engine_for
from shared.events import SchemaViolation
from shared.outbox import Relay
from services.intake.persistence import IntakeUnitOfWork
from sqlalchemy.orm import sessionmaker
from support.broker import drain_queue
from support.events import emit, accepted_events_in_outbox
from support.waiting import count_rows


def status_event_data(case_id):
    return {"case_id": case_id, "status": "routed", "previous_status": "submitted",
            "changed_at": "2026-11-23T08:00:00+00:00"}


def make_uow(settings):
    engine = engine_for(settings.db_url("intake"))
    return IntakeUnitOfWork(sessionmaker(engine), settings.street)


def bind_subscriber_queue(amqp_url, name="subscriber"):
    """A plain AMQP subscriber (no nameko) bound to every event of intake."""
    with kombu.Connection(amqp_url) as conn:
        exchange = kombu.Exchange("intake.events", "topic", durable=True)
        kombu.Queue(name, exchange, routing_key="#", durable=True)(conn.default_channel).declare()
    return name


def test_state_change_and_event_commit_together_or_not_at_all(infra_settings):
    uow = make_uow(infra_settings)
    with uow:
        emit(uow, "doorstep.intake.case.status_changed.v1", subject="case/1", data=status_event_data(str(uuid.uuid4())))
        # no commit: leaving the block rolls back
    assert count_rows(infra_settings, "intake", "outbox") == 0

    with uow:
        emit(uow, "doorstep.intake.case.status_changed.v1", subject="case/1", data=status_event_data(str(uuid.uuid4())))
        uow.commit()
    assert count_rows(infra_settings, "intake", "outbox") == 1


def test_publishing_data_that_breaks_its_schema_raises(infra_settings):
    uow = make_uow(infra_settings)
    with uow, pytest.raises(SchemaViolation, match="status"):
        emit(uow, "doorstep.intake.case.status_changed.v1", subject="case/1", data={"case_id": str(uuid.uuid4())})
    # a phone number typed into free text is not refused: it goes to the outbox masked
    with uow:
        data = {**status_event_data(str(uuid.uuid4())), "reason": "resident 13812345678 asked"}
        emit(uow, "doorstep.intake.case.status_changed.v1", subject="case/1", data=data)
        uow.commit()
    with engine_for(infra_settings.db_url("intake")).connect() as conn:
        body = conn.execute(sa.text("SELECT body FROM outbox")).scalar_one()
    assert "resident 138****5678 asked" in body and "13812345678" not in body


def test_relay_publishes_in_order_with_confirms_and_marks_only_confirmed_rows(infra_settings):
    queue = bind_subscriber_queue(infra_settings.broker_uri)
    ids = accepted_events_in_outbox(infra_settings, count=25)

    engine = engine_for(infra_settings.db_url("intake"))
    relay = Relay("intake", engine, ConfirmingPublisher(infra_settings.broker_uri), batch_size=10)
    assert relay.drain() == 25
    assert count_rows(infra_settings, "intake", "outbox", "published_at IS NULL") == 0

    received = drain_queue(infra_settings.broker_uri, queue)
    assert [json.loads(body)["id"] for _, body in received] == ids
    # Published rows are kept for replay.
    assert count_rows(infra_settings, "intake", "outbox") == 25


class RefusingPublisher:
    """The broker nacks every other message (e.g. a queue over its length limit with reject-publish)."""

    def __init__(self, real):
        self.real = real

    def publish(self, messages):
        confirmed = self.real.publish(messages)
        return [ok and i % 2 == 0 for i, ok in enumerate(confirmed)]


def test_unconfirmed_rows_stay_pending_and_go_out_on_the_next_pass(infra_settings):
    accepted_events_in_outbox(infra_settings, count=4)
    engine = engine_for(infra_settings.db_url("intake"))
    real = ConfirmingPublisher(infra_settings.broker_uri)
    assert Relay("intake", engine, RefusingPublisher(real)).relay_once() == 2
    assert count_rows(infra_settings, "intake", "outbox", "published_at IS NULL") == 2
    assert Relay("intake", engine, real).relay_once() == 2
    assert count_rows(infra_settings, "intake", "outbox", "published_at IS NULL") == 0


def test_relay_survives_an_unreachable_broker_and_resumes(infra_settings):
    accepted_events_in_outbox(infra_settings, count=1)
    engine = engine_for(infra_settings.db_url("intake"))
    dead = Relay("intake", engine, ConfirmingPublisher("amqp://guest:guest@127.0.0.1:1/"))
    with pytest.raises(PublishError, match="cannot reach the broker"):
        dead.relay_once()
    assert count_rows(infra_settings, "intake", "outbox", "published_at IS NULL") == 1  # nothing marked
    assert Relay("intake", engine, ConfirmingPublisher(infra_settings.broker_uri)).relay_once() == 1


def test_two_relays_side_by_side_never_publish_a_row_twice(infra_settings):
    """Replicas of a service relay the same outbox; SKIP LOCKED hands each row to one of them."""
    import eventlet

    queue = bind_subscriber_queue(infra_settings.broker_uri)
    accepted_events_in_outbox(infra_settings, count=300)
    engine = engine_for(infra_settings.db_url("intake"))
    relays = [Relay("intake", engine, ConfirmingPublisher(infra_settings.broker_uri), batch_size=20) for _ in range(3)]
    totals = [gt.wait() for gt in [eventlet.spawn(r.drain) for r in relays]]
    assert sum(totals) == 300
    received = drain_queue(infra_settings.broker_uri, queue)
    ids = [json.loads(body)["id"] for _, body in received]
    assert len(ids) == 300 and len(set(ids)) == 300


def test_a_batch_goes_to_the_socket_in_one_write_and_every_message_is_confirmed(infra_settings):
    from shared.broker import OutgoingMessage

    queue = bind_subscriber_queue(infra_settings.broker_uri)
    publisher = ConfirmingPublisher(infra_settings.broker_uri)
    publisher.ensure_exchange("intake.events")  # connected, and the exchange declared
    transport = publisher._conn.connection.transport
    writes = []
    send = transport._write
    transport._write = lambda data: (writes.append(len(data)), send(data))

    messages = [OutgoingMessage("intake.events", "case.status_changed.v1", json.dumps({"n": i}).encode(), f"m-{i}")
                for i in range(50)]
    assert publisher.publish(messages) == [True] * 50
    assert len(writes) == 1  # method, header and body frames of all 50 messages together
    received = drain_queue(infra_settings.broker_uri, queue)
    assert [json.loads(body)["n"] for _, body in received] == list(range(50))
    publisher.close()


def test_rows_published_from_memory_are_marked_sent_together_and_before_the_poll_would_take_them(
        infra_settings, start_services):

    from support.waiting import wait_for
    from shared.outbox import OutboxRelay

    # A grace longer than the test: only the in-memory path can publish and mark these rows.
    settings, (container,) = start_services(infra_settings.replace(relay_grace_s=60.0), ["intake"])
    queue = bind_subscriber_queue(settings.broker_uri)
    relay = next(e for e in container.extensions if isinstance(e, OutboxRelay))
    marks = []
    mark = relay.relay.mark_published
    relay.relay.mark_published = lambda ids: (marks.append(len(ids)), mark(ids))

    uow = IntakeUnitOfWork(sessionmaker(engine_for(settings.db_url("intake"))), settings.street,
                           on_commit=relay.wake)  # as the service's units hand over what they commit
    for _ in range(20):
        with uow:
            emit(uow, "doorstep.intake.case.status_changed.v1", subject="case/x", data=status_event_data(str(uuid.uuid4())))
            uow.commit()
    # Well within the grace, so that no poll could have taken them.
    wait_for(lambda: count_rows(settings, "intake", "outbox", "published_at IS NULL") == 0,
             timeout=settings.relay_grace_s / 2, message="all rows marked sent")
    assert sum(marks) == 20 and len(marks) < 20  # one UPDATE for many publishes
    assert len(drain_queue(settings.broker_uri, queue)) == 20  # each published once


def test_every_service_declares_its_exchange_at_start_up(infra_settings, start_services):
    """A district system can bind its queue before the first event of a service that has published nothing."""
    from support.waiting import wait_for

    start_services(infra_settings, ["notify", "funds"])

    def declared(name):
        with kombu.Connection(infra_settings.broker_uri) as conn:
            try:
                conn.default_channel.exchange_declare(exchange=name, type="topic", passive=True)
                return True
            except Exception:
                return False

    for exchange in ("notify.events", "funds.events"):
        wait_for(lambda: declared(exchange), timeout=10, message=f"{exchange} declared")
    assert count_rows(infra_settings, "notify", "outbox") == 0  # nothing was published to declare it
