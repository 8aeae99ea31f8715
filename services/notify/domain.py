"""Notify's domain: which messages an event causes, rendered from templates kept as data."""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import jinja2
import jinja2.meta
import yaml

from shared.events import Registry, registry

DEFAULT_TEMPLATES = Path(__file__).parent / "data" / "templates.yaml"
_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Message:
    recipient: str
    template: str
    subject: str
    body: str


@dataclasses.dataclass(frozen=True)
class MessageTemplate:
    template: str
    recipient: jinja2.Template
    subject: jinja2.Template
    body: jinja2.Template

    def render(self, data: dict) -> Message:
        context = {"data": data}
        return Message(self.recipient.render(context), self.template, self.subject.render(context).strip(),
                       self.body.render(context).strip())


def _fields_used(source: str) -> set[str]:
    """``data.unit.name`` → {"unit"}: the top-level data fields a template reads."""
    used = set()
    for node in _ENV.parse(source).find_all(jinja2.nodes.Getattr):
        if isinstance(node.node, jinja2.nodes.Name) and node.node.name == "data":
            used.add(node.attr)
    return used


def load_templates(path: Path = DEFAULT_TEMPLATES, reg: Registry | None = None) -> dict[str, list[MessageTemplate]]:
    reg = reg or registry()
    raw = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    loaded = {}
    for type_name, entries in raw.items():
        try:
            schema = reg.get(type_name).schema
        except KeyError:
            raise TemplateError(f"{path}: {type_name}: not a known event type") from None
        known = set(schema.get("properties", {}))
        loaded[type_name] = []
        for entry in entries:
            name = entry.get("template", "?")
            for part in ("recipient", "subject", "body"):
                source = entry.get(part)
                if not source:
                    raise TemplateError(f"{path}: {type_name}/{name}: {part} is missing")
                try:
                    missing = _fields_used(source) - known
                except jinja2.TemplateSyntaxError as exc:
                    raise TemplateError(f"{path}: {type_name}/{name}: {part}: {exc}") from None
                if missing:
                    raise TemplateError(f"{path}: {type_name}/{name}: {part} uses data.{sorted(missing)[0]}, "
                                        f"which {type_name} does not define")
            loaded[type_name].append(MessageTemplate(
                name, _ENV.from_string(entry["recipient"]), _ENV.from_string(entry["subject"]),
                _ENV.from_string(entry["body"])))
    return loaded


@lru_cache(maxsize=None)
def default_templates() -> dict[str, list[MessageTemplate]]:
    return load_templates()


def messages_for(type_name: str, data: dict, templates: dict[str, list[MessageTemplate]]) -> list[Message]:
    return [t.render(data) for t in templates.get(type_name, [])]
