"""Every street file has one model, and `doorstep street schema` writes its JSON Schema for editors: the schemas
are valid, the packaged defaults and the huamu street pass them, they refuse what the services refuse, and the
copies an overlay keeps for its editors are current."""
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from doorstep.streets import SCHEMAS, schema_name, schema_texts
from shared.config import STREET_FILES

ROOT = Path(__file__).resolve().parents[2]
DOORSTEP = str(Path(sys.executable).parent / "doorstep")
HUAMU = ROOT / "deploy" / "k8s" / "overlays" / "huamu"

PACKAGED = [ROOT / "services" / service / "data" / name for service, name in [
    ("intake", "catalog.yaml"), ("intake", "stations.yaml"), ("routing", "directory.yaml"),
    ("notify", "templates.yaml")]]
HUAMU_FILES = sorted((HUAMU / "street").glob("*.yaml"))

NOTIFY = """\
default_channel: file
quiet_hours: {start: "22:00", end: "08:00"}
retry: {attempts_per_channel: 3, base_delay_s: 30, max_delay_s: 3600}
digest: {enabled: true, at: "08:30"}
channels:
  email: {host: smtp.example.org, port: 587, starttls: true, username: doorstep, password_env: SMTP_PASSWORD}
  webhook: {secret_env: DOORSTEP_WEBHOOK_SECRET, timeout_s: 5}
  sms: {provider: aliyun, sign_name: 花木街道, access_key_id: LTAI0, access_key_secret_env: SMS_SECRET}
"""
HOLIDAYS = """\
2027:
  holidays:
    - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
    - {name: 春节, from: 2027-02-06, to: 2027-02-13}
  working_days: [2027-02-14]
"""

# Keywords of the drafts after 7, which editors' YAML support does not implement.
LATER_DRAFTS = {"prefixItems", "$dynamicRef", "$dynamicAnchor", "unevaluatedProperties", "unevaluatedItems",
                "dependentRequired", "dependentSchemas", "$anchor", "$recursiveRef"}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory):
    out = tmp_path_factory.mktemp("schemas")
    result = subprocess.run([DOORSTEP, "street", "schema", "--out", str(out)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return {p.name: json.loads(p.read_text("utf-8")) for p in out.iterdir()}


def as_an_editor_reads_it(text: str):
    """YAML as JSON: keys and dates are strings, as in the editor's view of the file."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def errors(schema: dict, text: str) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(as_an_editor_reads_it(text))]


def keywords(node, names: bool = False) -> set[str]:
    """The keywords a schema uses; under properties, patternProperties and $defs the keys are names."""
    if isinstance(node, list):
        return set().union(*(keywords(item) for item in node))
    if not isinstance(node, dict):
        return set()
    if names:
        return set().union(*(keywords(value) for value in node.values()))
    return set(node).union(*(keywords(value, key in ("properties", "patternProperties", "$defs"))
                             for key, value in node.items()))


def test_one_valid_draft_7_schema_per_street_file(schemas):
    assert set(schemas) == {schema_name(f) for f in STREET_FILES.values()}
    for name, schema in schemas.items():
        validator = jsonschema.validators.validator_for(schema)
        assert validator is jsonschema.Draft7Validator, name
        validator.check_schema(schema)
        assert not keywords(schema) & LATER_DRAFTS, name
        # Unknown keys are refused, or keys have a form (holidays: years).
        assert schema["additionalProperties"] is False or "propertyNames" in schema, name


@pytest.mark.parametrize("path", PACKAGED + HUAMU_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_packaged_defaults_and_the_huamu_street_pass_their_schema(schemas, path):
    assert errors(schemas[schema_name(path.name)], path.read_text("utf-8")) == []


def test_a_notify_and_a_holidays_file_pass_theirs(schemas):
    assert errors(schemas["notify.schema.json"], NOTIFY) == []
    assert errors(schemas["holidays.schema.json"], HOLIDAYS) == []


@pytest.mark.parametrize("name, text, where", [
    ("catalog.schema.json", "matters:\n  - {code: property-repair, time_limit_dyas: 2}\n", "matters/0"),
    ("catalog.schema.json", "categories: {Bad: 类}\n", "categories"),
    ("stations.schema.json", "stations:\n  - {code: a, name: A, area: a, hours: [['09:00', '17:00']], "
                             "slot_minutes: 30, capacity: '2'}\n", "stations/0/capacity"),
    ("directory.schema.json", "triage_unit: t\nrules: [{id: r, when: {colour: red}, unit: t}]\n", "rules/0/when"),
    ("directory.schema.json", "triage_unit: t\nrules: [{id: r, unit: t, deadline: {weeks: 2}}]\n", "rules/0/deadline"),
    ("notify.schema.json", "channels:\n  email: {hots: smtp.example.org}\n", "channels/email"),
    ("templates.schema.json", "doorstep.routing.case.routd.v1: []\n", ""),
    ("templates.schema.json", "doorstep.routing.case.routed.v1:\n  - {template: t, subject: s}\n",
     "doorstep.routing.case.routed.v1/0"),
    ("holidays.schema.json", "2027:\n  holiday: []\n", "2027"),
])
def test_a_schema_refuses_what_the_services_refuse(schemas, name, text, where):
    found = errors(schemas[name], text)
    assert any(e.startswith(f"{where}: ") for e in found), found


def test_the_huamu_overlay_keeps_current_schemas_and_its_files_point_at_them():
    kept = {p.name: p.read_text("utf-8") for p in (HUAMU / SCHEMAS).iterdir()}
    assert kept == schema_texts(), f"run 'doorstep street schema --out {(HUAMU / SCHEMAS).relative_to(ROOT)}'"
    for path in HUAMU_FILES:
        first = path.read_text("utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../{SCHEMAS}/{schema_name(path.name)}", path
        assert (path.parent / first.split("=", 1)[1]).is_file()
