"""The street's directory: units (1+3+N), areas, routing rules and the policy of time limits and transfers, loaded
and checked from ``data/directory.yaml`` (or the street's own file); routing a case with its explanation.

A bad file fails at load with the file, the entry and the problem named.
"""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import yaml

from shared import workdays
from shared.errors import InvalidInput

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
    def parse(cls, raw, where: str) -> "TimeLimit":
        if isinstance(raw, str):  # the stored form, "working_days:3"
            unit, _, amount = raw.partition(":")
            raw = {unit: float(amount)}
        if not isinstance(raw, dict) or len(raw) != 1:
            raise DirectoryError(f"{where}: a time limit is one of {list(_LIMIT_UNITS)} with a number, got {raw!r}")
        (unit, amount), = raw.items()
        if unit not in _LIMIT_UNITS:
            raise DirectoryError(f"{where}: unknown time unit {unit!r}; one of {list(_LIMIT_UNITS)}")
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount <= 0:
            raise DirectoryError(f"{where}: {unit} must be a positive number, got {amount!r}")
        if unit == "working_days" and not float(amount).is_integer():
            raise DirectoryError(f"{where}: working_days must be whole, got {amount!r}")
        return cls(amount, unit)

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


def _parse_hours(raw: str, where: str) -> tuple[time, time]:
    match = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", str(raw))
    if not match:
        raise DirectoryError(f"{where}: working_hours must look like '08:30-17:30', got {raw!r}")
    h1, m1, h2, m2 = map(int, match.groups())
    try:
        opening, closing = time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise DirectoryError(f"{where}: working_hours {raw!r}: {exc}") from None
    if opening >= closing:
        raise DirectoryError(f"{where}: working_hours {raw!r} close before they open")
    return opening, closing


def _check_units_exist(template: str, units: dict, areas: dict, where: str) -> None:
    if _TEMPLATE_RE.search(template):
        if not any(template.replace("{area}", a) in units for a in areas):
            raise DirectoryError(f"{where}: {template!r} names no unit in any area")
    elif template not in units:
        raise DirectoryError(f"{where}: unknown unit {template!r}")


def load_directory(path: Path = DEFAULT_DIRECTORY) -> Directory:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DirectoryError(f"{path}: not valid YAML: {exc}") from None
    unknown_top = set(raw) - {"street", "triage_unit", "units", "areas", "rules", "policy"}
    if unknown_top:
        raise DirectoryError(f"{path}: unknown keys {sorted(unknown_top)}")

    default_hours = (workdays.DEFAULT_OPENING, workdays.DEFAULT_CLOSING)
    raw_policy = raw.get("policy") or {}
    if "working_hours" in raw_policy:
        default_hours = _parse_hours(raw_policy["working_hours"], f"{path}: policy.working_hours")

    units: dict[str, Unit] = {}
    for index, entry in enumerate(raw.get("units") or []):
        where = f"{path}: units[{index}]"
        entry = dict(entry or {})
        unknown = set(entry) - {"code", "name", "kind", "area", "handlers", "working_hours", "supervisor"}
        if unknown:
            raise DirectoryError(f"{where}: unknown keys {sorted(unknown)}")
        for key in ("code", "name", "kind"):
            if not entry.get(key):
                raise DirectoryError(f"{where}: missing {key}")
        if entry["code"] in units:
            raise DirectoryError(f"{where}: unit {entry['code']!r} is defined twice")
        opening, closing = (_parse_hours(entry["working_hours"], where) if "working_hours" in entry
                            else default_hours)
        units[entry["code"]] = Unit(entry["code"], entry["name"], entry["kind"], entry.get("area"),
                                    tuple(entry.get("handlers") or ()), opening, closing, entry.get("supervisor"))

    areas = raw.get("areas") or {}
    for code, area in areas.items():
        if not isinstance(area, dict) or "name" not in area or "has_owners_committee" not in area:
            raise DirectoryError(f"{path}: areas.{code}: needs a name and has_owners_committee")
    for unit in units.values():
        if unit.area is not None and unit.area not in areas:
            raise DirectoryError(f"{path}: unit {unit.code}: unknown area {unit.area!r}")
        if unit.supervisor is not None and unit.supervisor not in units:
            raise DirectoryError(f"{path}: unit {unit.code}: supervisor {unit.supervisor!r} is not a unit")
    area_keys = {f"area.{k}" for area in areas.values() for k in area} | {"has_owners_committee"}

    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw.get("rules") or []):
        rule_id = (entry or {}).get("id")
        where = f"{path}: rules[{index}] ({rule_id})"
        if not rule_id:
            raise DirectoryError(f"{path}: rules[{index}]: missing id")
        if rule_id in seen:
            raise DirectoryError(f"{where}: rule id is used twice")
        seen.add(rule_id)
        unknown = set(entry) - {"id", "when", "unit", "assist", "deadline", "escalation", "why"}
        if unknown:
            raise DirectoryError(f"{where}: unknown keys {sorted(unknown)}")
        when = entry.get("when") or {}
        unknown = set(when) - _CASE_CONDITIONS - area_keys
        if unknown:
            raise DirectoryError(f"{where}: unknown condition {sorted(unknown)}")
        if "unit" not in entry:
            raise DirectoryError(f"{where}: missing unit")
        _check_units_exist(entry["unit"], units, areas, f"{where}: unit")
        assists = []
        for j, assist in enumerate(entry.get("assist") or []):
            if isinstance(assist, str):
                assist = {"unit": assist}
            if not isinstance(assist, dict) or "unit" not in assist:
                raise DirectoryError(f"{where}: assist[{j}]: needs a unit")
            _check_units_exist(assist["unit"], units, areas, f"{where}: assist[{j}]")
            assists.append((assist["unit"], bool(assist.get("required", True))))
        deadline = TimeLimit.parse(entry["deadline"], f"{where}: deadline") if "deadline" in entry else None
        escalation = tuple(entry.get("escalation") or ())
        for code in escalation:
            _check_units_exist(code, units, areas, f"{where}: escalation")
        rules.append(Rule(rule_id, when, entry["unit"], tuple(assists), deadline, escalation, entry.get("why", "")))

    triage = raw.get("triage_unit")
    if triage not in units:
        raise DirectoryError(f"{path}: triage_unit {triage!r} is not a unit")
    policy = _load_policy(raw_policy, units, triage, f"{path}: policy")
    return Directory(units, areas, tuple(rules), triage, policy)


def _load_policy(raw: dict, units: dict, triage: str, where: str) -> Policy:
    unknown = set(raw) - {"tiers", "first_contact", "warning", "escalate_after", "max_transfers",
                          "arbitration_unit", "working_hours"}
    if unknown:
        raise DirectoryError(f"{where}: unknown keys {sorted(unknown)}")
    defaults = Policy()
    tiers = []
    for index, tier in enumerate(raw.get("tiers") or []):
        when = tier.get("when") or {}
        bad = set(when) - {"urgency", "kind", "category", "matter_code", "channel"}
        if bad:
            raise DirectoryError(f"{where}.tiers[{index}]: unknown condition {sorted(bad)}")
        for key in ("sign", "handle"):
            if key not in tier:
                raise DirectoryError(f"{where}.tiers[{index}]: missing {key}")
        tiers.append(Tier(when, TimeLimit.parse(tier["sign"], f"{where}.tiers[{index}].sign"),
                          TimeLimit.parse(tier["handle"], f"{where}.tiers[{index}].handle")))
    if tiers and tiers[-1].when:
        raise DirectoryError(f"{where}.tiers: the last tier must have no conditions (the default)")
    max_transfers = raw.get("max_transfers", defaults.max_transfers)
    if not isinstance(max_transfers, int) or max_transfers < 0:
        raise DirectoryError(f"{where}.max_transfers: a whole number >= 0, got {max_transfers!r}")
    # Without an arbitration unit of its own, a street arbitrates where it triages.
    arbitration = raw.get("arbitration_unit", triage)
    if arbitration not in units:
        raise DirectoryError(f"{where}.arbitration_unit: {arbitration!r} is not a unit")

    def limit(key):
        return TimeLimit.parse(raw[key], f"{where}.{key}") if key in raw else getattr(defaults, key)

    return Policy(tuple(tiers) or defaults.tiers, limit("first_contact"), limit("warning"),
                  limit("escalate_after"), max_transfers, arbitration)


@lru_cache(maxsize=None)
def default_directory() -> Directory:
    return load_directory()
