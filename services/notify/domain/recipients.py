"""Recipients and how they are reached: the channels notify knows, recipient references and topics, contact
addresses (checked, and masked wherever they are shown), and each recipient's preferences — channels in order,
opt-outs per category, quiet hours — that decide the channels a message tries."""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from shared.errors import InvalidInput
from shared.personal_data import MOBILE_RE

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Every channel notify knows; file and console need no address (the embedded default).
CHANNELS = ("email", "webhook", "sms", "wechat", "file", "console")
ADDRESSLESS_CHANNELS = frozenset({"file", "console"})

RECIPIENT_RE = re.compile(r"^(resident|unit|handler|supervisor|donor|team|staff|subscribers):[A-Za-z0-9:_.\-]{1,100}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.\-]{1,190}\.[A-Za-z]{2,}$")
_WECHAT_OPENID_RE = re.compile(r"^[A-Za-z0-9_\-]{10,64}$")
CATEGORY_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def check_recipient(ref: str) -> str:
    if not isinstance(ref, str) or not RECIPIENT_RE.match(ref) or ref.startswith("subscribers:"):
        raise InvalidInput("recipient", "expected resident:<id>, unit:<code>, handler:<id>, supervisor:<id>, "
                                        "donor:<id>, team:<id> or staff:<id>")
    return ref


def check_topic(topic: str) -> str:
    """A topic others subscribe to: ``unit:<code>`` (its handlers), ``area:<code>`` (hearing notices) …"""
    if not isinstance(topic, str) or not re.match(r"^(unit|area|team|project):[A-Za-z0-9_.\-]{1,80}$", topic):
        raise InvalidInput("topic", "expected unit:<code>, area:<code>, team:<id> or project:<id>")
    return topic


def check_contact(channel: str, address) -> str:
    field = f"contacts.{channel}"
    if channel not in CHANNELS or channel in ADDRESSLESS_CHANNELS:
        raise InvalidInput(field, f"not a channel with an address (email, webhook, sms, wechat)")
    if not isinstance(address, str) or not address.strip():
        raise InvalidInput(field, "must be a non-empty string")
    address = address.strip()
    valid = {
        "email": lambda a: _EMAIL_RE.match(a),
        "sms": lambda a: MOBILE_RE.match(a),
        "wechat": lambda a: _WECHAT_OPENID_RE.match(a),
        "webhook": lambda a: re.match(r"^https?://[^\s/]+(/\S*)?$", a) and len(a) <= 500,
    }[channel](address)
    if not valid:
        reason = {"email": "not an e-mail address", "sms": "not a mainland mobile number (11 digits)",
                  "wechat": "not a WeChat openid", "webhook": "not an http(s) URL"}[channel]
        raise InvalidInput(field, reason)
    return address


def mask_address(channel: str, address: str) -> str:
    """What may be shown or put in an event: 138****5678, w***@example.org, the webhook's host."""
    if channel == "sms" and MOBILE_RE.match(address):
        return f"{address[:3]}****{address[-4:]}"
    if channel == "email" and "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    if channel == "wechat":
        return f"{address[:4]}***"
    if channel == "webhook":
        return re.sub(r"^(https?://[^/]+).*$", r"\1/…", address)
    return address


@dataclasses.dataclass(frozen=True)
class QuietHours:
    start: time = time(22, 0)
    end: time = time(8, 0)

    def until(self, now: datetime, tz: ZoneInfo = SHANGHAI) -> datetime | None:
        """When quiet hours end, if ``now`` falls inside them; None otherwise. Wraps midnight."""
        if self.start == self.end:
            return None
        local = now.astimezone(tz)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            inside = self.start <= clock < self.end
        else:
            inside = clock >= self.start or clock < self.end
        if not inside:
            return None
        end_day = local.date() if clock < self.end else local.date() + timedelta(days=1)
        return datetime.combine(end_day, self.end, tzinfo=tz)


@dataclasses.dataclass(frozen=True)
class Preferences:
    channels: tuple[str, ...] = ()
    opted_out: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = QuietHours()

    def to_dict(self) -> dict:
        quiet = None if self.quiet_hours is None else {
            "start": self.quiet_hours.start.strftime("%H:%M"), "end": self.quiet_hours.end.strftime("%H:%M")}
        return {"channels": list(self.channels), "opt_out": sorted(self.opted_out), "quiet_hours": quiet}


def _parse_clock(value, field: str) -> time:
    if not isinstance(value, str) or not re.match(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", value):
        raise InvalidInput(field, "expected HH:MM (Asia/Shanghai)")
    return time(int(value[:2]), int(value[3:]))


def parse_preferences(body: dict, default_quiet: QuietHours | None = QuietHours()) -> Preferences:
    """Preferences from an API body; each wrong field is named."""
    unknown = set(body) - {"channels", "opt_out", "quiet_hours"}
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "unknown field")
    channels = body.get("channels", [])
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
        raise InvalidInput("channels", "must be a list of channel names")
    for i, channel in enumerate(channels):
        if channel not in CHANNELS:
            raise InvalidInput(f"channels[{i}]", f"{channel!r} is not one of {', '.join(CHANNELS)}")
    if len(set(channels)) != len(channels):
        raise InvalidInput("channels", "names a channel twice")
    opt_out = body.get("opt_out", [])
    if not isinstance(opt_out, list) or not all(isinstance(c, str) and CATEGORY_RE.match(c) for c in opt_out):
        raise InvalidInput("opt_out", "must be a list of category codes")
    quiet = default_quiet
    if "quiet_hours" in body:
        raw = body["quiet_hours"]
        if raw is None:
            quiet = None
        elif isinstance(raw, dict):
            quiet = QuietHours(_parse_clock(raw.get("start"), "quiet_hours.start"),
                               _parse_clock(raw.get("end"), "quiet_hours.end"))
        else:
            raise InvalidInput("quiet_hours", "must be {\"start\": \"HH:MM\", \"end\": \"HH:MM\"} or null")
    return Preferences(tuple(channels), frozenset(opt_out), quiet)


def plan_channels(preferences: Preferences, addressed: Iterable[str], default_channel: str) -> tuple[str, ...]:
    """The channels to try, in order: preferred ones the recipient has an address for (or that need none);
    without any, the recipient's registered channels; failing that, the default channel."""
    addressed = set(addressed)
    usable = tuple(c for c in preferences.channels if c in addressed or c in ADDRESSLESS_CHANNELS)
    if usable:
        return usable
    registered = tuple(c for c in CHANNELS if c in addressed)
    return registered or (default_channel,)
