"""Routing's events are shaped in one place: one builder per event type routing publishes, each building data that
the frozen schema of its version accepts, and no use case assembling an event by hand."""
import ast
import inspect
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from shared.events import Outgoing, new_event
from shared.workdays import SHANGHAI
from services.routing import events
from services.routing.domain import assignments
from services.routing.domain.assignments import RoutedCase, new_assignment
from services.routing.domain.directory import TimeLimit, default_directory

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "services" / "routing"
FROZEN = ROOT / "shared" / "contract" / "frozen" / "routing"
PUBLISHED = ROOT / "shared" / "contract" / "schemas" / "routing"

D = default_directory()
NOW = datetime(2026, 10, 9, 10, tzinfo=SHANGHAI)
EARLIER = NOW - timedelta(days=2)


def _case(**overrides):
    values = dict(case_id="5f0c4b2e-8a51-4c1e-9d6a-0e2f3b4c5d6e", area="shixin", matter_code="water-leak-repair",
                  category="property", kind="request", urgency="normal", rule="water-leak-pm-with-rc",
                  reason="rule water-leak-pm-with-rc matched", explanation=[], escalation=["housing-office"],
                  status="open", lead_unit="shixin-pm", created_at=EARLIER, updated_at=EARLIER,
                  resident_id="0b6f1c7e-2d3a-4e5f-8a9b-1c2d3e4f5a6b", phone_masked="138****5678")
    return RoutedCase(**{**values, **overrides})


def _assignment(unit="shixin-pm", role="lead", *, signed=True, reported=False, **extra):
    a = new_assignment(CASE.case_id, "shixin", D.units[unit], rule="water-leak-pm-with-rc", reason="matched",
                       now=EARLIER, sign_limit=TimeLimit(4, "working_hours"), handle_limit=TimeLimit(3, "working_days"),
                       role=role, **extra)
    if signed:
        assignments.sign(a, D.units[unit], EARLIER + timedelta(hours=1), D.policy)
    if reported:
        assignments.report(a, "已更换楼上渗漏水管, 联系 13812345678", NOW)
    return a


CASE = _case()
LEAD, ASSIST = _assignment(signed=False), _assignment("shixin-rc", "assist", signed=False)
SIGNED, DONE = _assignment(), _assignment(reported=True)
# A warning case (预警工单) about a case routing never routed: no matter, no resident, due at dispatch.
UNKNOWN_CASE = _case(area="", matter_code="", resident_id=None, phone_masked=None, rule="warning")
WARNING = new_assignment(UNKNOWN_CASE.case_id, "", D.units["ops-centre"], rule="warning",
                         reason="预警工单 (dissatisfied): 仍未修好", now=NOW, sign_limit=TimeLimit(4, "working_hours"),
                         handle_limit=TimeLimit(3, "working_days"), due_at=NOW + timedelta(days=3))
EXTENDED = _assignment()
EXTENDED.due_at = NOW + timedelta(days=4)

# Every builder with the calls that exercise it: each kind of event its use cases emit.
CALLS = {
    "case_routed": [
        ((CASE, LEAD, D.units["shixin-pm"], [(ASSIST, D.units["shixin-rc"])], "initial", NOW), {}),
        ((UNKNOWN_CASE, WARNING, D.units["ops-centre"], [], "warning", NOW), {}),
    ],
    "case_escalated": [
        ((_case(escalations=1), SIGNED, "housing-office", "handle-overdue", NOW), {"due_at": EARLIER}),
        ((_case(escalations=2), SIGNED, "ops-centre", "transfer-limit", NOW), {}),
    ],
    "case_resolved": [
        ((CASE, DONE, ["shixin-rc"], "已更换楼上渗漏水管\n【协办 市新居民区居委会】已协调", False, NOW), {}),
        ((UNKNOWN_CASE, DONE, [], "已处理", True, NOW), {}),
    ],
    "case_arbitrated": [((CASE, "ops-centre", D.units["meiyuan-rc"], LEAD, "楼栋属梅园居民区", NOW), {})],
    "assignment_signed": [((SIGNED, NOW), {}), ((LEAD, NOW), {})],
    "assignment_contacted": [((SIGNED, NOW), {}), ((LEAD, NOW), {})],
    "assignment_reported": [((DONE, NOW), {})],
    "assignment_transferred": [((_case(transfers=1), SIGNED, LEAD, D.units["shixin-oc"], "业委会事项", NOW), {})],
    "assignment_returned": [((SIGNED, "wrong-area", "", "ops-centre", NOW), {}),
                            ((SIGNED, "overlapping-duties", "楼栋属梅园", "ops-centre", NOW), {})],
    "assignment_reminded": [((SIGNED, "handle", EARLIER, NOW), {}), ((LEAD, "sign", EARLIER, NOW), {})],
    "assignment_extended": [((EXTENDED, "housing-office", 2, "等配件", EARLIER, NOW), {})],
}


def builders() -> dict:
    return {name: f for name, f in inspect.getmembers(events, inspect.isfunction)
            if f.__module__ == events.__name__ and not name.startswith("_") and f is not events.redacted}


def built():
    for name, calls in CALLS.items():
        for args, kwargs in calls:
            yield name, getattr(events, name)(*args, **kwargs)


def frozen_schema(event_type: str) -> dict:
    path = FROZEN / f"{event_type.removeprefix('doorstep.routing.')}.json"
    assert path.exists(), f"{event_type} has no frozen schema"
    return json.loads(path.read_text("utf-8"))


def test_every_builder_is_exercised():
    assert set(builders()) == set(CALLS)


@pytest.mark.parametrize("name, outgoing", list(built()), ids=lambda v: v if isinstance(v, str) else "")
def test_each_builder_makes_data_its_frozen_schema_accepts(name, outgoing):
    assert isinstance(outgoing, Outgoing)
    schema = frozen_schema(outgoing.type)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(
        outgoing.data)]
    assert not errors, f"{name}: {errors}"
    assert outgoing.subject == f"case/{outgoing.data['case_id']}"
    # And as the unit of work publishes it: the current schema, personal data masked.
    published = new_event(outgoing.type, street="lujiazui", subject=outgoing.subject, data=outgoing.data)
    assert "13812345678" not in json.dumps(published.data, ensure_ascii=False)


def test_every_event_type_routing_publishes_has_exactly_one_builder():
    types_of = {}
    for name, outgoing in built():
        types_of.setdefault(name, set()).add(outgoing.type)
    assert all(len(types) == 1 for types in types_of.values()), types_of
    per_type = Counter(next(iter(types)) for types in types_of.values())
    published = {f"doorstep.routing.{path.stem}" for path in PUBLISHED.glob("*.json")}
    assert set(per_type) == published
    assert all(count == 1 for count in per_type.values()), per_type


def test_the_warning_dispatch_and_the_first_one_share_one_shape():
    initial, warning = (events.case_routed(*args, **kwargs) for args, kwargs in CALLS["case_routed"])
    assert initial.data["dispatch"] == "initial" and "due_at" not in initial.data
    assert initial.data["assists"] == [{"code": "shixin-rc", "name": "市新居民区居委会", "assignment_id": ASSIST.id,
                                        "required": True}]
    assert warning.data["dispatch"] == "warning" and warning.data["due_at"] == WARNING.due_at.isoformat()
    # What routing does not know is left out, never null.
    assert not {"matter_code", "resident_id", "phone_masked"} & set(warning.data)
    assert None not in warning.data.values()


def _emits_by_hand(path: Path) -> list[str]:
    """Calls that emit an event from a type name (``uow.emit("doorstep.…", data=…)``) rather than a builder's."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit"
                and (any(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
                     or any(k.arg in ("subject", "data") for k in node.keywords))):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_use_cases_emit_only_what_a_builder_made():
    modules = [p for p in SERVICE.rglob("*.py") if "migrations" not in p.parts]
    assert [hand for path in modules for hand in _emits_by_hand(path)] == []
    # An event type is named only where its builder is.
    naming = [p.relative_to(ROOT) for p in modules if p.name != "events.py" and "doorstep.routing." in p.read_text()]
    assert naming == []
