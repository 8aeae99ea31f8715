from datetime import datetime, timezone

import pytest

from shared.errors import Conflict, InvalidInput
from services.intake.catalog import CatalogError, default_catalog, load_catalog
from services.intake.domain import new_case, parse_submit_case

BODY = {"matter_code": "property-repair", "resident": {"name": "王", "phone": "13812345678", "area": "shixin"}}
NOW = datetime(2026, 11, 23, 8, tzinfo=timezone.utc)


@pytest.mark.parametrize("change, field", [
    ({"resident": None}, "resident"),
    ({"resident": {"name": "王", "phone": "1381234", "area": "shixin"}}, "resident.phone"),
    ({"resident": {"name": "王", "phone": "13812345678", "area": "Shi Xin"}}, "resident.area"),
    ({"resident": {"phone": "13812345678", "area": "shixin"}}, "resident.name"),
    ({"resident": {"name": "王", "phone": "13812345678", "area": "shixin", "id_card": "123"}}, "resident.id_card"),
    ({"channel": "fax"}, "channel"),
    ({"urgency": 3}, "urgency"),
    ({"matter_code": ["x"]}, "matter_code"),
])
def test_bad_input_names_the_field(change, field):
    with pytest.raises(InvalidInput) as error:
        parse_submit_case({**BODY, **change})
    assert error.value.field == field


def test_defaults_and_lifecycle():
    cmd = parse_submit_case(BODY, entered_by="counter")
    assert (cmd.channel, cmd.kind, cmd.urgency) == ("counter", "request", "normal")
    case = new_case(cmd, "property", "r1", NOW)
    assert case.status == "submitted"
    with pytest.raises(Conflict, match="cannot go from submitted to routed"):
        case.move_to("routed", NOW)  # 受理 comes first
    assert case.move_to("accepted", NOW) == "submitted"
    assert case.move_to("routed", NOW) == "accepted"
    with pytest.raises(Conflict):
        case.move_to("submitted", NOW)
    assert [h["status"] for h in case.history] == ["submitted", "accepted", "routed"]


def test_catalog_loads_and_rejects_bad_entries(tmp_path):
    assert default_catalog().get("medical-insurance-bill-print").name == "医保账单打印"
    bad = tmp_path / "catalog.yaml"
    bad.write_text("categories: {a: A}\nmatters:\n  - {code: x, name: X, category: b, handling: station, "
                   "time_limit_days: 0}\n", "utf-8")
    with pytest.raises(CatalogError, match=r"matters\[0\] \(x\): unknown category 'b'"):
        load_catalog(bad)
