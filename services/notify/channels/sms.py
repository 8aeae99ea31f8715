"""SMS through Aliyun's SMS service (``SendSms``, API version 2017-05-25).

Mainland providers only send pre-approved templates: the message names its template code
(``channels.sms.provider_template`` in templates.yaml) and fills its parameters (``channels.sms.params``).
The request is signed as Aliyun's RPC APIs require (HMAC-SHA1 over the canonicalised query,
SignatureVersion 1.0).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

from services.notify.channels import DeliveryFailed, Outgoing
from services.notify.channels.gateways import (Gateway, GatewayRequest, GatewayResponse, GatewayUnreachable,
                                               HttpGateway, RecordingGateway)

ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Provider answers worth another try later; any other error code will fail again.
RETRIABLE_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "ServiceUnavailable",
                   "InternalError", "isp.SYSTEM_ERROR"}


def _percent(value: str) -> str:
    return quote(str(value), safe="~")


def sign_rpc(params: dict, secret: str, method: str = "GET") -> str:
    canonical = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{_percent('/')}&{_percent(canonical)}"
    digest = hmac.new(f"{secret}&".encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class SmsChannel:
    name = "sms"

    def __init__(self, gateway: Gateway, *, sign_name: str, access_key_id: str, access_key_secret: str,
                 endpoint: str = ENDPOINT, region: str = "cn-hangzhou", clock=None, nonce=None):
        self.gateway, self.sign_name, self.endpoint, self.region = gateway, sign_name, endpoint, region
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.nonce = nonce or (lambda: uuid.uuid4().hex)

    @classmethod
    def from_settings(cls, options: dict) -> "SmsChannel":
        if options.get("provider", "aliyun") != "aliyun":
            raise ValueError(f"SMS provider {options.get('provider')!r} is not supported (aliyun)")
        gateway = (RecordingGateway.named("sms") if options.get("transport") == "recording"
                   else HttpGateway(float(options.get("timeout_s", 5.0))))
        return cls(gateway, sign_name=options.get("sign_name", "家门口服务站"),
                   access_key_id=options.get("access_key_id", ""),
                   access_key_secret=options.get("access_key_secret", ""),
                   endpoint=options.get("endpoint", ENDPOINT), region=options.get("region", "cn-hangzhou"))

    def shape(self, outgoing: Outgoing) -> GatewayRequest:
        if not outgoing.rendered.provider_template:
            raise DeliveryFailed(f"template {outgoing.template} has no SMS template code", permanent=True)
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON",
            "PhoneNumbers": outgoing.address, "RegionId": self.region, "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": self.nonce(), "SignatureVersion": "1.0",
            "TemplateCode": outgoing.rendered.provider_template,
            "TemplateParam": json.dumps(dict(outgoing.rendered.params), ensure_ascii=False, separators=(",", ":")),
            "Timestamp": self.clock().strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25",
            "OutId": outgoing.delivery_id,
        }
        params["Signature"] = sign_rpc(params, self.access_key_secret)
        return GatewayRequest("GET", self.endpoint, params=params)

    def send(self, outgoing: Outgoing) -> None:
        if not outgoing.address:
            raise DeliveryFailed("no mobile number registered", permanent=True)
        request = self.shape(outgoing)
        try:
            response = self.gateway.request(request)
        except GatewayUnreachable as exc:
            raise DeliveryFailed(f"SMS provider unreachable: {exc}") from None
        self._check(response)

    @staticmethod
    def _check(response: GatewayResponse) -> None:
        code = response.body.get("Code")
        if response.status == 200 and code == "OK":
            return
        message = response.body.get("Message", "")
        reason = f"SMS provider answered {response.status} {code or ''} {message}".strip()
        raise DeliveryFailed(reason[:300], permanent=not (response.status >= 500 or code in RETRIABLE_CODES))
