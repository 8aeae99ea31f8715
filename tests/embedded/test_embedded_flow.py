"""The embedded default — SQLite files and the in-memory broker, all four services in one process — runs the
same code as production: a case flows intake → routing → notify and back to intake."""
from pathlib import Path

from support.http import get, submit_case
from support.waiting import case_fully_handled, count_rows, wait_for


def test_case_flows_through_all_services_embedded(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings)
    token = counter_token(settings)

    # A worker at the counter submits a property repair for a resident of 市新居民区.
    response = submit_case(settings, token)
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]

    # Routing assigns it and notify tells the resident and the unit; intake's status follows.
    wait_for(lambda: case_fully_handled(settings, token, case_id), message="case routed and notified")
    decision = get(settings, "routing", f"/routing/cases/{case_id}/decision", token).json()
    assert decision["assignments"][0]["unit_code"] == "shixin-pm"
    assert decision["assignments"][0]["rule"] == "property-repair-to-pm"

    # The file channel wrote both messages; the resident's shows only the masked phone.
    text = Path(settings.data_dir, "notifications.jsonl").read_text("utf-8")
    assert "138****5678" in text and "13812345678" not in text
    assert count_rows(settings, "notify", "deliveries") == 2


def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(embedded_settings, start_services,
                                                                     counter_token):
    settings, _ = start_services(embedded_settings)
    token = counter_token(settings)

    wrong_type = submit_case(settings, token, urgency=3)
    assert wrong_type.status_code == 400
    assert wrong_type.headers["Content-Type"] == "application/problem+json"
    assert wrong_type.json()["invalid_params"][0]["name"] == "urgency"

    bad_phone = submit_case(settings, token, resident={"name": "张", "phone": "12345", "area": "shixin"})
    assert bad_phone.json()["invalid_params"][0]["name"] == "resident.phone"

    unknown_matter = submit_case(settings, token, matter_code="no-such-matter")
    assert unknown_matter.status_code == 400
    assert unknown_matter.json()["invalid_params"][0]["name"] == "matter_code"

    import requests
    from support.http import base_url
    malformed = requests.post(f"{base_url(settings, 'intake')}/intake/cases", data="{not json",
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["title"] == "Malformed JSON"

    assert count_rows(settings, "intake", "cases") == 0
    assert count_rows(settings, "intake", "residents") == 0
    assert count_rows(settings, "intake", "outbox") == 0


def test_write_api_needs_a_token_with_an_admitted_role(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["intake"])
    assert submit_case(settings, "not-a-token").status_code == 401
    auditor = counter_token(settings, role="auditor")
    forbidden = submit_case(settings, auditor)
    assert forbidden.status_code == 403
    assert forbidden.headers["Content-Type"] == "application/problem+json"
    assert count_rows(settings, "intake", "cases") == 0


def test_health_and_metrics_endpoints(embedded_settings, start_services):
    import requests
    from support.http import base_url

    settings, _ = start_services(embedded_settings)
    for service in ("intake", "routing", "funds", "notify"):
        ready = requests.get(f"{base_url(settings, service)}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "service": service}
    scrape = requests.get(f"{base_url(settings, 'routing')}/metrics", timeout=5).text
    assert 'doorstep_outbox_backlog{service="routing"}' in scrape
    assert 'doorstep_events_consumed_total{consumer="routing.on_case_accepted"' in scrape
