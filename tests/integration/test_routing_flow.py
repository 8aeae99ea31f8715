"""Routing on the real broker and PostgreSQL: co-handling to one merged answer over HTTP, the transfer limit,
return and arbitration, the decision explained by API and CLI, and escalation exactly once with two timer
replicas and redelivered events."""
import json
import uuid
from datetime import timedelta

import eventlet
import kombu
import pytest
import requests
from click.testing import CliRunner
from nameko.timer import timer
from sqlalchemy.orm import sessionmaker

from shared.auth import Principal, TokenFile
from shared.config import load_settings
from shared.db import engine_for, utcnow
from shared.events import new_event
from services.routing import metrics
from services.routing.domain.directory import default_directory
from services.routing.handlers.assignments import report_result, sign_assignment
from services.routing.handlers.cases import route_case
from services.routing.handlers.deadlines import check_deadlines
from services.routing.persistence import RoutingUnitOfWork
from services.routing.service import RoutingService
from shared.workdays import SHANGHAI, add_working_days
from support.broker import drain_queue
from support.events import accepted_data
from support.http import base_url
from support.waiting import CounterSince, Ticks, count_rows, wait_for

ADMIN = Principal("t-admin", "admin", "")


@pytest.fixture
def routing_settings(pg_databases, amqp_url, tmp_path):
    """Like ``infra_settings``, with only routing's database migrated: these tests start routing alone."""
    from doorstep import runner

    settings = load_settings(environ={}, broker_uri=amqp_url, db_template=pg_databases,
                             tokens_file=str(tmp_path / "tokens.yaml"), data_dir=str(tmp_path / "var"),
                             handler_backoff_s=0.05, relay_poll_s=0.05)
    runner.migrate(settings, ["routing"])
    return settings


def publish(amqp_url, envelope):
    exchange = kombu.Exchange(f"{envelope.service}.events", "topic", durable=True)
    with kombu.Connection(amqp_url) as conn:
        conn.Producer().publish(envelope.to_json(), exchange=exchange, routing_key=envelope.routing_key,
                                content_type="application/json", content_encoding="utf-8", declare=[exchange],
                                message_id=envelope.id)


def accepted(**data):
    data = accepted_data(**data)
    return new_event("doorstep.intake.case.accepted.v1", street="lujiazui", subject=f"case/{data['case_id']}",
                     data=data)


def tap(amqp_url, name="test-tap"):
    """A queue bound to everything routing publishes, as another district system would bind."""
    with kombu.Connection(amqp_url) as conn:
        queue = kombu.Queue(name, kombu.Exchange("routing.events", "topic", durable=True), routing_key="#",
                            durable=True, channel=conn.channel())
        queue.declare()
    return name


def uow_for(settings):
    return RoutingUnitOfWork(sessionmaker(engine_for(settings.db_url("routing")), expire_on_commit=False),
                             settings.street)


def outbox_events(settings, type_suffix):
    with engine_for(settings.db_url("routing")).connect() as conn:
        from shared.messaging_tables import outbox
        rows = conn.execute(outbox.select().where(outbox.c.type == f"doorstep.routing.{type_suffix}")
                            .order_by(outbox.c.position)).mappings().all()
    return [json.loads(row["body"])["data"] for row in rows]


class Api:
    def __init__(self, settings):
        self.base = base_url(settings, "routing")
        self.tokens = TokenFile(settings.tokens_file)
        self._cache = {}

    def token(self, role, label=""):
        if (role, label) not in self._cache:
            self._cache[(role, label)] = self.tokens.create(role, label=label)[0]
        return self._cache[(role, label)]

    def call(self, method, path, *, unit=None, role="handler", body=None):
        token = self.token(role, f"unit:{unit}" if unit else "")
        return requests.request(method, self.base + path, json=body, timeout=10,
                                headers={"Authorization": f"Bearer {token}"})


def test_co_handled_case_resolves_with_one_merged_answer_and_the_decision_is_explained(
        routing_settings, start_services):
    tap(routing_settings.broker_uri)
    settings, _ = start_services(routing_settings, ["routing"])
    api = Api(settings)
    first_day = shanghai_today()  # scores are over Shanghai dates; the test may run across midnight there
    event = accepted(matter_code="water-leak-repair", category="property", time_limit_days=3)
    case_id = event.data["case_id"]
    publish(settings.broker_uri, event)
    wait_for(lambda: count_rows(settings, "routing", "assignments") == 2, message="lead and assist dispatched")

    decision = api.call("GET", f"/routing/cases/{case_id}/decision", role="counter").json()
    assert decision["rule"] == "water-leak-pm-with-rc" and decision["lead_unit"] == "shixin-pm"
    assert "渗漏水涉及邻里" in decision["reason"]
    assert decision["explanation"][0] == {"rule": "property-repair-to-pm", "matched": False, "failed": {
        "condition": "matter_code", "actual": "water-leak-repair",
        "expected": ["property-repair", "stairwell-light-repair", "elevator-fault", "pipe-blockage",
                     "entrance-door-repair"]}}
    lead = next(a for a in decision["assignments"] if a["role"] == "lead")
    assist = next(a for a in decision["assignments"] if a["role"] == "assist")
    assert (assist["unit_code"], assist["required"]) == ("shixin-rc", True)

    # Only the unit's own handler (or an admin) may act; the refusal is a problem+json.
    refused = api.call("POST", f"/routing/assignments/{lead['id']}/sign", unit="shixin-rc")
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "shixin-pm" in refused.json()["detail"]
    assert api.call("POST", f"/routing/assignments/{lead['id']}/sign", role="counter").status_code == 403

    signed = api.call("POST", f"/routing/assignments/{lead['id']}/sign", unit="shixin-pm")
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed" and signed.json()["due_at"]
    assert api.call("POST", f"/routing/assignments/{lead['id']}/sign", unit="shixin-pm").status_code == 409
    assert api.call("POST", f"/routing/assignments/{lead['id']}/contact", unit="shixin-pm").json()[
        "status"] == "in_progress"
    empty = api.call("POST", f"/routing/assignments/{lead['id']}/report", unit="shixin-pm", body={"answer": ""})
    assert empty.status_code == 400 and empty.json()["invalid_params"][0]["name"] == "answer"
    first = api.call("POST", f"/routing/assignments/{lead['id']}/report", unit="shixin-pm",
                     body={"answer": "已更换楼上渗漏水管"}).json()
    assert first["case_status"] == "open"  # the required assist is not done yet
    assert outbox_events(settings, "case.resolved.v1") == []

    api.call("POST", f"/routing/assignments/{assist['id']}/sign", unit="shixin-rc")
    done = api.call("POST", f"/routing/assignments/{assist['id']}/report", unit="shixin-rc",
                    body={"answer": "已协调楼上住户配合入户"}).json()
    assert done["case_status"] == "resolved"
    resolved = outbox_events(settings, "case.resolved.v1")
    assert len(resolved) == 1
    assert resolved[0]["answer"] == "已更换楼上渗漏水管\n【协办 市新居民区居委会】已协调楼上住户配合入户"
    assert resolved[0]["lead_unit"] == "shixin-pm" and resolved[0]["assisting_units"] == ["shixin-rc"]

    # Worklists: filterable, paginated, refused to other units, clear about bad parameters.
    closed = api.call("GET", "/routing/units/shixin-pm/assignments?state=closed&per_page=1", unit="shixin-pm")
    assert closed.json()["total"] == 1 and closed.json()["items"][0]["id"] == lead["id"]
    assert api.call("GET", "/routing/units/shixin-pm/assignments", unit="shixin-pm").json()["total"] == 0
    assert api.call("GET", "/routing/units/shixin-pm/assignments", unit="shixin-rc").status_code == 403
    bad = api.call("GET", "/routing/units/shixin-pm/assignments?state=someday", unit="shixin-pm")
    assert bad.status_code == 400 and bad.json()["invalid_params"][0]["name"] == "state"

    scores = api.call("GET", f"/routing/units/shixin-pm/scores?from={first_day}&to={shanghai_today()}",
                      role="auditor").json()
    assert scores["resolution_rate"] == 1.0 and scores["response_rate"] == 1.0
    assert api.call("GET", "/routing/units/shixin-pm/scores?from=yesterday&to=2026-01-01",
                    role="auditor").json()["invalid_params"][0]["name"] == "from"

    # Operators' dashboards: per-unit series, labelled by unit code only.
    exposition = requests.get(f"{api.base}/metrics", timeout=10).text
    assert 'doorstep_routing_time_to_sign_seconds_count{unit="shixin-rc"}' in exposition
    assert 'doorstep_routing_time_to_resolve_seconds_count{unit="shixin-pm"}' in exposition
    assert case_id not in exposition

    # The same explanation on the command line.
    from doorstep.cli import main
    result = CliRunner().invoke(main, ["routing", "explain", case_id, "--db", settings.db_template])
    assert result.exit_code == 0, result.output
    assert "rule:  water-leak-pm-with-rc" in result.output
    assert "✗ property-repair-to-pm: matter_code is 'water-leak-repair'" in result.output
    assert "resolved, lead shixin-pm" in result.output
    missing = CliRunner().invoke(main, ["routing", "explain", str(uuid.uuid4()), "--db", settings.db_template])
    assert missing.exit_code != 0 and "no routing decision" in missing.output

    # Every step went out on the wire, schema-valid, for intake, notify and the district's systems.
    types = set()
    wait_for(lambda: types.update(json.loads(body)["type"] for _, body in drain_queue(settings.broker_uri,
                                                                                      "test-tap", 0.2))
             or {"doorstep.routing.case.resolved.v1"} <= types, message="events on the broker")
    assert {"doorstep.routing.case.routed.v1", "doorstep.routing.assignment.signed.v1",
            "doorstep.routing.assignment.contacted.v1", "doorstep.routing.assignment.reported.v1",
            "doorstep.routing.case.resolved.v1"} <= types


def test_transfer_limit_escalates_and_a_return_is_arbitrated_and_re_dispatched(routing_settings, start_services):
    settings, _ = start_services(routing_settings, ["routing"])
    api = Api(settings)
    event = accepted()  # property-repair in 市新 → 物业
    case_id = event.data["case_id"]
    publish(settings.broker_uri, event)
    wait_for(lambda: count_rows(settings, "routing", "assignments") == 1, message="routed")

    def lead():
        found = api.call("GET", f"/routing/cases/{case_id}/decision", role="admin").json()["assignments"]
        return [a for a in found if a["status"] in ("dispatched", "signed", "in_progress")][-1]

    hops = [("shixin-pm", "shixin-oc", "涉及业主共有部分, 业委会决定"), ("shixin-oc", "shixin-rc", "需居委会协调")]
    for holder, target, reason in hops:
        moved = api.call("POST", f"/routing/assignments/{lead()['id']}/transfer", unit=holder,
                         body={"to_unit": target, "reason": reason})
        assert moved.json()["outcome"] == "transferred", moved.text
    assert lead()["unit_code"] == "shixin-rc"

    # The third transfer would pass the limit of 2: escalated to the rule's first supervisor instead, once.
    for _ in range(2):
        refused = api.call("POST", f"/routing/assignments/{lead()['id']}/transfer", unit="shixin-rc",
                           body={"to_unit": "shixin-pm", "reason": "还是物业的事"}).json()
        assert refused["outcome"] == "escalated" and refused["escalated_to"] == "housing-office"
    assert lead()["unit_code"] == "shixin-rc"
    escalated = outbox_events(settings, "case.escalated.v1")
    assert [(e["reason"], e["to_unit"], e["level"]) for e in escalated] == [("transfer-limit", "housing-office", 1)]
    transferred = outbox_events(settings, "assignment.transferred.v1")
    assert [(t["from_unit"], t["to_unit"], t["transfers"]) for t in transferred] == [
        ("shixin-pm", "shixin-oc", 1), ("shixin-oc", "shixin-rc", 2)]

    assert metrics.TRANSFERS.labels("shixin-pm")._value.get() >= 1
    assert metrics.ESCALATIONS.labels("shixin-rc", "transfer-limit")._value.get() >= 1

    # 退单: a reason code is required; the case waits for the operations centre.
    wrong = api.call("POST", f"/routing/assignments/{lead()['id']}/return", unit="shixin-rc",
                     body={"reason_code": "not-ours"})
    assert wrong.status_code == 400 and wrong.json()["invalid_params"][0]["name"] == "reason_code"
    returned = api.call("POST", f"/routing/assignments/{lead()['id']}/return", unit="shixin-rc",
                        body={"reason_code": "wrong-area", "note": "楼栋属梅园"}).json()
    assert returned == {"case_id": case_id, "status": "arbitration", "arbitration_unit": "ops-centre"}
    assert outbox_events(settings, "assignment.returned.v1")[0]["reason_code"] == "wrong-area"

    waiting = api.call("GET", "/routing/units/ops-centre/assignments?state=arbitration", unit="ops-centre").json()
    assert [a["case_id"] for a in waiting["items"]] == [case_id]
    assert api.call("GET", "/routing/units/shixin-rc/assignments?state=arbitration",
                    unit="shixin-rc").status_code == 400

    body = {"unit": "meiyuan-rc", "decision": "楼栋属梅园居民区, 由梅园居委会暂代业委会处理"}
    assert api.call("POST", f"/routing/cases/{case_id}/arbitrate", unit="shixin-rc",
                    body=body).status_code == 403
    arbitrated = api.call("POST", f"/routing/cases/{case_id}/arbitrate", unit="ops-centre", body=body)
    assert arbitrated.status_code == 200, arbitrated.text
    assert arbitrated.json()["assignment"]["unit_code"] == "meiyuan-rc"
    assert api.call("POST", f"/routing/cases/{case_id}/arbitrate", unit="ops-centre",
                    body=body).status_code == 409  # decided once

    decision = api.call("GET", f"/routing/cases/{case_id}/decision", role="counter").json()
    assert decision["status"] == "open" and decision["lead_unit"] == "meiyuan-rc"
    assert [h["action"] for h in decision["history"]] == [
        "transfer", "transfer", "escalation", "transfer-refused", "return", "arbitration"]
    assert decision["history"][-1]["decision"] == body["decision"]
    assert outbox_events(settings, "case.arbitrated.v1")[0]["unit"] == "meiyuan-rc"
    assert api.call("GET", "/routing/units/meiyuan-rc/assignments", unit="meiyuan-rc").json()["total"] == 1


def shanghai_today() -> str:
    return utcnow().astimezone(SHANGHAI).date().isoformat()


def fast_timer_routing(ticks: Ticks):
    """A replica of routing with its deadline timer ticking every 0.1 s, each pass counted in ``ticks``, to
    watch two replicas race."""

    class FastTimerRouting(RoutingService):
        @timer(interval=0.1)
        def deadline_timer(self):
            check_deadlines(lambda: self.uow, self.directory)
            ticks.tick()

    return FastTimerRouting


def test_reminder_and_escalation_happen_once_per_breach_across_replicas_and_redelivery(
        routing_settings, start_services):
    settings = routing_settings
    directory = default_directory()
    long_ago = utcnow() - timedelta(days=40)

    def route(**data):
        event = accepted(**data)
        route_case(event, uow_for(settings), directory, now=long_ago)
        with uow_for(settings) as uow:
            return uow.assignments.for_case(event.data["case_id"])[0]

    # Two timers in one process, started together on the same overdue (never signed) assignment.
    unsigned = route()
    runs = [eventlet.spawn(check_deadlines, lambda: uow_for(settings), directory) for _ in range(4)]
    done = [step for run in runs for step in run.wait()]
    assert sorted(step for _, _, step in done) == ["escalate", "remind"]
    assert count_rows(settings, "routing", "breach_steps") == 2
    assert [r["clock"] for r in outbox_events(settings, "assignment.reminded.v1")] == ["sign"]
    assert [(e["reason"], e["to_unit"]) for e in outbox_events(settings, "case.escalated.v1")] == [
        ("sign-overdue", "housing-office")]

    # A signed assignment past its handling deadline, then two replicas of the service racing on their timers.
    signed = route(matter_code="property-fee-dispute")  # → 业委会, escalation chain [房管办]
    sign_assignment(signed.id, ADMIN, uow_for(settings), directory, now=long_ago + timedelta(minutes=5))
    replicas = [Ticks(), Ticks()]
    for ticks in replicas:
        start_services(settings, service_class=fast_timer_routing(ticks))
    # Signed but never in touch with the resident: first contact and handling reminded, handling escalated.
    wait_for(lambda: count_rows(settings, "routing", "breach_steps") == 5, message="the second breach acted on")
    for ticks in replicas:  # ten more passes on each replica find nothing more to do
        ticks.wait_for_more(10, message="replica's deadline timer")
    assert count_rows(settings, "routing", "breach_steps") == 5
    reminded = outbox_events(settings, "assignment.reminded.v1")
    assert sorted((r["assignment_id"], r["clock"]) for r in reminded) == sorted(
        [(unsigned.id, "sign"), (signed.id, "contact"), (signed.id, "handle")])
    escalated = outbox_events(settings, "case.escalated.v1")
    assert sorted((e["assignment_id"], e["reason"]) for e in escalated) == sorted(
        [(unsigned.id, "sign-overdue"), (signed.id, "handle-overdue")])
    with uow_for(settings) as uow:
        assert uow.assignments.get(signed.id).escalated_to == "housing-office"
        assert uow.cases.get(signed.case_id).escalations == 1

    # The resident rejects the answer: the warning case, delivered three times, is re-dispatched once.
    report_result(signed.id, "已调解", ADMIN, uow_for(settings), directory, now=utcnow())
    reopened = new_event("doorstep.intake.case.reopened.v1", street="lujiazui", subject=f"case/{signed.case_id}",
                         data={"case_id": signed.case_id, "rating": "dissatisfied", "reason": "物业费仍按原标准收取",
                               "reopened_at": utcnow().isoformat()})
    duplicates = CounterSince("doorstep_events_consumed_total", service="routing",
                              consumer="routing.on_case_reopened", type=reopened.type, outcome="duplicate")
    for _ in range(3):
        publish(settings.broker_uri, reopened)
    wait_for(lambda: count_rows(settings, "routing", "inbox",
                                "event_type = 'doorstep.intake.case.reopened.v1'") == 1, message="reopened handled")
    wait_for(lambda: duplicates() == 2, message="the two redeliveries absorbed by the inbox")
    warning = [r for r in outbox_events(settings, "case.routed.v1") if r.get("dispatch") == "warning"]
    assert len(warning) == 1
    assert warning[0]["unit"]["code"] == "shixin-oc" and "物业费仍按原标准收取" in warning[0]["reason"]
    with uow_for(settings) as uow:
        newest = uow.assignments.for_case(signed.case_id)[-1]
        case = uow.cases.get(signed.case_id)
    assert newest.rule == "warning" and newest.unit_code == "shixin-oc"
    assert newest.due_at == add_working_days(datetime_from(reopened.data["reopened_at"]), 3)
    assert case.warning and case.status == "open"


def datetime_from(text):
    from datetime import datetime
    return datetime.fromisoformat(text)
