"""Recipients and how they are reached: the channels notify knows, recipient references and topics, contact
addresses (masked wherever they are shown), and each recipient's preferences — channels in order,
opt-outs per category, quiet hours — that decide the channels a message tries."""
from __future__ import annotations

import dataclasses
import ipaddress
import re
from datetime import datetime, time, timedelta
from urllib.parse import urlsplit
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from shared.personal_data import MOBILE_RE

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Every channel notify knows; file and console need no address (the embedded default).
CHANNELS = ("email", "webhook", "sms", "wechat", "file", "console")
ADDRESSLESS_CHANNELS = frozenset({"file", "console"})

# Who a message can be for; ``subscribers:<topic>`` stands for everyone subscribed to a topic, in templates only.
RECIPIENT_KINDS = ("resident", "unit", "handler", "supervisor", "donor", "team", "staff")
_REFERENCE = r"[A-Za-z0-9:_.\-]{1,100}"
RECIPIENT_PATTERN = rf"^({'|'.join(RECIPIENT_KINDS)}):{_REFERENCE}$"
RECIPIENT_RE = re.compile(rf"^({'|'.join((*RECIPIENT_KINDS, 'subscribers'))}):{_REFERENCE}$")
# What others subscribe to: a unit (its handlers), a residential area (hearing notices), a team, a project.
TOPIC_PATTERN = r"^(unit|area|team|project):[A-Za-z0-9_.\-]{1,80}$"
CATEGORY_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"


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


class _StreetQuietHours:
    def __repr__(self) -> str:
        return "STREET_QUIET_HOURS"


# Quiet hours a recipient leaves unsaid are the street's (``quiet_hours`` in notify's settings).
STREET_QUIET_HOURS = _StreetQuietHours()


@dataclasses.dataclass(frozen=True)
class ChangePreferences:
    """A recipient's preferences as a worker sets them for the recipient."""
    recipient: str
    channels: tuple[str, ...] = ()
    opted_out: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None | _StreetQuietHours = STREET_QUIET_HOURS

    def preferences(self, street_quiet_hours: QuietHours | None) -> Preferences:
        quiet = street_quiet_hours if self.quiet_hours is STREET_QUIET_HOURS else self.quiet_hours
        return Preferences(self.channels, self.opted_out, quiet)


@dataclasses.dataclass(frozen=True)
class ChangeContacts:
    """A recipient's new addresses by channel; None removes the channel's address, a channel left out keeps it."""
    recipient: str
    addresses: Mapping[str, str | None]


def plan_channels(preferences: Preferences, addressed: Iterable[str], default_channel: str) -> tuple[str, ...]:
    """The channels to try, in order: preferred ones the recipient has an address for (or that need none);
    without any, the recipient's registered channels; failing that, the default channel."""
    addressed = set(addressed)
    usable = tuple(c for c in preferences.channels if c in addressed or c in ADDRESSLESS_CHANNELS)
    if usable:
        return usable
    registered = tuple(c for c in CHANNELS if c in addressed)
    return registered or (default_channel,)


# -- webhook targets ------------------------------------------------------------------------------------

def webhook_target_problem(url: str, allowed: tuple[str, ...] = (), resolve=None) -> str | None:
    """Why notify must not post to ``url``, or None.

    A webhook address is given through the API by people with a token; unchecked, it would let them make
    notify call the machine's own services (loopback), the cluster's (private ranges) or the cloud's metadata
    endpoint (link-local). So: https only, and never an address in those ranges — unless the street's notify
    settings allow-list the host or its network (``channels.webhook.allow_private``), for a receiver inside the
    street's own network (which may then also speak plain http). The host is resolved: a name that points into
    a forbidden range is refused too (checked again at each send).
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return "names no host"
    if _allowed(host, (), allowed):
        return None
    if parts.scheme != "https":
        return "must be an https URL"
    try:
        addresses = _addresses(host, resolve)
    except OSError:
        return None if resolve is None else f"host {host} cannot be resolved"
    for address in addresses:
        if _internal(address) and not _allowed(host, (address,), allowed):
            return f"points to an internal address ({address})"
    return None


def _addresses(host: str, resolve=None) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    if resolve is None:
        raise OSError("not resolved")
    return resolve(host)


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast \
        or ip.is_unspecified


def _allowed(host: str, addresses, allowed: tuple[str, ...]) -> bool:
    for entry in allowed:
        if entry.lower() == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        for address in [*addresses, host]:
            try:
                if ipaddress.ip_address(address) in network:
                    return True
            except ValueError:
                continue
    return False
