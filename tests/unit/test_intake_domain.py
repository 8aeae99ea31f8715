from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from shared.errors import Conflict
from shared.problems import invalid_params
from services.intake.catalog import CatalogError, default_catalog, load_catalog
from services.intake.domain import new_case
from services.intake.models import SubmitCaseBody

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
    with pytest.raises(ValidationError) as error:
        SubmitCaseBody.model_validate({**BODY, **change})
    assert invalid_params(error.value)[0]["name"] == field


def test_defaults_and_lifecycle():
    cmd = SubmitCaseBody.model_validate(BODY).command(entered_by="counter")
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
