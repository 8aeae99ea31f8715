"""Embedded: intake's Open311 GeoReport v2 front door over HTTP — the services list and a definition, a
form-encoded request that becomes an ordinary online case, the public read side without personal data, and the
GeoReport error list for a bad service code, a missing api_key and a refused request that writes nothing; any
form gets a 201 or a GeoReport error, never a 5xx."""
import json

import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st

from shared.db import engine_for
from support.http import base_url

TABLES = ("cases", "residents", "case_history", "outbox")


def test_open311_front_door(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["intake"])
    url = base_url(settings, "intake") + "/open311/v2"
    token = counter_token(settings)
    engine = engine_for(settings.db_url("intake"))

    def rows():
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}

    def is_error_list(response, status):
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        assert isinstance(body, list) and body and all(set(e) == {"code", "description"} for e in body)
        assert all(e["code"] == status for e in body)
        return body

    # services and a definition
    services = requests.get(f"{url}/services.json", timeout=10).json()
    assert len(services) >= 180
    repair = next(s for s in services if s["service_code"] == "property-repair")
    assert repair["service_name"] == "物业报修" and repair["metadata"] is True and repair["type"] == "realtime"
    definition = requests.get(f"{url}/services/property-repair.json", timeout=10).json()
    assert definition["service_code"] == "property-repair"
    assert [a["code"] for a in definition["attributes"]] == ["area", "location"]
    assert definition["attributes"][1]["datatype"] == "singlevaluelist"
    errors = is_error_list(requests.get(f"{url}/services/no-such-service.json", timeout=10), 404)
    assert "no-such-service" in errors[0]["description"]
    is_error_list(requests.get(f"{url}/services.json", params={"jurisdiction_id": "elsewhere"}, timeout=10), 400)

    # a form-encoded request becomes an online case, the same one intake's own API shows
    form = {"api_key": token, "jurisdiction_id": settings.street, "service_code": "property-repair",
            "first_name": "阿姨", "last_name": "王", "phone": "13812345678", "email": "wang@example.com",
            "description": "楼道灯不亮", "address_string": "12号楼301室", "attribute[area]": "shixin",
            "attribute[location]": "stairwell"}
    before = rows()
    created = requests.post(f"{url}/requests.json", data=form, timeout=10)
    assert created.status_code == 201, created.text
    [receipt] = created.json()
    case_id = receipt["service_request_id"]
    assert receipt["service_notice"] and receipt["account_id"]
    after = rows()
    assert after["cases"] == before["cases"] + 1 and after["outbox"] == before["outbox"] + 1

    case = requests.get(f"{base_url(settings, 'intake')}/intake/cases/{case_id}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    assert case["channel"] == "online" and case["status"] == "submitted" and case["area"] == "shixin"
    assert case["attributes"] == {"location": "stairwell"} and case["resident_id"] == receipt["account_id"]
    assert "12号楼301室" in case["description"]  # kept for the workers
    with engine.connect() as conn:
        types = conn.execute(sa.text("SELECT type FROM outbox WHERE subject = :s"), {"s": f"case/{case_id}"}).scalars()
        assert list(types) == ["doorstep.intake.case.submitted.v1"]

    # JSON is accepted too, with the area as an extension field
    as_json = requests.post(f"{url}/requests.json", timeout=10, json={
        "api_key": token, "service_code": "ltc-insurance-assessment", "first_name": "Ann", "last_name": "Lee",
        "phone": "13912345678", "area": "meiyuan", "attribute": {"care_setting": "home"}})
    assert as_json.status_code == 201, as_json.text

    # the public read side: no token, no personal data, the place only as the residential area
    public = requests.get(f"{url}/requests/{case_id}.json", timeout=10)
    assert public.status_code == 200
    [request] = public.json()
    assert request["service_request_id"] == case_id and request["status"] == "open"
    assert request["service_code"] == "property-repair" and request["address"] == "shixin"
    assert request["description"] == "楼道灯不亮"
    text = json.dumps(public.json(), ensure_ascii=False)
    for secret in ("13812345678", "王", "阿姨", "301", "12号楼", "wang@example.com", receipt["account_id"]):
        assert secret not in text
    listed = requests.get(f"{url}/requests.json", params={"status": "open", "service_code": "property-repair"},
                          timeout=10).json()
    assert [r["service_request_id"] for r in listed] == [case_id]
    assert requests.get(f"{url}/requests.json", params={"status": "closed"}, timeout=10).json() == []
    by_ids = requests.get(f"{url}/requests.json", params={"service_request_id": f"{case_id},nope"}, timeout=10)
    assert [r["service_request_id"] for r in by_ids.json()] == [case_id]
    is_error_list(requests.get(f"{url}/requests/nope.json", timeout=10), 404)
    is_error_list(requests.get(f"{url}/requests.json", params={"status": "pending"}, timeout=10), 400)

    # once rejected, the request is closed
    rejected = requests.post(f"{base_url(settings, 'intake')}/intake/cases/{case_id}/reject",
                             json={"reason": "不属于本站事项"}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert rejected.status_code == 200
    [request] = requests.get(f"{url}/requests/{case_id}.json", timeout=10).json()
    assert request["status"] == "closed" and request["status_notes"] == "不予受理"

    # refused requests write nothing and answer in the GeoReport error list
    before = rows()
    missing_key = {k: v for k, v in form.items() if k != "api_key"}
    errors = is_error_list(requests.post(f"{url}/requests.json", data=missing_key, timeout=10), 401)
    assert "api_key" in errors[0]["description"]
    is_error_list(requests.post(f"{url}/requests.json", data={**form, "api_key": "dst_unknown"}, timeout=10), 401)
    # a key in the URL is refused, even a good one: query strings end up in logs and histories
    in_url = is_error_list(requests.post(f"{url}/requests.json?api_key={token}", data=missing_key, timeout=10), 400)
    assert "api_key" in in_url[0]["description"] and token not in in_url[0]["description"]
    is_error_list(requests.get(f"{url}/requests.json?api_key={token}", timeout=10), 400)
    handler = counter_token(settings, role="handler")
    is_error_list(requests.post(f"{url}/requests.json", data={**form, "api_key": handler}, timeout=10), 403)
    is_error_list(requests.post(f"{url}/requests.json", data={**form, "service_code": "no-such"}, timeout=10), 404)
    bad_phone = is_error_list(requests.post(f"{url}/requests.json", data={**form, "phone": "12345"}, timeout=10), 400)
    assert bad_phone[0]["description"].startswith("phone:")
    bad_value = is_error_list(requests.post(f"{url}/requests.json", data={**form, "attribute[location]": "moon"},
                                            timeout=10), 400)
    assert bad_value[0]["description"].startswith("attribute[location]:")
    no_area = {k: v for k, v in form.items() if k != "attribute[area]"}
    assert "area" in is_error_list(requests.post(f"{url}/requests.json", data=no_area, timeout=10), 400)[0][
        "description"]
    is_error_list(requests.post(f"{url}/requests.json", data={**form, "jurisdiction_id": "elsewhere"}, timeout=10),
                  400)
    is_error_list(requests.post(f"{url}/requests.json", data="<xml/>", timeout=10,
                                headers={"Content-Type": "text/xml"}), 415)
    assert rows() == before, "a refused request wrote something"


def test_unknown_resources_answer_in_the_georeport_format(embedded_settings, start_services):
    settings, _ = start_services(embedded_settings, ["intake"])
    url = base_url(settings, "intake") + "/open311/v2"
    for response in (requests.get(f"{url}/services.xml", timeout=10),
                     requests.get(f"{url}/discovery/nothing", timeout=10),
                     requests.post(f"{url}/services.json", data={"a": "b"}, timeout=10)):
        assert response.status_code == 404
        assert response.json()[0]["code"] == 404


# Any form a client may send: GeoReport keys with awkward values, unknown attributes, repeated keys.
awkward = st.one_of(st.text(max_size=20), st.sampled_from(
    ["", " ", "\x00", "13812345678", "+86 139 1234 5678", "shixin", "Shi Xin", "stairwell", "moon", "3",
     "property-repair", "ltc-insurance-assessment", "social-insurance-card-activate", "home", "x" * 3000]))
keys = st.sampled_from(["service_code", "first_name", "last_name", "phone", "email", "description", "area",
                        "address_string", "jurisdiction_id", "attribute[area]", "attribute[location]",
                        "attribute[care_setting]", "attribute[colour]", "attribute[location][]", "building",
                        "room", "lat", "long"])
forms = st.lists(st.tuples(keys, awkward), max_size=12)


def test_any_form_gets_2xx_or_a_georeport_error_and_a_refused_one_writes_nothing(embedded_settings,
                                                                                 start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["intake"])
    url = base_url(settings, "intake") + "/open311/v2/requests.json"
    token = counter_token(settings)
    engine = engine_for(settings.db_url("intake"))

    def rows():
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}

    valid = {"service_code": "property-repair", "last_name": "王", "first_name": "阿姨", "phone": "13812345678",
             "attribute[area]": "shixin"}

    @hyp_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(forms, st.booleans(), st.booleans())
    def submit(pairs, near_valid, as_json):
        before = rows()
        if near_valid:  # a valid request with some keys changed or added
            pairs = [(k, v) for k, v in valid.items() if k not in dict(pairs)] + pairs
        if as_json:
            response = requests.post(url, json={"api_key": token, **dict(pairs)}, timeout=10)
        else:
            response = requests.post(url, data=[("api_key", token), *pairs], timeout=10)
        assert response.status_code < 500, response.text
        body = response.json()
        if response.status_code >= 400:
            assert body and all(e["code"] == response.status_code and e["description"] for e in body)
            assert rows() == before, "a refused request wrote something"
        else:
            assert response.status_code == 201 and body[0]["service_request_id"]

    submit()
