import pytest

from services.notify.domain.digest import DIGEST_KEY, compose_digest
from services.notify.domain.templates import (DEFAULT_TEMPLATES, TemplateError, default_templates, load_templates,
                                              messages_for, notices_for)

ROUTED = {"case_id": "c", "assignment_id": "a", "unit": {"code": "shixin-pm", "name": "市新居民区物业"},
          "rule": "r", "area": "shixin", "matter_code": "property-repair", "resident_id": "r1",
          "phone_masked": "138****5678", "routed_at": "t"}
ROUTED_TYPE = "doorstep.routing.case.routed.v1"


def test_case_routed_renders_one_message_for_the_resident_and_one_for_the_unit():
    messages = messages_for(ROUTED_TYPE, ROUTED, default_templates())
    # The unit's handlers are named as a topic, expanded against subscriptions when the event is handled.
    assert [m.recipient for m in messages] == ["resident:r1", "unit:shixin-pm", "subscribers:unit:shixin-pm"]
    assert messages[0].subject == "您的事项已转交市新居民区物业办理"
    assert "138****5678" in messages[0].body
    assert messages[1].subject == "新派单：property-repair"


def test_a_recipient_whose_optional_field_is_absent_is_left_out():
    without_resident = {k: v for k, v in ROUTED.items() if k not in ("resident_id", "phone_masked")}
    notices = notices_for(ROUTED_TYPE, without_resident, default_templates())
    assert [n.recipient for n in notices] == ["unit:shixin-pm", "subscribers:unit:shixin-pm"]
    assert all(n.mandatory and n.category == "assignment" for n in notices)


def test_per_channel_text_fills_provider_parameters():
    template = default_templates()[ROUTED_TYPE][0]
    sms = template.render(ROUTED, "sms")
    assert sms.provider_template == "SMS_DOORSTEP_CASE_ROUTED" and sms.params == {"unit": "市新居民区物业"}
    assert sms.subject == template.render(ROUTED).subject  # no override: the default text


def test_a_template_naming_a_field_the_event_lacks_fails_at_load_with_its_name(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("doorstep.routing.case.routed.v1:\n  - recipient: 'x'\n    template: greet\n"
                    "    subject: '{{ data.resident_name }}'\n    body: b\n", "utf-8")
    with pytest.raises(TemplateError, match="greet: subject uses data.resident_name"):
        load_templates(path)


def test_a_nested_field_the_schema_lacks_fails_too(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("doorstep.routing.case.routed.v1:\n  - recipient: 'unit:{{ data.unit.phone }}'\n"
                    "    template: unit-call\n    subject: s\n    body: b\n", "utf-8")
    with pytest.raises(TemplateError, match="unit-call: recipient uses data.unit.phone"):
        load_templates(path)


def test_an_optional_field_read_without_a_guard_fails_at_load_not_on_the_first_event_without_it(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("doorstep.intake.case.supplement_requested.v1:\n  - recipient: 'unit:a'\n    template: note\n"
                    "    subject: s\n    body: '说明：{{ data.note }}'\n", "utf-8")
    with pytest.raises(TemplateError, match="note: .*'note'.*guard it"):
        load_templates(path)
    path.write_text("doorstep.intake.case.supplement_requested.v1:\n  - recipient: 'unit:a'\n    template: note\n"
                    "    subject: s\n    body: '说明：{{ data.note | default(\"无\") }}'\n", "utf-8")
    assert load_templates(path)["doorstep.intake.case.supplement_requested.v1"][0].template == "note"


def test_an_unknown_event_type_or_channel_fails_at_load(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("doorstep.routing.case.routd.v1: []\n", "utf-8")
    with pytest.raises(TemplateError, match="case.routd.v1: not a known event type"):
        load_templates(path)
    path.write_text("doorstep.routing.case.routed.v1:\n  - {recipient: x, template: t, subject: s, body: b,\n"
                    "     channels: {fax: {body: b}}}\n", "utf-8")
    with pytest.raises(TemplateError, match=r"/t: channels\.fax: .* / is not a known field"):
        load_templates(path)


def test_a_street_file_overrides_a_template_by_name_and_can_remove_one(tmp_path):
    street = tmp_path / "street.yaml"
    street.write_text("doorstep.routing.case.routed.v1:\n"
                      "  - template: case-routed-resident\n    recipient: 'resident:{{ data.resident_id }}'\n"
                      "    subject: '【花木街道】已转{{ data.unit.name }}'\n    body: b\n"
                      "  - template: case-routed-unit\n    disabled: true\n", "utf-8")
    templates = load_templates([DEFAULT_TEMPLATES, street])
    messages = messages_for(ROUTED_TYPE, ROUTED, templates)
    assert [(m.recipient, m.subject) for m in messages] == [("resident:r1", "【花木街道】已转市新居民区物业")]


def test_the_digest_template_renders_a_units_day():
    from datetime import datetime, timedelta, timezone

    from services.notify.domain.digest import AssignmentView

    moment = datetime(2026, 11, 24, 0, 30, tzinfo=timezone.utc)  # 08:30 in Shanghai
    views = [
        AssignmentView("a1", "c1111111-0000", "shixin-pm", "市新居民区物业", "shixin", "property-repair",
                       moment - timedelta(hours=3)),
        AssignmentView("a2", "c2222222-0000", "shixin-pm", "市新居民区物业", "shixin", "parking",
                       moment - timedelta(days=5), due_at=moment - timedelta(days=1)),
        AssignmentView("a3", "c3333333-0000", "shixin-pm", "市新居民区物业", "shixin", "noise",
                       moment - timedelta(days=5), closed_at=moment - timedelta(days=2)),
        AssignmentView("a4", "c4444444-0000", "shixin-pm", "市新居民区物业", "shixin", "late",
                       moment + timedelta(minutes=5)),
    ]
    context = compose_digest("shixin-pm", views, moment)
    assert context["counts"] == {"new": 1, "overdue": 1, "escalated": 0}
    [message] = [m for m in messages_for(DIGEST_KEY, context, default_templates()) if m.recipient.startswith("unit:")]
    assert message.subject == "市新居民区物业每日待办（2026-11-24）：新派单1件，逾期1件，督办0件"
    assert "property-repair" in message.body and "parking" in message.body
    assert "noise" not in message.body and "late" not in message.body
    assert compose_digest("other-unit", views, moment) is None


def test_every_mapped_type_renders_in_chinese_for_its_recipients():
    templates = default_templates()
    donation = {"donation_id": "d", "kind": "cash", "amount": "50000.00", "currency": "CNY", "receipt_number": "R-1",
                "donor": {"donor_id": "d0", "kind": "company", "display_name": "艺仓美术馆"},
                "received_at": "t", "transfer_id": "x"}
    [thanks] = messages_for("doorstep.funds.donation.received.v1", donation, templates)
    assert thanks.recipient == "donor:d0" and "捐款 ¥50000.00" in thanks.body and "R-1" in thanks.body
    anonymous = {**donation, "donor": {**donation["donor"], "kind": "anonymous", "display_name": "匿名捐赠人"}}
    assert messages_for("doorstep.funds.donation.received.v1", anonymous, templates) == []
    assert messages_for("doorstep.funds.donation.received.v1", {**donation, "thank_you": False}, templates) == []

    project = {"project_id": "p1", "area": "shixin", "year": 2026, "title": "楼道歇歇椅", "budget_total": "3000.00",
               "budget": [], "hearing": {"held_on": "2026-11-20", "for": 31, "against": 2, "abstain": 1},
               "approved_at": "t", "transfer_id": "x"}
    team, area = messages_for("doorstep.funds.project.approved.v1", project, templates)
    assert (team.recipient, area.recipient) == ("subscribers:project:p1", "subscribers:area:shixin")
    assert "赞成 31，反对 2，弃权 1" in area.body and area.subject == "听证结果公示：楼道歇歇椅"

    escalated = {"case_id": "c", "assignment_id": "a", "unit": "shixin-pm", "to_unit": "street-office",
                 "reason": "handle-overdue", "escalated_at": "t"}
    notices = notices_for("doorstep.routing.case.escalated.v1", escalated, templates)
    assert [n.recipient for n in notices][:1] == ["unit:street-office"] and notices[0].urgent
    supervisor = messages_for("doorstep.routing.case.escalated.v1", escalated, templates)[0]
    assert "逾期未办结" in supervisor.body

    reminder = {"appointment_id": "a", "station": "shixin-station", "starts_at": "2026-11-25 09:30",
                "matter_code": "elderly-card", "matter_name": "老年卡", "due_at": "t",
                "resident": {"resident_id": "r9", "phone_masked": "138****5678"}}
    [message] = messages_for("doorstep.intake.appointment.reminder_due.v1", reminder, templates)
    assert message.recipient == "resident:r9" and message.subject == "预约提醒：老年卡"
