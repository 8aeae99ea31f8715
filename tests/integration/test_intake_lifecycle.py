"""A case's whole life through intake's API on RabbitMQ and PostgreSQL, with routing routing it for real and
routing's later events (signed, resolved) published as routing publishes them: every step announces itself
with a schema-valid event, and intake's status follows routing."""
import uuid

import kombu
import requests

from shared.events import Envelope, new_event
from support.broker import publish_event
from support.http import base_url, get
from support.waiting import CounterSince, count_rows, wait_for, wait_until_relayed

CASE = {"matter_code": "property-repair", "channel": "online", "kind": "request", "urgency": "urgent",
        "description": "楼道灯不亮", "attributes": {"location": "stairwell"},
        "resident": {"name": "王阿姨", "phone": "13812345678", "area": "shixin", "building": "12", "room": "301"}}


def watch_intake_events(amqp_url) -> str:
    """A queue that receives every event intake publishes, bound before the services start."""
    queue = f"test-intake-watch-{uuid.uuid4().hex[:6]}"
    with kombu.Connection(amqp_url) as conn:
        exchange = kombu.Exchange("intake.events", "topic", durable=True, channel=conn.default_channel)
        exchange.declare()
        kombu.Queue(queue, exchange, routing_key="#", durable=True, channel=conn.default_channel).declare()
    return queue


def received_events(amqp_url, queue, until_type, timeout=15.0):
    """Every event in the queue, parsed and checked against its schema, waiting until ``until_type`` arrives."""
    events = []

    def drained():
        with kombu.Connection(amqp_url) as conn:
            q = kombu.Queue(queue, channel=conn.default_channel)
            while (message := q.get(no_ack=True)) is not None:
                events.append(Envelope.from_json(message.body))  # raises unless envelope and data are valid
        return any(e.type == until_type for e in events)

    wait_for(drained, timeout=timeout, message=f"{until_type} on intake.events")
    return events


class Station:
    def __init__(self, settings, token):
        self.settings, self.headers = settings, {"Authorization": f"Bearer {token}"}

    def post(self, path, body=None):
        return requests.post(f"{base_url(self.settings, 'intake')}{path}", json=body if body is not None else {},
                             headers=self.headers, timeout=10)

    def status(self, case_id):
        return get(self.settings, "intake", f"/intake/cases/{case_id}", self.headers["Authorization"][7:]).json()


def routing_event(type_name, case_id, **data):
    return new_event(type_name, street="lujiazui", subject=f"case/{case_id}", data={"case_id": case_id, **data})


def test_case_lifecycle_over_rabbitmq_and_postgres(infra_settings, start_services, counter_token):
    queue = watch_intake_events(infra_settings.broker_uri)
    settings, _ = start_services(infra_settings, ["intake", "routing"])
    station = Station(settings, counter_token(settings))

    submitted = station.post("/intake/cases", CASE)
    assert submitted.status_code == 201, submitted.text
    case_id = submitted.json()["id"]
    assert submitted.json()["status"] == "submitted"  # online: waits for a worker

    asked = station.post(f"/intake/cases/{case_id}/supplement-request",
                         {"missing_materials": ["房屋产权证明"], "note": "请上传产权证照片"})
    assert asked.status_code == 200, asked.text
    assert asked.json()["missing_materials"] == ["房屋产权证明"]
    assert station.post(f"/intake/cases/{case_id}/accept").status_code == 409  # not before the materials come
    assert station.post(f"/intake/cases/{case_id}/resubmit", {"note": "已上传"}).json()["status"] == "resubmitted"
    assert station.post(f"/intake/cases/{case_id}/accept").json()["status"] == "accepted"

    # Routing routes the accepted case to the property company of 市新居民区; intake follows.
    routed = wait_for(lambda: (c := station.status(case_id))["status"] == "routed" and c, message="routed")
    assert routed["lead_unit"] == "shixin-pm"

    # Routing's next events, as routing publishes them: the lead unit signs, then the case is resolved.
    publish_event(settings.broker_uri, routing_event(
        "doorstep.routing.assignment.signed.v1", case_id, assignment_id=str(uuid.uuid4()), unit="shixin-pm",
        role="lead", signed_at="2026-11-24T01:00:00Z"))
    wait_for(lambda: station.status(case_id)["status"] == "in_progress", message="in progress")
    publish_event(settings.broker_uri, routing_event(
        "doorstep.routing.case.resolved.v1", case_id, lead_unit="shixin-pm", answer="已更换楼道灯",
        resolved_at="2026-11-24T03:00:00Z"))
    resolved = wait_for(lambda: (c := station.status(case_id))["status"] == "resolved" and c, message="resolved")
    assert resolved["answer"] == "已更换楼道灯"

    called = station.post(f"/intake/cases/{case_id}/callback", {"rating": "very_satisfied", "comment": "很快"})
    assert called.json()["status"] == "called_back"
    closed = station.post(f"/intake/cases/{case_id}/close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"

    assert [h["status"] for h in closed.json()["history"]] == [
        "submitted", "supplement_requested", "resubmitted", "accepted", "routed", "in_progress", "resolved",
        "called_back", "closed"]

    events = received_events(settings.broker_uri, queue, "doorstep.intake.case.closed.v1")
    mine = [e for e in events if e.subject == f"case/{case_id}"]
    kinds = [e.type.split(".", 2)[2] for e in mine if "status_changed" not in e.type]
    assert kinds == ["case.submitted.v1", "case.supplement_requested.v1", "case.resubmitted.v1", "case.accepted.v1",
                     "case.callback_recorded.v1", "case.closed.v1"]
    statuses = [e.data["status"] for e in mine if e.type.endswith("status_changed.v1")]
    assert statuses == ["supplement_requested", "resubmitted", "accepted", "routed", "in_progress", "resolved",
                        "called_back", "closed"]
    raw = b"".join(e.to_json() for e in mine).decode()
    assert "13812345678" not in raw and "138****5678" in raw
    # Nothing is left unpublished, and the failed early accept wrote nothing.
    wait_until_relayed(settings, ["intake"])
    assert count_rows(settings, "intake", "outbox") == len(mine)


def test_a_dissatisfied_callback_reopens_a_warning_case_for_the_previous_unit(infra_settings, start_services,
                                                                              counter_token):
    queue = watch_intake_events(infra_settings.broker_uri)
    settings, _ = start_services(infra_settings, ["intake", "routing"])
    station = Station(settings, counter_token(settings))

    case_id = station.post("/intake/cases", {**CASE, "channel": "counter"}).json()["id"]  # accepted at once
    wait_for(lambda: station.status(case_id)["status"] == "routed", message="routed")
    resolved = routing_event("doorstep.routing.case.resolved.v1", case_id, lead_unit="shixin-pm",
                             answer="已联系物业", resolved_at="2026-11-24T03:00:00Z")
    duplicates = CounterSince("doorstep_events_consumed_total", service="intake", consumer="intake.on_case_resolved",
                              type=resolved.type, outcome="duplicate")
    for _ in range(2):  # a redelivery changes nothing
        publish_event(settings.broker_uri, resolved)
    wait_for(lambda: station.status(case_id)["status"] == "resolved", message="resolved")
    wait_for(lambda: duplicates() == 1, message="the redelivery absorbed by the inbox")

    reopened = station.post(f"/intake/cases/{case_id}/callback",
                            {"rating": "dissatisfied", "comment": "灯还是不亮，请回电13812345678"})
    assert reopened.status_code == 200 and reopened.json()["status"] == "reopened"
    assert station.post(f"/intake/cases/{case_id}/close").status_code == 409

    events = received_events(settings.broker_uri, queue, "doorstep.intake.case.reopened.v1")
    warning = next(e for e in events if e.type == "doorstep.intake.case.reopened.v1")
    assert warning.data["previous_unit"] == "shixin-pm"
    assert warning.data["deadline_working_days"] == 3 and warning.data["rating"] == "dissatisfied"
    assert "138****5678" in warning.data["reason"]
    assert [h["status"] for h in station.status(case_id)["history"]].count("resolved") == 1
