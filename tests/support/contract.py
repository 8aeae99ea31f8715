"""Checks of the public contract the tests of every service share: an answer carries exactly its documented
fields, an event's data fits its frozen schema, and use cases emit only what their service's builders make."""
import ast
import inspect
import json
import re

import jsonschema
from pydantic import BaseModel, TypeAdapter

from shared.events import Outgoing

from support import ROOT

CONTRACT = ROOT / "shared" / "contract"


def exact(model, value):
    """The answer fits its documented model and carries no field the model does not document."""
    def walk(parsed, where="answer"):
        if isinstance(parsed, BaseModel):
            assert not parsed.model_extra, f"{where} has undocumented fields {sorted(parsed.model_extra)}"
            for name in type(parsed).model_fields:
                walk(getattr(parsed, name), f"{where}.{name}")
        elif isinstance(parsed, list):
            for i, item in enumerate(parsed):
                walk(item, f"{where}[{i}]")
        elif isinstance(parsed, dict):
            for k, item in parsed.items():
                walk(item, f"{where}.{k}")
    walk(TypeAdapter(model).validate_python(value))
    return value


def schema(kind: str, type_name: str) -> dict:
    """``kind`` "frozen" (the published contract) or "schemas" (the current one) of an event type."""
    _, service, entity, verb, version = type_name.split(".")
    path = CONTRACT / kind / service / f"{entity}.{verb}.{version}.json"
    assert path.exists(), f"{type_name} has no {kind} schema"
    return json.loads(path.read_text("utf-8"))


def schema_errors(type_name: str, data: dict, kind: str = "frozen") -> list[str]:
    validator = jsonschema.Draft202012Validator(schema(kind, type_name),
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(data)]


def builders(events_module) -> dict:
    """The builders a service's ``events`` module declares, by name: its functions that make an ``Outgoing``."""
    return {name: f for name, f in inspect.getmembers(events_module, inspect.isfunction)
            if f.__module__ == events_module.__name__ and not name.startswith("_")
            and inspect.signature(f).return_annotation in ("Outgoing", Outgoing)}


def published_types(service: str) -> set[str]:
    return {f"doorstep.{service}.{path.stem}" for path in (CONTRACT / "schemas" / service).glob("*.json")}


def emitted_by_hand(service: str) -> list[str]:
    """Where a use case of ``service`` emits anything but a builder's event (a type name, ``data=``), or names
    an event type outside ``events.py``."""
    found = []
    naming = re.compile(rf"doorstep\.{service}\.[a-z_]+\.[a-z_]+\.v[0-9]")
    for path in sorted((ROOT / "services" / service).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        text = path.read_text("utf-8")
        for node in ast.walk(ast.parse(text, str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit"
                    and (any(isinstance(a, ast.Constant) for a in node.args) or node.keywords)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        if path.name != "events.py" and naming.search(text):
            found.append(f"{path.relative_to(ROOT)} names an event type")
    return found
