"""Delivery channels behind one interface: ``send(outgoing)`` returns on success or raises
:class:`DeliveryFailed` saying whether trying again later could help.

* ``email`` — SMTP (smtplib), UTF-8 subject and body;
* ``webhook`` — HTTP POST signed with HMAC-SHA256 and a timestamp (see :mod:`.webhook`);
* ``sms`` — Aliyun SMS (``SendSms``) request shaping and signing;
* ``wechat`` — WeChat Official Account template messages;
* ``file`` / ``console`` — the embedded default: a JSON line per message, or the log.

SMS and WeChat talk to their provider through a gateway (:mod:`.gateways`); a recording gateway stands in for
the provider where it cannot be reached (tests, staging).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping, Protocol

from services.notify.domain.templates import Rendered


class DeliveryFailed(Exception):
    """A channel could not deliver. ``permanent``: the same request will fail again (a refused address, a
    rejected template); otherwise a later attempt may succeed (a timeout, a 503, a throttle)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


@dataclasses.dataclass(frozen=True)
class Outgoing:
    delivery_id: str
    recipient: str
    address: str | None
    template: str
    category: str
    cause_type: str
    rendered: Rendered


class Channel(Protocol):
    name: str

    def send(self, outgoing: Outgoing) -> None: ...


def build_channels(configured: Mapping[str, Mapping], data_dir: str) -> dict[str, Channel]:
    """Every channel the settings configure, plus file and console (always available)."""
    from services.notify.channels.email import EmailChannel
    from services.notify.channels.local import ConsoleChannel, FileChannel
    from services.notify.channels.sms import SmsChannel
    from services.notify.channels.webhook import WebhookChannel
    from services.notify.channels.wechat import WechatChannel

    file_options = dict(configured.get("file") or {})
    channels: dict[str, Channel] = {
        "file": FileChannel(Path(file_options.get("path") or Path(data_dir) / "notifications.jsonl")),
        "console": ConsoleChannel(),
    }
    builders = {"email": EmailChannel.from_settings, "webhook": WebhookChannel.from_settings,
                "sms": SmsChannel.from_settings, "wechat": WechatChannel.from_settings}
    for name, options in configured.items():
        if name in builders:
            channels[name] = builders[name](dict(options))
    return channels
