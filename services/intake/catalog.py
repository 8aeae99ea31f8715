"""The matter catalog (事项目录): which matters the station accepts, and how. Data per street, not code.

A catalog file has ``categories`` (code → name, or code → {name, defaults}) and ``matters``. A matter leaves
out any field its category's ``defaults`` give. A street's file may start from another catalog::

    extends: default            # or a file beside this one
    remove: [bulky-waste-collection]
    categories: {...}           # new categories, or new names/defaults for existing ones
    matters:                    # a known code changes only the fields given; a new code adds a matter
      - {code: property-repair, time_limit_days: 2}

The file's format is :class:`CatalogFile`. Loading collects every problem and raises one :class:`CatalogError`
naming the file, the entry and the reason, so a street sees all its mistakes before it deploys
(``doorstep catalog check``).
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo, field_validator

from shared import street_files
from shared.fields import Form, Required, invalid
from shared.problems import reason
from shared.street_files import Code, StreetModel, UnitRef

DEFAULT_CATALOG = Path(__file__).parent / "data" / "catalog.yaml"

CHANNELS = ("counter", "online", "phone", "video")
HANDLINGS = ("station", "routed")
# Open311 GeoReport v2 attribute datatypes.
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
LIST_DATATYPES = ("singlevaluelist", "multivaluelist")
# What a matter must have once its category's defaults are applied.
REQUIRED = ("name", "handling", "time_limit_days", "unit")

# -- the file's format --------------------------------------------------------------------------------------

CategoryCode = Form(r"^[a-z0-9][a-z0-9-]{0,39}$", "code", "应为小写字母、数字和“-”（最多40个）",
                    "must be lower-case letters, digits and '-' (at most 40)",
                    "a category's code (事项类别): lower-case letters, digits, '-'")
AttributeCode = Form(r"^[a-z][a-z0-9_]{0,39}$", "code", "应为小写字母、数字和“_”",
                     "must be lower-case letters, digits and '_'", "a form field's code (表单字段编码)")


def _distinct(channels: list[str]) -> list[str]:
    if len(set(channels)) != len(channels):
        raise invalid("distinct", "渠道不能重复", "must not name a channel twice")
    return channels


Channels = Annotated[list[Literal[CHANNELS]], Field(min_length=1, json_schema_extra={"uniqueItems": True}),
                     AfterValidator(_distinct)]


class AttributeValueEntry(StreetModel):
    """One choice of a list field (选项)."""

    key: Annotated[str, Field(min_length=1, max_length=40, description="the choice's key, as a case carries it")]
    name: Annotated[str, Field(min_length=1, max_length=100, description="the choice as residents read it")]


class AttributeEntry(StreetModel):
    """One field of a matter's form (表单字段), as Open311 describes a service attribute."""

    code: AttributeCode
    datatype: Literal[DATATYPES] = Field(description="Open311 datatype; the list datatypes take values")
    required: bool = Field(False, description="the resident must fill it in (必填)")
    description: str = Field("", description="the field's label, in Chinese")
    values: list[AttributeValueEntry] = Field(default_factory=list, validate_default=True,
                                              description="the choices of a singlevaluelist or multivaluelist")

    @field_validator("values")
    @classmethod
    def _values_fit_the_datatype(cls, values, info: ValidationInfo):
        datatype = info.data.get("datatype")  # absent when the datatype itself is wrong
        if datatype in LIST_DATATYPES and not values:
            raise invalid("values", f"{datatype} 需要选项", f"a {datatype} needs values")
        if datatype and datatype not in LIST_DATATYPES and values:
            raise invalid("values", f"{datatype} 没有选项", f"only list datatypes take values, not {datatype}")
        return values


class MatterDefaults(StreetModel):
    """A category's defaults (类别默认值): what its matters take for any field they leave out."""

    channels: Channels = Field(None, description="where it may be submitted (受理渠道); default: all of them")
    materials: list[Required(100)] = Field(None, description="what the resident brings (所需材料); 补正 names the "
                                                             "missing ones")
    attributes: list[AttributeEntry] = Field(None, description="the form's fields (表单字段)")
    handling: Literal[HANDLINGS] = Field(None, description="station: settled here; routed: accepted here, handled "
                                                           "elsewhere (收受分离)")
    unit: UnitRef = Field(None, description="the default handling unit (承办单位)")
    time_limit_days: int = Field(None, ge=0, le=365, description="the time limit (办理时限) in working days")
    appointment: bool = Field(None, description="the resident books a slot first (网上预约); default false")


class MatterEntry(MatterDefaults):
    """A matter (事项). In a file that ``extends`` another, a known code changes only the fields given."""

    code: Code = Field(description="the matter's code (事项编码), stable English")
    name: Required(100) = Field(None, description="the matter's name, as residents know it (事项名称)")
    category: CategoryCode = Field(None, description="its category, whose defaults it takes")


class CategoryEntry(StreetModel):
    """A category of matters (事项类别)."""

    name: Required(100) = Field(description="the category's name (类别名称)")
    defaults: MatterDefaults = None


def _named(value):
    return {"name": value} if isinstance(value, str) else value


class CatalogFile(StreetModel):
    """``catalog.yaml``: the street's matter catalog (事项目录), whole or as changes to another catalog."""

    extends: str = Field(None, min_length=1, description="start from 'default' (the packaged catalog) or a file "
                                                         "beside this one")
    remove: list[Code] = Field(default_factory=list, description="matters of the extended catalog to drop")
    categories: dict[CategoryCode, Annotated[CategoryEntry, BeforeValidator(
        _named, json_schema_input_type=Required(100) | CategoryEntry)]] = Field(
        default_factory=dict, description="code → name, or code → {name, defaults}")
    matters: list[MatterEntry] = Field(default_factory=list)


# -- what the services use ----------------------------------------------------------------------------------

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
    """Read, merge (``extends``) and check a catalog file; raise :class:`CatalogError` with every problem."""
    raw_categories, raw_matters, problems = _read_merged(Path(path), seen=())
    categories = {code: entry.name for code, (_, entry) in raw_categories.items()}
    defaults = {code: entry.defaults.given() if entry.defaults else {} for code, (_, entry) in raw_categories.items()}
    matters = {}
    for code, (where, given) in raw_matters.items():
        matter = _build_matter(code, given, categories, defaults, where, problems)
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
    """Categories and matters keyed by code, each with where it was last defined: (file: entry) for errors.

    A file whose form is wrong stops here with all its problems: what it extends or defines means nothing yet.
    """
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
    try:
        file = CatalogFile.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(street_files.problems(exc, path, raw)) from None

    problems: list[str] = []
    categories: dict[str, tuple[str, CategoryEntry]] = {}
    matters: dict[str, tuple[str, dict]] = {}
    if file.extends is not None:
        base_path = DEFAULT_CATALOG if file.extends == "default" else (path.parent / file.extends)
        if file.extends != "default" and not _inside(base_path, path.parent):
            # A street's file may name only files of its own folder: not the tokens file, not /etc/passwd.
            problems.append(f"{path}: extends: {file.extends!r} is outside the street's folder; name 'default' or "
                            "a file beside this one")
        else:
            categories, matters, base_problems = _read_merged(base_path, seen + (resolved,))
            problems.extend(base_problems)

    for code in file.remove:
        if matters.pop(code, None) is None:
            problems.append(f"{path}: remove: {code!r} is not in the catalog it extends")
    for code, category in file.categories.items():
        categories[code] = (f"{path}: categories.{code}", category)
    local_codes: set[str] = set()
    for index, entry in enumerate(file.matters):
        where = f"{path}: matters[{index}] ({entry.code})"
        if entry.code in local_codes:
            problems.append(f"{where}: duplicate code {entry.code!r}")
            continue
        local_codes.add(entry.code)
        given = entry.given()
        if entry.code in matters:  # a street changes only the fields it names
            given = {**matters[entry.code][1], **given}
        matters[entry.code] = (where, given)
    return categories, matters, problems


def _build_matter(code: str, given: dict, categories, defaults, where, problems) -> Matter | None:
    category = given.get("category")
    if category not in categories:
        problems.append(f"{where}: unknown category {category!r}")
        return None
    merged = {**defaults[category], **given}
    missing = [field for field in REQUIRED if field not in merged]
    problems.extend(f"{where}: {field}: {reason({'type': 'missing'})}" for field in missing)
    if missing:
        return None
    return Matter(code=code, name=merged["name"], category=category, handling=merged["handling"],
                  time_limit_days=merged["time_limit_days"], channels=tuple(merged.get("channels", CHANNELS)),
                  materials=tuple(merged.get("materials", ())),
                  attributes=tuple(_attribute(a) for a in merged.get("attributes", ())), unit=merged["unit"],
                  appointment=merged.get("appointment", False))


def _attribute(entry: AttributeEntry) -> FormAttribute:
    return FormAttribute(entry.code, entry.datatype, entry.required, entry.description,
                         tuple(AttributeValue(v.key, v.name) for v in entry.values))


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
