"""A street's files are data, never code: a template that reaches for Python's internals is refused by
`doorstep street check` and by notify at load, naming the template, and whatever it tried does not happen."""
import subprocess
from pathlib import Path

import pytest

from support.processes import DOORSTEP
from services.notify.domain.templates import DEFAULT_TEMPLATES, TemplateError, load_templates


PAYLOADS = [
    "{{ cycler.__init__.__globals__.os.popen('touch MARKER').read() }}",
    "{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch MARKER') }}",
    "{{ data.__class__.__mro__[1].__subclasses__() }}",
    "{{ data['__class__'] }}",
    "{{ data.unit.name | attr('__class__') }}",
    "{% set o = data.unit %}{{ o.__class__ }}",
    "{{ lipsum.__globals__['os'].system('touch MARKER') }}",
    "{{ ''.__class__.__base__ }}",
]


def _street_templates(folder: Path, subject: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "templates.yaml"
    path.write_text(
        "doorstep.routing.case.routed.v1:\n"
        "  - template: case-routed-resident\n"
        '    recipient: "resident:{{ data.resident_id }}"\n'
        f"    subject: {subject!r}\n"
        '    body: "已转交{{ data.unit.name }}"\n', "utf-8")
    return path


@pytest.mark.parametrize("payload", PAYLOADS)
def test_street_check_refuses_a_template_that_reaches_outside_its_data(payload, tmp_path):
    folder = tmp_path / "street"
    _street_templates(folder, payload.replace("MARKER", str(tmp_path / "pwned")))
    result = subprocess.run([DOORSTEP, "street", "check", str(folder)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 1
    assert "templates.yaml" in result.stderr and "case-routed-resident" in result.stderr
    assert "outside its event's data" in result.stderr
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_notify_refuses_it_at_load(payload, tmp_path):
    path = _street_templates(tmp_path, payload.replace("MARKER", str(tmp_path / "pwned")))
    with pytest.raises(TemplateError, match="case-routed-resident.*outside its event's data"):
        load_templates([DEFAULT_TEMPLATES, path])
    assert not (tmp_path / "pwned").exists()


def test_an_ordinary_template_with_filters_and_loops_still_loads(tmp_path):
    path = _street_templates(tmp_path, "{% for part in [data.unit.name, data.area] %}{{ part | upper }}{% endfor %}"
                                       "{{ data.matter_code | default('事项') }}")
    templates = load_templates([DEFAULT_TEMPLATES, path])
    routed = [t for t in templates["doorstep.routing.case.routed.v1"] if t.template == "case-routed-resident"][0]
    data = {"unit": {"code": "shixin-pm", "name": "物业"}, "area": "shixin", "resident_id": "r"}
    assert routed.render(data).subject == "物业SHIXIN事项"


@pytest.mark.parametrize("target", ["/etc/passwd", "../tokens.yaml", "../../var/tokens.yaml", "sub/../../x.yaml"])
def test_a_catalog_may_extend_only_files_of_its_own_folder(target, tmp_path):
    from services.intake.catalog import CatalogError, load_catalog

    (tmp_path / "tokens.yaml").write_text("tokens: [{id: t, role: admin, sha256: secret}]\n", "utf-8")
    folder = tmp_path / "street"
    folder.mkdir()
    (folder / "catalog.yaml").write_text(f"extends: {target}\n", "utf-8")
    with pytest.raises(CatalogError) as error:
        load_catalog(folder / "catalog.yaml")
    assert "outside the street's folder" in str(error.value) and "secret" not in str(error.value)


def test_a_catalog_may_extend_a_file_beside_it(tmp_path):
    from services.intake.catalog import load_catalog

    (tmp_path / "base.yaml").write_text("extends: default\nremove: [bulky-waste-collection]\n", "utf-8")
    (tmp_path / "catalog.yaml").write_text("extends: base.yaml\n", "utf-8")
    assert load_catalog(tmp_path / "catalog.yaml").get("bulky-waste-collection") is None
