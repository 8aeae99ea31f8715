"""Routing's domain: the directory of handling units and the rules that pick one. Pure, unit-tested."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_DIRECTORY = Path(__file__).parent / "data" / "directory.yaml"
_CONDITIONS = {"matter_code", "category", "area", "has_owners_committee", "urgency", "kind"}


class DirectoryError(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Unit:
    code: str
    name: str
    kind: str
    area: str | None = None


@dataclasses.dataclass(frozen=True)
class Rule:
    id: str
    when: dict
    unit: str

    def matches(self, facts: dict) -> bool:
        for key, expected in self.when.items():
            allowed = expected if isinstance(expected, list) else [expected]
            if facts.get(key) not in allowed:
                return False
        return True


@dataclasses.dataclass(frozen=True)
class Decision:
    unit: Unit
    rule: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Directory:
    units: dict[str, Unit]
    areas: dict[str, dict]
    rules: tuple[Rule, ...]
    triage_unit: str

    def route(self, case: dict) -> Decision:
        """Pick the lead unit for a case; a case no rule places goes to triage, never nowhere."""
        area = self.areas.get(case.get("area"), {})
        facts = {**case, "has_owners_committee": area.get("has_owners_committee")}
        for rule in self.rules:
            if rule.matches(facts):
                code = rule.unit.format(area=case.get("area"))
                if code in self.units:
                    return Decision(self.units[code], rule.id, f"rule {rule.id} matched {rule.when}")
        return Decision(self.units[self.triage_unit], "triage", "no rule matched; sent to triage")


def load_directory(path: Path = DEFAULT_DIRECTORY) -> Directory:
    raw = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    units = {}
    for index, entry in enumerate(raw.get("units") or []):
        try:
            unit = Unit(**entry)
        except TypeError as exc:
            raise DirectoryError(f"{path}: units[{index}]: {exc}") from None
        units[unit.code] = unit
    rules = []
    for index, entry in enumerate(raw.get("rules") or []):
        unknown = set(entry.get("when", {})) - _CONDITIONS
        if unknown:
            raise DirectoryError(f"{path}: rules[{index}] ({entry.get('id')}): unknown condition {sorted(unknown)}")
        rules.append(Rule(entry["id"], entry.get("when", {}), entry["unit"]))
    triage = raw.get("triage_unit")
    if triage not in units:
        raise DirectoryError(f"{path}: triage_unit {triage!r} is not a unit")
    return Directory(units, raw.get("areas") or {}, tuple(rules), triage)


@lru_cache(maxsize=None)
def default_directory() -> Directory:
    return load_directory()


@dataclasses.dataclass
class Assignment:
    id: str
    case_id: str
    unit_code: str
    rule: str
    reason: str
    area: str
    status: str
    created_at: datetime


def assign(case_id: str, area: str, decision: Decision, now: datetime) -> Assignment:
    return Assignment(str(uuid.uuid4()), case_id, decision.unit.code, decision.rule, decision.reason, area,
                      "dispatched", now)
