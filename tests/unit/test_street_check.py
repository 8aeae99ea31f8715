"""`doorstep street check` names every wrong entry of a street's files by file and entry, as the services would
refuse them at start-up, and a new street's files point its editor at their schemas."""
import subprocess
import sys
from pathlib import Path

import pytest

from doorstep.streets import SCHEMAS, new_street, schema_name
from shared.config import STREET_FILES

DOORSTEP = str(Path(sys.executable).parent / "doorstep")

DIRECTORY = """\
triage_unit: ops-centre
units:
  - {code: ops-centre, name: 城运中心, kind: department}
rules:
  - {id: repairs-to-pm, when: {category: property}, unit: shixin-pm}
"""


def check(folder: Path) -> list[str]:
    result = subprocess.run([DOORSTEP, "street", "check", str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout
    return result.stderr.splitlines()


@pytest.mark.parametrize("filename, text, problem", [
    # a misspelt key
    ("catalog.yaml", "extends: default\nmatters:\n  - {code: property-repair, time_limit_dyas: 2}\n",
     "matters[0] (property-repair): time_limit_dyas: 不是可用的字段 / is not a known field"),
    ("notify.yaml", "channels:\n  email: {hots: smtp.example.org}\n",
     "channels.email.hots: 不是可用的字段 / is not a known field"),
    ("holidays.yaml", "2027:\n  holiday: [{name: 元旦, from: 2027-01-01, to: 2027-01-01}]\n",
     "2027.holiday: 不是可用的字段 / is not a known field"),
    # a wrong type
    ("stations.yaml", "stations:\n  - {code: shixin, name: 市新, area: shixin, hours: [['09:00', '11:30']], "
                      "slot_minutes: 30, capacity: '2'}\n",
     "stations[0] (shixin): capacity: 应为整数 / must be an integer"),
    ("templates.yaml", "doorstep.routing.case.routed.v1:\n  - {template: case-routed-unit, recipient: 'unit:x', "
                       "subject: s, body: b, mandatory: 'yes'}\n",
     "doorstep.routing.case.routed.v1/case-routed-unit: mandatory: 应为 true 或 false / must be true or false"),
    # an unknown unit in a rule
    ("directory.yaml", DIRECTORY, "rules[0] (repairs-to-pm): unit: unknown unit 'shixin-pm'"),
])
def test_street_check_names_the_file_and_the_entry(tmp_path, filename, text, problem):
    (tmp_path / filename).write_text(text, "utf-8")
    assert f"{filename}: {problem}" in check(tmp_path)


def test_every_problem_of_every_file_is_listed_at_once(tmp_path):
    (tmp_path / "directory.yaml").write_text(DIRECTORY.replace("kind: department", "knd: department"), "utf-8")
    (tmp_path / "stations.yaml").write_text("stations:\n  - {code: a, name: A, area: a, hours: [['17:00', '09:00']], "
                                            "slot_minutes: 0, capacity: 1}\n", "utf-8")
    problems = check(tmp_path)
    assert "directory.yaml: units[0] (ops-centre): kind: 必填 / is required" in problems
    assert "directory.yaml: units[0] (ops-centre): knd: 不是可用的字段 / is not a known field" in problems
    assert "stations.yaml: stations[0] (a): hours[0]: 应先开始后结束 / must open before it closes" in problems
    assert "stations.yaml: stations[0] (a): slot_minutes: 不能小于 1 / must be at least 1" in problems


def test_a_new_streets_files_point_its_editor_at_their_schemas(tmp_path):
    written = new_street("zhangjiang", "张江镇", tmp_path)
    overlay = tmp_path / "zhangjiang"
    schemas = sorted(overlay / SCHEMAS / schema_name(name) for name in STREET_FILES.values())
    assert sorted(p for p in written if p.parent.name == SCHEMAS) == schemas
    for path in (overlay / "street").iterdir():
        first = path.read_text("utf-8").splitlines()[0]
        assert first == f"# yaml-language-server: $schema=../{SCHEMAS}/{schema_name(path.name)}", path
        assert (path.parent / first.split("=", 1)[1]).is_file()
