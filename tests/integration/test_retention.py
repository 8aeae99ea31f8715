"""Retention on PostgreSQL: a pass of each service handles what is past its time and nothing else, a batch at a
time, and issues the same statements for 3 records due as for 300 (a street keeps years of history: the cost
of a pass must not grow with it)."""
import contextlib
import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from doorstep import runner
from shared.config import load_settings
from shared.db import engine_for, update_rows
from shared.personal_data import REDACTED
from services.intake.catalog import default_catalog
from services.intake.handlers.retention import apply_retention as intake_pass
from services.intake.persistence import IntakeUnitOfWork
from services.notify.handlers.privacy import apply_retention as notify_pass
from services.notify.persistence import NotifyUnitOfWork
from services.routing.handlers.erasure import apply_retention as routing_pass
from services.routing.persistence import RoutingUnitOfWork
from support.retention import seed_intake, seed_notify, seed_routing

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings(pg_databases, tmp_path):
    settings = load_settings(environ={}, db_template=pg_databases, data_dir=str(tmp_path), retention_batch_size=1000)
    runner.migrate(settings, ["intake", "routing", "notify"])
    return settings


@contextlib.contextmanager
def statements(url):
    """The statements sent to the database meanwhile (an executemany counts once: it is one statement)."""
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement.split()[0] + " " + " ".join(w for w in statement.split()[1:4]))

    engine = engine_for(url)
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def bounded(url, seed, run_pass, handled, most):
    """Seed 3 records of each kind and pass, then 300 and pass: each pass handles them all (``handled(n)``) with
    the same statements, at most ``most``; returns both seeds."""
    seeds, sent = [], []
    for n in (3, 300):
        seeds.append(seed(n))
        with statements(url) as this:
            assert run_pass() == handled(n)
        sent.append(this)
    assert sent[0] == sent[1] and len(sent[0]) <= most, sent
    return seeds


def uow_factory(settings, service, uow_class):
    return lambda: uow_class(sessionmaker(engine_for(settings.db_url(service)), expire_on_commit=False),
                             settings.street)


def rows(settings, service, query, **params):
    with engine_for(settings.db_url(service)).connect() as conn:
        return conn.execute(sa.text(query), params).mappings().all()


def test_intake_pass_redacts_old_cases_erases_inactive_residents_deletes_old_bookings_in_bounded_statements(
        settings):
    url, catalog = settings.db_url("intake"), default_catalog()
    new_uow = uow_factory(settings, "intake", IntakeUnitOfWork)
    few, many = bounded(url, lambda n: seed_intake(url, n, NOW, tag=len(str(n))),
                        lambda: intake_pass(new_uow, settings, catalog, NOW),
                        lambda n: {"cases": 2 * n, "residents": n, "appointments": n}, most=12)

    # What was due is redacted, pseudonymised or gone; the rest is as it was.
    due_cases = few["cases"] + many["cases"]
    cases = rows(settings, "intake", "SELECT id, description, answer, reporter, attributes, redacted_at FROM cases")
    for case in cases:
        if case["id"] in due_cases:
            assert (case["description"], case["answer"], case["reporter"]) == (REDACTED,) * 3
            assert case["attributes"] == {"location": "stairwell"} and case["redacted_at"] == NOW
        else:
            assert case["description"] == "王秀英家楼道灯不亮" and case["redacted_at"] is None
    notes = rows(settings, "intake", "SELECT case_id, status, note FROM case_history WHERE status <> 'submitted'")
    assert all((n["note"] == REDACTED) == (n["case_id"] in due_cases) for n in notes)
    residents = rows(settings, "intake", "SELECT id, name, phone, erased_at FROM residents")
    erased = {r["id"] for r in residents if r["erased_at"] == NOW and r["phone"] is None}
    assert erased == set(few["residents"] + many["residents"])
    assert [r["name"] for r in residents if r["id"] in few["kept_resident"]] == ["王秀英"]
    assert {r["id"] for r in rows(settings, "intake", "SELECT id FROM appointments")} == set(
        few["kept_appointments"] + many["kept_appointments"])
    # Each inactive resident is announced as erased for retention, with their case.
    announced = [json.loads(r["body"])["data"] for r in rows(
        settings, "intake", "SELECT body FROM outbox WHERE type = 'doorstep.intake.resident.erased.v1'")]
    assert len(announced) == 303 and {a["reason"] for a in announced} == {"retention"}
    assert all(len(a["case_ids"]) == 1 and a["case_ids"][0] in due_cases for a in announced)

    # Nothing left: a pass finds nothing, and changes nothing.
    assert intake_pass(new_uow, settings, catalog, NOW) == {"cases": 0, "residents": 0, "appointments": 0}


def test_intake_pass_takes_one_batch_per_kind(settings):
    url = settings.db_url("intake")
    new_uow = uow_factory(settings, "intake", IntakeUnitOfWork)
    seed_intake(url, 120, NOW, tag=3)
    small = settings.replace(retention_batch_size=100)
    assert intake_pass(new_uow, small, default_catalog(), NOW) == {"cases": 100, "residents": 100, "appointments": 100}
    # the oldest first: the cases pass took the inactive residents' cases and the active one's
    assert intake_pass(new_uow, small, default_catalog(), NOW) == {"cases": 100, "residents": 20, "appointments": 20}
    assert intake_pass(new_uow, small, default_catalog(), NOW) == {"cases": 40, "residents": 0, "appointments": 0}


def test_routing_pass_forgets_cases_resolved_long_ago_in_bounded_statements(settings):
    url = settings.db_url("routing")
    new_uow = uow_factory(settings, "routing", RoutingUnitOfWork)
    few, many = bounded(url, lambda n: seed_routing(url, n, NOW), lambda: routing_pass(new_uow, settings, NOW),
                        lambda n: n, most=8)

    due = set(few["cases"] + many["cases"])
    for case in rows(settings, "routing", "SELECT case_id, reason, answer, resident_id, phone_masked, redacted_at "
                                          "FROM routing_cases"):
        forgotten = (case["reason"], case["answer"], case["resident_id"], case["phone_masked"]) == (
            REDACTED, REDACTED, None, None)
        assert forgotten == (case["case_id"] in due) == (case["redacted_at"] == NOW)
    for a in rows(settings, "routing", "SELECT case_id, reason, result, extension_reason, status FROM assignments"):
        assert ((a["reason"], a["result"], a["extension_reason"]) == (REDACTED,) * 3) == (a["case_id"] in due)
        assert a["status"] == "done"
    for entry in rows(settings, "routing", "SELECT case_id, detail FROM case_log"):
        detail = json.loads(entry["detail"])
        assert detail["to_unit"] == "shixin-pm" and (detail["reason"] == REDACTED) == (entry["case_id"] in due)
    assert routing_pass(new_uow, settings, NOW) == 0


def test_notify_pass_redacts_old_messages_in_bounded_statements(settings):
    url = settings.db_url("notify")
    new_uow = uow_factory(settings, "notify", NotifyUnitOfWork)
    few, many = bounded(url, lambda n: seed_notify(url, n, NOW), lambda: notify_pass(new_uow, settings, NOW),
                        lambda n: n, most=5)

    due = set(few["deliveries"] + many["deliveries"])
    for d in rows(settings, "notify", "SELECT id, subject, body, context, address_masked, status, redacted_at "
                                      "FROM deliveries"):
        redacted = (d["subject"], d["body"], d["context"], d["address_masked"]) == (REDACTED, REDACTED, "{}", None)
        assert redacted == (d["id"] in due) == (d["redacted_at"] == NOW)
        assert d["status"] in ("sent", "queued")  # a pass never cancels what is still to be sent
    for a in rows(settings, "notify", "SELECT delivery_id, error FROM delivery_attempts"):
        assert (a["error"] == REDACTED) == (a["delivery_id"] in due)
    assert notify_pass(new_uow, settings, NOW) == 0


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_many_rows_take_their_own_values_in_one_statement(backend, pg_databases, tmp_path):
    """update_rows on both databases, with the types the passes write (text, null, JSON, time)."""
    from services.intake.persistence import cases, residents

    url = pg_databases.format(service="intake") if backend == "postgresql" else f"sqlite:///{tmp_path}/intake.db"
    settings = load_settings(environ={}, databases={"intake": url})
    runner.migrate(settings, ["intake"])
    from support.retention import intake_case, intake_resident

    people = [intake_resident(f"r{i}", f"1390000000{i}", NOW) for i in range(3)]
    filed = [intake_case("r0", "closed", NOW) for _ in range(3)]
    with engine_for(url).begin() as conn:
        conn.execute(residents.insert(), people)
        conn.execute(cases.insert(), filed)
    with statements(url) as sent, sessionmaker(engine_for(url))() as session:
        changed = update_rows(session, cases, "id", [
            {"id": c["id"], "description": f"d{i}", "reporter": "" if i else "x", "attributes": {"n": i},
             "redacted_at": NOW} for i, c in enumerate(filed[:2])])
        session.commit()
    assert changed == 2 and len(sent) == 1
    found = {r["id"]: r for r in rows(settings, "intake", "SELECT id, description, attributes, redacted_at FROM cases")}
    assert [found[c["id"]]["description"] for c in filed] == ["d0", "d1", "王秀英家楼道灯不亮"]
    assert [json.loads(found[c["id"]]["attributes"]) if isinstance(found[c["id"]]["attributes"], str)
            else found[c["id"]]["attributes"] for c in filed[:2]] == [{"n": 0}, {"n": 1}]
    assert found[filed[0]["id"]]["redacted_at"] is not None and found[filed[2]["id"]]["redacted_at"] is None
