"""Property: whatever body a client sends to intake's case API, the answer is 2xx or a 4xx problem naming the
field — never a 5xx — and a refused request writes nothing (no case, no resident, no event)."""
import json

import requests
from hypothesis import HealthCheck, given, settings, strategies as st

import sqlalchemy as sa

from shared.db import engine_for
from support.http import base_url
from support import strategies

# Text that includes what breaks naive code: NUL, lone surrogates, phone-like digits, very long strings.
awkward_text = strategies.awkward_text("shixin", "property-repair")
json_values = strategies.json_values(awkward_text)

resident = st.fixed_dictionaries({}, optional={
    "name": st.one_of(awkward_text, json_values), "phone": st.one_of(st.just("13812345678"), awkward_text),
    "area": st.one_of(st.just("shixin"), awkward_text), "building": json_values, "room": json_values,
    "id_card": st.one_of(st.just("11010519491231002X"), awkward_text)})
case_body = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={
        "matter_code": st.one_of(st.sampled_from(["property-repair", "ltc-insurance-assessment",
                                                  "medical-insurance-bill-print"]), json_values),
        "channel": st.one_of(st.sampled_from(["counter", "online", "phone", "video", "fax"]), json_values),
        "kind": st.one_of(st.sampled_from(["consultation", "complaint"]), json_values),
        "urgency": st.one_of(st.sampled_from(["normal", "critical"]), json_values),
        "description": st.one_of(awkward_text, json_values),
        "proxy": json_values, "reporter": json_values,
        "attributes": st.one_of(st.fixed_dictionaries({}, optional={
            "location": st.one_of(st.just("stairwell"), json_values),
            "care_setting": st.one_of(st.just("home"), json_values)}), json_values),
        "resident": st.one_of(resident, json_values),
    }),
)
action_body = st.one_of(json_values, st.fixed_dictionaries({}, optional={
    "reason": json_values, "missing_materials": st.one_of(st.lists(awkward_text, max_size=3), json_values),
    "note": json_values, "answer": json_values, "rating": st.one_of(st.just("dissatisfied"), json_values),
    "comment": json_values}))
ACTIONS = ["accept", "reject", "supplement-request", "resubmit", "settle", "callback", "close"]

TABLES = ("cases", "residents", "case_history", "outbox")


def test_any_body_gets_2xx_or_4xx_and_a_refused_one_writes_nothing(embedded_settings, start_services,
                                                                    counter_token):
    running, _ = start_services(embedded_settings, ["intake"])
    headers = {"Authorization": f"Bearer {counter_token(running)}", "Content-Type": "application/json"}
    url = base_url(running, "intake")
    seed = requests.post(f"{url}/intake/cases", headers=headers, timeout=10, data=json.dumps(
        {"matter_code": "property-repair", "channel": "online",
         "resident": {"name": "王", "phone": "13912345678", "area": "shixin"}}))
    assert seed.status_code == 201
    case_id = seed.json()["id"]

    engine = engine_for(running.db_url("intake"))

    def rows():
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}

    def check(response, before):
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.json()["status"] == response.status_code
            assert rows() == before, "a refused request wrote something"
        return response

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case_body)
    def submit(body):
        before = rows()
        response = check(requests.post(f"{url}/intake/cases", headers=headers, timeout=10,
                                       data=json.dumps(body)), before)
        if response.status_code == 400:
            assert response.json()["invalid_params"][0]["name"]
        elif response.status_code == 201:
            assert rows()["cases"] == before["cases"] + 1

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(ACTIONS), action_body)
    def act(action, body):
        check(requests.post(f"{url}/intake/cases/{case_id}/{action}", headers=headers, timeout=10,
                            data=json.dumps(body)), rows())

    submit()
    act()
