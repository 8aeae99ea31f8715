"""The case lifecycle as pure rules: every legal path, every illegal move refused, a bad rating reopens."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from pydantic import ValidationError

from shared.errors import Conflict, InvalidInput
from shared.personal_data import find_raw_personal_data
from shared.problems import invalid_params
from services.intake.catalog import load_catalog
from services.intake.domain import TRANSITIONS, check_against_matter, new_case
from shared.personal_data import mask_text as redact
from services.intake.models import CallbackBody, CaseSearch, RejectBody, SubmitCaseBody, SupplementBody

NOW = datetime(2026, 11, 23, 8, tzinfo=timezone.utc)
BODY = {"matter_code": "property-repair", "channel": "online",
        "resident": {"name": "王", "phone": "13812345678", "area": "shixin"}}


def submitted(**changes):
    return SubmitCaseBody.model_validate({**BODY, **changes}).command(entered_by="counter")


def refused_field(model, body) -> str:
    with pytest.raises(ValidationError) as error:
        model.model_validate(body)
    return invalid_params(error.value)[0]["name"]


def a_case(handling="routed", channel="online"):
    return new_case(submitted(channel=channel), "property", "r1", NOW, handling=handling)


def test_routed_path_with_supplement_and_callback():
    case = a_case()
    case.request_supplement(["房屋产权证明"], NOW, "请带原件")
    assert case.missing_materials == ["房屋产权证明"]
    case.resubmit(NOW)
    assert case.missing_materials == []
    case.accept(NOW)
    case.routed_to("shixin-pm", "市新居民区物业", NOW)
    case.signed("shixin-pm", NOW)
    case.resolved("shixin-pm", "已更换灯泡", NOW)
    previous, reopened = case.record_callback("satisfied", "", NOW)
    assert (previous, reopened) == ("resolved", False)
    case.close(NOW)
    assert [h["status"] for h in case.history] == [
        "submitted", "supplement_requested", "resubmitted", "accepted", "routed", "in_progress", "resolved",
        "called_back", "closed"]
    assert case.lead_unit == "shixin-pm" and case.answer == "已更换灯泡" and case.closed_at == NOW


@pytest.mark.parametrize("rating", ["dissatisfied", "very_dissatisfied"])
def test_dissatisfied_rating_reopens_as_a_warning_case(rating):
    case = a_case()
    case.accept(NOW)
    case.routed_to("shixin-pm", "物业", NOW)
    case.resolved("shixin-pm", "已处理", NOW)
    previous, reopened = case.record_callback(rating, "灯还是不亮", NOW)
    assert reopened and case.status == "reopened" and case.reason == "灯还是不亮"
    with pytest.raises(Conflict):
        case.close(NOW)  # a warning case is handled again before it can close
    case.routed_to("shixin-pm", "物业", NOW)  # routing takes it up again
    assert case.status == "routed"


def test_station_matter_is_settled_and_a_routed_one_is_not():
    station = a_case(handling="station")
    station.accept(NOW)
    station.settle("当场打印医保账单", NOW)
    assert station.status == "settled"
    station.close(NOW)
    routed = a_case(handling="routed")
    routed.accept(NOW)
    with pytest.raises(Conflict, match="routed matter"):
        routed.settle("x", NOW)


@pytest.mark.parametrize("moves, refused", [
    ([], "close"),
    ([], "settle"),
    (["accept"], "accept"),
    (["reject"], "accept"),
    (["accept"], "resubmit"),
])
def test_illegal_moves_are_refused_with_the_statuses_named(moves, refused):
    case = a_case(handling="station")
    actions = {
        "accept": lambda: case.accept(NOW), "reject": lambda: case.reject("材料不属于本站受理范围", NOW),
        "close": lambda: case.close(NOW), "settle": lambda: case.settle("x", NOW),
        "resubmit": lambda: case.resubmit(NOW),
    }
    for move in moves:
        actions[move]()
    before = (case.status, len(case.history))
    with pytest.raises(Conflict, match=f"cannot go from {case.status} to"):
        actions[refused]()
    assert (case.status, len(case.history)) == before  # a refused move changes nothing


ACTIONS = ["accept", "reject", "supplement", "resubmit", "settle", "route", "sign", "resolve", "callback_good",
           "callback_bad", "close"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(ACTIONS), max_size=15), st.sampled_from(["station", "routed"]))
def test_any_sequence_of_moves_follows_the_table(moves, handling):
    case = a_case(handling=handling)
    at = NOW
    for move in moves:
        at += timedelta(minutes=1)
        before = case.status
        try:
            {
                "accept": lambda: case.accept(at), "reject": lambda: case.reject("不符合条件", at),
                "supplement": lambda: case.request_supplement(["居民身份证"], at), "resubmit": lambda: case.resubmit(at),
                "settle": lambda: case.settle("已办结", at), "route": lambda: case.routed_to("u", "单位", at),
                "sign": lambda: case.signed("u", at), "resolve": lambda: case.resolved("u", "答复", at),
                "callback_good": lambda: case.record_callback("very_satisfied", "", at),
                "callback_bad": lambda: case.record_callback("dissatisfied", "没解决", at),
                "close": lambda: case.close(at),
            }[move]()
        except Conflict:
            assert case.status == before
            continue
        assert case.status in TRANSITIONS[before]
    statuses = [h["status"] for h in case.history]
    assert statuses[0] == "submitted"
    assert all(b in TRANSITIONS[a] for a, b in zip(statuses, statuses[1:]))
    if handling == "routed":
        assert "settled" not in statuses


def test_action_bodies_name_the_field():
    assert refused_field(RejectBody, {"reason": "   "}) == "reason"
    assert refused_field(SupplementBody, {"missing_materials": []}) == "missing_materials"
    assert refused_field(SupplementBody, {"missing_materials": ["户口簿", 3]}) == "missing_materials[1]"
    assert refused_field(SupplementBody, {"missing_materials": ["户口簿", "户口簿"]}) == "missing_materials"
    assert refused_field(CallbackBody, {"rating": "ok"}) == "rating"
    assert CallbackBody.model_validate({"rating": "neutral", "comment": "还行"}).command("c1").comment == "还行"
    assert refused_field(SubmitCaseBody, {**BODY, "description": "bad\x00byte"}) == "description"


def test_channel_and_form_attributes_are_checked_against_the_matter():
    catalog = load_catalog()
    repair = catalog.get("property-repair")
    assert check_against_matter(submitted(attributes={"location": "stairwell"}), repair) == {"location": "stairwell"}
    for attributes, field in [({"location": "attic"}, "attributes.location"), ({"colour": "red"}, "attributes.colour"),
                              ({"location": 3}, "attributes.location")]:
        with pytest.raises(InvalidInput) as error:
            check_against_matter(submitted(attributes=attributes), repair)
        assert error.value.field == field
    assessment = catalog.get("ltc-insurance-assessment")
    with pytest.raises(InvalidInput, match="care_setting: is required") as error:
        check_against_matter(submitted(matter_code=assessment.code), assessment)
    with pytest.raises(InvalidInput) as error:  # property repair is not taken by video
        check_against_matter(submitted(channel="video"), repair)
    assert error.value.field == "channel"
    # what is not a form's value at all is refused with the body, before the matter is looked at
    assert refused_field(SubmitCaseBody, {**BODY, "attributes": {"location": {"a": 1}}}) == "attributes.location"
    assert refused_field(SubmitCaseBody, {**BODY, "attributes": {"Bad Code": "x"}}) == "attributes"


def test_free_text_leaving_intake_is_masked():
    text = redact("请回电 13812345678，身份证 310115199001011234")
    assert find_raw_personal_data(text) is None
    assert "138****5678" in text


def test_search_filter_parsing():
    found = CaseSearch.model_validate({"status": "routed", "from": "2026-11-01", "to": "2026-11-30T23:59:59+08:00",
                                       "page": "2", "per_page": "5", "channel": ""}).filter()
    assert found.status == "routed" and found.page == 2 and found.per_page == 5 and found.channel is None
    assert found.submitted_from == datetime(2026, 10, 31, 16, tzinfo=timezone.utc)  # midnight in Shanghai
    for args, field in [({"status": "lost"}, "status"), ({"from": "yesterday"}, "from"), ({"per_page": "500"}, "per_page"),
                        ({"from": "2026-12-01", "to": "2026-11-01"}, "to"), ({"channel": "fax"}, "channel"),
                        ({"from": "0001-01-01T00:00:00+14:00"}, "from"), ({"to": "9999-12-31T23:59:59-12:00"}, "to")]:
        assert refused_field(CaseSearch, args) == field
