"""The event catalog (docs/events.md) and the AsyncAPI 3.0 document (docs/asyncapi.yaml), generated from
the registry so they can never drift from the schemas. ``doorstep events docs`` writes them; the tests fail
when the checked-in copies are not what the generator produces.
"""
from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path

import exrex
import yaml

from shared.events import ENVELOPE_SCHEMA, EventType, Registry, registry

SERVICE_CLASSES = {
    "intake": "services.intake.service:IntakeService",
    "routing": "services.routing.service:RoutingService",
    "funds": "services.funds.service:FundsService",
    "notify": "services.notify.service:NotifyService",
}
_EXAMPLE_TIME = "2026-11-23T08:00:00.000Z"
_EXAMPLE_UUID = "3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def consumers() -> dict[str, list[str]]:
    """Event type → the ``service.method`` consumers declared with ``@consume`` in the services' code."""
    from shared.consumer import EventConsumer

    found: dict[str, list[str]] = {}
    for service, path in SERVICE_CLASSES.items():
        module, _, attr = path.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        for name in dir(cls):
            for entrypoint in getattr(getattr(cls, name, None), "nameko_entrypoints", ()):
                if isinstance(entrypoint, EventConsumer):
                    type_name = f"doorstep.{entrypoint.source_service}.{entrypoint.event_type}"
                    found.setdefault(type_name, []).append(f"{service}.{name}")
    return {k: sorted(v) for k, v in found.items()}


def example_data(event_type: EventType) -> dict:
    """The schema's own ``examples[0]``, or one built from its types, formats and enums."""
    if event_type.schema.get("examples"):
        data = event_type.schema["examples"][0]
    else:
        data = _example(event_type.schema)
    try:
        event_type.validate(data)
    except Exception as exc:
        raise ValueError(f"{event_type.type}: no valid example can be derived ({exc}); "
                         "add an 'examples' entry to its schema file") from None
    return data


def _example(schema: dict):
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return _example(schema[key][0])
    kind = schema.get("type", "string")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {name: _example(prop) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [_example(schema.get("items", {}))]
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return False
    fmt, pattern = schema.get("format"), schema.get("pattern", "")
    if fmt == "uuid":
        return _EXAMPLE_UUID
    if fmt == "date-time":
        return _EXAMPLE_TIME
    if fmt == "date":
        return "2026-11-23"
    if pattern:
        # the first string the pattern matches, in exrex's fixed order: the same example every run
        return next(exrex.generate(pattern, limit=3))
    return "example"


def example_envelope(event_type: EventType, street: str = "lujiazui") -> dict:
    return {
        "specversion": "1.0", "id": _EXAMPLE_UUID, "source": f"/doorstep/{street}/{event_type.service}",
        "type": event_type.type, "time": _EXAMPLE_TIME, "subject": "case/" + _EXAMPLE_UUID,
        "datacontenttype": "application/json", "dataschema": event_type.dataschema, "street": street,
        "data": example_data(event_type),
    }


def _payload_schema(event_type: EventType) -> dict:
    envelope = copy.deepcopy(ENVELOPE_SCHEMA)
    for key in ("$schema", "$id", "title"):
        envelope.pop(key, None)
    envelope["properties"]["type"] = {"const": event_type.type}
    data = copy.deepcopy(event_type.schema)
    data.pop("$schema", None)
    envelope["properties"]["data"] = data
    return envelope


def asyncapi(reg: Registry | None = None) -> dict:
    reg = reg or registry()
    consumed = consumers()
    channels, operations, messages = {}, {}, {}
    for event_type in reg:
        key = f"{event_type.service}.{event_type.routing_key}"
        readers = consumed.get(event_type.type, [])
        messages[event_type.type] = {
            "name": event_type.type,
            "title": event_type.schema.get("title", event_type.type),
            "contentType": "application/json",
            "payload": _payload_schema(event_type),
            "examples": [{"name": "example", "payload": example_envelope(event_type)}],
        }
        channels[key] = {
            "address": event_type.routing_key,
            "title": f"{event_type.exchange} / {event_type.routing_key}",
            "messages": {event_type.routing_key: {"$ref": f"#/components/messages/{event_type.type}"}},
            "bindings": {"amqp": {
                "is": "routingKey",
                "exchange": {"name": event_type.exchange, "type": "topic", "durable": True, "autoDelete": False,
                             "vhost": "/"},
                "bindingVersion": "0.3.0",
            }},
        }
        operations[f"publish.{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Published by {event_type.service}; consumed by {', '.join(readers) or 'district subscribers'}",
            "messages": [{"$ref": f"#/channels/{key}/messages/{event_type.routing_key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Doorstep street events",
            "version": "1.0.0",
            "description": "Events one street's Doorstep instance publishes: CloudEvents 1.0 JSON envelopes with the "
                           "`street` extension, on durable topic exchanges `<service>.events`, routing key "
                           "`<entity>.<verb>.v<N>`, persistent, delivered at least once (dedupe on `id`). Within a "
                           "version schemas only grow; a breaking change is a new version published beside the old.",
        },
        "defaultContentType": "application/json",
        "servers": {"street": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1",
                               "description": "the street's RabbitMQ; each street is its own instance"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def catalog_markdown(reg: Registry | None = None) -> str:
    reg = reg or registry()
    consumed = consumers()
    lines = ["# Event catalog", "",
             "Generated by `doorstep events docs` from `shared/contract/schemas/`; do not edit by hand.",
             "Each event is a CloudEvents 1.0 JSON envelope (see the README); below, its `data`.", "",
             "| type | exchange | routing key | published by | consumed by |", "|---|---|---|---|---|"]
    for t in reg:
        lines.append(f"| [`{t.type}`](#{t.type.replace('.', '')}) | `{t.exchange}` | `{t.routing_key}` | {t.service} | "
                     f"{', '.join(consumed.get(t.type, [])) or '—'} |")
    for t in reg:
        lines += ["", f"## {t.type}", "", t.schema.get("title", ""), "",
                  f"- exchange `{t.exchange}`, routing key `{t.routing_key}`, published by **{t.service}**",
                  f"- consumed by: {', '.join(f'`{c}`' for c in consumed.get(t.type, [])) or 'district subscribers'}",
                  f"- schema: `shared/contract/schemas/{t.service}/{t.routing_key}.json`", "",
                  "Example envelope:", "", "```json",
                  json.dumps(example_envelope(t), ensure_ascii=False, indent=2), "```"]
    return "\n".join(lines) + "\n"


def render(docs: Path) -> dict[Path, str]:
    """The generated documents, by their path under ``docs``."""
    return {
        docs / "asyncapi.yaml": yaml.safe_dump(asyncapi(), allow_unicode=True, sort_keys=False, width=110),
        docs / "events.md": catalog_markdown(),
    }


def write(docs: Path) -> list[Path]:
    docs.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in render(docs).items():
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
            written.append(path)
    return written


def stale(docs: Path) -> list[Path]:
    return [path for path, text in render(docs).items() if not path.exists() or path.read_text("utf-8") != text]
