"""The compatibility gate: within a version, an event schema may only grow.

Every published schema version has a frozen copy in ``contract/frozen/``. :func:`breaking_changes` compares
the frozen copy with the current file; anything a reader or a replayed old event could trip on is breaking:
a field removed or renamed, a type narrowed, a field made required or no longer required, an enum value
removed, a pattern/format/const/bound added or changed, extra properties forbidden. Adding an optional field,
an enum value, a description or an example is additive. A breaking change needs a new version (``.v2``),
published beside ``.v1`` for a deprecation window.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from shared.events import SCHEMA_DIR

FROZEN_DIR = SCHEMA_DIR.parent / "frozen"

_TIGHTER_IF_ADDED_OR_CHANGED = ("pattern", "format", "const", "multipleOf")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def _types(schema: dict) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None  # any type
    return {kind} if isinstance(kind, str) else set(kind)


def breaking_changes(old: dict, new: dict, path: str = "") -> list[str]:
    """Every way ``new`` breaks readers or old events of ``old``, as readable sentences."""
    where = path or "(root)"
    found = []
    old_types, new_types = _types(old), _types(new)
    if new_types is not None and (old_types is None or not old_types <= new_types):
        found.append(f"{where}: type narrowed from {sorted(old_types or ['any'])} to {sorted(new_types)}")
    for key in _TIGHTER_IF_ADDED_OR_CHANGED:
        if key in new and new.get(key) != old.get(key):
            found.append(f"{where}: {key} {'changed' if key in old else 'added'} ({new[key]!r})")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            found.append(f"{where}: {key} raised to {new[key]}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            found.append(f"{where}: {key} lowered to {new[key]}")
    if "enum" in new:
        removed = [v for v in old.get("enum", []) if v not in new["enum"]] if "enum" in old else ["(any value)"]
        if removed:
            found.append(f"{where}: enum no longer allows {removed}")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        found.append(f"{where}: additional properties forbidden")

    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(new_required - old_required):
        found.append(f"{where}: {name!r} became required")
    for name in sorted(old_required - new_required):
        found.append(f"{where}: {name!r} is no longer required (readers rely on it)")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        child = f"{path}/{name}" if path else name
        if name not in new_props:
            found.append(f"{child}: removed")
        else:
            found.extend(breaking_changes(old_prop, new_props[name], child))
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        found.extend(breaking_changes(old["items"], new["items"], f"{path}[]"))
    return found


def gate(schema_dir: Path = SCHEMA_DIR, frozen_dir: Path = FROZEN_DIR) -> dict[str, list[str]]:
    """Breaking changes per frozen type, plus frozen types whose schema file disappeared."""
    problems = {}
    for frozen in sorted(frozen_dir.glob("*/*.json")):
        relative = frozen.relative_to(frozen_dir)
        current = schema_dir / relative
        name = f"doorstep.{relative.parent}.{relative.stem}"
        if not current.exists():
            problems[name] = ["published version removed; keep it for its deprecation window"]
            continue
        changes = breaking_changes(json.loads(frozen.read_text("utf-8")), json.loads(current.read_text("utf-8")))
        if changes:
            problems[name] = changes
    return problems


def unfrozen(schema_dir: Path = SCHEMA_DIR, frozen_dir: Path = FROZEN_DIR) -> list[Path]:
    return [p for p in sorted(schema_dir.glob("*/*.json")) if not (frozen_dir / p.relative_to(schema_dir)).exists()]


def freeze(schema_dir: Path = SCHEMA_DIR, frozen_dir: Path = FROZEN_DIR) -> list[Path]:
    """Copy every schema version not yet frozen (done when a version is first published)."""
    copied = []
    for path in unfrozen(schema_dir, frozen_dir):
        target = frozen_dir / path.relative_to(schema_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copied.append(target)
    return copied


def refresh_additive(schema_dir: Path = SCHEMA_DIR, frozen_dir: Path = FROZEN_DIR) -> list[Path]:
    """After an additive change passes the gate, the frozen copy takes it in (so the next change is compared
    with what subscribers now see)."""
    if gate(schema_dir, frozen_dir):
        raise ValueError("breaking changes present; fix them or publish a new version first")
    updated = []
    for frozen in sorted(frozen_dir.glob("*/*.json")):
        current = schema_dir / frozen.relative_to(frozen_dir)
        if current.read_bytes() != frozen.read_bytes():
            shutil.copyfile(current, frozen)
            updated.append(frozen)
    return updated
