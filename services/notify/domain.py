"""Notify's domain: which notices an event causes, for whom, on which channel, and when. No nameko, HTTP or SQL.

* **Templates are data** (``data/templates.yaml``, overridable per street): per event type, a list of notices,
  each naming its recipients, category, whether it is mandatory or urgent, and a Chinese subject and body per
  channel (Jinja2). A template that reads a field its event does not define fails at load, naming itself.
* **Preferences** per recipient: channels in order, opt-outs per category (mandatory notices ignore them),
  quiet hours (default 22:00–08:00 Asia/Shanghai; urgent notices ignore them).
* **Delivery policy**: attempts per channel with exponential backoff, then the next preferred channel, then
  give up; a per-recipient rate limit defers (never drops) what exceeds it.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
import jinja2.nodes
import yaml

from shared.errors import InvalidInput
from shared.events import Registry, registry
from shared.personal_data import MOBILE_RE

DEFAULT_TEMPLATES = Path(__file__).parent / "data" / "templates.yaml"
STREET_TEMPLATES = Path(__file__).parent / "data" / "streets"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# Every channel notify knows; file and console need no address (the embedded default).
CHANNELS = ("email", "webhook", "sms", "wechat", "file", "console")
ADDRESSLESS_CHANNELS = frozenset({"file", "console"})
STATUSES = ("queued", "deferred", "sent", "failed")

# The digest is not an event; its templates live under this key and read this context.
DIGEST_KEY = "digest.unit"
# The digest's data is built by notify itself, every field always present.
DIGEST_SCHEMA = {"required": ["unit", "date", "new", "overdue", "escalated", "counts"], "properties": {
    "unit": {"required": ["code", "name"], "properties": {"code": {}, "name": {}}},
    "date": {}, "new": {"type": "array"}, "overdue": {"type": "array"}, "escalated": {"type": "array"},
    "counts": {"required": ["new", "overdue", "escalated"], "properties": {
        "new": {"type": "integer"}, "overdue": {"type": "integer"}, "escalated": {"type": "integer"}}},
}}

_RECIPIENT_RE = re.compile(r"^(resident|unit|handler|supervisor|donor|team|staff|subscribers):[A-Za-z0-9:_.\-]{1,100}$")
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.\-]{1,190}\.[A-Za-z]{2,}$")
_WECHAT_OPENID_RE = re.compile(r"^[A-Za-z0-9_\-]{10,64}$")
_CATEGORY_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateError(Exception):
    """A template file is wrong; the message names the file, the event type and the template."""


# -- templates --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Message:
    """A rendered message for one recipient (default channel rendering)."""
    recipient: str
    template: str
    subject: str
    body: str


@dataclasses.dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    # Provider fields (SMS template params, WeChat keywords): already rendered strings.
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    provider_template: str = ""
    link: str = ""


@dataclasses.dataclass(frozen=True)
class Notice:
    """A decision that ``recipient`` gets ``template`` about an event; channels and timing come later."""
    template: str
    recipient: str
    category: str
    mandatory: bool
    urgent: bool


@dataclasses.dataclass(frozen=True)
class ChannelText:
    subject: jinja2.Template | None = None
    body: jinja2.Template | None = None
    params: Mapping[str, jinja2.Template] = dataclasses.field(default_factory=dict)
    provider_template: str = ""
    link: jinja2.Template | None = None


@dataclasses.dataclass(frozen=True)
class MessageTemplate:
    template: str
    recipients: tuple[jinja2.Template, ...]
    subject: jinja2.Template
    body: jinja2.Template
    category: str = "general"
    mandatory: bool = False
    urgent_when: object = None  # compiled Jinja2 expression or None
    when: object = None
    channels: Mapping[str, ChannelText] = dataclasses.field(default_factory=dict)

    def applies(self, data: dict) -> bool:
        return self.when is None or bool(self.when(data=data))

    def is_urgent(self, data: dict) -> bool:
        return self.urgent_when is not None and bool(self.urgent_when(data=data))

    def recipients_for(self, data: dict) -> list[str]:
        """Rendered recipient references; one whose optional field is absent is left out."""
        found = []
        for recipient in self.recipients:
            try:
                ref = recipient.render(data=data).strip()
            except jinja2.UndefinedError:
                continue
            if ref and _RECIPIENT_RE.match(ref) and ref not in found:
                found.append(ref)
        return found

    def render(self, data: dict, channel: str | None = None) -> Rendered:
        text = self.channels.get(channel or "", ChannelText())
        subject = (text.subject or self.subject).render(data=data).strip()
        body = (text.body or self.body).render(data=data).strip()
        params = {k: v.render(data=data).strip() for k, v in text.params.items()}
        link = text.link.render(data=data).strip() if text.link else ""
        return Rendered(subject, body, params, text.provider_template, link)

    def message(self, recipient: str, data: dict) -> Message:
        rendered = self.render(data)
        return Message(recipient, self.template, rendered.subject, rendered.body)


Templates = Mapping[str, list[MessageTemplate]]


def _paths_used(source: str) -> set[tuple[str, ...]]:
    """``data.unit.name`` → {("unit", "name")}: the data fields a template reads, as paths."""
    paths = set()
    tree = _ENV.parse(source)
    for node in tree.find_all(jinja2.nodes.Getattr):
        chain = []
        current = node
        while isinstance(current, jinja2.nodes.Getattr):
            chain.append(current.attr)
            current = current.node
        if isinstance(current, jinja2.nodes.Name) and current.name == "data":
            paths.add(tuple(reversed(chain)))
    # Keep only the longest paths: data.unit.name also yields data.unit.
    return {p for p in paths if not any(q != p and q[:len(p)] == p for q in paths)}


def _missing_field(paths: Iterable[tuple[str, ...]], schema: dict) -> str | None:
    for path in sorted(paths):
        node = schema
        for depth, part in enumerate(path):
            props = node.get("properties")
            if props is None:
                break  # a free-form object or a list: its inner shape is not declared
            if part not in props:
                return ".".join(path[:depth + 1])
            node = props[part]
    return None


def _compile(where: str, source, schema: dict, *, expression: bool = False):
    if not isinstance(source, str):
        raise TemplateError(f"{where} must be text")
    try:
        missing = _missing_field(_paths_used("{{ %s }}" % source if expression else source), schema)
        compiled = _ENV.compile_expression(source) if expression else _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    if missing:
        raise TemplateError(f"{where} uses data.{missing}, which the event does not define")
    return compiled


def _least_event(schema: dict):
    """The smallest data an event may carry: only the required fields, each a placeholder of its type."""
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: _least_event(props.get(name, {})) for name in schema.get("required", [])}
    return {"array": [], "integer": 0, "number": 0, "boolean": False, "null": None}.get(kind, "x")


def _check_optional_fields_guarded(where: str, template: "MessageTemplate", schema: dict) -> None:
    """Render with only the required fields: an optional field read without ``default`` or ``is defined``
    would fail on the first event without it, so it fails here, at load. (Recipients may name absent fields:
    such a recipient is left out.)"""
    least = _least_event(schema)
    try:
        for channel in ("", *template.channels):
            template.render(least, channel or None)
        for expression in (template.when, template.urgent_when):
            if expression is not None:
                expression(data=least)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{where}: {exc.message} on an event without that optional field; "
                            "guard it with | default(…) or `is defined`") from None


def _load_entry(origin: str, type_name: str, entry: dict, schema: dict) -> MessageTemplate:
    name = entry.get("template")
    if not name or not isinstance(name, str):
        raise TemplateError(f"{origin}: {type_name}: an entry has no 'template' name")
    where = f"{origin}: {type_name}/{name}"
    for part in ("recipient", "subject", "body"):
        if not entry.get(part):
            raise TemplateError(f"{where}: {part} is missing")
    recipients = entry["recipient"] if isinstance(entry["recipient"], list) else [entry["recipient"]]
    category = entry.get("category", "general")
    if not isinstance(category, str) or not _CATEGORY_RE.match(category):
        raise TemplateError(f"{where}: category {category!r} is not a lower-case code")
    channels = {}
    for channel, text in (entry.get("channels") or {}).items():
        if channel not in CHANNELS:
            raise TemplateError(f"{where}: channels.{channel} is not a channel ({', '.join(CHANNELS)})")
        text = text or {}
        channels[channel] = ChannelText(
            subject=_compile(f"{where}: channels.{channel}.subject", text["subject"], schema)
            if "subject" in text else None,
            body=_compile(f"{where}: channels.{channel}.body", text["body"], schema) if "body" in text else None,
            params={k: _compile(f"{where}: channels.{channel}.params.{k}", v, schema)
                    for k, v in (text.get("params") or {}).items()},
            provider_template=str(text.get("provider_template", "")),
            link=_compile(f"{where}: channels.{channel}.link", text["link"], schema) if "link" in text else None,
        )
    template = MessageTemplate(
        template=name,
        recipients=tuple(_compile(f"{where}: recipient", r, schema) for r in recipients),
        subject=_compile(f"{where}: subject", entry["subject"], schema),
        body=_compile(f"{where}: body", entry["body"], schema),
        category=category,
        mandatory=bool(entry.get("mandatory", False)),
        urgent_when=_compile(f"{where}: urgent_when", entry["urgent_when"], schema, expression=True)
        if entry.get("urgent_when") else None,
        when=_compile(f"{where}: when", entry["when"], schema, expression=True) if entry.get("when") else None,
        channels=channels,
    )
    _check_optional_fields_guarded(where, template, schema)
    return template


def load_templates(path: Path | Iterable[Path] = DEFAULT_TEMPLATES, reg: Registry | None = None) -> dict[
        str, list[MessageTemplate]]:
    """Load templates from one file, or several where a later file overrides an earlier one by template
    name (a street's own wording); ``disabled: true`` in a later file removes a template."""
    reg = reg or registry()
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    loaded: dict[str, list[MessageTemplate]] = {}
    for file in paths:
        raw = yaml.safe_load(file.read_text("utf-8")) or {}
        if not isinstance(raw, dict):
            raise TemplateError(f"{file}: must map event types to lists of templates")
        for type_name, entries in raw.items():
            if type_name == DIGEST_KEY:
                schema = DIGEST_SCHEMA
            else:
                try:
                    schema = reg.get(type_name).schema
                except KeyError:
                    raise TemplateError(f"{file}: {type_name}: not a known event type") from None
            current = loaded.setdefault(type_name, [])
            for entry in entries or []:
                if entry.get("disabled"):
                    current[:] = [t for t in current if t.template != entry.get("template")]
                    continue
                template = _load_entry(str(file), type_name, entry, schema)
                replaced = [i for i, t in enumerate(current) if t.template == template.template]
                if replaced:
                    current[replaced[0]] = template
                else:
                    current.append(template)
    return loaded


def template_files(street: str, *overrides: str | Path | None) -> list[Path]:
    """The default templates, then the street's packaged ones (``data/streets/<street>.yaml``), then each given
    override file in turn (the street directory's ``templates.yaml``, the file notify's settings name)."""
    files = [DEFAULT_TEMPLATES]
    street_file = STREET_TEMPLATES / f"{street}.yaml"
    if street_file.is_file():
        files.append(street_file)
    files.extend(Path(override) for override in overrides if override)
    return files


@lru_cache(maxsize=None)
def default_templates() -> dict[str, list[MessageTemplate]]:
    return load_templates()


def event_types_with_templates(templates: Templates) -> list[str]:
    return sorted(t for t in templates if t != DIGEST_KEY)


def find_template(templates: Templates, type_name: str, name: str) -> MessageTemplate | None:
    return next((t for t in templates.get(type_name, []) if t.template == name), None)


def notices_for(type_name: str, data: dict, templates: Templates) -> list[Notice]:
    """Who hears about this event. One notice per recipient: the first template naming them wins."""
    notices: list[Notice] = []
    seen = set()
    for template in templates.get(type_name, []):
        if not template.applies(data):
            continue
        urgent = template.is_urgent(data)
        for recipient in template.recipients_for(data):
            if recipient in seen:
                continue
            seen.add(recipient)
            notices.append(Notice(template.template, recipient, template.category, template.mandatory, urgent))
    return notices


def messages_for(type_name: str, data: dict, templates: Templates) -> list[Message]:
    by_name = {t.template: t for t in templates.get(type_name, [])}
    return [by_name[n.template].message(n.recipient, data) for n in notices_for(type_name, data, templates)]


# -- recipients, contacts, preferences ------------------------------------------------------------------

def check_recipient(ref: str) -> str:
    if not isinstance(ref, str) or not _RECIPIENT_RE.match(ref) or ref.startswith("subscribers:"):
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
    if not isinstance(opt_out, list) or not all(isinstance(c, str) and _CATEGORY_RE.match(c) for c in opt_out):
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


# -- deciding when to send ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RateLimit:
    per_hour: int = 20
    window: timedelta = timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class Decision:
    status: str  # queued | deferred | skipped
    next_attempt_at: datetime | None
    reason: str = ""


def reads_recent_sends(notice: Notice, preferences: Preferences) -> bool:
    """Whether :func:`decide` needs the recipient's recent sends for this notice: only the rate limit reads
    them, and it does not apply to urgent or mandatory notices, nor to one that is skipped (opted out)."""
    if notice.category in preferences.opted_out and not notice.mandatory:
        return False
    return not notice.urgent and not notice.mandatory


def decide(notice: Notice, preferences: Preferences, now: datetime, recent_sends: list[datetime],
           rate_limit: RateLimit = RateLimit(), tz: ZoneInfo = SHANGHAI) -> Decision:
    """Whether a notice is sent now, deferred (quiet hours, rate limit) or skipped (opted out).

    ``recent_sends``: when this recipient's other messages were scheduled within the rate-limit window (the
    latest ``rate_limit.per_hour`` of them are enough; none are needed where :func:`reads_recent_sends` says so).
    """
    if notice.category in preferences.opted_out and not notice.mandatory:
        return Decision("skipped", None, f"opted out of {notice.category}")
    if notice.urgent:
        return Decision("queued", now)
    not_before = now
    reason = ""
    if preferences.quiet_hours is not None:
        until = preferences.quiet_hours.until(now, tz)
        if until is not None:
            not_before, reason = until, "quiet hours"
    window = sorted(t for t in recent_sends if t > not_before - rate_limit.window)
    # The limit protects people from chatter; a mandatory notice (a unit's new assignment) is work, not chatter.
    if not notice.mandatory and len(window) >= rate_limit.per_hour:
        # Free a slot: the send that leaves the window first makes room.
        released = window[len(window) - rate_limit.per_hour] + rate_limit.window
        if released > not_before:
            not_before, reason = released, "rate limit"
    if not_before > now:
        return Decision("deferred", not_before, reason)
    return Decision("queued", now)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts_per_channel: int = 3
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempt: int) -> timedelta:
        """Wait after failed attempt ``attempt`` (1-based): base, 2×base, 4×base … capped."""
        return min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)


@dataclasses.dataclass(frozen=True)
class AfterFailure:
    action: str  # retry | fallback | give_up
    channel_index: int
    attempts: int  # attempts made on the channel at channel_index
    next_attempt_at: datetime | None


def after_failure(plan: tuple[str, ...], channel_index: int, attempts: int, permanent: bool, now: datetime,
                  policy: RetryPolicy) -> AfterFailure:
    """Attempt ``attempts`` on ``plan[channel_index]`` failed: retry later, try the next channel, or give up.
    A permanent failure (refused address, rejected request) is not retried on the same channel."""
    if not permanent and attempts < policy.attempts_per_channel:
        return AfterFailure("retry", channel_index, attempts, now + policy.delay(attempts))
    if channel_index + 1 < len(plan):
        return AfterFailure("fallback", channel_index + 1, 0, now)
    return AfterFailure("give_up", channel_index, attempts, None)


# -- the daily digest -------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AssignmentView:
    assignment_id: str
    case_id: str
    unit_code: str
    unit_name: str
    area: str
    matter_code: str
    routed_at: datetime
    due_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None


def digest_moment(day, at: time, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def digest_due(now: datetime, at: time, tz: ZoneInfo = SHANGHAI, catch_up: timedelta = timedelta(hours=6)):
    """The local date whose digest is due at ``now`` — today's, from its time on — else None. A service that
    was down at digest time catches up for a few hours, not at night (a stale digest helps no one)."""
    local = now.astimezone(tz)
    moment = digest_moment(local.date(), at, tz)
    return local.date() if moment <= local < moment + catch_up else None


def compose_digest(unit_code: str, assignments: Iterable[AssignmentView], moment: datetime) -> dict | None:
    """What a unit's digest says at ``moment``: new in the last day, overdue, escalated; None if nothing."""
    since = moment - timedelta(days=1)
    new, overdue, escalated, unit_name = [], [], [], unit_code
    for a in assignments:
        if a.unit_code != unit_code or a.routed_at >= moment or (a.closed_at and a.closed_at <= moment):
            continue
        unit_name = a.unit_name or unit_name
        line = {"case_id": a.case_id, "matter_code": a.matter_code, "area": a.area,
                "routed_at": a.routed_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")}
        if a.routed_at >= since:
            new.append(line)
        if a.due_at is not None and a.due_at < moment:
            overdue.append({**line, "due_at": a.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")})
        if a.escalated_at is not None and a.escalated_at < moment:
            escalated.append(line)
    if not (new or overdue or escalated):
        return None
    return {"unit": {"code": unit_code, "name": unit_name}, "date": moment.astimezone(SHANGHAI).date().isoformat(),
            "new": new, "overdue": overdue, "escalated": escalated,
            "counts": {"new": len(new), "overdue": len(overdue), "escalated": len(escalated)}}
