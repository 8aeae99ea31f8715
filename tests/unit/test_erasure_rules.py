"""What erasure and retention keep and what they take: the pseudonymised resident, a case's free text and form,
its history's notes, routing's case, assignments and log, and the events still in an outbox (each still valid
for its schema, so a replay of it is still a valid event)."""
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from shared.errors import Conflict
from shared.events import registry
from shared.personal_data import REDACTED, find_raw_personal_data, redact_fields, redacted_text
from services.intake import domain as intake
from services.intake import events as intake_events
from services.intake.catalog import AttributeValue, FormAttribute, Matter, default_catalog
from services.routing import events as routing_events
from services.routing.domain import erasure as routing

AT = datetime(2026, 12, 1, 2, 30, tzinfo=timezone.utc)
FROZEN = Path(__file__).resolve().parents[2] / "shared" / "contract" / "frozen"

FORM = Matter("tree-pruning", "树木修剪", "property", "routed", 5, attributes=(
    FormAttribute("place", "singlevaluelist", values=(AttributeValue("yard", "院内"),)),
    FormAttribute("trees", "number"),
    FormAttribute("kinds", "multivaluelist", values=(AttributeValue("plane", "梧桐"),)),
    FormAttribute("where_exactly", "text"),
    FormAttribute("contact_name", "string"),
    FormAttribute("seen_at", "datetime"),
))


def test_a_pseudonym_comes_from_the_record_id_and_says_nothing_of_the_person():
    resident_id = str(uuid.uuid4())
    assert intake.pseudonym(resident_id) == f"已删除居民-{resident_id[:8]}"
    assert intake.pseudonym(resident_id) != intake.pseudonym(str(uuid.uuid4()))


def test_an_erased_resident_keeps_the_record_and_area_not_who_or_where_exactly():
    values = intake.erased_resident("5f0c1d2e-8a4b-4c6d-9e7f-0a1b2c3d4e5f", AT)
    assert values == {"name": "已删除居民-5f0c1d2e", "phone": None, "building": "", "room": "",
                      "id_card_masked": None, "id_card_hash": None, "erased_at": AT}
    assert "area" not in values and "id" not in values and "created_at" not in values


def test_a_resident_with_an_open_matter_or_a_booking_to_come_is_not_erased():
    intake.check_erasable("r", [], [])
    with pytest.raises(Conflict) as refused:
        intake.check_erasable("r", ["c1"], ["a1"])
    assert "case c1" in str(refused.value) and "appointment a1" in str(refused.value)
    assert set(intake.LIVE_STATUSES) | set(intake.DONE_STATUSES) == set(intake.STATUSES)
    assert not set(intake.LIVE_STATUSES) & set(intake.DONE_STATUSES)
    # resolved and settled are done: a callback may follow, and is refused once erased
    assert {"resolved", "settled", "rejected", "closed", "called_back"} == set(intake.DONE_STATUSES)


def test_a_case_loses_what_was_written_and_keeps_what_was_chosen():
    case = {"description": "王阿姨家楼道灯不亮，电话13812345678", "answer": "已为王阿姨更换", "reason": "",
            "reporter": "楼组长李师傅",
            "attributes": {"place": "yard", "trees": 3, "kinds": ["plane"], "where_exactly": "王阿姨窗前",
                           "contact_name": "王阿姨", "seen_at": "2026-11-30T08:00:00+08:00"}}
    assert intake.redacted_case(case, FORM) == {
        "description": REDACTED, "answer": REDACTED, "reason": "", "reporter": REDACTED,
        "attributes": {"place": "yard", "trees": 3, "kinds": ["plane"]}}
    # a matter no longer in the catalog: nothing tells which values were chosen, so none stays
    assert intake.redacted_case(case, None)["attributes"] == {}
    repair = default_catalog().get("property-repair")
    assert intake.redacted_case({**case, "attributes": {"location": "stairwell"}}, repair)["attributes"] == {
        "location": "stairwell"}


@pytest.mark.parametrize("status, note, kept", [
    ("submitted", "channel counter", True),
    ("accepted", "accepted at the counter", True),
    ("routed", "assigned to 市新居民区物业 (shixin-pm)", True),
    ("in_progress", "signed for by shixin-pm", True),
    ("closed", "closed", True),
    ("rejected", "请王阿姨本人来", False),
    ("supplement_requested", "missing: 房屋产权证明; 王阿姨说明天带", False),
    ("resubmitted", "已补", False),
    ("settled", "当场打印给王阿姨", False),
    ("resolved", "已为王阿姨更换", False),
    ("called_back", "callback satisfied: 王阿姨说很快", False),
    ("reopened", "callback dissatisfied: 还是不亮", False),
])
def test_a_history_note_goes_when_someone_wrote_it(status, note, kept):
    assert intake.redacted_note(status, note) == (note if kept else REDACTED)


def test_text_is_redacted_and_nothing_stays_nothing():
    assert redacted_text("王阿姨") == REDACTED
    assert redacted_text("") == "" and redacted_text(None) is None
    assert redact_fields({"a": "x", "b": "y", "c": 1, "d": "z"}, fields=("a", "c"), drop=("d",)) == {
        "a": REDACTED, "b": "y", "c": 1}


def test_retention_counts_back_from_now():
    assert intake.retention_cutoff(AT, 180) == AT - timedelta(days=180)
    assert routing.retention_cutoff(AT, 1825) == AT - timedelta(days=1825)


def test_routing_forgets_the_resident_and_the_words_not_the_decision():
    assert routing.redacted_case({"rule": "property-repair-to-pm", "reason": "物业报修由物业公司处理",
                                  "answer": "已为王阿姨更换"}) == {
        "resident_id": None, "phone_masked": None, "answer": REDACTED, "reason": "物业报修由物业公司处理"}
    # a warning case's reason is the resident's complaint
    assert routing.redacted_case({"rule": "warning", "reason": "预警工单 (dissatisfied): 王阿姨说还是不亮",
                                  "answer": None})["reason"] == REDACTED
    assert routing.redacted_assignment({"rule": "property-repair-to-pm", "reason": "协办: 物业报修",
                                        "result": "已修", "extension_reason": None}) == {
        "reason": "协办: 物业报修", "result": REDACTED, "extension_reason": None}
    assert routing.redacted_assignment({"rule": "warning", "reason": "预警工单: 王阿姨", "result": None,
                                        "extension_reason": "等王阿姨在家"})["reason"] == REDACTED


@pytest.mark.parametrize("action, detail, expected", [
    ("transfer", {"to_unit": "shixin-rc", "reason": "王阿姨说是居委会的事"}, {"to_unit": "shixin-rc", "reason": REDACTED}),
    ("return", {"reason_code": "wrong-area", "reason": "属地不符", "note": "王阿姨住隔壁小区"},
     {"reason_code": "wrong-area", "reason": "属地不符", "note": REDACTED}),
    ("arbitration", {"to_unit": "shixin-pm", "decision": "王阿姨楼道属物业"}, {"to_unit": "shixin-pm", "decision": REDACTED}),
    ("extension-requested", {"working_days": 3, "reason": "王阿姨不在家", "approver": "ops"},
     {"working_days": 3, "reason": REDACTED, "approver": "ops"}),
    ("escalation", {"to_unit": "ops", "reason": "sign-overdue"}, {"to_unit": "ops", "reason": "sign-overdue"}),
    ("warning", {"reason": "还是不亮", "rating": "dissatisfied"}, {"reason": REDACTED, "rating": "dissatisfied"}),
])
def test_routing_s_case_log_keeps_codes_and_counts(action, detail, expected):
    assert routing.redacted_log_detail(action, detail) == expected


def _valid(event_type: str, data: dict) -> None:
    _, service, entity, verb, version = event_type.split(".")
    frozen = json.loads((FROZEN / service / f"{entity}.{verb}.{version}.json").read_text("utf-8"))
    jsonschema.validate(data, frozen, format_checker=jsonschema.FormatChecker())
    registry().get(event_type).validate(data)


CASE, UNIT = str(uuid.uuid4()), {"code": "shixin-pm", "name": "市新居民区物业"}
INTAKE_EVENTS = {
    "doorstep.intake.case.rejected.v1": {"case_id": CASE, "reason": "请王阿姨本人来", "rejected_at": AT.isoformat()},
    "doorstep.intake.case.callback_recorded.v1": {"case_id": CASE, "rating": "satisfied", "reopened": False,
                                                   "comment": "王阿姨说很快", "recorded_at": AT.isoformat()},
    "doorstep.intake.case.status_changed.v1": {"case_id": CASE, "status": "rejected", "previous_status": "submitted",
                                                "changed_at": AT.isoformat(), "reason": "请王阿姨本人来"},
    "doorstep.intake.case.settled.v1": {"case_id": CASE, "matter_code": "property-repair", "answer": "已打印给王阿姨",
                                        "settled_at": AT.isoformat()},
}
ROUTING_EVENTS = {
    "doorstep.routing.case.routed.v1": {
        "case_id": CASE, "assignment_id": str(uuid.uuid4()), "unit": UNIT, "rule": "warning",
        "reason": "预警工单 (dissatisfied): 王阿姨说还是不亮", "area": "shixin", "resident_id": str(uuid.uuid4()),
        "phone_masked": "138****5678", "assists": [], "dispatch": "warning", "routed_at": AT.isoformat()},
    "doorstep.routing.case.resolved.v1": {
        "case_id": CASE, "resident_id": str(uuid.uuid4()), "lead_unit": "shixin-pm", "assisting_units": [],
        "answer": "已为王阿姨更换", "overdue": False, "resolved_at": AT.isoformat()},
    "doorstep.routing.assignment.reported.v1": {
        "case_id": CASE, "assignment_id": str(uuid.uuid4()), "unit": "shixin-pm", "role": "lead",
        "result": "已为王阿姨更换", "overdue": False, "reported_at": AT.isoformat()},
}


@pytest.mark.parametrize("redacted, event_type, data", [
    *[(intake_events.redacted, t, d) for t, d in sorted(INTAKE_EVENTS.items())],
    *[(routing_events.redacted, t, d) for t, d in sorted(ROUTING_EVENTS.items())]],
    ids=lambda value: value if isinstance(value, str) else "")
def test_events_in_the_outbox_lose_the_words_and_the_resident_and_stay_valid(redacted, event_type, data):
    _valid(event_type, data)
    after = redacted(event_type, data)
    _valid(event_type, after)
    assert "王阿姨" not in json.dumps(after, ensure_ascii=False) and after["case_id"] == CASE
    assert find_raw_personal_data(after) is None
    if event_type.startswith("doorstep.routing."):  # routing keeps nothing of the resident
        assert "resident_id" not in after and "phone_masked" not in after
    else:  # intake's schemas require the resident's masked phone: every field stays
        assert set(after) == set(data)


def test_a_first_routing_keeps_its_rule_s_reason():
    data = {**ROUTING_EVENTS["doorstep.routing.case.routed.v1"], "dispatch": "initial", "rule": "property-repair-to-pm",
            "reason": "物业报修由物业公司处理"}
    assert routing_events.redacted("doorstep.routing.case.routed.v1", data)["reason"] == "物业报修由物业公司处理"


def test_every_free_text_named_is_a_string_field_of_its_event():
    for module in (intake_events, routing_events):
        for event_type, fields in module.FREE_TEXT.items():
            properties = registry().get(event_type).schema["properties"]
            for field in fields:
                assert properties[field]["type"] == "string", (event_type, field)
