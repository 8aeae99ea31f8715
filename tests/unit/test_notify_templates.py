import pytest

from services.notify.domain import TemplateError, default_templates, load_templates, messages_for

ROUTED = {"case_id": "c", "assignment_id": "a", "unit": {"code": "shixin-pm", "name": "市新居民区物业"},
          "rule": "r", "area": "shixin", "matter_code": "property-repair", "resident_id": "r1",
          "phone_masked": "138****5678", "routed_at": "t"}


def test_case_routed_renders_one_message_for_the_resident_and_one_for_the_unit():
    messages = messages_for("doorstep.routing.case.routed.v1", ROUTED, default_templates())
    assert [m.recipient for m in messages] == ["resident:r1", "unit:shixin-pm"]
    assert messages[0].subject == "您的事项已转交市新居民区物业办理"
    assert "138****5678" in messages[0].body


def test_a_template_naming_a_field_the_event_lacks_fails_at_load_with_its_name(tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text("doorstep.routing.case.routed.v1:\n  - recipient: 'x'\n    template: greet\n"
                    "    subject: '{{ data.resident_name }}'\n    body: b\n", "utf-8")
    with pytest.raises(TemplateError, match="greet: subject uses data.resident_name"):
        load_templates(path)
