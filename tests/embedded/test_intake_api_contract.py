"""Embedded: intake's typed edge over HTTP. Inputs that once answered 500 (dates no time zone can hold, text a
database cannot keep, values of the wrong type) are a 400 naming the field, in Chinese and English, never echoing
the value; the public Open311 reads answer the same in GeoReport's error list; every answer the tests see is
checked against its documented model (the services run with check_answers)."""
import json

import pytest
import requests

from support.http import base_url

RESIDENT = {"name": "王阿姨", "phone": "13812345678", "area": "shixin"}
CASE = {"matter_code": "property-repair", "channel": "online", "resident": RESIDENT}


@pytest.fixture
def intake(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["intake"])
    return base_url(settings, "intake"), {"Authorization": f"Bearer {counter_token(settings)}"}


def problem(response, field: str) -> str:
    """The reason a 400 problem gives for ``field``."""
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    named = {p["name"]: p["reason"] for p in response.json()["invalid_params"]}
    assert field in named, named
    return named[field]


def georeport_error(response, field: str) -> str:
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    [error] = [e for e in response.json() if e["description"].startswith(f"{field}:")]
    assert error["code"] == 400
    return error["description"]


@pytest.mark.parametrize("params, field", [
    ({"from": "0001-01-01T00:00:00+14:00"}, "from"),
    ({"to": "9999-12-31T23:59:59-12:00"}, "to"),
    ({"from": "2026-13-01"}, "from"),
    ({"from": "2026-12-01", "to": "2026-11-01"}, "to"),
    ({"per_page": "1000"}, "per_page"),
    ({"page": "0"}, "page"),
    ({"status": "lost"}, "status"),
    ({"area": "Shi Xin"}, "area"),
    ({"colour": "red"}, "colour"),
])
def test_searches_that_answered_500_or_were_ignored_are_400s_naming_the_parameter(intake, params, field):
    url, headers = intake
    response = requests.get(f"{url}/intake/cases", params=params, headers=headers, timeout=10)
    assert " / " in problem(response, field)  # Chinese / English


def test_the_public_open311_reads_refuse_extreme_dates_in_the_georeport_format(intake):
    url, _ = intake
    for params, field in [({"start_date": "0001-01-01T00:00:00+14:00"}, "start_date"),
                          ({"end_date": "9999-12-31T23:59:59-12:00"}, "end_date"),
                          ({"status": "pending"}, "status[0]")]:
        response = requests.get(f"{url}/open311/v2/requests.json", params=params, timeout=10)  # no token needed
        assert "1900" in georeport_error(response, field) or field == "status[0]"
    assert requests.get(f"{url}/open311/v2/requests.json", params={"start_date": "2026-11-01T00:00:00+14:00"},
                        timeout=10).status_code == 200
    slots = requests.get(f"{url}/intake/stations/shixin/slots", params={"date": "0001-01-01"}, timeout=10)
    assert problem(slots, "date")


def test_a_wrong_phone_is_named_in_chinese_and_english_and_never_echoed(intake):
    url, headers = intake
    response = requests.post(f"{url}/intake/cases", json={**CASE, "resident": {**RESIDENT, "phone": "1381234567"}},
                             headers=headers, timeout=10)
    assert problem(response, "resident.phone") == "手机号应为11位数字 / must be an 11-digit mobile number"
    assert response.json()["detail"] == "resident.phone: 手机号应为11位数字 / must be an 11-digit mobile number"
    assert "1381234567" not in response.text

    booking = requests.post(f"{url}/intake/appointments", headers=headers, timeout=10, json={
        "station": "shixin", "starts_at": "2026-12-01T09:00:00+08:00", "matter_code": "property-repair",
        "resident": {**RESIDENT, "phone": "12345678901", "id_card": "110105194912310021"}})
    assert problem(booking, "resident.phone").startswith("手机号")
    assert problem(booking, "resident.id_card") == "身份证号码无效 / must be an 18-character resident ID number"
    assert "12345678901" not in booking.text and "110105194912310021" not in booking.text

    form = {"service_code": "property-repair", "last_name": "王", "phone": "+86 138 1234", "attribute[area]": "shixin",
            "api_key": headers["Authorization"][7:]}
    georeport = requests.post(f"{url}/open311/v2/requests.json", data=form, timeout=10)
    assert georeport_error(georeport, "phone") == "phone: 手机号应为11位数字 / must be an 11-digit mobile number"
    assert "1381234" not in georeport.text


@pytest.mark.parametrize("body, field", [
    ({**CASE, "description": "bad\x00byte"}, "description"),
    ({**CASE, "resident": [RESIDENT]}, "resident"),
    ({**CASE, "proxy": "yes"}, "proxy"),
    ({**CASE, "channel": "fax"}, "channel"),
    ({**CASE, "matter_code": 3}, "matter_code"),
    ({**CASE, "attributes": {"location": {"floor": 3}}}, "attributes.location"),
    ({**CASE, "attributes": {"location": "stairwell", "Bad Key": "x"}}, "attributes"),
    ({**CASE, "urgent": True}, "urgent"),
    ([CASE], "(body)"),
])
def test_bodies_of_the_wrong_shape_are_400s_naming_the_field(intake, body, field):
    url, headers = intake
    response = requests.post(f"{url}/intake/cases", json=body, headers=headers, timeout=10)
    assert problem(response, field)


def test_text_no_database_can_keep_is_refused_by_name(intake):
    url, headers = intake
    # A lone surrogate is valid JSON (an escape) but no UTF-8 text: PostgreSQL would refuse it.
    raw = json.dumps(CASE)[:-1] + ', "description": "\\ud800"}'
    response = requests.post(f"{url}/intake/cases", data=raw.encode(), timeout=10,
                             headers={**headers, "Content-Type": "application/json"})
    assert problem(response, "description")
    created = requests.post(f"{url}/intake/cases", json=CASE, headers=headers, timeout=10).json()
    for action, body, field in [("reject", {"reason": "\x00"}, "reason"),
                                ("supplement-request", {"missing_materials": ["户口簿", "户口簿"]}, "missing_materials"),
                                ("callback", {"rating": "ok"}, "rating"),
                                ("settle", {"answer": "x" * 2001}, "answer")]:
        response = requests.post(f"{url}/intake/cases/{created['id']}/{action}", json=body, headers=headers,
                                 timeout=10)
        assert problem(response, field)
    visit = requests.post(f"{url}/intake/visits", json={"station": "shixin", "case_ids": ["not-a-case"]},
                          headers=headers, timeout=10)
    assert problem(visit, "case_ids[0]")


def test_states_and_records_answer_409_and_404(intake):
    url, headers = intake
    created = requests.post(f"{url}/intake/cases", json={**CASE, "channel": "counter"}, headers=headers,
                            timeout=10).json()
    assert created["status"] == "accepted"
    again = requests.post(f"{url}/intake/cases/{created['id']}/accept", headers=headers, timeout=10)
    assert again.status_code == 409 and again.json()["status"] == 409
    unknown = "00000000-0000-4000-8000-000000000000"
    assert requests.get(f"{url}/intake/cases/{unknown}", headers=headers, timeout=10).status_code == 404
    assert requests.get(f"{url}/intake/cases/not-an-id", headers=headers, timeout=10).status_code == 404
    visit = requests.post(f"{url}/intake/visits", json={"station": "shixin", "case_ids": [unknown]}, headers=headers,
                          timeout=10)
    assert visit.status_code == 404 and visit.headers["Content-Type"] == "application/problem+json"
    # what the case looks like now is what GET answers, field for field (each checked against its model)
    case = requests.get(f"{url}/intake/cases/{created['id']}", headers=headers, timeout=10).json()
    assert case["id"] == created["id"] and [h["status"] for h in case["history"]] == ["submitted", "accepted"]


def test_every_other_path_under_open311_is_a_georeport_404(intake):
    url, _ = intake
    for path in ("services.xml", "a%0Ab", "%2Fx", "", "requests/%0A.json", "requests/not-an-id.json"):
        response = requests.get(f"{url}/open311/v2/{path}", timeout=10)
        assert response.status_code == 404 and response.headers["Content-Type"].startswith("application/json")
        assert response.json()[0]["code"] == 404


def test_a_georeport_request_may_come_with_the_bearer_header_instead_of_an_api_key(intake):
    url, headers = intake
    form = {"service_code": "property-repair", "last_name": "王", "phone": "13812345678", "area": "shixin"}
    created = requests.post(f"{url}/open311/v2/requests.json", data=form, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    unknown = requests.post(f"{url}/open311/v2/requests.json", data=form, timeout=10,
                            headers={"Authorization": "Bearer dst_unknown"})
    assert unknown.status_code == 401 and unknown.json()[0]["code"] == 401
