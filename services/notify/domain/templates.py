"""Templates as data: per event type, the notices it causes, for whom, and their wording per channel (Jinja2,
undefined fields an error). The file's format is :class:`TemplatesFile`; loading also checks every field a
template reads against the event's schema, so a wrong template fails at start-up, naming the file, the event
type and the template.

A street's file is data, never code: templates render in Jinja2's immutable sandbox with no globals, and a
template may read only its event's ``data`` (and names it sets itself); one that reaches for anything else —
an attribute starting with ``_``, a global such as ``cycler`` or ``self`` — is refused at load, naming it.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Iterable, Mapping

import jinja2
import jinja2.meta
import jinja2.nodes
import jinja2.sandbox
import yaml
from pydantic import BeforeValidator, ConfigDict, Field, RootModel, ValidationError, model_validator

from shared import street_files
from shared.events import Registry, registry
from shared.fields import Form, invalid
from shared.street_files import Code, StreetModel
from services.notify.domain.digest import DIGEST_KEY, DIGEST_SCHEMA
from services.notify.domain.recipients import CATEGORY_PATTERN, RECIPIENT_RE

DEFAULT_TEMPLATES = Path(__file__).parents[1] / "data" / "templates.yaml"
STREET_TEMPLATES = Path(__file__).parents[1] / "data" / "streets"
_ENV = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                                                    keep_trailing_newline=False)
_ENV.globals.clear()  # range, lipsum, cycler, joiner, namespace, dict: nothing a message needs


class TemplateError(Exception):
    """A template file is wrong; the message names the file, the event type and the template."""


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
            if ref and RECIPIENT_RE.match(ref) and ref not in found:
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


# -- the file's format --------------------------------------------------------------------------------------

class ChannelTextEntry(StreetModel):
    """A channel's own wording, over the template's (each a Jinja2 template reading ``data``)."""

    subject: str = Field(None, min_length=1)
    body: str = Field(None, min_length=1)
    params: dict[str, str] = Field(default_factory=dict, description="SMS template parameters, WeChat template "
                                                                     "keywords")
    provider_template: str = Field("", description="the SMS template code or WeChat template id registered with the "
                                                   "provider")
    link: str = Field(None, min_length=1, description="where a WeChat message leads")


class ChannelTextsEntry(StreetModel):
    """Per channel, wording over the template's."""

    email: ChannelTextEntry = None
    webhook: ChannelTextEntry = None
    sms: ChannelTextEntry = None
    wechat: ChannelTextEntry = None
    file: ChannelTextEntry = None
    console: ChannelTextEntry = None


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Wording = Annotated[str, Field(min_length=1, description="a Jinja2 template; `data` is the event's data")]
Category = Form(CATEGORY_PATTERN, "category", "类别应为小写代码，如 hearing", "must be a lower-case code like hearing",
                "the notice's category (通知类别), for opt-outs: a resident may decline hearing notices")
_PARTS = ("recipient", "subject", "body")


class TemplateEntry(StreetModel):
    """A notice an event causes (通知模板): for whom, and what it says. A street's file replaces a template of the
    same name, or removes it with ``disabled: true``."""

    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["disabled"], "properties": {"disabled": {"const": True}}},
        "else": {"required": list(_PARTS)}})

    template: Code = Field(description="the template's name, unique per event type")
    disabled: bool = Field(False, description="remove the template of this name")
    recipient: Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(
        _listed, json_schema_input_type=Wording | list[Wording]), Field(min_length=1)] = Field(
        None, description="one reference or a list: resident:<id>, unit:<code>, handler:<id>, supervisor:<id>, "
                          "donor:<id>, team:<id>, subscribers:<topic>; one whose field is absent is left out")
    category: Category = "general"
    mandatory: bool = Field(False, description="sent whatever the recipient opted out of")
    urgent_when: str = Field(None, min_length=1, description="a Jinja2 expression; an urgent notice ignores quiet "
                                                             "hours and the rate limit")
    when: str = Field(None, min_length=1, description="a Jinja2 expression; the notice is sent only if it holds")
    subject: Wording = None
    body: Wording = None
    channels: ChannelTextsEntry = None

    @model_validator(mode="after")
    def _complete_unless_disabled(self):
        missing = [part for part in _PARTS if part not in self.model_fields_set]
        if missing and not self.disabled:
            raise invalid("template_parts", f"缺少 {'、'.join(missing)}", f"{', '.join(missing)} missing "
                          "(a template needs recipient, subject and body unless disabled)")
        return self


def _known_event_types(schema: dict) -> None:
    # The event types a street may word, for editors to offer; the loader refuses any other.
    entries = schema.pop("additionalProperties")
    schema["properties"] = {t.type: {**entries, "description": t.schema.get("title", "")} for t in registry()}
    schema["properties"][DIGEST_KEY] = {**entries, "description": "a unit's daily digest (not an event)"}
    schema["additionalProperties"] = False


class TemplatesFile(RootModel[dict[str, list[TemplateEntry]]]):
    """``templates.yaml``: per event type, the notices it causes; over the defaults by template name."""

    model_config = ConfigDict(strict=True, json_schema_extra=_known_event_types)


def _template_entry(loc: tuple, raw: Any) -> tuple[str | None, tuple]:
    """An entry is named by its event type and template: ``doorstep.routing.case.routed.v1/case-routed-unit``."""
    entries = raw.get(loc[0]) if isinstance(raw, dict) and loc else None
    if len(loc) >= 2 and isinstance(entries, list) and isinstance(loc[1], int) and loc[1] < len(entries):
        name = entries[loc[1]].get("template") if isinstance(entries[loc[1]], dict) else None
        if isinstance(name, str):
            return f"{loc[0]}/{name}", loc[2:]
    return None, loc


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


def _outside_data(tree: jinja2.nodes.Template) -> str | None:
    """What a template reads besides its event's data: a name it did not set, or a private attribute."""
    assigned = {node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx in ("store", "param")}
    for node in tree.find_all((jinja2.nodes.Name, jinja2.nodes.Getattr, jinja2.nodes.Getitem, jinja2.nodes.Filter)):
        if isinstance(node, jinja2.nodes.Filter) and node.name == "attr":
            return "|attr"
        if isinstance(node, jinja2.nodes.Name) and node.ctx == "load" and node.name not in assigned | {"data"}:
            return node.name
        if isinstance(node, jinja2.nodes.Getattr) and node.attr.startswith("_"):
            return f".{node.attr}"
        if isinstance(node, jinja2.nodes.Getitem) and isinstance(node.arg, jinja2.nodes.Const) \
                and str(node.arg.value).startswith("_"):
            return f"[{node.arg.value!r}]"
    return None


def _compile(where: str, source: str, schema: dict, *, expression: bool = False):
    try:
        tree = _ENV.parse("{{ %s }}" % source if expression else source)
        outside = _outside_data(tree)
        if outside:
            raise TemplateError(f"{where} reaches outside its event's data ({outside}); a template may read only "
                                "data.<field> and the names it sets")
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
    except jinja2.sandbox.SecurityError as exc:
        raise TemplateError(f"{where} reaches outside its event's data: {exc}") from None


def _load_entry(origin: str, type_name: str, entry: TemplateEntry, schema: dict) -> MessageTemplate:
    where = f"{origin}: {type_name}/{entry.template}"

    def optional(part: str, source: str | None, *, expression: bool = False):
        return _compile(f"{where}: {part}", source, schema, expression=expression) if source else None

    channels = {}
    for channel, text in (entry.channels.given() if entry.channels else {}).items():
        channels[channel] = ChannelText(
            subject=optional(f"channels.{channel}.subject", text.subject),
            body=optional(f"channels.{channel}.body", text.body),
            params={k: _compile(f"{where}: channels.{channel}.params.{k}", v, schema) for k, v in text.params.items()},
            provider_template=text.provider_template,
            link=optional(f"channels.{channel}.link", text.link),
        )
    template = MessageTemplate(
        template=entry.template,
        recipients=tuple(_compile(f"{where}: recipient", r, schema) for r in entry.recipient),
        subject=_compile(f"{where}: subject", entry.subject, schema),
        body=_compile(f"{where}: body", entry.body, schema),
        category=entry.category,
        mandatory=entry.mandatory,
        urgent_when=optional("urgent_when", entry.urgent_when, expression=True),
        when=optional("when", entry.when, expression=True),
        channels=channels,
    )
    _check_optional_fields_guarded(where, template, schema)
    return template


def load_templates(path: Path | Iterable[Path] = DEFAULT_TEMPLATES, reg: Registry | None = None) -> dict[
        str, list[MessageTemplate]]:
    """Load templates from one file, or several where a later file overrides an earlier one by template
    name (a street's own wording); ``disabled: true`` in a later file removes a template. A file's problems
    are raised together, each naming the file, the event type and the template."""
    reg = reg or registry()
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    loaded: dict[str, list[MessageTemplate]] = {}
    for file in paths:
        raw = yaml.safe_load(file.read_text("utf-8")) or {}
        try:
            parsed = TemplatesFile.model_validate(raw).root
        except ValidationError as exc:
            raise TemplateError("\n".join(street_files.problems(exc, file, raw, _template_entry))) from None
        problems = []
        for type_name, entries in parsed.items():
            if type_name == DIGEST_KEY:
                schema = DIGEST_SCHEMA
            else:
                try:
                    schema = reg.get(type_name).schema
                except KeyError:
                    problems.append(f"{file}: {type_name}: not a known event type")
                    continue
            current = loaded.setdefault(type_name, [])
            for entry in entries:
                if entry.disabled:
                    current[:] = [t for t in current if t.template != entry.template]
                    continue
                try:
                    template = _load_entry(str(file), type_name, entry, schema)
                except TemplateError as exc:
                    problems.append(str(exc))
                    continue
                replaced = [i for i, t in enumerate(current) if t.template == template.template]
                if replaced:
                    current[replaced[0]] = template
                else:
                    current.append(template)
        if problems:
            raise TemplateError("\n".join(problems))
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
