"""Notify on the real RabbitMQ and PostgreSQL: real channels (SMTP on loopback, a local webhook receiver),
quiet hours with the clock under the test's control, dedupe under redelivery, retries that succeed, and
permanent failures ending in notification.failed and a dead-letter record."""
import email
import email.policy
import json
from datetime import datetime, timedelta

import requests

from services.notify.channels import webhook
from services.notify.domain.templates import default_templates
from support.broker import drain_queue
from support.clock import MovableClock, shanghai
from support.http import base_url
from support.notify import (SmtpServer, WebhookReceiver, notify_on_clock, publish_routed, routed_data,
                            watch_notify_events, write_notify_config)
from support.waiting import CounterSince, Ticks, count_rows, wait_for

SECRET = "s3cret-shared-with-the-hotline"
ROUTED = "doorstep.routing.case.routed.v1"


def _api(settings, method, path, token, **kwargs):
    return requests.request(method, f"{base_url(settings, 'notify')}{path}",
                            headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


def _deliveries(settings, token, case_id):
    return _api(settings, "GET", f"/notify/deliveries?case_id={case_id}", token).json()


def _register(settings, token, recipient, contacts, channels=None):
    response = _api(settings, "PUT", f"/notify/recipients/{recipient}/contacts", token, json={"contacts": contacts})
    assert response.status_code == 200, response.text
    if channels:
        response = _api(settings, "PUT", f"/notify/recipients/{recipient}/preferences", token,
                        json={"channels": channels})
        assert response.status_code == 200, response.text


def _config(settings, **overrides):
    config = {"quiet_hours": None, "sender": {"interval_s": 0.1},
              "retry": {"attempts_per_channel": 3, "base_delay_s": 0.1, "max_delay_s": 1},
              "channels": {"webhook": {"secret": SECRET, "timeout_s": 2, "allow_private": ["127.0.0.1"]}}}
    config.update(overrides)
    write_notify_config(settings, **config)


def test_email_and_webhook_carry_the_rendered_chinese_message_signed(infra_settings, start_services, counter_token,
                                                                     tmp_path):
    with SmtpServer(tmp_path / "mail") as smtp, WebhookReceiver() as hook:
        _config(infra_settings, channels={"webhook": {"secret": SECRET, "allow_private": ["127.0.0.1"]},
                                          "email": {"host": "127.0.0.1", "port": smtp.port,
                                                    "sender": "家门口服务站 <noreply@lujiazui.example>"}})
        settings, _ = start_services(infra_settings, ["notify"])
        token = counter_token(settings)
        data = routed_data()
        _register(settings, token, f"resident:{data['resident_id']}", {"email": "wang.ayi@example.org"})
        _register(settings, token, "unit:shixin-pm", {"webhook": hook.url})
        publish_routed(settings, data)

        sent = wait_for(lambda: len(found := [d for d in _deliveries(settings, token, data["case_id"])
                                                if d["status"] == "sent"]) == 2 and found, message="both sent")
        assert len(smtp.messages()) == 1 and len(hook.requests) == 1

    # E-mail: the Chinese subject and body arrive intact (RFC 2047 subject, UTF-8 body) and match the template.
    expected = default_templates()[ROUTED][0].render(data)
    raw = smtp.messages()[0]
    assert b"=?utf-8?" in raw.lower()  # the subject travels as an encoded word, not raw bytes
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == expected.subject == "您的事项已转交市新居民区物业办理"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content().strip() == expected.body
    assert mail["To"] == "wang.ayi@example.org"

    # Webhook: the signature verifies with the documented algorithm; a tampered body does not.
    request = hook.requests[0]
    timestamp = request["headers"][webhook.TIMESTAMP_HEADER]
    signature = request["headers"][webhook.SIGNATURE_HEADER]
    expected_signature = "v1=" + __import__("hmac").new(
        SECRET.encode(), f"{timestamp}.".encode() + request["body"], "sha256").hexdigest()
    assert signature == expected_signature
    assert webhook.verify(SECRET.encode(), request["body"], timestamp, signature)
    tampered = request["body"].replace("市新居民区".encode(), "别的居民区".encode())
    assert not webhook.verify(SECRET.encode(), tampered, timestamp, signature)
    assert not webhook.verify(SECRET.encode(), request["body"], timestamp, signature, now=int(timestamp) + 301)
    payload = json.loads(request["body"])
    assert payload["recipient"] == "unit:shixin-pm" and payload["subject"] == "新派单：property-repair"
    assert {d["channel"] for d in sent} == {"email", "webhook"}
    assert {d["address_masked"] for d in sent} == {"w***@example.org", hook.url.rsplit("/hooks", 1)[0] + "/…"}


def test_quiet_hours_defer_until_morning_under_a_controlled_clock(infra_settings, start_services, counter_token):
    clock, ticks = MovableClock(shanghai(2026, 11, 24, 23, 0)), Ticks()
    write_notify_config(infra_settings, packaged=["quiet_hours"], sender={"interval_s": 0.1})  # 22:00–08:00
    settings, _ = start_services(infra_settings, service_class=notify_on_clock(clock, ticks))
    token = counter_token(settings)
    deferred_total = CounterSince("doorstep_notify_deliveries_total", channel="file", status="deferred")
    data = routed_data()
    publish_routed(settings, data)

    deferred = wait_for(lambda: len(found := _deliveries(settings, token, data["case_id"])) == 2 and found,
                        message="deliveries recorded")
    # The resident's message waits for 08:00; the unit's too (work notices respect quiet hours as well).
    assert {d["status"] for d in deferred} == {"deferred"}
    assert {d["next_attempt_at"] for d in deferred} == {"2026-11-25T00:00:00+00:00"}
    assert {d["deferred_reason"] for d in deferred} == {"quiet hours"}
    wait_for(lambda: 'doorstep_notify_backlog{status="deferred"} 2.0' in
             requests.get(f"{base_url(settings, 'notify')}/metrics", timeout=5).text, message="backlog metric")
    assert deferred_total() == 2

    # Several sender passes later it is still night: nothing went out.
    ticks.wait_for_more(3, message="sender")
    assert {d["status"] for d in _deliveries(settings, token, data["case_id"])} == {"deferred"}

    clock.set(shanghai(2026, 11, 25, 8, 0, 1))

    def all_sent():
        found = _deliveries(settings, token, data["case_id"])
        return all(d["status"] == "sent" for d in found) and found

    sent = wait_for(all_sent, message="sent in the morning")
    assert all(d["sent_at"] >= "2026-11-25T00:00:00" for d in sent)


def test_redelivered_event_gives_one_message_per_recipient(infra_settings, start_services, counter_token):
    _config(infra_settings)
    settings, _ = start_services(infra_settings, ["notify"])
    token = counter_token(settings)
    duplicates = CounterSince("doorstep_events_consumed_total", service="notify", consumer="notify.on_case_routed",
                              type=ROUTED, outcome="duplicate")
    event = publish_routed(settings)
    for _ in range(3):  # the same event again: a relay retry, a redelivery after a crash
        publish_routed(settings, event=event)

    wait_for(lambda: duplicates() == 3, message="three duplicates absorbed")
    wait_for(lambda: len([d for d in _deliveries(settings, token, event.data["case_id"])
                            if d["status"] == "sent"]) == 2, message="both sent")
    assert count_rows(settings, "notify", "deliveries") == 2
    assert count_rows(settings, "notify", "outbox", "type = 'doorstep.notify.notification.sent.v1'") == 2


def test_retry_succeeds_on_the_third_attempt_and_a_permanent_failure_is_dead_lettered(
        infra_settings, start_services, counter_token):
    from services.notify.channels.gateways import GatewayResponse, RecordingGateway

    sms_gateway = RecordingGateway.named("sms")
    # The SMS provider rejects the unit's number outright: no point retrying it.
    sms_gateway.reset(lambda request: GatewayResponse(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL",
                                                             "Message": "invalid mobile 13812345678"}))
    queue = watch_notify_events(infra_settings.broker_uri)
    data = routed_data()
    resident = f"resident:{data['resident_id']}"
    with WebhookReceiver(statuses=[503, 503, 200]) as flaky, WebhookReceiver(statuses=[500] * 10) as broken:
        _config(infra_settings, retry={"attempts_per_channel": 3, "base_delay_s": 0.1, "max_delay_s": 1},
                channels={"webhook": {"secret": SECRET, "allow_private": ["127.0.0.1"]}, "sms": {"transport": "recording", "sign_name": "陆家嘴街道",
                                                                 "access_key_id": "id", "access_key_secret": "k"}})
        settings, _ = start_services(infra_settings, ["notify"])
        token, admin = counter_token(settings), counter_token(settings, role="admin")
        _register(settings, token, resident, {"webhook": flaky.url})
        _register(settings, token, "unit:shixin-pm", {"webhook": broken.url, "sms": "13812345678"},
                  channels=["webhook", "sms"])
        publish_routed(settings, data)

        def finished():
            found = {d["recipient"]: d for d in _deliveries(settings, token, data["case_id"])}
            done = len(found) == 2 and all(d["status"] in ("sent", "failed") for d in found.values())
            return done and found

        found = wait_for(finished, timeout=20, message="both finished")

    # The resident's webhook failed twice (503) and took the third attempt, after growing waits.
    sent = found[resident]
    assert sent["status"] == "sent"
    detail = _api(settings, "GET", f"/notify/deliveries/{sent['id']}", token).json()
    assert [(a["channel"], a["outcome"]) for a in detail["attempt_log"]] == [
        ("webhook", "failed"), ("webhook", "failed"), ("webhook", "sent")]
    assert detail["attempt_log"][0]["error"] == "webhook answered HTTP 503"
    assert detail["total_attempts"] == 3 and len(flaky.requests) == 3
    times = [datetime.fromisoformat(a["attempted_at"]) for a in detail["attempt_log"]]
    assert times[1] - times[0] >= timedelta(seconds=0.1) and times[2] - times[1] >= timedelta(seconds=0.2)
    # Every attempt carried the same delivery id, so the receiver can dedupe.
    assert {r["headers"][webhook.DELIVERY_HEADER] for r in flaky.requests} == {sent["id"]}

    # The unit's webhook kept failing (3 attempts), the SMS fallback was refused: given up.
    failed = found["unit:shixin-pm"]
    assert failed["status"] == "failed" and failed["channel"] == "sms"
    detail = _api(settings, "GET", f"/notify/deliveries/{failed['id']}", token).json()
    assert [(a["channel"], a["outcome"]) for a in detail["attempt_log"]] == [
        ("webhook", "failed")] * 3 + [("sms", "failed")]
    assert len(broken.requests) == 3 and len(sms_gateway.requests) == 1
    assert sms_gateway.requests[0].params["TemplateCode"] == "SMS_DOORSTEP_NEW_ASSIGNMENT"

    letters = _api(settings, "GET", "/notify/dead-letters", admin).json()
    assert [(l["delivery_id"], l["channels"]) for l in letters] == [(failed["id"], ["webhook", "sms"])]
    assert "isv.MOBILE_NUMBER_ILLEGAL" in letters[0]["reason"]
    assert "13812345678" not in letters[0]["reason"] and "138****5678" in letters[0]["reason"]

    published = []

    def events_of(kind):
        published.extend(json.loads(body) for _, body in drain_queue(settings.broker_uri, queue, timeout=0.5))
        return [e for e in published if e["type"] == f"doorstep.notify.notification.{kind}.v1"]

    [failure] = wait_for(lambda: events_of("failed"), message="notification.failed published")
    assert failure["data"]["delivery_id"] == failed["id"] and failure["data"]["attempts"] == 4
    assert failure["data"]["case_id"] == data["case_id"] and "13812345678" not in json.dumps(failure)
    [success] = wait_for(lambda: events_of("sent"), message="notification.sent published")
    assert success["data"]["delivery_id"] == sent["id"] and success["data"]["attempts"] == 3
