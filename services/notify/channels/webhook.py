"""Webhooks: an HTTP POST of a JSON body, signed so the receiver can tell it came from us, unaltered, now.

The algorithm (documented in ``services/notify/README.md``):

* ``X-Doorstep-Timestamp``: the sending time, whole seconds since the Unix epoch;
* ``X-Doorstep-Signature``: ``v1=`` followed by the lower-case hex HMAC-SHA256, keyed with the shared secret,
  of the bytes ``<timestamp>.<body>`` (the timestamp header's digits, a full stop, the raw request body);
* the receiver recomputes it, compares in constant time, and rejects a timestamp more than 300 seconds from
  its own clock (a captured request cannot be replayed later). ``X-Doorstep-Delivery`` is the delivery id:
  a receiver dedupes on it (a delivery may arrive twice if our acknowledgement of the first was lost).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from datetime import datetime, timezone

import requests

from services.notify.channels import DeliveryFailed, Outgoing
from services.notify.domain.recipients import webhook_target_problem

SIGNATURE_HEADER = "X-Doorstep-Signature"
TIMESTAMP_HEADER = "X-Doorstep-Timestamp"
DELIVERY_HEADER = "X-Doorstep-Delivery"
TOLERANCE_S = 300


def _resolve(host: str) -> list[str]:
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(int(timestamp)).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: bytes, body: bytes, timestamp: str | None, signature: str | None, *, now: float | None = None,
           tolerance_s: int = TOLERANCE_S) -> bool:
    """True if ``signature`` is ours for ``body`` at ``timestamp`` and the timestamp is fresh."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


class WebhookChannel:
    name = "webhook"

    def __init__(self, secret: str, *, timeout_s: float = 5.0, clock=time.time, session=None,
                 allow_private: tuple[str, ...] = (), resolve=_resolve):
        if not secret:
            raise ValueError("a webhook channel needs a secret")
        self.secret = secret.encode("utf-8")
        self.allow_private = tuple(allow_private)
        self.resolve = resolve
        self.timeout_s = float(timeout_s)
        self.clock = clock
        self.session = session or requests.Session()

    @classmethod
    def from_settings(cls, options: dict) -> "WebhookChannel":
        return cls(options.get("secret", ""), timeout_s=options.get("timeout_s", 5.0),
                   allow_private=tuple(options.get("allow_private") or ()))

    def payload(self, outgoing: Outgoing) -> bytes:
        return json.dumps({
            "delivery_id": outgoing.delivery_id, "recipient": outgoing.recipient, "template": outgoing.template,
            "category": outgoing.category, "cause_type": outgoing.cause_type,
            "subject": outgoing.rendered.subject, "body": outgoing.rendered.body,
            "sent_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def send(self, outgoing: Outgoing) -> None:
        if not outgoing.address:
            raise DeliveryFailed("no webhook URL registered", permanent=True)
        problem = webhook_target_problem(outgoing.address, self.allow_private, self.resolve)
        if problem:  # checked again here: a name may have come to point inside since it was registered
            raise DeliveryFailed(f"webhook URL {problem}", permanent=True)
        body = self.payload(outgoing)
        timestamp = int(self.clock())
        headers = {"Content-Type": "application/json; charset=utf-8", TIMESTAMP_HEADER: str(timestamp),
                   SIGNATURE_HEADER: sign(self.secret, timestamp, body), DELIVERY_HEADER: outgoing.delivery_id}
        try:
            response = self.session.post(outgoing.address, data=body, headers=headers, timeout=self.timeout_s,
                                         allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryFailed(f"webhook unreachable: {type(exc).__name__}") from None
        if 200 <= response.status_code < 300:
            return
        retriable = response.status_code in (408, 425, 429) or response.status_code >= 500
        raise DeliveryFailed(f"webhook answered HTTP {response.status_code}", permanent=not retriable)
