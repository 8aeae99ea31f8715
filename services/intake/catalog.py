"""The matter catalog (事项目录): which matters the station accepts, and how. Data per street, not code.

A catalog file has ``categories`` (code → name, or code → {name, defaults}) and ``matters``. A matter leaves
out any field its category's ``defaults`` give. A street's file may start from another catalog::

    extends: default            # or a path, relative to this file
    remove: [bulky-waste-collection]
    categories: {...}           # new categories, or new names/defaults for existing ones
    matters:                    # a known code changes only the fields given; a new code adds a matter
      - {code: property-repair, time_limit_days: 2}

Loading collects every problem and raises one :class:`CatalogError` naming the file, the entry and the reason,
so a street sees all its mistakes before it deploys (``doorstep catalog check``).
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_CATALOG = Path(__file__).parent / "data" / "catalog.yaml"

CHANNELS = ("counter", "online", "phone", "video")
HANDLINGS = ("station", "routed")
# Open311 GeoReport v2 attribute datatypes.
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_DATATYPES = ("singlevaluelist", "multivaluelist")

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
CATEGORY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
ATTRIBUTE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# A unit code, or a role of the case's residential area: "{area}-rc", "{area}-pm", "{area}-oc".
UNIT_RE = re.compile(r"^(\{area\}-[a-z]+|[a-z0-9][a-z0-9-]{0,39})$")

MATTER_FIELDS = ("code", "name", "category", "channels", "materials", "attributes", "handling", "unit",
                 "time_limit_days", "appointment")
DEFAULTABLE = ("channels", "materials", "attributes", "handling", "unit", "time_limit_days", "appointment")


@dataclasses.dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str


@dataclasses.dataclass(frozen=True)
class FormAttribute:
    """One field of a matter's form, as Open311 describes a service attribute."""
    code: str
    datatype: str
    required: bool = False
    description: str = ""
    values: tuple[AttributeValue, ...] = ()


@dataclasses.dataclass(frozen=True)
class Matter:
    code: str
    name: str
    category: str
    handling: str  # "station" (settled here) or "routed" (收受分离)
    time_limit_days: int
    channels: tuple[str, ...] = CHANNELS
    materials: tuple[str, ...] = ()
    attributes: tuple[FormAttribute, ...] = ()
    unit: str = ""
    appointment: bool = False

    def default_unit(self, area: str) -> str:
        return self.unit.replace("{area}", area)


class CatalogError(Exception):
    """The catalog cannot be used; ``problems`` lists every reason, each naming the file and the entry."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclasses.dataclass(frozen=True)
class Catalog:
    categories: dict[str, str]
    matters: dict[str, Matter]

    def get(self, code: str) -> Matter | None:
        return self.matters.get(code)

    def summary(self) -> str:
        used = {m.category for m in self.matters.values()}
        return f"{len(self.matters)} matters in {len(used)} categories"


def load_catalog(path: Path | str = DEFAULT_CATALOG) -> Catalog:
    """Read, merge (``extends``) and validate a catalog file; raise :class:`CatalogError` with every problem."""
    raw_categories, raw_matters, problems = _read_merged(Path(path), seen=())
    categories, defaults = {}, {}
    for code, (where, entry) in raw_categories.items():
        name, category_defaults = _check_category(code, entry, where, problems)
        categories[code], defaults[code] = name, category_defaults
    matters = {}
    for code, (where, entry) in raw_matters.items():
        matter = _build_matter(entry, categories, defaults, where, problems)
        if matter is not None:
            matters[code] = matter
    if not matters and not problems:
        problems.append(f"{path}: the catalog has no matters")
    if problems:
        raise CatalogError(problems)
    return Catalog(categories, matters)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _read_merged(path: Path, seen: tuple[Path, ...]):
    """Categories and matters keyed by code, each with where it was last defined: (file: entry) for errors."""
    problems: list[str] = []
    resolved = path.resolve()
    if resolved in seen:
        return {}, {}, [f"{path}: 'extends' makes a cycle"]
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}, {}, [f"{path}: file not found"]
    except yaml.YAMLError as exc:
        return {}, {}, [f"{path}: not valid YAML: {exc}".replace("\n", " ")]
    raw = raw if raw is not None else {}
    if not isinstance(raw, dict):
        return {}, {}, [f"{path}: must be a mapping with 'categories' and 'matters'"]
    unknown = set(raw) - {"extends", "remove", "categories", "matters"}
    if unknown:
        problems.append(f"{path}: unknown top-level keys {sorted(unknown)}")

    categories: dict[str, tuple[str, object]] = {}
    matters: dict[str, tuple[str, dict]] = {}
    base = raw.get("extends")
    if base is not None:
        if not isinstance(base, str) or not base:
            problems.append(f"{path}: extends: must be 'default' or a file path")
        else:
            base_path = DEFAULT_CATALOG if base == "default" else (path.parent / base)
            if base != "default" and not _inside(base_path, path.parent):
                # A street's file may name only files of its own folder: not the tokens file, not /etc/passwd.
                problems.append(f"{path}: extends: {base!r} is outside the street's folder; name 'default' or a "
                                "file beside this one")
            else:
                categories, matters, base_problems = _read_merged(base_path, seen + (resolved,))
                problems.extend(base_problems)

    removals = raw.get("remove") or []
    if not isinstance(removals, list):
        problems.append(f"{path}: remove: must be a list of matter codes")
        removals = []
    for code in removals:
        if matters.pop(code, None) is None:
            problems.append(f"{path}: remove: {code!r} is not in the catalog it extends")

    raw_categories = raw.get("categories") or {}
    if not isinstance(raw_categories, dict):
        problems.append(f"{path}: categories: must be a mapping of code to name")
        raw_categories = {}
    for code, entry in raw_categories.items():
        where = f"{path}: categories.{code}"
        if not isinstance(code, str) or not CATEGORY_RE.match(code):
            problems.append(f"{where}: the code must be lower-case letters, digits and '-'")
            continue
        categories[code] = (where, entry)

    raw_matters = raw.get("matters") or []
    if not isinstance(raw_matters, list):
        problems.append(f"{path}: matters: must be a list")
        raw_matters = []
    local_codes: set[str] = set()
    for index, entry in enumerate(raw_matters):
        code = entry.get("code") if isinstance(entry, dict) else None
        where = f"{path}: matters[{index}]" + (f" ({code})" if isinstance(code, str) else "")
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        if not isinstance(code, str) or not CODE_RE.match(code):
            problems.append(f"{where}: code: must be lower-case letters, digits and '-' (at most 80)")
            continue
        if code in local_codes:
            problems.append(f"{where}: duplicate code {code!r}")
            continue
        local_codes.add(code)
        if code in matters:  # a street changes only the fields it names
            entry = {**matters[code][1], **entry}
        matters[code] = (where, entry)
    return categories, matters, problems


def _check_category(code, entry, where, problems) -> tuple[str, dict]:
    if isinstance(entry, str):
        name, defaults = entry, {}
    elif isinstance(entry, dict):
        name, defaults = entry.get("name"), entry.get("defaults") or {}
        unknown = set(entry) - {"name", "defaults"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(defaults, dict):
            problems.append(f"{where}: defaults: must be a mapping")
            defaults = {}
        bad = set(defaults) - set(DEFAULTABLE)
        if bad:
            problems.append(f"{where}: defaults: {sorted(bad)} cannot be defaulted; allowed {list(DEFAULTABLE)}")
    else:
        name, defaults = None, {}
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: needs a name")
        name = code
    return name, defaults


def _build_matter(entry: dict, categories, defaults, where, problems) -> Matter | None:
    before = len(problems)

    def fail(field, reason):
        problems.append(f"{where}: {field}: {reason}" if field else f"{where}: {reason}")

    unknown = set(entry) - set(MATTER_FIELDS)
    if unknown:
        fail("", f"unknown fields {sorted(unknown)}; allowed {list(MATTER_FIELDS)}")
    category = entry.get("category")
    if category not in categories:
        fail("", f"unknown category {category!r}")
        return None
    merged = {**defaults.get(category, {}), **entry}

    name = merged.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        fail("name", "is required (at most 100 characters)")
    handling = merged.get("handling")
    if handling not in HANDLINGS:
        fail("handling", f"{handling!r} is not one of {', '.join(HANDLINGS)}")
    limit = merged.get("time_limit_days")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= 365:
        fail("time_limit_days", f"{limit!r} is not a whole number of working days from 0 to 365")
    channels = merged.get("channels", list(CHANNELS))
    if not isinstance(channels, list) or not channels or any(c not in CHANNELS for c in channels):
        fail("channels", f"{channels!r} must be a non-empty list of {', '.join(CHANNELS)}")
    elif len(set(channels)) != len(channels):
        fail("channels", "lists a channel twice")
    materials = merged.get("materials", [])
    if not isinstance(materials, list) or any(not isinstance(m, str) or not m.strip() for m in materials):
        fail("materials", "must be a list of non-empty names")
    unit = merged.get("unit")
    if unit is None:
        fail("unit", "is required: the default handling unit")
    elif not isinstance(unit, str) or not UNIT_RE.match(unit):
        fail("unit", f"{unit!r} is not a unit code or an area role like '{{area}}-rc'")
    appointment = merged.get("appointment", False)
    if not isinstance(appointment, bool):
        fail("appointment", "must be true or false")
    attributes = _build_attributes(merged.get("attributes", []), fail)
    if len(problems) > before:
        return None
    return Matter(code=entry["code"], name=name.strip(), category=category, handling=handling,
                  time_limit_days=limit, channels=tuple(channels), materials=tuple(materials),
                  attributes=attributes, unit=unit, appointment=appointment)


def _build_attributes(raw, fail) -> tuple[FormAttribute, ...]:
    if not isinstance(raw, list):
        fail("attributes", "must be a list")
        return ()
    built, codes = [], set()
    for index, attr in enumerate(raw):
        field = f"attributes[{index}]"
        if not isinstance(attr, dict):
            fail(field, "must be a mapping")
            continue
        unknown = set(attr) - {"code", "datatype", "required", "description", "values"}
        if unknown:
            fail(field, f"unknown keys {sorted(unknown)}")
        code = attr.get("code")
        if not isinstance(code, str) or not ATTRIBUTE_RE.match(code):
            fail(f"{field}.code", "must be lower-case letters, digits and '_'")
            continue
        if code in codes:
            fail(f"{field}.code", f"duplicate attribute {code!r}")
        codes.add(code)
        datatype = attr.get("datatype")
        if datatype not in DATATYPES:
            fail(f"{field}.datatype", f"{datatype!r} is not one of {', '.join(DATATYPES)}")
            continue
        required = attr.get("required", False)
        if not isinstance(required, bool):
            fail(f"{field}.required", "must be true or false")
        values = attr.get("values") or []
        parsed_values = []
        if datatype in LIST_DATATYPES and not values:
            fail(f"{field}.values", f"a {datatype} needs values")
        elif datatype not in LIST_DATATYPES and values:
            fail(f"{field}.values", f"only list datatypes take values, not {datatype}")
        for value_index, value in enumerate(values if isinstance(values, list) else [None]):
            if not isinstance(value, dict) or not value.get("key") or not isinstance(value.get("name"), str):
                fail(f"{field}.values[{value_index}]", "needs a key and a name")
                continue
            parsed_values.append(AttributeValue(str(value["key"]), value["name"]))
        built.append(FormAttribute(code, datatype, required is True, str(attr.get("description") or ""),
                                   tuple(parsed_values)))
    return tuple(built)


@lru_cache(maxsize=None)
def _cached(path: str) -> Catalog:
    return load_catalog(Path(path))


def default_catalog() -> Catalog:
    """The packaged default catalog."""
    return _cached(str(DEFAULT_CATALOG))


def street_catalog(settings) -> Catalog:
    """The catalog a street deploys: its own file (DOORSTEP_CATALOG, or catalog.yaml in DOORSTEP_STREET_DIR),
    else the default."""
    return _cached(str(settings.street_file("catalog") or DEFAULT_CATALOG))
