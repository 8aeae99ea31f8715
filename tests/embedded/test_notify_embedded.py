"""Notify on the embedded default (SQLite, in-memory broker): with no registered contact a message goes to
the file channel; preferences, contacts and resend through the HTTP API; problems name the field."""
import requests

from support.http import base_url
from support.notify import OFF_THE_CLOCK, json_lines, publish_routed, routed_data, write_notify_config
from support.waiting import count_rows, wait_for


def _api(settings, method, path, token, **kwargs):
    return requests.request(method, f"{base_url(settings, 'notify')}{path}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def test_routed_case_without_contacts_goes_to_the_file_channel(embedded_settings, start_services, counter_token):
    write_notify_config(embedded_settings, quiet_hours=None, sender={"interval_s": 0.1})
    settings, _ = start_services(embedded_settings, ["notify"])
    token = counter_token(settings)
    data = routed_data()
    publish_routed(settings, data)

    # Both sent: each written to the file, and its status and notification.sent event committed together.
    def sent_deliveries():
        found = _api(settings, "GET", f"/notify/deliveries?case_id={data['case_id']}", token).json()
        return [d for d in found if d["status"] == "sent"]

    sent = wait_for(lambda: len(found := sent_deliveries()) == 2 and found, message="both sent")
    lines = json_lines(f"{settings.data_dir}/notifications.jsonl")
    assert sorted(line["recipient"] for line in lines) == sorted([f"resident:{data['resident_id']}", "unit:shixin-pm"])
    assert {d["channel"] for d in sent} == {"file"}
    assert count_rows(settings, "notify", "deliveries") == 2
    assert count_rows(settings, "notify", "outbox", "type = 'doorstep.notify.notification.sent.v1'") == 2

    mine = _api(settings, "GET", f"/notify/recipients/resident:{data['resident_id']}/deliveries", token).json()
    assert [d["template"] for d in mine] == ["case-routed-resident"]


def test_preferences_contacts_and_resend_through_the_api(embedded_settings, start_services, counter_token):
    write_notify_config(embedded_settings, quiet_hours=None, sender={"interval_s": 0.1})
    settings, _ = start_services(embedded_settings, ["notify"])
    counter, admin = counter_token(settings), counter_token(settings, role="admin")
    resident = "resident:6f1c2d4e-0000-4000-8000-000000000001"

    put = _api(settings, "PUT", f"/notify/recipients/{resident}/contacts", counter,
               json={"contacts": {"sms": "13812345678", "email": "wang@example.org"}})
    assert put.status_code == 200, put.text
    assert put.json()["contacts"] == {"email": "w***@example.org", "sms": "138****5678"}
    bad = _api(settings, "PUT", f"/notify/recipients/{resident}/contacts", counter, json={"contacts": {"sms": "123"}})
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    assert bad.json()["invalid_params"][0]["name"] == "contacts.sms"

    prefs = _api(settings, "PUT", f"/notify/recipients/{resident}/preferences", counter,
                 json={"channels": ["console"], "opt_out": ["hearing"], "quiet_hours": {"start": "21:00", "end": "07:30"}})
    assert prefs.status_code == 200, prefs.text
    got = _api(settings, "GET", f"/notify/recipients/{resident}/preferences", counter).json()
    assert got["channels"] == ["console"] and got["quiet_hours"] == {"start": "21:00", "end": "07:30"}
    wrong = _api(settings, "PUT", f"/notify/recipients/{resident}/preferences", counter, json={"channels": ["fax"]})
    assert wrong.json()["invalid_params"][0]["name"] == "channels[0]"
    assert _api(settings, "GET", "/notify/recipients/nobody/preferences", counter).status_code == 400

    # The resident prefers the console; back to no preference order for the next check.
    _api(settings, "PUT", f"/notify/recipients/{resident}/preferences", counter, json={"channels": ["console"],
                                                                                      "quiet_hours": None})
    data = routed_data(resident_id=resident.split(":")[1])
    publish_routed(settings, data)
    delivery = wait_for(lambda: [d for d in _api(settings, "GET", f"/notify/recipients/{resident}/deliveries",
                                                   counter).json() if d["status"] == "sent"], message="sent")[0]
    assert delivery["channel"] == "console"

    # Only an admin may resend; the delivery is queued again and sent again.
    assert _api(settings, "POST", f"/notify/deliveries/{delivery['id']}/resend", counter).status_code == 403
    resent = _api(settings, "POST", f"/notify/deliveries/{delivery['id']}/resend", admin)
    assert resent.status_code == 202 and resent.json()["status"] == "queued"
    detail = wait_for(lambda: (d := _api(settings, "GET", f"/notify/deliveries/{delivery['id']}", counter).json())
                        ["status"] == "sent" and len(d["attempt_log"]) == 2 and d, message="resent")
    assert detail["resent_at"] and [a["outcome"] for a in detail["attempt_log"]] == ["sent", "sent"]
    assert _api(settings, "POST", "/notify/deliveries/no-such-id/resend", admin).status_code == 404
    assert _api(settings, "GET", "/notify/deliveries?status=lost", counter).json()["invalid_params"][0]["name"] == "status"


def test_the_street_folder_gives_notify_its_settings_and_wording(embedded_settings, start_services, counter_token,
                                                                  tmp_path):

    import yaml

    folder = tmp_path / "street"
    folder.mkdir()
    (folder / "notify.yaml").write_text(yaml.safe_dump({**OFF_THE_CLOCK, "sender": {"interval_s": 0.1}}), "utf-8")
    (folder / "templates.yaml").write_text(yaml.safe_dump({"doorstep.routing.case.routed.v1": [
        {"template": "case-routed-resident", "recipient": "resident:{{ data.resident_id }}",
         "subject": "花木街道：已转交{{ data.unit.name }}", "body": "您的事项已转交{{ data.unit.name }}。"},
    ]}, allow_unicode=True), "utf-8")
    settings, _ = start_services(embedded_settings.replace(street_dir=str(folder)), ["notify"])
    token = counter_token(settings)
    data = routed_data()
    publish_routed(settings, data)

    wait_for(lambda: len(json_lines(f"{settings.data_dir}/notifications.jsonl")) == 2, message="file lines")
    resident = next(line for line in json_lines(f"{settings.data_dir}/notifications.jsonl")
                    if line["recipient"].startswith("resident:"))
    assert resident["subject"] == f"花木街道：已转交{data['unit']['name']}"
    assert _api(settings, "GET", f"/notify/deliveries?case_id={data['case_id']}", token).status_code == 200
