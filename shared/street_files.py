"""What the models of a street's files (街道配置文件, see ``shared.config.STREET_FILES``) have in common.

Each file's format is one pydantic model, declared beside the loader that reads it: the model refuses misspelt
keys and values of the wrong type or form, and the loader then checks what a schema cannot say (a rule naming
a unit the directory lacks, a template reading a field its event lacks). The same model gives the JSON Schema a
street's staff point their editor at (``doorstep street schema``), so the editor and the services agree.

A model's problem names the file, the entry (by its code) and the reason, in Chinese and English, without
repeating the rejected value: ``catalog.yaml: matters[3] (property-repair): handling: 应为以下之一… / must be one
of …``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator

from shared.fields import Form
from shared.problems import field_name, reason

# The schemas use only what draft 7 has: the draft editors' YAML support (yaml-language-server) implements.
DIALECT = "http://json-schema.org/draft-07/schema#"

# The codes of a street's matters, stations, units, areas and rules.
Code = Form(r"^[a-z0-9][a-z0-9-]{0,79}$", "code", "应为小写字母、数字和“-”（最多80个）",
            "must be lower-case letters, digits and '-' (at most 80)", "a code: lower-case letters, digits, '-'")

# A unit of routing's directory, or the unit of the case's residential area in a role: "{area}-pm" is the
# property company of the case's area.
UnitRef = Form(r"^(\{area\}-[a-z0-9-]+|[a-z0-9][a-z0-9-]{0,79})$", "unit", "应为单位编码或居民区角色，如 {area}-rc",
               "must be a unit code or an area role like '{area}-rc'",
               "a unit (单位) of routing's directory, or the case's residential area's unit in a role: {area}-rc "
               "(居委会), {area}-pm (物业), {area}-oc (业委会), {area}-police (社区民警)")

# Where a file's entries are lists, an entry is named by its index and by the first of these it carries.
LABELS = ("code", "id", "name")


class StreetModel(BaseModel):
    """An entry of a street file. Unknown keys are refused (a misspelt key must not be silently ignored) and
    nothing is coerced (``"3"`` is not a number, ``"yes"`` is not ``true``): the file means what the editor's
    schema says it means."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    _written: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _keep_the_order_written(cls, data: Any, handler):
        entry = handler(data)
        if isinstance(data, dict):
            entry._written = tuple(data)
        return entry

    def given(self) -> dict[str, Any]:
        """The keys the file gives, in its order, with their validated values; a key left out is not there."""
        return {name: getattr(self, name) for name in self._written}


Entry = Callable[[tuple, Any], "tuple[str | None, tuple]"]


def labelled(loc: tuple, raw: Any) -> tuple[str | None, tuple]:
    """The entry a location falls in, named by its code (``matters[3] (property-repair)``), and the rest of the
    location inside it; (None, loc) when it is in no labelled entry."""
    node = raw
    for depth, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            label = next((node[key] for key in LABELS if isinstance(node, dict) and isinstance(node.get(key), str)),
                         None)
            if label:
                return f"{field_name(loc[:depth + 1])} ({label})", loc[depth + 1:]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            break
    return None, loc


def problems(exc: ValidationError, origin: str | Path, raw: Any, entry: Entry = labelled) -> list[str]:
    """Every failed rule of a file's model as ``<file>: <entry>: <field>: <reason>``, in the file's order."""
    lines: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")  # a mapping's key is named as the key
        name, rest = entry(loc, raw)
        parts = [str(origin)] + ([name] if name else []) + ([field_name(rest)] if rest else []) + [reason(error)]
        line = ": ".join(parts)
        if line not in lines:
            lines.append(line)
    return lines


def json_schema(model: type[BaseModel], title: str) -> dict:
    """The JSON Schema of a street file's model, as editors take it."""
    schema = model.model_json_schema(mode="validation")
    _tidy(schema)
    schema.pop("title", None)
    return {"$schema": DIALECT, "title": title, **schema}


def _tidy(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _tidy(item)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("description"), str):
        # A docstring's markup and line breaks, for an editor's hover.
        node["description"] = " ".join(node["description"].replace("``", "`").split())
    # A key that may be left out but not written as null: no default to show.
    if "default" in node and node["default"] is None and not _nullable(node):
        del node["default"]
    # A mapping whose keys have a form: any other key is refused, as the model refuses it.
    if "patternProperties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    for value in node.values():
        _tidy(value)


def _nullable(node: dict) -> bool:
    kinds = node.get("type")
    return kinds == "null" or (isinstance(kinds, list) and "null" in kinds) or any(
        option.get("type") == "null" for option in node.get("anyOf", []))
