"""The compatibility gate fails on a breaking change to a frozen schema and passes on an additive one."""
import copy
import json

import pytest

from shared.compat import breaking_changes, freeze, gate, refresh_additive

SCHEMA = {
    "type": "object",
    "required": ["case_id", "status"],
    "properties": {
        "case_id": {"type": "string", "format": "uuid"},
        "status": {"enum": ["routed", "resolved"]},
        "note": {"type": "string", "maxLength": 200},
        "unit": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}},
    },
}


def changed(edit):
    schema = copy.deepcopy(SCHEMA)
    edit(schema)
    return schema


@pytest.mark.parametrize("edit, expected", [
    (lambda s: s["properties"].pop("note"), "note: removed"),
    (lambda s: s["properties"].update(note2=s["properties"].pop("note")), "note: removed"),  # a rename
    (lambda s: s["properties"]["note"].update(type="integer"), "note: type narrowed"),
    (lambda s: s["required"].append("note"), "'note' became required"),
    (lambda s: s["required"].remove("status"), "'status' is no longer required"),
    (lambda s: s["properties"]["status"].update(enum=["routed"]), "enum no longer allows ['resolved']"),
    (lambda s: s["properties"]["note"].update(maxLength=100), "note: maxLength lowered"),
    (lambda s: s["properties"]["note"].update(pattern="^[a-z]+$"), "note: pattern added"),
    (lambda s: s["properties"]["unit"]["properties"]["code"].update(minLength=3), "unit/code: minLength raised"),
    (lambda s: s.update(additionalProperties=False), "additional properties forbidden"),
])
def test_breaking_changes_are_found_and_named(edit, expected):
    changes = breaking_changes(SCHEMA, changed(edit))
    assert any(expected in change for change in changes), changes


@pytest.mark.parametrize("edit", [
    lambda s: s["properties"].update(channel={"type": "string"}),  # a new optional field
    lambda s: s["properties"]["status"]["enum"].append("closed"),
    lambda s: s["properties"]["note"].update(maxLength=500, description="free text"),
    lambda s: s.update(title="Case status", examples=[{"case_id": "x", "status": "routed"}]),
])
def test_additive_changes_pass(edit):
    assert breaking_changes(SCHEMA, changed(edit)) == []


def test_gate_over_files_fails_on_breaking_and_passes_on_additive(tmp_path):
    schemas, frozen = tmp_path / "schemas", tmp_path / "frozen"
    (schemas / "intake").mkdir(parents=True)
    current = schemas / "intake" / "case.status_changed.v1.json"
    current.write_text(json.dumps(SCHEMA))
    with_channel = changed(lambda s: s["properties"].update(channel={"type": "string"}))
    assert [p.name for p in freeze(schemas, frozen)] == ["case.status_changed.v1.json"]
    assert gate(schemas, frozen) == {}

    current.write_text(json.dumps(with_channel))
    assert gate(schemas, frozen) == {}
    assert len(refresh_additive(schemas, frozen)) == 1

    with_channel["properties"].pop("note")
    current.write_text(json.dumps(with_channel))
    assert gate(schemas, frozen) == {"doorstep.intake.case.status_changed.v1": ["note: removed"]}
    with pytest.raises(ValueError, match="breaking"):
        refresh_additive(schemas, frozen)

    current.unlink()
    assert "published version removed" in gate(schemas, frozen)["doorstep.intake.case.status_changed.v1"][0]


def test_the_published_contract_has_no_breaking_change():
    # Every frozen version still validates what subscribers were promised.
    assert gate() == {}


def test_every_published_schema_version_is_frozen():
    from shared.compat import unfrozen

    missing = [str(p) for p in unfrozen()]
    assert not missing, f"not frozen: {missing}; run 'doorstep events freeze' when a version is first published"
