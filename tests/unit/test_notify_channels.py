"""Channel adapters without their providers: request shaping, signing and how provider answers map to retry or
give-up. The SMS and WeChat providers are reached through a recording gateway with scripted answers."""
import base64
import email
import email.policy
import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest

from services.notify.channels import DeliveryFailed, Outgoing, build_channels
from services.notify.channels.email import EmailChannel
from services.notify.channels.gateways import GatewayResponse, RecordingGateway
from services.notify.channels.sms import SmsChannel, sign_rpc
from services.notify.channels.webhook import WebhookChannel, sign, verify
from services.notify.channels.wechat import WechatChannel
from services.notify.domain.templates import Rendered


def outgoing(address="x", **rendered):
    defaults = {"subject": "您的事项已转交市新居民区物业办理", "body": "您好，事项已转交。"}
    return Outgoing("d-1", "resident:r1", address, "case-routed-resident", "case-progress",
                    "doorstep.routing.case.routed.v1", Rendered(**{**defaults, **rendered}))


def test_email_is_utf8_with_an_encoded_subject():
    mail = EmailChannel("127.0.0.1", sender="家门口服务站 <noreply@example.org>").build(outgoing("wang@example.org"))
    raw = mail.as_bytes(policy=email.policy.SMTP)
    assert b"=?utf-8?" in raw.lower() and "您".encode() not in raw.split(b"\r\n\r\n")[0]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "您的事项已转交市新居民区物业办理"
    assert parsed.get_content().strip() == "您好，事项已转交。"
    assert parsed["X-Doorstep-Delivery"] == "d-1"


def test_email_to_an_unreachable_server_is_worth_retrying():
    channel = EmailChannel("127.0.0.1", port=1, timeout_s=1)
    with pytest.raises(DeliveryFailed) as failed:
        channel.send(outgoing("wang@example.org"))
    assert not failed.value.permanent and "unreachable" in failed.value.reason


def test_webhook_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = '{"subject":"新派单"}'.encode()
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(b"k", 1700000000, body) == f"v1={expected}"
    assert verify(b"k", body, "1700000000", f"v1={expected}", now=1700000100)
    assert not verify(b"k", body + b" ", "1700000000", f"v1={expected}", now=1700000100)  # tampered body
    assert not verify(b"other", body, "1700000000", f"v1={expected}", now=1700000100)  # wrong secret
    assert not verify(b"k", body, "1700000000", f"v1={expected}", now=1700000301)  # replayed too late
    assert not verify(b"k", body, "1700000001", f"v1={expected}", now=1700000100)  # timestamp swapped
    assert not verify(b"k", body, None, f"v1={expected}")


def test_webhook_needs_a_secret():
    with pytest.raises(ValueError):
        WebhookChannel("")


def sms_channel(gateway):
    return SmsChannel(gateway, sign_name="陆家嘴街道", access_key_id="LTAIkey", access_key_secret="secret",
                      clock=lambda: datetime(2026, 11, 24, 1, 2, 3, tzinfo=timezone.utc), nonce=lambda: "n-1")


def test_sms_request_follows_aliyun_send_sms_and_is_signed():
    gateway = RecordingGateway(lambda r: GatewayResponse(200, {"Code": "OK", "BizId": "1"}))
    sms_channel(gateway).send(outgoing("13812345678", provider_template="SMS_1", params={"unit": "市新物业"}))
    [request] = gateway.requests
    params = dict(request.params)
    assert (request.method, request.url) == ("GET", "https://dysmsapi.aliyuncs.com/")
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"
    assert params["PhoneNumbers"] == "13812345678" and params["SignName"] == "陆家嘴街道"
    assert json.loads(params["TemplateParam"]) == {"unit": "市新物业"}
    assert params["Timestamp"] == "2026-11-24T01:02:03Z" and params["OutId"] == "d-1"
    signature = params.pop("Signature")
    assert signature == sign_rpc(params, "secret")
    # The signature is HMAC-SHA1 keyed "<secret>&" over GET&%2F&<percent-encoded sorted query>.
    from urllib.parse import quote
    canonical = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(params.items()))
    to_sign = "GET&%2F&" + quote(canonical, safe="~")
    assert signature == base64.b64encode(hmac.new(b"secret&", to_sign.encode(), hashlib.sha1).digest()).decode()


@pytest.mark.parametrize("response, permanent", [
    (GatewayResponse(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL"}), False),
    (GatewayResponse(503, {}), False),
    (GatewayResponse(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL"}), True),
])
def test_sms_provider_answers_map_to_retry_or_give_up(response, permanent):
    with pytest.raises(DeliveryFailed) as failed:
        sms_channel(RecordingGateway(lambda r: response)).send(outgoing("13812345678", provider_template="SMS_1"))
    assert failed.value.permanent is permanent


def test_sms_without_a_provider_template_fails_permanently_before_calling_the_provider():
    gateway = RecordingGateway(lambda r: GatewayResponse(200, {"Code": "OK"}))
    with pytest.raises(DeliveryFailed) as failed:
        sms_channel(gateway).send(outgoing("13812345678"))
    assert failed.value.permanent and gateway.requests == []


def test_wechat_template_message_fetches_and_caches_the_access_token():
    def provider(request):
        if request.url.endswith("/cgi-bin/token"):
            return GatewayResponse(200, {"access_token": "TOKEN-1", "expires_in": 7200})
        return GatewayResponse(200, {"errcode": 0, "errmsg": "ok", "msgid": 1})

    gateway = RecordingGateway(provider)
    channel = WechatChannel(gateway, app_id="wx1", app_secret="s")
    message = outgoing("oABCDEFGHIJ1234", provider_template="tmpl-1", params={"first": "您好", "keyword1": "报修"},
                       link="https://example.org/case/1")
    channel.send(message)
    channel.send(message)
    token_calls = [r for r in gateway.requests if r.url.endswith("/cgi-bin/token")]
    sends = [r for r in gateway.requests if r.url.endswith("/message/template/send")]
    assert len(token_calls) == 1 and token_calls[0].params["appid"] == "wx1"
    assert len(sends) == 2 and sends[0].params == {"access_token": "TOKEN-1"}
    assert sends[0].json == {"touser": "oABCDEFGHIJ1234", "template_id": "tmpl-1", "url": "https://example.org/case/1",
                             "data": {"first": {"value": "您好"}, "keyword1": {"value": "报修"}}}


def test_wechat_stale_token_is_dropped_and_retried_and_an_unsubscribed_user_is_permanent():
    answers = iter([GatewayResponse(200, {"access_token": "OLD", "expires_in": 7200}),
                    GatewayResponse(200, {"errcode": 42001, "errmsg": "access_token expired"}),
                    GatewayResponse(200, {"access_token": "NEW", "expires_in": 7200}),
                    GatewayResponse(200, {"errcode": 43004, "errmsg": "require subscribe"})])
    gateway = RecordingGateway(lambda r: next(answers))
    channel = WechatChannel(gateway, app_id="wx1", app_secret="s")
    message = outgoing("oABCDEFGHIJ1234", provider_template="tmpl-1")
    with pytest.raises(DeliveryFailed) as stale:
        channel.send(message)
    assert not stale.value.permanent
    with pytest.raises(DeliveryFailed) as unsubscribed:
        channel.send(message)
    assert unsubscribed.value.permanent
    assert gateway.requests[-1].params == {"access_token": "NEW"}


def test_file_and_console_are_always_there_and_others_only_when_configured(tmp_path):
    channels = build_channels({"webhook": {"secret": "k"}}, str(tmp_path))
    assert set(channels) == {"file", "console", "webhook"}
    channels["file"].send(outgoing())
    line = json.loads((tmp_path / "notifications.jsonl").read_text("utf-8"))
    assert line["subject"] == "您的事项已转交市新居民区物业办理" and line["delivery_id"] == "d-1"
