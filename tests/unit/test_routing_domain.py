import pytest

from services.routing.domain.directory import DirectoryError, default_directory, load_directory


def route(**case):
    return default_directory().route({"matter_code": "x", "category": "none", "area": "shixin", **case})


def test_property_matter_goes_to_the_owners_committee_where_there_is_one():
    decision = route(matter_code="property-fee-dispute", category="property", area="shixin")
    assert decision.unit.code == "shixin-oc"


def test_residents_committee_acts_for_a_missing_owners_committee():
    # 居委会暂代业委会职责: 梅园 has no owners' committee.
    decision = route(matter_code="property-fee-dispute", category="property", area="meiyuan")
    assert decision.unit.code == "meiyuan-rc"
    assert decision.rule == "property-dispute-to-rc"


def test_a_case_no_rule_places_goes_to_triage_not_nowhere():
    decision = route(category="unheard-of")
    assert decision.unit.code == "ops-centre" and decision.rule == "triage"


def test_directory_errors_are_precise(tmp_path):
    bad = tmp_path / "d.yaml"
    bad.write_text("triage_unit: t\nunits: [{code: t, name: T, kind: department}]\n"
                   "rules: [{id: r, when: {colour: red}, unit: t}]\n", "utf-8")
    with pytest.raises(DirectoryError, match=r"rules\[0\] \(r\): unknown condition \['colour'\]"):
        load_directory(bad)
