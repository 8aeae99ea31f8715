"""End to end on the embedded default: a case submitted at intake is routed and produces exactly one message for
the resident (by e-mail, once they registered an address) and one for the unit (by its webhook); and the
unit's daily digest goes out once at its time."""
import requests

from support.clock import MovableClock, shanghai
from support.http import base_url, get, submit_case
from support.notify import (SmtpServer, WebhookReceiver, json_lines, notify_on_clock, publish_routed, routed_data,
                            write_notify_config)
from support.waiting import Ticks, wait_for


def _put(settings, path, token, body):
    response = requests.put(f"{base_url(settings, 'notify')}{path}", json=body,
                            headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text


def _sent(settings, token, case_id):
    deliveries = get(settings, "notify", f"/notify/deliveries?case_id={case_id}", token).json()
    return len(deliveries) == 2 and all(d["status"] == "sent" for d in deliveries) and deliveries


def test_a_case_gives_one_resident_message_and_one_unit_message(embedded_settings, start_services, counter_token,
                                                                 tmp_path):
    with SmtpServer(tmp_path / "mail") as smtp, WebhookReceiver() as hook:
        write_notify_config(embedded_settings, quiet_hours=None, sender={"interval_s": 0.1}, channels={
            "email": {"host": "127.0.0.1", "port": smtp.port}, "webhook": {"secret": "k", "allow_private": ["127.0.0.1"]}})
        settings, _ = start_services(embedded_settings)
        token = counter_token(settings)

        # A first case makes the resident known; the station registers their e-mail and the unit's webhook.
        first = submit_case(settings, token).json()["id"]
        wait_for(lambda: _sent(settings, token, first), message="first case notified")
        resident = get(settings, "intake", f"/intake/cases/{first}", token).json()["resident_id"]
        _put(settings, f"/notify/recipients/resident:{resident}/contacts", token,
             {"contacts": {"email": "wang.ayi@example.org"}})
        _put(settings, "/notify/recipients/unit:shixin-pm/contacts", token, {"contacts": {"webhook": hook.url}})

        second = submit_case(settings, token, description="电梯异响").json()["id"]
        deliveries = wait_for(lambda: _sent(settings, token, second), message="second case notified")

    by_recipient = {d["recipient"]: d for d in deliveries}
    assert by_recipient[f"resident:{resident}"]["channel"] == "email"
    assert by_recipient["unit:shixin-pm"]["channel"] == "webhook"
    assert len(smtp.messages()) == 1 and len(hook.requests) == 1
    assert b"wang.ayi@example.org" in smtp.messages()[0]
    # The first case went to the file, as the embedded default does without contacts: two lines, no more.
    assert len(json_lines(f"{settings.data_dir}/notifications.jsonl")) == 2


def test_the_units_digest_goes_out_once_at_its_time(embedded_settings, start_services, counter_token):
    clock, ticks = MovableClock(shanghai(2026, 11, 24, 8, 20)), Ticks()
    write_notify_config(embedded_settings, sender={"interval_s": 0.1}, digest={"enabled": True, "at": "08:30"})
    settings, _ = start_services(embedded_settings, service_class=notify_on_clock(clock, ticks))
    token = counter_token(settings)
    earlier = shanghai(2026, 11, 24, 7, 0).isoformat()
    for matter in ("property-repair", "parking-dispute"):
        publish_routed(settings, routed_data(matter_code=matter, routed_at=earlier))

    def unit_deliveries():
        return get(settings, "notify", "/notify/recipients/unit:shixin-pm/deliveries", token).json()

    def digests():
        return [d for d in unit_deliveries() if d["template"] == "unit-daily-digest"]

    wait_for(lambda: len(unit_deliveries()) == 2, message="routed notices")
    ticks.wait_for_more(3, message="sender")
    assert digests() == []  # not yet 08:30

    clock.set(shanghai(2026, 11, 24, 8, 30, 1))
    digest = wait_for(lambda: [d for d in digests() if d["status"] == "sent"], message="digest sent")
    ticks.wait_for_more(3, message="sender")  # more passes at digest time: still one digest
    assert len(digests()) == 1
    assert digest[0]["subject"] == "市新居民区物业每日待办（2026-11-24）：新派单2件，逾期0件，督办0件"
    assert "property-repair" in digest[0]["body"] and "parking-dispute" in digest[0]["body"]


def test_the_resident_hears_when_materials_are_missing_and_when_the_case_is_refused(
        embedded_settings, start_services, counter_token):
    write_notify_config(embedded_settings, quiet_hours=None, sender={"interval_s": 0.1})
    settings, _ = start_services(embedded_settings, ["intake", "notify"])
    token = counter_token(settings)
    auth = {"Authorization": f"Bearer {token}"}
    intake = f"{base_url(settings, 'intake')}/intake/cases"

    def online_case():
        created = submit_case(settings, token, channel="online")
        assert created.status_code == 201, created.text
        return created.json()["id"]

    incomplete, refused = online_case(), online_case()
    assert requests.post(f"{intake}/{incomplete}/supplement-request", headers=auth, timeout=10,
                         json={"missing_materials": ["户口簿", "房屋产权证明"]}).status_code == 200
    assert requests.post(f"{intake}/{refused}/reject", headers=auth, timeout=10,
                         json={"reason": "不属于本站受理范围"}).status_code == 200

    def resident_lines():
        lines = [line for line in json_lines(f"{settings.data_dir}/notifications.jsonl")
                 if line["recipient"].startswith("resident:")]
        return len(lines) == 2 and {line["subject"]: line for line in lines}

    by_subject = wait_for(resident_lines, message="two resident messages")
    assert "户口簿、房屋产权证明" in by_subject["请补充材料"]["body"]
    assert "不属于本站受理范围" in by_subject["您的事项未予受理"]["body"]
    resident = get(settings, "intake", f"/intake/cases/{incomplete}", token).json()["resident_id"]
    assert {line["recipient"] for line in by_subject.values()} == {f"resident:{resident}"}
