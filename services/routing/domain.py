"""Routing's domain: the 1+3+N directory, explainable rules, time limits and the assignment lifecycle.

Pure: no nameko, HTTP or SQL. Times are timezone-aware UTC; working-day arithmetic is in
:mod:`shared.workdays` (Asia/Shanghai, statutory holidays and adjusted working weekends).
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import yaml

from shared import workdays
from shared.errors import Conflict, Forbidden, InvalidInput

DEFAULT_DIRECTORY = Path(__file__).parent / "data" / "directory.yaml"

# Conditions on the case itself; area attributes are addressed as ``area.<attribute>``.
_CASE_CONDITIONS = {"matter_code", "category", "area", "urgency", "kind", "channel"}
_LIMIT_UNITS = ("working_days", "working_hours", "hours")
_TEMPLATE_RE = re.compile(r"\{area\}")

# 退单 reason codes: the unit says the case is not theirs, and the operations centre arbitrates.
RETURN_REASONS = {
    "wrong-area": "属地不符",
    "unclear-ownership": "权属不清",
    "overlapping-duties": "职能交叉",
}


class DirectoryError(Exception):
    pass


class NotYourUnit(Forbidden):
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

    def unit(self, code: str) -> Unit:
        try:
            return self.units[code]
        except KeyError:
            raise InvalidInput("unit", f"{code!r} is not a unit of this street") from None

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


# -- authorisation ---------------------------------------------------------------------------------------

def check_acts_for(role: str, label: str, unit_code: str) -> None:
    """A handler acts for the unit named in its token's label (``unit:<code>``); admin acts for any unit."""
    if role == "admin":
        return
    if role == "handler" and unit_code in _label_units(label):
        return
    raise NotYourUnit(f"only a handler of unit {unit_code} (token label 'unit:{unit_code}') or an admin may do this")


def _label_units(label: str) -> set[str]:
    return {part.strip()[5:] for part in (label or "").split(",") if part.strip().startswith("unit:")}


# -- the case and its assignments ------------------------------------------------------------------------

@dataclasses.dataclass
class RoutedCase:
    """Routing's view of a case: the facts it was routed on, the decision, and where it stands."""
    case_id: str
    area: str
    matter_code: str
    category: str
    kind: str
    urgency: str
    rule: str
    reason: str
    explanation: list
    escalation: list
    status: str  # open | arbitration | resolved
    lead_unit: str
    created_at: datetime
    updated_at: datetime
    transfers: int = 0
    escalations: int = 0
    warning: bool = False
    resident_id: str | None = None
    phone_masked: str | None = None
    answer: str | None = None
    resolved_at: datetime | None = None


OPEN_STATES = ("dispatched", "signed", "in_progress")


@dataclasses.dataclass
class Assignment:
    id: str
    case_id: str
    unit_code: str
    rule: str
    reason: str
    area: str
    status: str  # dispatched → signed → in_progress → done; or transferred / returned / superseded
    created_at: datetime
    role: str = "lead"  # lead | assist
    required: bool = True
    handle_limit: str = "working_days:15"
    sign_due_at: datetime | None = None
    signed_at: datetime | None = None
    contact_due_at: datetime | None = None
    contacted_at: datetime | None = None
    due_at: datetime | None = None
    reported_at: datetime | None = None
    result: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    extension_days: int | None = None
    extension_reason: str | None = None
    extensions: int = 0
    escalated_to: str | None = None
    escalated_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    def is_overdue(self, now: datetime) -> bool:
        if self.status == "dispatched":
            return self.sign_due_at is not None and now > self.sign_due_at
        if self.status in ("signed", "in_progress"):
            return self.due_at is not None and now > self.due_at
        return False


def new_assignment(case_id: str, area: str, unit: Unit, *, rule: str, reason: str, now: datetime,
                   sign_limit: TimeLimit, handle_limit: TimeLimit, role: str = "lead", required: bool = True,
                   due_at: datetime | None = None) -> Assignment:
    return Assignment(str(uuid.uuid4()), case_id, unit.code, rule, reason, area, "dispatched", now, role=role,
                      required=required, handle_limit=handle_limit.stored(),
                      sign_due_at=sign_limit.due(now, unit.opening, unit.closing), due_at=due_at)


def assign(case_id: str, area: str, decision: Decision, now: datetime, policy: Policy = Policy()) -> Assignment:
    """The lead assignment for a routing decision with the street's default time limits."""
    tier = policy.tiers[-1]
    return new_assignment(case_id, area, decision.unit, rule=decision.rule, reason=decision.reason, now=now,
                          sign_limit=tier.sign, handle_limit=decision.deadline or tier.handle)


def _require(assignment: Assignment, states: tuple[str, ...], action: str) -> None:
    if assignment.status not in states:
        raise Conflict(f"assignment {assignment.id} is {assignment.status}; cannot {action} "
                       f"(only when {' or '.join(states)})")


def sign(assignment: Assignment, unit: Unit, now: datetime, policy: Policy) -> None:
    """签收: the handling clock starts now, unless a deadline was fixed at dispatch (a warning case)."""
    _require(assignment, ("dispatched",), "sign for it")
    assignment.status, assignment.signed_at = "signed", now
    assignment.contact_due_at = policy.first_contact.due(now, unit.opening, unit.closing)
    if assignment.due_at is None:
        assignment.due_at = TimeLimit.parse(assignment.handle_limit, "handle_limit").due(now, unit.opening,
                                                                                          unit.closing)


def record_contact(assignment: Assignment, now: datetime) -> None:
    """先行联系: the unit reached the resident; the work is in progress."""
    _require(assignment, ("signed",), "record first contact")
    assignment.status, assignment.contacted_at = "in_progress", now


def report(assignment: Assignment, answer: str, now: datetime) -> None:
    """The lead reports its result, an assisting unit its part."""
    if not (answer or "").strip():
        raise InvalidInput("answer", "say what was done")
    _require(assignment, ("signed", "in_progress"), "report a result")
    assignment.status, assignment.result, assignment.reported_at = "done", answer.strip(), now
    assignment.closed_at, assignment.close_reason = now, "reported"


def close(assignment: Assignment, status: str, reason: str, now: datetime) -> None:
    assignment.status, assignment.closed_at, assignment.close_reason = status, now, reason


def resolution(case: RoutedCase, assignments: list[Assignment], units: dict[str, Unit]) -> dict | None:
    """The case is resolved when the current lead has reported and every required assist is done.

    Returns the one merged answer for the resident, or None while something is outstanding.
    """
    if case.status == "resolved":
        return None
    leads = [a for a in assignments if a.role == "lead" and a.status not in ("transferred", "returned",
                                                                             "superseded")]
    if not leads or leads[-1].status != "done":
        return None
    lead = leads[-1]
    assists = [a for a in assignments if a.role == "assist" and a.status not in ("superseded",)]
    if any(a.required and a.status != "done" for a in assists):
        return None
    parts = [lead.result]
    for assist in assists:
        if assist.status == "done":
            name = units[assist.unit_code].name if assist.unit_code in units else assist.unit_code
            parts.append(f"【协办 {name}】{assist.result}")
    done = [lead, *[a for a in assists if a.status == "done"]]
    overdue = any(a.due_at is not None and a.reported_at is not None and a.reported_at > a.due_at for a in done)
    return {"lead": lead, "answer": "\n".join(parts), "assisting_units": [a.unit_code for a in assists],
            "overdue": overdue}


def check_transfer(case: RoutedCase, assignment: Assignment, to_unit: str, reason: str, policy: Policy) -> str:
    """转办: returns "transfer", or "escalate" once the transfers would pass the street's limit (no ping-pong)."""
    if not (reason or "").strip():
        raise InvalidInput("reason", "a transfer needs a reason")
    if assignment.role != "lead":
        raise Conflict("only the lead unit transfers a case; an assisting unit reports its part")
    _require(assignment, OPEN_STATES, "transfer it")
    if to_unit == assignment.unit_code:
        raise InvalidInput("to_unit", "the case is already with this unit")
    return "escalate" if case.transfers >= policy.max_transfers else "transfer"


def check_return(assignment: Assignment, reason_code: str) -> None:
    """退单: only with one of the reason codes, and only before the work has started."""
    if reason_code not in RETURN_REASONS:
        raise InvalidInput("reason_code", f"one of {sorted(RETURN_REASONS)}, got {reason_code!r}")
    if assignment.role != "lead":
        raise Conflict("only the lead unit returns a case")
    _require(assignment, ("dispatched", "signed"), "return it")


def request_extension(assignment: Assignment, working_days: int, reason: str) -> None:
    """延期: asked by the handling unit with a reason; takes effect only when the supervisor approves."""
    if not isinstance(working_days, int) or isinstance(working_days, bool) or not 1 <= working_days <= 30:
        raise InvalidInput("working_days", "a whole number of working days from 1 to 30")
    if not (reason or "").strip():
        raise InvalidInput("reason", "an extension needs a reason")
    _require(assignment, ("signed", "in_progress"), "ask for an extension")
    if assignment.extension_days:
        raise Conflict(f"assignment {assignment.id} already waits for a decision on an extension")
    assignment.extension_days, assignment.extension_reason = working_days, reason.strip()


def decide_extension(assignment: Assignment, approve: bool) -> datetime | None:
    """The supervisor's decision; an approved extension moves the deadline on by working days."""
    if not assignment.extension_days:
        raise Conflict(f"assignment {assignment.id} has no extension request")
    _require(assignment, ("signed", "in_progress"), "extend it")
    previous = assignment.due_at
    if approve:
        assignment.due_at = TimeLimit(assignment.extension_days, "working_days").due(previous)
        assignment.extensions += 1
    assignment.extension_days = None
    return previous if approve else None


# -- deadlines: reminders (催办) and escalation (督办) ---------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Breach:
    assignment_id: str
    clock: str  # sign | contact | handle
    due_at: datetime
    step: str  # remind | escalate


def breaches(assignment: Assignment, now: datetime, policy: Policy) -> list[Breach]:
    """The reminder and escalation steps due for an assignment now.

    One breach is one deadline (the clock and its due time): a reminder once it has passed, an escalation once
    it has passed by the street's grace (1 working day by default). An approved extension gives a new due
    time, hence a new breach. Recording each (assignment, clock, due time, step) once is the caller's part.
    """
    found = []
    if assignment.status == "signed" and assignment.contact_due_at and now > assignment.contact_due_at:
        # No first contact (先行联系) yet: a reminder only; the handling deadline is what escalates.
        found.append(Breach(assignment.id, "contact", assignment.contact_due_at, "remind"))
    if assignment.status == "dispatched":
        clock, due = "sign", assignment.sign_due_at
    elif assignment.status in ("signed", "in_progress"):
        clock, due = "handle", assignment.due_at
    else:
        return found
    if due is None or now <= due:
        return found
    found.append(Breach(assignment.id, clock, due, "remind"))
    if now > policy.escalate_after.due(due):
        found.append(Breach(assignment.id, clock, due, "escalate"))
    return found


def escalation_target(case: RoutedCase, assignment: Assignment, directory: Directory) -> str:
    """The rule's escalation chain, one step further each time; then the unit's supervisor."""
    chain = [code.replace("{area}", case.area) for code in case.escalation]
    chain = [code for code in chain if code in directory.units and code != assignment.unit_code]
    if case.escalations < len(chain):
        return chain[case.escalations]
    return directory.supervisor_of(assignment.unit_code)


# -- unit scores (三率) ---------------------------------------------------------------------------------

def unit_scores(assignments: list[Assignment], dissatisfied: set[str]) -> dict:
    """响应率 (signed for in time), 办结率 (lead assignments resolved) and 满意率 (resolved and not rated
    dissatisfied, i.e. not reopened as a warning case) over the assignments of one unit in one period;
    ``dissatisfied`` holds the ids of the lead assignments whose answer the resident rejected."""
    counted = [a for a in assignments if a.status not in ("transferred", "returned", "superseded")]
    signed_in_time = [a for a in counted if a.signed_at and a.sign_due_at and a.signed_at <= a.sign_due_at]
    leads = [a for a in counted if a.role == "lead"]
    resolved = [a for a in leads if a.status == "done"]
    satisfied = [a for a in resolved if a.id not in dissatisfied]

    def rate(part, whole):
        return round(len(part) / len(whole), 4) if whole else None

    return {
        "assignments": len(counted),
        "response_rate": rate(signed_in_time, counted),
        "resolution_rate": rate(resolved, leads),
        "satisfaction_rate": rate(satisfied, resolved),
        "resolved_on_time": len([a for a in resolved if a.due_at and a.reported_at and a.reported_at <= a.due_at]),
    }


def time_limits(policy: Policy, case: dict, decision: Decision) -> tuple[TimeLimit, TimeLimit]:
    """(sign-for, handling) limits of a case: its tier by urgency and kind; below the special tiers the matter's
    own time limit from the catalog; a rule's deadline overrides both."""
    tier = policy.tier_for(case)
    handle = tier.handle
    if not tier.when and case.get("time_limit_days"):
        handle = TimeLimit(int(case["time_limit_days"]), "working_days")
    if decision.deadline is not None:
        handle = decision.deadline
    return tier.sign, handle
