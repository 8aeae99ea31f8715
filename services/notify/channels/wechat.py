"""WeChat Official Account template messages (``cgi-bin/message/template/send``).

The recipient's address is their openid for the account. An access token is fetched with the app id and
secret and cached until shortly before it expires; a provider answer that the token is stale drops it so the
next attempt fetches a new one.
"""
from __future__ import annotations

import time

from services.notify.channels import DeliveryFailed, Outgoing
from services.notify.channels.gateways import (Gateway, GatewayRequest, GatewayUnreachable, HttpGateway,
                                               RecordingGateway)

API = "https://api.weixin.qq.com"
STALE_TOKEN_CODES = {40001, 40014, 42001}
RETRIABLE_CODES = {-1, 45009, 45011} | STALE_TOKEN_CODES


class WechatChannel:
    name = "wechat"

    def __init__(self, gateway: Gateway, *, app_id: str, app_secret: str, api: str = API, clock=time.monotonic):
        self.gateway, self.app_id, self.app_secret, self.api, self.clock = gateway, app_id, app_secret, api, clock
        self._token: str | None = None
        self._token_expires = 0.0

    @classmethod
    def from_settings(cls, options: dict) -> "WechatChannel":
        gateway = (RecordingGateway.named("wechat") if options.get("transport") == "recording"
                   else HttpGateway(float(options.get("timeout_s", 5.0))))
        return cls(gateway, app_id=options.get("app_id", ""), app_secret=options.get("app_secret", ""),
                   api=options.get("api", API))

    def _access_token(self) -> str:
        if self._token and self.clock() < self._token_expires:
            return self._token
        response = self.gateway.request(GatewayRequest("GET", f"{self.api}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret}))
        token = response.body.get("access_token")
        if response.status != 200 or not token:
            raise DeliveryFailed(f"WeChat token refused: {response.body.get('errcode')} {response.body.get('errmsg')}",
                                 permanent=False)
        # Renew five minutes early: a token that expires between our check and WeChat's costs an attempt.
        self._token, self._token_expires = token, self.clock() + int(response.body.get("expires_in", 7200)) - 300
        return token

    def shape(self, outgoing: Outgoing, token: str) -> GatewayRequest:
        if not outgoing.rendered.provider_template:
            raise DeliveryFailed(f"template {outgoing.template} has no WeChat template id", permanent=True)
        body = {"touser": outgoing.address, "template_id": outgoing.rendered.provider_template,
                "data": {key: {"value": value} for key, value in outgoing.rendered.params.items()}}
        if outgoing.rendered.link:
            body["url"] = outgoing.rendered.link
        return GatewayRequest("POST", f"{self.api}/cgi-bin/message/template/send", params={"access_token": token},
                              json=body)

    def send(self, outgoing: Outgoing) -> None:
        if not outgoing.address:
            raise DeliveryFailed("no WeChat openid registered", permanent=True)
        try:
            response = self.gateway.request(self.shape(outgoing, self._access_token()))
        except GatewayUnreachable as exc:
            raise DeliveryFailed(f"WeChat unreachable: {exc}") from None
        code = response.body.get("errcode", 0 if response.status == 200 else -1)
        if response.status == 200 and code == 0:
            return
        if code in STALE_TOKEN_CODES:
            self._token = None
        raise DeliveryFailed(f"WeChat answered {code} {response.body.get('errmsg', '')}".strip()[:300],
                             permanent=code not in RETRIABLE_CODES)
