"""Embedded: the OpenAPI document is served from the API description, cases are searched and paged, a visit
bundles a resident's cases and the one-visit share follows, a video session starts and ends."""
import requests

from support.http import base_url


def test_openapi_search_visits_and_video(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["intake"])
    url = base_url(settings, "intake")
    headers = {"Authorization": f"Bearer {counter_token(settings)}"}

    document = requests.get(f"{url}/intake/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    submit = document["paths"]["/intake/cases"]["post"]
    body = submit["requestBody"]["content"]["application/json"]["schema"]
    body = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]  # the models are components
    assert body["required"] == ["matter_code", "resident"]
    assert "/intake/cases/{case_id}/callback" in document["paths"]

    resident = {"name": "李", "phone": "13612345678", "area": "shixin"}
    ids = []
    for matter, channel in [("medical-insurance-bill-print", "counter"), ("senior-card", "counter"),
                            ("property-repair", "online")]:
        response = requests.post(f"{url}/intake/cases", json={"matter_code": matter, "channel": channel,
                                                              "resident": resident}, headers=headers, timeout=10)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    page = requests.get(f"{url}/intake/cases", params={"status": "accepted", "per_page": 1}, headers=headers,
                        timeout=10).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    online = requests.get(f"{url}/intake/cases", params={"channel": "online", "category": "property"},
                          headers=headers, timeout=10).json()
    assert [item["id"] for item in online["items"]] == [ids[2]]
    bad = requests.get(f"{url}/intake/cases", params={"status": "lost"}, headers=headers, timeout=10)
    assert bad.status_code == 400 and bad.json()["invalid_params"][0]["name"] == "status"

    # One visit for all three matters (一口受理); the bill print is settled on the spot.
    visit = requests.post(f"{url}/intake/visits", json={"station": "shixin", "case_ids": ids}, headers=headers,
                          timeout=10)
    assert visit.status_code == 201, visit.text
    settled = requests.post(f"{url}/intake/cases/{ids[0]}/settle", json={"answer": "已打印"}, headers=headers,
                            timeout=10)
    assert settled.json()["status"] == "settled"
    metrics = requests.get(f"{url}/intake/metrics/visits", headers=headers, timeout=10).json()
    assert metrics == {"cases_done": 1, "visits": 1, "visits_per_done_case": 1.0, "share_done_in_one_visit": 1.0}

    video = requests.post(f"{url}/intake/cases/{ids[1]}/video-sessions", json={"kind": "remote_assistance"},
                          headers=headers, timeout=10)
    assert video.status_code == 201
    ended = requests.post(f"{url}/intake/video-sessions/{video.json()['id']}/end", headers=headers, timeout=10)
    assert ended.status_code == 200
    again = requests.post(f"{url}/intake/video-sessions/{video.json()['id']}/end", headers=headers, timeout=10)
    assert again.status_code == 409
