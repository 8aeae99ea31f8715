"""Notify's HTTP contract over HTTP: whatever a client sends, the answer is what the OpenAPI document says — a
documented answer with exactly its documented fields, or a 4xx problem naming the field without echoing it, and
never a 500. Bodies with wrongly typed fields, lone surrogates and NUL, and odd query strings once were 500s."""
import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from support.http import base_url
from support.waiting import count_rows, wait_for as wait_until
from support.notify import publish_routed, routed_data, write_notify_config
from services.notify import models
from support import strategies
from support.contract import exact

RESIDENT = "resident:6f1c2d4e-0000-4000-8000-000000000001"


def call(settings, token, method, path, body=None, raw: str | None = None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None or raw is not None:
        headers["Content-Type"] = "application/json"
        raw = json.dumps(body) if raw is None else raw  # ASCII: "\ud800" travels as its JSON escape
    return requests.request(method, f"{base_url(settings, 'notify')}{path}", data=raw, headers=headers, timeout=10)


def refused(response, field: str, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["invalid_params"][0]["name"] == field, problem
    return problem




@pytest.fixture
def notify(embedded_settings, start_services, counter_token):
    write_notify_config(embedded_settings, quiet_hours=None, sender={"interval_s": 0.1},
                        retry={"attempts_per_channel": 1, "base_delay_s": 0},
                        channels={"webhook": {"secret": "k", "allow_private": ["127.0.0.1"]}})
    settings, _ = start_services(embedded_settings, ["notify"])
    return settings, {role: counter_token(settings, role) for role in ("counter", "auditor", "admin")}


BAD_PREFERENCES = [
    ({"channels": {"sms": 1}}, "channels"), ({"channels": [True]}, "channels[0]"), ({"channels": [1]}, "channels[0]"),
    ({"channels": ["sms", "sms"]}, "channels"), ({"opt_out": "hearing"}, "opt_out"),
    ({"opt_out": [None]}, "opt_out[0]"),
    ({"opt_out": ["\ud800"]}, "opt_out[0]"), ({"opt_out": ["hearing\x00"]}, "opt_out[0]"),
    ({"quiet_hours": []}, "quiet_hours"), ({"quiet_hours": {"start": 22, "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "22:00", "end": False}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "\ud800", "end": "08:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "9999-12-31T23:59:59+14:00", "end": "08:00"}}, "quiet_hours.start"),
    ({"colour": "red"}, "colour"), ([], "(body)"), ("channels", "(body)"), (1, "(body)"), (None, "(body)"),
]
BAD_CONTACTS = [
    ({"contacts": []}, "contacts"), ({"contacts": {"email": {"a": 1}}}, "contacts.email"),
    ({"contacts": {"email": "\ud800@example.org"}}, "contacts.email"),
    ({"contacts": {"email": "wang\x00@example.org"}}, "contacts.email"),
    ({"contacts": {"email": "w@" + "x" * 300 + ".org"}}, "contacts.email"),
    ({"contacts": {"sms": 13812345678}}, "contacts.sms"), ({"contacts": {"sms": True}}, "contacts.sms"),
    ({"contacts": {"sms": "1381234567\ud800"}}, "contacts.sms"),
    ({"contacts": {"wechat": ["oABCDEFGHIJK"]}}, "contacts.wechat"),
    ({"contacts": {"webhook": "https://example.org/\ud800"}}, "contacts.webhook"),
    ({"contacts": {"webhook": "https://example.org/\x00"}}, "contacts.webhook"),
    ({"contacts": {"webhook": "https://example.org/" + "a" * 600}}, "contacts.webhook"),
    ({"contacts": {"fax": "021-12345678"}}, "contacts.fax"), ({"contacts": {}}, "contacts"), ({}, "contacts"),
]


def test_badly_typed_bodies_are_a_400_naming_the_field_and_write_nothing(notify):
    settings, tokens = notify
    for body, field in BAD_PREFERENCES:
        refused(call(settings, tokens["counter"], "PUT", f"/notify/recipients/{RESIDENT}/preferences",
                     raw=json.dumps(body)), field)
    for body, field in BAD_CONTACTS:
        problem = refused(call(settings, tokens["counter"], "PUT", f"/notify/recipients/{RESIDENT}/contacts", body),
                          field)
        assert "13812345678" not in json.dumps(problem, ensure_ascii=False), "a phone number was echoed"
    # Not JSON at all, or not UTF-8: still a problem naming the body.
    refused(call(settings, tokens["counter"], "PUT", f"/notify/recipients/{RESIDENT}/contacts", raw='{"contacts":'),
            "(body)")
    assert count_rows(settings, "notify", "contacts") == 0
    assert count_rows(settings, "notify", "preferences") == 0


ODD_REQUESTS = [
    ("GET", "/notify/deliveries?case_id=%00", "case_id"),
    ("GET", "/notify/deliveries?case_id=0001-01-01T00:00:00%2B14:00", "case_id"),
    ("GET", "/notify/deliveries?recipient=%00", "recipient"),
    ("GET", "/notify/deliveries?recipient=resident:%ED%A0%80", "recipient"),
    ("GET", "/notify/deliveries?status=%ED%A0%80", "status"),
    ("GET", "/notify/deliveries?status=sent&status=failed", "status"),
    ("GET", "/notify/deliveries?since=9999-12-31T23:59:59%2B14:00", "since"),
    ("GET", "/notify/recipients/resident:1/deliveries?status=lost", "status"),
    ("GET", "/notify/recipients/nobody/preferences", "recipient"),
    ("GET", "/notify/recipients/resident:%00/contacts", "recipient"),
    ("GET", "/notify/recipients/subscribers:area:x/deliveries", "recipient"),
    ("PUT", "/notify/topics/street:x/subscribers/resident:1", "topic"),
    ("DELETE", "/notify/topics/area:x/subscribers/%ED%A0%80", "recipient"),
]


def test_odd_queries_and_paths_are_a_400_naming_the_parameter(notify):
    settings, tokens = notify
    for method, path, field in ODD_REQUESTS:
        refused(call(settings, tokens["admin"], method, path), field)


def test_a_delivery_id_that_is_no_uuid_is_not_found(notify):
    settings, tokens = notify
    for method, path in [("GET", "/notify/deliveries/no-such-id"), ("POST", "/notify/deliveries/%00/resend"),
                         ("GET", "/notify/deliveries/6f1c2d4e-0000-4000-8000-000000000001")]:
        response = call(settings, tokens["admin"], method, path)
        assert response.status_code == 404 and response.headers["Content-Type"] == "application/problem+json"


def test_every_answer_carries_exactly_its_documented_fields(notify):
    settings, tokens = notify
    counter, auditor, admin = tokens["counter"], tokens["auditor"], tokens["admin"]
    resident = f"resident:{routed_data()['resident_id']}"

    # A resident reached on the file channel; the unit on a webhook nobody answers, so its message dies.
    put = call(settings, counter, "PUT", "/notify/recipients/unit:shixin-pm/contacts",
               {"contacts": {"webhook": "http://127.0.0.1:9/hook", "sms": "13812345678", "email": None}})
    masked = exact(models.ContactsView, put.json())["contacts"]
    assert masked == {"sms": "138****5678", "webhook": "http://127.0.0.1:9/…"}
    put = call(settings, counter, "PUT", "/notify/recipients/unit:shixin-pm/contacts", {"contacts": {"sms": None}})
    assert put.json()["contacts"] == {"webhook": "http://127.0.0.1:9/…"}
    exact(models.ContactsView, call(settings, counter, "GET", "/notify/recipients/unit:shixin-pm/contacts").json())
    preferences = call(settings, counter, "PUT", f"/notify/recipients/{resident}/preferences",
                       {"channels": ["file"], "opt_out": ["hearing"], "quiet_hours": None})
    assert exact(models.PreferencesView, preferences.json())["quiet_hours"] is None
    street = call(settings, counter, "GET", "/notify/recipients/resident:someone-else/preferences").json()
    assert exact(models.PreferencesView, street)["quiet_hours"] is None  # this street's notify.yaml has none

    subscribed = call(settings, counter, "PUT", "/notify/topics/area:shixin/subscribers/handler:h1")
    assert subscribed.status_code == 201 and exact(models.Subscription, subscribed.json())
    assert call(settings, counter, "PUT", "/notify/topics/area:shixin/subscribers/handler:h1").status_code == 200
    removed = call(settings, counter, "DELETE", "/notify/topics/area:shixin/subscribers/handler:h1")
    assert exact(models.Unsubscribed, removed.json())["removed"] is True
    assert call(settings, counter, "DELETE", "/notify/topics/area:shixin/subscribers/handler:h1").status_code == 404

    data = routed_data(resident_id=resident.split(":", 1)[1])
    publish_routed(settings, data)

    def finished():
        answer = call(settings, counter, "GET", f"/notify/deliveries?case_id={data['case_id']}").json()
        done = {d["recipient"]: d for d in exact(list[models.DeliveryView], answer)
                if d["status"] in ("sent", "failed")}
        return len(done) == 2 and done

    listed = wait_until(finished, message="both delivered or given up")
    assert listed[resident]["status"] == "sent" and listed["unit:shixin-pm"]["status"] == "failed"
    failed = listed["unit:shixin-pm"]
    detail = exact(models.DeliveryDetail, call(settings, counter, "GET", f"/notify/deliveries/{failed['id']}").json())
    assert detail["channel_plan"] == ["webhook"] and [a["outcome"] for a in detail["attempt_log"]] == ["failed"]
    mine = call(settings, counter, "GET", "/notify/recipients/unit:shixin-pm/deliveries?status=failed").json()
    assert [d["id"] for d in exact(list[models.DeliveryView], mine)] == [failed["id"]]
    letters = exact(list[models.DeadLetter], call(settings, auditor, "GET", "/notify/dead-letters").json())
    assert [letter["delivery_id"] for letter in letters] == [failed["id"]]

    resent = call(settings, admin, "POST", f"/notify/deliveries/{failed['id']}/resend")
    assert resent.status_code == 202 and exact(models.Resent, resent.json())["status"] == "queued"
    again = call(settings, admin, "POST", f"/notify/deliveries/{failed['id']}/resend")
    assert again.status_code in (202, 409)  # 409 while it is queued; once given up again it may be resent


# -- property: no body of any shape is a 500, and a refused one writes nothing ------------------------------

awkward_text = strategies.awkward_text("22:00", "24:00", "sms", "wang@example.org", "https://example.org/h", "x" * 600)
json_values = strategies.json_values(awkward_text)
channel_names = st.one_of(st.sampled_from(["email", "webhook", "sms", "wechat", "file", "console", "fax"]), json_values)
preferences_body = st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "channels": st.one_of(st.lists(channel_names, max_size=4), json_values),
    "opt_out": st.one_of(st.lists(st.one_of(st.sampled_from(["hearing", "Hearing"]), awkward_text), max_size=3),
                         json_values),
    "quiet_hours": st.one_of(st.fixed_dictionaries({}, optional={"start": st.one_of(awkward_text, json_values),
                                                                 "end": st.one_of(awkward_text, json_values)}),
                             json_values)}))
contacts_body = st.one_of(json_values, st.fixed_dictionaries({}, optional={"contacts": st.one_of(
    st.dictionaries(channel_names.filter(lambda c: isinstance(c, str)), st.one_of(awkward_text, json_values),
                    max_size=4),
    json_values)}))


def test_any_body_is_answered_2xx_or_a_problem_and_a_refused_one_writes_nothing(notify):
    settings, tokens = notify

    def written():
        return count_rows(settings, "notify", "contacts"), count_rows(settings, "notify", "preferences")

    def check(path, body, answer_model):
        before = written()
        response = call(settings, tokens["counter"], "PUT", path, raw=json.dumps(body))
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            problem = response.json()
            assert response.headers["Content-Type"] == "application/problem+json"
            assert problem["status"] == response.status_code and problem["invalid_params"][0]["name"]
            assert written() == before, "a refused request wrote something"
        else:
            exact(answer_model, response.json())

    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(preferences_body, contacts_body)
    def put(preferences, contacts):
        check(f"/notify/recipients/{RESIDENT}/preferences", preferences, models.PreferencesView)
        check(f"/notify/recipients/{RESIDENT}/contacts", contacts, models.ContactsView)

    put()
