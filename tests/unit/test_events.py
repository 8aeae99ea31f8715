import json

import pytest

from shared.events import Envelope, InvalidEnvelope, Registry, SchemaViolation, new_event, registry

ROUTED = {
    "case_id": "0b9d7c1e-3c1e-4a55-9b5e-1f7c2f0f8a11", "assignment_id": "5f0c8e7a-2b8f-4d44-8a7e-6c2b9a1d3e55",
    "unit": {"code": "shixin-pm", "name": "物业"}, "rule": "r1", "area": "shixin",
    "routed_at": "2026-11-23T08:00:00+00:00",
}


def test_every_schema_file_is_a_valid_schema_with_a_versioned_type():
    types = list(registry())
    assert {t.type for t in types} >= {"doorstep.intake.case.submitted.v1", "doorstep.routing.case.routed.v1",
                                       "doorstep.notify.notification.sent.v1"}
    for event_type in types:
        assert event_type.routing_key.endswith(f".v{event_type.version}")
        assert event_type.exchange == f"{event_type.service}.events"


def test_new_event_is_a_cloudevents_envelope_with_the_street():
    event = new_event("doorstep.routing.case.routed.v1", street="lujiazui", subject="case/1", data=ROUTED)
    body = json.loads(event.to_json())
    assert body["specversion"] == "1.0"
    assert body["source"] == "/doorstep/lujiazui/routing"
    assert body["street"] == "lujiazui"
    assert body["dataschema"] == "urn:doorstep:schema:doorstep.routing.case.routed.v1"
    assert body["time"].endswith("Z")
    assert Envelope.from_json(event.to_json()) == event


def test_publishing_data_that_breaks_the_schema_is_a_programming_error():
    with pytest.raises(SchemaViolation, match="unit"):
        new_event("doorstep.routing.case.routed.v1", street="x1", subject="s", data={**ROUTED, "unit": "pm"})
    with pytest.raises(SchemaViolation, match="unknown event type"):
        new_event("doorstep.routing.case.vanished.v1", street="x1", subject="s", data={})


@pytest.mark.parametrize("leak, masked", [("13812345678", "138****5678"),
                                          ("resident 310101199001011237 called", "resident 310101***********7 called"),
                                          ("电话 138 1234 5678", "电话 138****5678")])
def test_events_never_carry_a_raw_phone_or_id_card_number_they_carry_it_masked(leak, masked):
    event = new_event("doorstep.routing.case.routed.v1", street="x1", subject="s", data={**ROUTED, "rule": leak})
    assert event.data["rule"] == masked and leak not in event.to_json().decode("utf-8")


@pytest.mark.parametrize("body, reason", [
    (b"not json", "not JSON"),
    (b'{"specversion": "1.0"}', "not a CloudEvents envelope"),
    (json.dumps({**json.loads(new_event("doorstep.routing.case.routed.v1", street="x1", subject="s",
                                        data=ROUTED).to_json()), "type": "doorstep.routing.case.lost.v1"}),
     "unknown event type"),
    (json.dumps({**json.loads(new_event("doorstep.routing.case.routed.v1", street="x1", subject="s",
                                        data=ROUTED).to_json()), "data": {"case_id": "x"}}), "required"),
])
def test_incoming_message_that_is_not_a_valid_envelope_says_why(body, reason):
    with pytest.raises(InvalidEnvelope, match=reason):
        Envelope.from_json(body)


def test_registry_rejects_a_schema_file_without_a_version(tmp_path):
    (tmp_path / "intake").mkdir()
    (tmp_path / "intake" / "case.submitted.json").write_text("{}")
    with pytest.raises(ValueError, match="<entity>.<verb>.v<N>"):
        Registry.load(tmp_path)
