"""The matter catalog: the default one is big and valid, a street can change it by configuration, and a broken
file is refused with the file, the entry and the reason."""
import re

import pytest
from click.testing import CliRunner

from doorstep.cli import main
from services.intake.catalog import CHANNELS, CatalogError, load_catalog


def test_default_catalog_has_at_least_180_valid_matters_in_12_categories():
    catalog = load_catalog()
    assert len(catalog.matters) >= 180
    used = {m.category for m in catalog.matters.values()}
    assert len(used) >= 12 and used <= set(catalog.categories)
    for matter in catalog.matters.values():
        assert re.match(r"^[a-z0-9-]+$", matter.code)
        assert re.search(r"[\u4e00-\u9fff]", matter.name), matter.code  # named in Chinese
        assert matter.channels and set(matter.channels) <= set(CHANNELS)
        assert matter.handling in ("station", "routed")
        assert matter.unit, f"{matter.code} has no default handling unit"
    names = [m.name for m in catalog.matters.values()]
    assert len(names) == len(set(names)), "two matters share a name"
    # The matters the articles name are there, and the ones routing's rules rely on keep their category.
    by_name = {m.name: m for m in catalog.matters.values()}
    assert by_name["医保账单打印"].handling == "station"
    assert by_name["长护险咨询"].category == "long-term-care"
    assert catalog.get("property-repair").category == "property"
    assert catalog.get("property-repair").default_unit("shixin") == "shixin-pm"
    assert any(m.appointment for m in catalog.matters.values())


def test_a_street_extends_overrides_and_removes(tmp_path):
    street = tmp_path / "street.yaml"
    street.write_text(
        "extends: default\n"
        "remove: [bulky-waste-collection]\n"
        "categories:\n  riverside: {name: 滨江服务, defaults: {handling: routed, unit: ops-centre, time_limit_days: 5}}\n"
        "matters:\n"
        "  - {code: property-repair, time_limit_days: 2}\n"
        "  - {code: riverside-bench-repair, name: 滨江座椅报修, category: riverside}\n", "utf-8")
    default, catalog = load_catalog(), load_catalog(street)
    assert len(catalog.matters) == len(default.matters)  # one removed, one added
    assert catalog.get("bulky-waste-collection") is None
    repair = catalog.get("property-repair")
    assert repair.time_limit_days == 2 and repair.name == "物业报修" and repair.attributes  # only the limit changed
    bench = catalog.get("riverside-bench-repair")
    assert (bench.handling, bench.unit, bench.time_limit_days, bench.channels) == ("routed", "ops-centre", 5, CHANNELS)


@pytest.mark.parametrize("entry, expected", [
    ("{code: a1, name: 甲, category: nope, handling: station, time_limit_days: 1}", r"matters\[0\] \(a1\): unknown category 'nope'"),
    ("{code: a1, name: 甲, category: c, handling: elsewhere, time_limit_days: 1}", r"matters\[0\] \(a1\): handling: .* / must be one of 'station' or 'routed'"),
    ("{code: a1, name: 甲, category: c, handling: station, time_limit_days: -1}", r"\(a1\): time_limit_days: .* / must be at least 0"),
    ("{code: a1, name: 甲, category: c, handling: station, time_limit_days: 1, channels: [fax]}", r"\(a1\): channels\[0\]: .* / must be one of 'counter'"),
    ("{code: A 1, name: 甲, category: c, handling: station, time_limit_days: 1}", r"matters\[0\] \(A 1\): code:"),
    ("{code: a1, category: c, handling: station, time_limit_days: 1}", r"\(a1\): name: 必填 / is required"),
    ("{code: a1, name: 甲, category: c, handling: station, time_limit_days: 1, colour: red}", r"\(a1\): colour: 不是可用的字段 / is not a known field"),
    ("{code: a1, name: 甲, category: c, handling: station, time_limit_days: 1, "
     "attributes: [{code: kind, datatype: singlevaluelist}]}", r"\(a1\): attributes\[0\]\.values: .* / a singlevaluelist needs values"),
    ("{code: a1, name: 甲, category: c, handling: station, time_limit_days: 1, unit: 'Bad Unit'}", r"\(a1\): unit:"),
    ("{code: a1, name: 甲, category: c, handling: station, time_limit_days: 1, unit: null}", r"\(a1\): unit: .* / must be a string"),
])
def test_a_broken_entry_is_named_with_file_entry_and_reason(tmp_path, entry, expected):
    path = tmp_path / "catalog.yaml"
    path.write_text(f"categories: {{c: {{name: 类, defaults: {{unit: ops-centre}}}}}}\nmatters:\n  - {{code: ok, name: 好, category: c, handling: station, "
                    f"time_limit_days: 0}}\n  - {entry}\n".replace("matters[0]", "matters[1]"), "utf-8")
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    message = str(error.value)
    assert message.startswith(str(path))
    assert re.search(expected.replace(r"matters\[0\]", r"matters\[1\]"), message), message


def test_every_problem_is_reported_and_duplicates_are_caught(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("categories: {c: {name: 类, defaults: {unit: ops-centre}}}\nmatters:\n"
                    "  - {code: a, name: 甲, category: c, handling: station, time_limit_days: 0}\n"
                    "  - {code: a, name: 乙, category: c, handling: station, time_limit_days: 0}\n"
                    "  - {code: b, name: 丙, category: c, handling: station}\n", "utf-8")
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    assert len(error.value.problems) == 2
    assert "matters[1] (a): duplicate code 'a'" in error.value.problems[0]
    assert "matters[2] (b): time_limit_days: 必填 / is required" in error.value.problems[1]


def test_unreadable_files_say_why(tmp_path):
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("matters: [ {code: a\n", "utf-8")
    with pytest.raises(CatalogError, match="broken.yaml: not valid YAML"):
        load_catalog(broken)
    street = tmp_path / "street.yaml"
    street.write_text("extends: default\nremove: [no-such-matter]\n", "utf-8")
    with pytest.raises(CatalogError, match=r"remove: 'no-such-matter' is not in the catalog it extends"):
        load_catalog(street)


def test_catalog_check_command(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(main, ["catalog", "check"])
    assert ok.exit_code == 0, ok.output
    matters, categories = map(int, re.match(r"^(\d+) matters in (\d+) categories$", ok.output.strip()).groups())
    assert matters >= 180 and categories >= 12

    bad = tmp_path / "bad.yaml"
    bad.write_text("categories: {c: 类}\nmatters:\n  - {code: x, name: 乙, category: d, handling: station, "
                   "time_limit_days: 0}\n", "utf-8")
    failed = runner.invoke(main, ["catalog", "check", str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}: matters[0] (x): unknown category 'd'" in failed.output
