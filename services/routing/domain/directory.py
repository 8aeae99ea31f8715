"""The street's directory: units (1+3+N), areas, routing rules and the policy of time limits and transfers, loaded
and checked from ``data/directory.yaml`` (or the street's own file); routing a case with its explanation.

The file's format is :class:`DirectoryFile`. A bad file fails at load with every problem, each naming the file,
the entry and the reason.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (AfterValidator, BeforeValidator, ConfigDict, Field, PlainValidator, ValidationError,
                      WithJsonSchema, field_validator, model_validator)

from shared import street_files, workdays
from shared.errors import InvalidInput
from shared.fields import Required, invalid
from shared.street_files import Code, StreetModel, UnitRef

DEFAULT_DIRECTORY = Path(__file__).parents[1] / "data" / "directory.yaml"

# Conditions on the case itself; area attributes are addressed as ``area.<attribute>``.
_CASE_CONDITIONS = {"matter_code", "category", "area", "urgency", "kind", "channel"}
_LIMIT_UNITS = ("working_days", "working_hours", "hours")
_TEMPLATE_RE = re.compile(r"\{area\}")


class DirectoryError(Exception):
    pass


# -- time limits -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TimeLimit:
    amount: float
    unit: str  # one of _LIMIT_UNITS

    def due(self, start: datetime, opening: time = workdays.DEFAULT_OPENING,
            closing: time = workdays.DEFAULT_CLOSING) -> datetime:
        if self.unit == "working_days":
            moment = workdays.add_working_days(start, int(self.amount))
        elif self.unit == "working_hours":
            moment = workdays.add_working_hours(start, self.amount, opening, closing)
        else:
            moment = start + timedelta(hours=self.amount)
        return moment.astimezone(timezone.utc)

    def to_text(self) -> str:
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount} {self.unit.replace('_', ' ')}"

    def to_dict(self) -> dict:
        return {self.unit: self.amount}

    @classmethod
    def parse(cls, stored: str, where: str) -> "TimeLimit":
        """A limit as :meth:`stored` wrote it: ``working_days:3``."""
        unit, _, amount = str(stored).partition(":")
        if unit not in _LIMIT_UNITS:
            raise DirectoryError(f"{where}: unknown time unit {unit!r}; one of {list(_LIMIT_UNITS)}")
        return cls(float(amount), unit)

    def stored(self) -> str:
        return f"{self.unit}:{self.amount}"


# -- directory -------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str
    area: str | None = None
    handlers: tuple[str, ...] = ()
    opening: time = workdays.DEFAULT_OPENING
    closing: time = workdays.DEFAULT_CLOSING
    supervisor: str | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "kind": self.kind, "area": self.area,
                "handlers": list(self.handlers), "working_hours": f"{self.opening:%H:%M}-{self.closing:%H:%M}",
                "supervisor": self.supervisor}


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    when: dict
    unit: str
    assists: tuple[tuple[str, bool], ...] = ()  # (unit code or template, required)
    deadline: TimeLimit | None = None
    escalation: tuple[str, ...] = ()
    why: str = ""

    def check(self, facts: dict) -> dict | None:
        """None when every condition holds, else the first that fails, for the explanation."""
        for key, expected in self.when.items():
            allowed = expected if isinstance(expected, list) else [expected]
            if facts.get(key) not in allowed:
                return {"condition": key, "expected": expected, "actual": facts.get(key)}
        return None

    def matches(self, facts: dict) -> bool:
        return self.check(facts) is None


@dataclasses.dataclass(frozen=True)
class Tier:
    when: dict
    sign: TimeLimit
    handle: TimeLimit


@dataclasses.dataclass(frozen=True)
class Policy:
    """Per-street time limits and limits on transfers; the defaults follow the 12345 hotline rules."""
    tiers: tuple[Tier, ...] = (Tier({}, TimeLimit(4, "working_hours"), TimeLimit(15, "working_days")),)
    first_contact: TimeLimit = TimeLimit(1, "working_days")
    warning: TimeLimit = TimeLimit(3, "working_days")
    escalate_after: TimeLimit = TimeLimit(1, "working_days")
    max_transfers: int = 2
    arbitration_unit: str = "ops-centre"

    def tier_for(self, case: dict) -> Tier:
        for tier in self.tiers:
            if all(case.get(k) in (v if isinstance(v, list) else [v]) for k, v in tier.when.items()):
                return tier
        return self.tiers[-1]


@dataclasses.dataclass(frozen=True)
class Decision:
    unit: Unit
    rule: str
    reason: str
    assists: tuple[tuple[Unit, bool], ...] = ()
    deadline: TimeLimit | None = None
    escalation: tuple[str, ...] = ()
    explanation: tuple[dict, ...] = ()


@dataclasses.dataclass(frozen=True)
class Directory:
    units: dict[str, Unit]
    areas: dict[str, dict]
    rules: tuple[Rule, ...]
    triage_unit: str
    policy: Policy = Policy()

    def facts(self, case: dict) -> dict:
        area = self.areas.get(case.get("area")) or {}
        facts = {k: case.get(k) for k in _CASE_CONDITIONS}
        for key, value in area.items():
            facts[f"area.{key}"] = value
        # The short name the first directories used.
        facts["has_owners_committee"] = area.get("has_owners_committee")
        return facts

    def _resolve(self, template: str, area: str | None) -> Unit | None:
        return self.units.get(template.replace("{area}", area or ""))

    def route(self, case: dict) -> Decision:
        """Pick the lead and assisting units; a case no rule places goes to triage, never nowhere.

        The explanation lists every rule tried, in order, with the condition that failed, so a handler who
        asks "why did this come to me?" gets the answer.
        """
        facts = self.facts(case)
        tried: list[dict] = []
        for rule in self.rules:
            failed = rule.check(facts)
            if failed:
                tried.append({"rule": rule.id, "matched": False, "failed": failed})
                continue
            lead = self._resolve(rule.unit, case.get("area"))
            if lead is None:
                tried.append({"rule": rule.id, "matched": False,
                              "failed": {"unit": rule.unit.replace("{area}", str(case.get("area"))),
                                         "problem": "no such unit in this area"}})
                continue
            assists = tuple((u, required) for u, required in
                            ((self._resolve(t, case.get("area")), required) for t, required in rule.assists)
                            if u is not None and u.code != lead.code)
            held = {k: facts.get(k) for k in rule.when}
            tried.append({"rule": rule.id, "matched": True, "conditions": held})
            reason = f"rule {rule.id} matched: " + (", ".join(f"{k}={v}" for k, v in held.items()) or "always")
            if rule.why:
                reason += f" ({rule.why})"
            return Decision(lead, rule.id, reason, assists, rule.deadline, rule.escalation, tuple(tried))
        tried.append({"rule": "triage", "matched": True, "conditions": {}})
        return Decision(self.units[self.triage_unit], "triage",
                        f"no rule matched; sent to the triage unit {self.triage_unit}", (), None, (), tuple(tried))

    def unit(self, code: str, field: str = "unit") -> Unit:
        """The unit a person named in ``field``."""
        try:
            return self.units[code]
        except KeyError:
            raise InvalidInput(field, "不是本街道的单位 / is not a unit of this street") from None

    def supervisor_of(self, code: str) -> str:
        unit = self.units.get(code)
        return (unit.supervisor if unit and unit.supervisor else None) or self.policy.arbitration_unit

    def metric_label(self, code: str) -> str:
        """Unit codes for metric labels: bounded by the directory."""
        return code if code in self.units else "unknown"


# -- the file's format --------------------------------------------------------------------------------------

_HOURS_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"


def _working_hours(value: Any) -> tuple[time, time]:
    if not isinstance(value, str) or not re.fullmatch(_HOURS_PATTERN, value):
        raise invalid("working_hours", "应为办公时间，如 08:30-17:30", "must look like 08:30-17:30")
    opening, closing = time(int(value[:2]), int(value[3:5])), time(int(value[6:8]), int(value[9:]))
    if opening >= closing:
        raise invalid("working_hours", "应先开门后关门", "must close after they open")
    return opening, closing


WorkingHours = Annotated[tuple[time, time], PlainValidator(_working_hours),
                         WithJsonSchema({"type": "string", "pattern": _HOURS_PATTERN, "examples": ["08:30-17:30"],
                                         "description": "opening-closing, HH:MM-HH:MM, Asia/Shanghai"})]

_SCALAR = {"type": ["string", "number", "boolean"]}
_CONDITION = {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR, "minItems": 1}],
              "description": "the value the case must have, or a list of values"}


def _condition(value: Any) -> Any:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, (str, int, float, bool)) for v in values):
        raise invalid("condition", "应为一个值或一组值", "must be a value or a list of values")
    return value


# A case's fact must equal the value, or one of the list's.
Condition = Annotated[Any, AfterValidator(_condition), WithJsonSchema(_CONDITION)]


class TimeLimitEntry(StreetModel):
    """A time limit (时限): one of working_days, working_hours or hours, with its number."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    working_days: int = Field(None, ge=1, description="to the end of the N-th working day after the start (工作日)")
    working_hours: float = Field(None, gt=0, description="hours within the unit's working hours (工作时)")
    hours: float = Field(None, gt=0, description="calendar hours, nights and holidays included")

    @model_validator(mode="after")
    def _one_unit(self):
        if len(self.model_fields_set) != 1:
            raise invalid("time_limit", "应为 working_days、working_hours 或 hours 之一及其数值",
                          "must be one of working_days, working_hours or hours with its number")
        return self

    def limit(self) -> TimeLimit:
        (unit, amount), = self.given().items()
        return TimeLimit(amount, unit)


class TierConditions(StreetModel):
    """What a case must be for a tier or rule to apply; every condition given must hold."""

    matter_code: Condition = Field(None, description="the matter's code (事项编码) in intake's catalog")
    category: Condition = Field(None, description="the matter's category")
    urgency: Condition = Field(None, description="the case's urgency: normal, urgent (紧急), critical (特急)")
    kind: Condition = Field(None, description="request, complaint, consultation …")
    channel: Condition = Field(None, description="where it came in: counter, online, phone, video")


def _area_attributes(schema: dict) -> None:
    # An area's own attributes are conditions too, as "area.<attribute>"; no other key is.
    schema["patternProperties"] = {r"^area\.[A-Za-z0-9_]+$": _CONDITION}
    schema["additionalProperties"] = False


class RuleConditions(TierConditions):
    """What a case must be for the rule to apply: its own facts, or its residential area's attributes as
    ``area.<attribute>`` (``has_owners_committee`` for short)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_area_attributes)
    __pydantic_extra__: dict[str, Condition]

    area: Condition = Field(None, description="the residential area's code (居民区)")
    has_owners_committee: Condition = Field(None, description="whether the case's area has an owners' committee "
                                                              "(业委会)")


class AssistEntry(StreetModel):
    """A unit that assists the lead (协办)."""

    unit: UnitRef
    required: bool = Field(True, description="the case waits for it (必须协办); false: it is informed and may help")


def _unit_only(value: Any) -> Any:
    return {"unit": value} if isinstance(value, str) else value


class RuleEntry(StreetModel):
    """A routing rule (派单规则). The first rule whose conditions hold places the case."""

    id: Code = Field(description="the rule's name, shown in the explanation of a routing")
    when: RuleConditions = Field(None, description="every condition must hold; none: always")
    unit: UnitRef = Field(description="the lead unit (主办)")
    assist: list[Annotated[AssistEntry, BeforeValidator(_unit_only, json_schema_input_type=UnitRef | AssistEntry)]] \
        = Field(default_factory=list, description="units assisting (协办): a unit, or {unit, required}")
    deadline: TimeLimitEntry = Field(None, description="the handling time, over the tier's")
    escalation: list[UnitRef] = Field(default_factory=list, description="who is told when it is overdue (督办), in "
                                                                        "order")
    why: str = Field("", description="the rule's reason, shown in the explanation")


class UnitEntry(StreetModel):
    """A handling unit (承办单位) of the street's 1+3+N."""

    code: Code
    name: Required(100) = Field(description="the unit's name")
    kind: Code = Field(description="department, residents-committee, owners-committee, property-company, "
                                   "community-police, partner …")
    area: Code = Field(None, description="the residential area it belongs to, if any")
    handlers: list[Required(100)] = Field(default_factory=list, description="who handles its cases (承办人)")
    working_hours: WorkingHours = Field(None, description="its own hours, over the policy's")
    supervisor: Code = Field(None, description="the unit that supervises it (督办); else the arbitration unit")


class AreaEntry(StreetModel):
    """A residential area (居民区). Its other attributes (police, partners …) are free, and rules may test them as
    ``area.<attribute>``."""

    model_config = ConfigDict(extra="allow")

    name: Required(100)
    has_owners_committee: bool = Field(description="whether it has an owners' committee (业委会); without one the "
                                                   "residents' committee acts for it")


class TierEntry(StreetModel):
    """Time limits for the cases the conditions pick."""

    when: TierConditions = Field(None, description="every condition must hold; none: the default tier")
    sign: TimeLimitEntry = Field(description="time to sign for the case after dispatch (签收)")
    handle: TimeLimitEntry = Field(description="time to resolve it after signing (办结)")


class PolicyEntry(StreetModel):
    """Time limits and limits on transfers; left out, the 12345 hotline's rules."""

    working_hours: WorkingHours = Field(None, description="a unit's opening hours, unless it sets its own; default "
                                                          "08:30-17:30")
    tiers: list[TierEntry] = Field(None, description="by the case's urgency and kind, the first that matches; the "
                                                     "last one, with no conditions, is the default")
    first_contact: TimeLimitEntry = Field(None, description="to reach the resident (先行联系); default 1 working day")
    warning: TimeLimitEntry = Field(None, description="a warning case's deadline (预警工单); default 3 working days")
    escalate_after: TimeLimitEntry = Field(None, description="how far past its deadline a case is escalated (督办); "
                                                             "default 1 working day")
    max_transfers: int = Field(Policy.max_transfers, ge=0, description="a further transfer escalates instead")
    arbitration_unit: Code = Field(None, description="where returned cases are arbitrated (退单仲裁); default the "
                                                     "triage unit")

    @field_validator("tiers")
    @classmethod
    def _last_is_the_default(cls, tiers: list[TierEntry]) -> list[TierEntry]:
        if tiers and tiers[-1].when and tiers[-1].when.given():
            raise invalid("tiers", "最后一档应不设条件（默认档）", "the last tier must have no conditions (the default)")
        return tiers


class DirectoryFile(StreetModel):
    """``directory.yaml``: the street's 1+3+N handling units, its residential areas, the routing rules and the
    policy of time limits."""

    street: Code = Field(None, description="the street's code (DOORSTEP_STREET)")
    triage_unit: Code = Field(description="where a case no rule places goes (分拨)")
    policy: PolicyEntry = Field(None, description="time limits and transfers")
    units: list[UnitEntry] = Field(default_factory=list)
    areas: dict[Code, AreaEntry] = Field(default_factory=dict, description="residential areas by code")
    rules: list[RuleEntry] = Field(default_factory=list, description="first match wins")


# -- loading: what needs the whole directory ----------------------------------------------------------------

def _units_exist(template: str, units: dict, areas: dict) -> str | None:
    """Why a unit or "{area}-…" template names no unit, or None."""
    if _TEMPLATE_RE.search(template):
        if not any(template.replace("{area}", a) in units for a in areas):
            return f"{template!r} names no unit in any area"
    elif template not in units:
        return f"unknown unit {template!r}"
    return None


def load_directory(path: Path = DEFAULT_DIRECTORY) -> Directory:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{path}: not valid YAML: {exc}") from None
    try:
        file = DirectoryFile.model_validate(raw)
    except ValidationError as exc:
        raise DirectoryError("\n".join(street_files.problems(exc, path, raw))) from None
    problems: list[str] = []
    policy = file.policy or PolicyEntry()
    default_hours = policy.working_hours or (workdays.DEFAULT_OPENING, workdays.DEFAULT_CLOSING)

    units: dict[str, Unit] = {}
    for index, entry in enumerate(file.units):
        where = f"{path}: units[{index}] ({entry.code})"
        if entry.code in units:
            problems.append(f"{where}: unit {entry.code!r} is defined twice")
            continue
        opening, closing = entry.working_hours or default_hours
        units[entry.code] = Unit(entry.code, entry.name, entry.kind, entry.area, tuple(entry.handlers), opening,
                                 closing, entry.supervisor)
    areas = {code: area.model_dump() for code, area in file.areas.items()}
    for index, entry in enumerate(file.units):
        where = f"{path}: units[{index}] ({entry.code})"
        if entry.area is not None and entry.area not in areas:
            problems.append(f"{where}: unknown area {entry.area!r}")
        if entry.supervisor is not None and entry.supervisor not in units:
            problems.append(f"{where}: supervisor {entry.supervisor!r} is not a unit")
    area_keys = {f"area.{k}" for area in areas.values() for k in area}

    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(file.rules):
        where = f"{path}: rules[{index}] ({entry.id})"
        if entry.id in seen:
            problems.append(f"{where}: rule id is used twice")
        seen.add(entry.id)
        when = entry.when.given() if entry.when else {}
        unknown = set(when) - set(RuleConditions.model_fields) - area_keys
        if unknown:
            problems.append(f"{where}: unknown condition {sorted(unknown)}")
        named = [("unit", entry.unit)] + [(f"assist[{j}]", a.unit) for j, a in enumerate(entry.assist)] + \
                [(f"escalation[{j}]", code) for j, code in enumerate(entry.escalation)]
        problems.extend(f"{where}: {field}: {why}" for field, template in named
                        if (why := _units_exist(template, units, areas)))
        rules.append(Rule(entry.id, when, entry.unit, tuple((a.unit, a.required) for a in entry.assist),
                          entry.deadline.limit() if entry.deadline else None, tuple(entry.escalation), entry.why))

    if file.triage_unit not in units:
        problems.append(f"{path}: triage_unit: {file.triage_unit!r} is not a unit")
    # Without an arbitration unit of its own, a street arbitrates where it triages.
    arbitration = policy.arbitration_unit or file.triage_unit
    if arbitration not in units:
        problems.append(f"{path}: policy.arbitration_unit: {arbitration!r} is not a unit")
    if problems:
        raise DirectoryError("\n".join(problems))
    return Directory(units, areas, tuple(rules), file.triage_unit, _policy(policy, arbitration))


def _policy(entry: PolicyEntry, arbitration: str) -> Policy:
    defaults = Policy()
    tiers = tuple(Tier(tier.when.given() if tier.when else {}, tier.sign.limit(), tier.handle.limit())
                  for tier in entry.tiers or ())

    def limit(key):
        given = getattr(entry, key)
        return given.limit() if given else getattr(defaults, key)

    return Policy(tiers or defaults.tiers, limit("first_contact"), limit("warning"), limit("escalate_after"),
                  entry.max_transfers, arbitration)


@lru_cache(maxsize=None)
def default_directory() -> Directory:
    return load_directory()
