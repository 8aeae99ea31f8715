"""Routing rules as data: 居委会代行, co-handling, triage, time-limit tiers, explanations and precise errors."""
from datetime import datetime, timezone

import pytest

from services.routing.domain.deadlines import time_limits
from services.routing.domain.directory import DirectoryError, TimeLimit, default_directory, load_directory
from shared.workdays import SHANGHAI


def case(**facts):
    return {"matter_code": "x", "category": "none", "area": "shixin", "kind": "request", "urgency": "normal",
            **facts}


def test_the_demo_street_has_an_area_without_an_owners_committee():
    directory = default_directory()
    assert len(directory.areas) >= 2
    assert directory.areas["shixin"]["has_owners_committee"] is True
    assert directory.areas["meiyuan"]["has_owners_committee"] is False
    assert "meiyuan-oc" not in directory.units
    kinds = {u.kind for u in directory.units.values() if u.area == "shixin"}
    assert {"residents-committee", "owners-committee", "property-company", "community-police", "partner"} <= kinds
    assert all(u.handlers for u in directory.units.values())
    assert directory.units["shixin-pm"].supervisor == "housing-office"


def test_residents_committee_acts_for_the_missing_owners_committee_and_says_so():
    decision = default_directory().route(case(matter_code="property-fee-dispute", category="property",
                                              area="meiyuan"))
    assert decision.unit.code == "meiyuan-rc"
    assert decision.rule == "property-dispute-to-rc"
    assert "居委会暂代业委会职责" in decision.reason
    assert "has_owners_committee=False" in decision.reason
    # The explanation shows why the owners'-committee rule did not apply.
    tried = {step["rule"]: step for step in decision.explanation}
    assert tried["property-dispute-to-oc"]["failed"] == {"condition": "has_owners_committee", "expected": True,
                                                        "actual": False}
    assert tried["property-dispute-to-rc"]["matched"] is True


def test_where_there_is_an_owners_committee_it_leads():
    decision = default_directory().route(case(matter_code="property-fee-dispute", category="property"))
    assert decision.unit.code == "shixin-oc" and decision.escalation == ("housing-office",)


def test_co_handling_names_required_and_optional_assisting_units():
    decision = default_directory().route(case(matter_code="community-parking-rules", category="property"))
    assert decision.unit.code == "shixin-oc"
    assert [(u.code, required) for u, required in decision.assists] == [
        ("shixin-rc", True), ("shixin-police", False), ("shixin-pm", False)]
    without_oc = default_directory().route(case(matter_code="community-parking-rules", category="property",
                                                area="meiyuan"))
    assert without_oc.unit.code == "meiyuan-rc"
    assert [u.code for u, _ in without_oc.assists] == ["meiyuan-police", "meiyuan-pm"]


def test_a_case_no_rule_places_goes_to_triage_with_every_rule_tried():
    directory = default_directory()
    decision = directory.route(case(category="unheard-of"))
    assert decision.unit.code == "ops-centre" and decision.rule == "triage"
    assert [step["rule"] for step in decision.explanation] == [r.id for r in directory.rules] + ["triage"]
    assert not any(step["matched"] for step in decision.explanation[:-1])


def test_a_rule_whose_unit_is_missing_in_the_area_falls_through(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("""
triage_unit: t
units:
  - {code: t, name: T, kind: department}
  - {code: a-oc, name: A OC, kind: owners-committee, area: a}
areas:
  a: {name: A, has_owners_committee: true}
  b: {name: B, has_owners_committee: true}
rules:
  - {id: to-oc, when: {category: property}, unit: "{area}-oc"}
""", "utf-8")
    decision = load_directory(path).route(case(category="property", area="b"))
    assert decision.unit.code == "t"
    assert decision.explanation[0]["failed"] == {"unit": "b-oc", "problem": "no such unit in this area"}


def test_time_limit_tiers_by_urgency_and_kind():
    directory = default_directory()

    def limits(**facts):
        c = case(**facts)
        return time_limits(directory.policy, c, directory.route(c))

    assert limits(urgency="critical") == (TimeLimit(1, "hours"), TimeLimit(1, "working_days"))
    assert limits(urgency="urgent") == (TimeLimit(2, "working_hours"), TimeLimit(3, "working_days"))
    assert limits(kind="complaint")[1] == TimeLimit(5, "working_days")
    assert limits()[1] == TimeLimit(15, "working_days")
    # Below the special tiers, the matter's own time limit from the catalog applies.
    assert limits(time_limit_days=3)[1] == TimeLimit(3, "working_days")
    assert limits(urgency="critical", time_limit_days=3)[1] == TimeLimit(1, "working_days")


def test_a_critical_case_must_be_signed_for_within_one_calendar_hour_even_on_a_holiday():
    dispatched = datetime(2026, 10, 2, 22, 0, tzinfo=SHANGHAI)
    assert TimeLimit(1, "hours").due(dispatched) == datetime(2026, 10, 2, 15, 0, tzinfo=timezone.utc)
    # A normal one waits for working hours: 4 of them from 8 October 08:30.
    assert TimeLimit(4, "working_hours").due(dispatched) == datetime(2026, 10, 8, 12, 30, tzinfo=SHANGHAI)


@pytest.mark.parametrize("units, rules, policy, message", [
    ("[{code: t, name: T, kind: d}]", "[{id: r, when: {colour: red}, unit: t}]", "{}",
     r"rules\[0\] \(r\): unknown condition \['colour'\]"),
    ("[{code: t, name: T, kind: d}]", "[{id: r, when: {}, unit: nobody}]", "{}",
     r"rules\[0\] \(r\): unit: unknown unit 'nobody'"),
    ("[{code: t, name: T, kind: d}]", "[{id: r, when: {}, unit: t, assist: ['{area}-zz']}]", "{}",
     r"rules\[0\] \(r\): assist\[0\]: '\{area\}-zz' names no unit in any area"),
    ("[{code: t, name: T, kind: d}]", "[{id: r, unit: t}, {id: r, unit: t}]", "{}",
     r"rules\[1\] \(r\): rule id is used twice"),
    ("[{code: t, name: T, kind: d}]", "[{id: r, unit: t, deadline: {weeks: 2}}]", "{}",
     r"rules\[0\] \(r\): deadline\.weeks: .* / is not a known field"),
    ("[{code: t, name: T, kind: d}]", "[{id: r, unit: t, deadline: {working_days: 1.5}}]", "{}",
     r"rules\[0\] \(r\): deadline\.working_days: .* / must be an integer"),
    ("[{code: t, name: T, kind: d, working_hours: '18:00-09:00'}]", "[]", "{}",
     r"units\[0\] \(t\): working_hours: .* / must close after they open"),
    ("[{code: t, name: T, kind: d, supervisor: boss}]", "[]", "{}",
     r"units\[0\] \(t\): supervisor 'boss' is not a unit"),
    ("[{code: t, name: T, kind: d}]", "[]",
     "{tiers: [{when: {urgency: critical}, sign: {hours: 1}, handle: {working_days: 1}}]}",
     r"policy\.tiers: .* / the last tier must have no conditions"),
    ("[{code: t, name: T, kind: d}]", "[]", "{max_transfers: -1}", r"policy.max_transfers"),
    ("[{code: t, name: T, kind: d}]", "[]", "{arbitration_unit: x}", r"policy.arbitration_unit: 'x' is not a unit"),
])
def test_directory_errors_name_the_entry_and_the_problem(tmp_path, units, rules, policy, message):
    path = tmp_path / "d.yaml"
    path.write_text(f"triage_unit: t\nunits: {units}\nrules: {rules}\npolicy: {policy}\n", "utf-8")
    with pytest.raises(DirectoryError, match=message):
        load_directory(path)
