"""Commit groups on the real PostgreSQL and broker: units of work running at the same moment share one
transaction, a failing member takes nobody's work with it for good, and a consumer's events stay handled
exactly once."""
import json
import uuid

import eventlet
import requests
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from shared.commit_groups import CommitGroups, GroupAborted
from shared.db import engine_for
from shared.events import new_event
from shared.errors import Conflict
from shared.http import api
from shared.service import DoorstepService, UnitOfWorkProvider
from shared.unit_of_work import AlreadyHandled
from services.intake.persistence import IntakeUnitOfWork
from support.broker import drain_queue, publish_event
from support.doubles import FAILURES, FlakyRouting
from support.events import emit, accepted_event
from support.http import base_url
from support.waiting import count_rows, wait_for


def status_data():
    return {"case_id": str(uuid.uuid4()), "status": "routed", "previous_status": "submitted",
            "changed_at": "2026-11-23T08:00:00+00:00"}


def grouped_units(settings, committed):
    session_factory = sessionmaker(engine_for(settings.db_url("intake")), expire_on_commit=False)
    groups = CommitGroups(session_factory, on_commit=committed.extend)

    def unit(inbox_key=None):
        return IntakeUnitOfWork(session_factory, settings.street, inbox_key, group=groups)

    return unit


def transactions_of_outbox_rows(settings) -> int:
    with engine_for(settings.db_url("intake")).connect() as conn:
        return conn.execute(sa.text("SELECT count(DISTINCT xmin::text) FROM outbox")).scalar()


def test_units_running_together_commit_in_one_transaction(infra_settings):
    committed = []
    unit = grouped_units(infra_settings, committed)

    def handle(i):
        with unit() as uow:
            uow.session.execute(sa.text("SELECT 1"))  # a query, as a handler makes: the others queue meanwhile
            emit(uow, "doorstep.intake.case.status_changed.v1", subject=f"case/{i}", data=status_data())
            uow.commit()
        # commit() returned: the row is committed, as with a unit of its own.
        return count_rows(infra_settings, "intake", "outbox", f"subject = 'case/{i}'")

    seen = [gt.wait() for gt in [eventlet.spawn(handle, i) for i in range(6)]]

    assert seen == [1] * 6
    assert count_rows(infra_settings, "intake", "outbox") == 6
    assert transactions_of_outbox_rows(infra_settings) == 1  # one transaction wrote all six rows
    assert len(committed) == 6  # handed to the relay together, after the commit


def test_a_failing_member_rolls_back_its_group_and_the_others_are_told(infra_settings):
    unit = grouped_units(infra_settings, [])

    def handle(i):
        with unit() as uow:
            uow.session.execute(sa.text("SELECT 1"))
            emit(uow, "doorstep.intake.case.status_changed.v1", subject=f"case/{i}", data=status_data())
            if i == 2:
                raise RuntimeError("this one fails")
            uow.commit()

    outcomes = []
    for gt in [eventlet.spawn(handle, i) for i in range(4)]:
        try:
            gt.wait()
            outcomes.append("committed")
        except GroupAborted:
            outcomes.append("aborted")
        except RuntimeError:
            outcomes.append("failed")

    # Members before the failing one had finished and learn their work was undone; the failing one fails;
    # the one waiting behind it never started in that group and commits in the next.
    assert outcomes == ["aborted", "aborted", "failed", "committed"]
    assert count_rows(infra_settings, "intake", "outbox") == 1


def test_a_duplicate_in_a_group_leaves_the_others_committed(infra_settings):
    unit = grouped_units(infra_settings, [])
    seen_before = new_event("doorstep.intake.case.status_changed.v1", street="lujiazui", subject="case/x",
                            data=status_data())
    with unit(("intake.test", seen_before)) as uow:
        uow.commit()

    def handle(i):
        event = seen_before if i == 1 else new_event("doorstep.intake.case.status_changed.v1", street="lujiazui",
                                                    subject=f"case/{i}", data=status_data())
        try:
            with unit(("intake.test", event)) as uow:
                emit(uow, "doorstep.intake.case.status_changed.v1", subject=f"case/{i}", data=status_data())
                uow.commit()
        except AlreadyHandled:
            return "duplicate"
        return "committed"

    outcomes = [gt.wait() for gt in [eventlet.spawn(handle, i) for i in range(3)]]

    assert outcomes == ["committed", "duplicate", "committed"]
    assert count_rows(infra_settings, "intake", "inbox") == 3
    assert count_rows(infra_settings, "intake", "outbox") == 2


def test_one_poison_event_among_many_is_dead_lettered_alone(infra_settings, start_services):
    settings, _ = start_services(infra_settings, service_class=FlakyRouting)
    events = [accepted_event() for _ in range(8)]
    FAILURES[events[3].id] = 5  # fails every attempt

    # Published back to back, they arrive together and are handled in commit groups.
    for event in events:
        publish_event(settings.broker_uri, event)

    dead = wait_for(lambda: drain_queue(settings.broker_uri, "routing.dead-letter", timeout=0.5),
                    message="dead letter")
    assert [json.loads(body)["id"] for _, body in dead] == [events[3].id]
    assert dead[0][0]["x-attempts"] == 3  # its own three attempts, not more for sharing a group
    wait_for(lambda: count_rows(settings, "routing", "inbox") == 7, message="the other seven handled")
    assert count_rows(settings, "routing", "assignments") == 7


# -- HTTP endpoints with commit_group=True -------------------------------------------------------------------

class GroupedWrites(DoorstepService):
    """An endpoint whose concurrent requests share transactions; a request whose key starts with "fail" fails
    inside its unit of work, after joining a group."""

    name = "intake"
    uow = UnitOfWorkProvider(IntakeUnitOfWork)

    @api("POST", "/grouped/<string:key>", roles=("counter",), commit_group=True)
    def grouped(self, request, key):
        with self.uow as uow:
            uow.session.execute(sa.text("SELECT pg_sleep(0.05)"))  # the others arrive meanwhile and wait
            if key.startswith("fail"):
                raise Conflict("this request cannot be done")
            emit(uow, "doorstep.intake.case.status_changed.v1", subject=f"case/{key}", data=status_data())
            uow.commit()
        return 201, {"key": key}


def _post_all(settings, token, keys):
    url = base_url(settings, "intake")
    headers = {"Authorization": f"Bearer {token}"}
    threads = [eventlet.spawn(requests.post, f"{url}/grouped/{key}", headers=headers, timeout=30) for key in keys]
    return {key: gt.wait() for key, gt in zip(keys, threads)}


def test_requests_arriving_together_share_a_transaction_and_each_is_answered_for_its_own_work(
        infra_settings, start_services, counter_token):
    settings, _ = start_services(infra_settings, service_class=GroupedWrites)
    token = counter_token(settings)

    answers = _post_all(settings, token, [f"ok-{i}" for i in range(8)])
    assert {key: r.status_code for key, r in answers.items()} == {f"ok-{i}": 201 for i in range(8)}
    assert count_rows(settings, "intake", "outbox") == 8
    assert transactions_of_outbox_rows(settings) < 8  # grouped: fewer transactions than requests

    # A failing request rolls its group back: it gets its own error, the others are done again alone.
    answers = _post_all(settings, token, ["a-1", "fail-1", "a-2", "a-3", "fail-2", "a-4"])
    assert {key: r.status_code for key, r in answers.items()} == {
        "a-1": 201, "a-2": 201, "a-3": 201, "a-4": 201, "fail-1": 409, "fail-2": 409}
    assert answers["fail-1"].json()["detail"] == "this request cannot be done"
    for key in ("a-1", "a-2", "a-3", "a-4"):  # each written once
        assert count_rows(settings, "intake", "outbox", f"subject = 'case/{key}'") == 1
    assert count_rows(settings, "intake", "outbox", "subject LIKE 'case/fail%'") == 0
