"""Funds' events are shaped in one place: one builder per event type funds publishes, each building data that the
frozen schema of its version accepts, and no use case assembling an event by hand."""
import json
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.events import Outgoing, new_event
from services.funds import events
from services.funds.domain.autonomy import BudgetLine, Hearing, Project
from services.funds.domain.foundation import FoundFund, FundSource, Lot, RecordDonation
from support.contract import builders, published_types, schema_errors

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "services" / "funds"
FROZEN = ROOT / "shared" / "contract" / "frozen" / "funds"

NIGHT = datetime(2018, 11, 29, 21, 45, tzinfo=timezone(timedelta(hours=8)))
NOW = datetime(2026, 10, 20, 2, 0, tzinfo=timezone.utc)
TRANSFER = "5f0c8e7a-2b8f-4d44-8a7e-6c2b9a1d3e56"
MUSEUM = {"id": "0b9d7c1e-3c1e-4a55-9b5e-1f7c2f0f8a11", "kind": "company", "name": "艺仓美术馆"}
ANONYMOUS = {"id": "0b9d7c1e-3c1e-4a55-9b5e-1f7c2f0f8a12", "kind": "anonymous", "name": ""}
PHONED = {"id": "0b9d7c1e-3c1e-4a55-9b5e-1f7c2f0f8a13", "kind": "individual", "name": "王先生 13812345678"}
GIFT = RecordDonation(MUSEUM["id"], "cash", 5_000_000, "艺仓美术馆捐赠善款", "", "charity-night-2018", None)
WHEELCHAIRS = RecordDonation(PHONED["id"], "in_kind", 120_000, "轮椅 4 台", "发票价", None, NIGHT)
SOLD = Lot("3f2b8c1e-0000-4000-8000-000000000001", "charity-night-2018", 1, "阳光钻石果盘", MUSEUM["id"], "sold",
           [("竞拍人1A", 190_000), ("竞拍人1B", 380_000)], 380_000, "竞拍人1B")
UNSOLD = Lot("3f2b8c1e-0000-4000-8000-000000000002", "charity-night-2018", 2, "签名足球", ANONYMOUS["id"], "unsold")
FUND = FoundFund("yicang-art-edu", "艺仓美术馆美术教育专项基金", "art-education",
                 (FundSource("event", "charity-night-2018"),
                  FundSource("donation", "5f0c8e7a-2b8f-4d44-8a7e-6c2b9a1d3e55")), None)
GARDEN = Project("shixin-2026-003", "shixin", 2026, "自治花园", "approved")
BUDGET = [BudgetLine(1, "花苗", 300_000), BudgetLine(2, "工具", 150_000), BudgetLine(3, "标识牌", 50_000)]
HEARING = Hearing(date(2026, 3, 10), ("王阿姨", "李师傅", "张老师", "陈书记", "赵大姐", "刘叔叔", "周医生"), 6, 0, 1,
                  "居民代表事前听证", "approve")
CHAIN = {"book": "area:shixin", "sequence": 12, "head": "a" * 64}
EXPENSE_ID = "7d1e6f00-0000-4000-8000-000000000001"

# Every builder with the calls that exercise it: each kind of event its use cases emit.
CALLS = {
    "donation_received": [
        (("5f0c8e7a-2b8f-4d44-8a7e-6c2b9a1d3e51", GIFT, MUSEUM, "2018-000001", NIGHT, TRANSFER), {}),
        (("5f0c8e7a-2b8f-4d44-8a7e-6c2b9a1d3e52", WHEELCHAIRS, PHONED, "2018-000002", NIGHT, TRANSFER), {}),
    ],
    "auction_settled": [((SOLD, MUSEUM, NIGHT, TRANSFER), {}), ((UNSOLD, ANONYMOUS, NIGHT, None), {})],
    "fund_founded": [((FUND, [(FUND.sources[0], 4_902_810), (FUND.sources[1], 5_000_000)], NIGHT, TRANSFER), {})],
    "project_approved": [((GARDEN, "自治花园志愿者团队", 4, BUDGET, HEARING, NOW, TRANSFER), {})],
    "expense_posted": [  # an area's expense, a grant out of a special fund, the foundation's unrestricted grant
        ((EXPENSE_ID, "area:shixin", 380_000, "浦东花卉市场", NOW, TRANSFER),
         {"project_id": GARDEN.id, "line": 1, "receipt_ref": "FP-2026-0311"}),
        ((EXPENSE_ID, "foundation", 100_000, "艺术课堂", NOW, TRANSFER),
         {"project_id": "art-class", "fund_code": "yicang-art-edu"}),
        ((EXPENSE_ID, "foundation", 100_000, "shixin 自治花园", NOW, TRANSFER), {"project_id": GARDEN.id}),
    ],
    "project_closed": [((GARDEN, 530_000, 565_000, 65_000, 93, NOW, TRANSFER), {}),
                       ((GARDEN, 100_000, 100_000, 0, 80, NOW, None), {})],
    "disclosure_published": [
        (("6a1b2c3d-0000-4000-8000-000000000001", "area:shixin", "shixin", 2026, CHAIN, NOW), {}),
        (("6a1b2c3d-0000-4000-8000-000000000002", "foundation", None, 2018, {**CHAIN, "book": "foundation"}, NOW),
         {}),
    ],
}


def built():
    for name, calls in CALLS.items():
        for args, kwargs in calls:
            yield name, getattr(events, name)(*args, **kwargs)


def test_every_builder_is_exercised():
    assert set(builders(events)) == set(CALLS)


@pytest.mark.parametrize("name, outgoing", list(built()), ids=lambda v: v if isinstance(v, str) else "")
def test_each_builder_makes_data_its_frozen_schema_accepts(name, outgoing):
    assert isinstance(outgoing, Outgoing)
    assert schema_errors(outgoing.type, outgoing.data) == [], name
    # And as the unit of work publishes it: the current schema, personal data masked.
    published = new_event(outgoing.type, street="lujiazui", subject=outgoing.subject, data=outgoing.data)
    assert "13812345678" not in json.dumps(published.data, ensure_ascii=False)


def test_every_event_type_funds_publishes_has_exactly_one_builder():
    types_of = {}
    for name, outgoing in built():
        types_of.setdefault(name, set()).add(outgoing.type)
    assert all(len(types) == 1 for types in types_of.values()), types_of
    per_type = Counter(next(iter(types)) for types in types_of.values())
    published = published_types("funds")
    assert set(per_type) == published
    assert all(count == 1 for count in per_type.values()), per_type


def test_donors_appear_by_display_name_and_money_as_decimal_strings():
    museum, wheelchairs = (outgoing.data for name, outgoing in built() if name == "donation_received")
    assert museum["donor"] == {"donor_id": MUSEUM["id"], "kind": "company", "display_name": "艺仓美术馆"}
    assert museum["amount"] == "50000.00" and museum["currency"] == "CNY" and museum["thank_you"] is True
    assert wheelchairs["kind"] == "in_kind" and wheelchairs["amount"] == "1200.00"
    assert wheelchairs["event_code"] is None and wheelchairs["received_at"] == NIGHT.isoformat()
    _, unsold = (events.auction_settled(*args) for args, _ in CALLS["auction_settled"])
    assert unsold.data["donor"]["display_name"] == "匿名捐赠人 anonymous donor"
    assert unsold.data["sold"] is False and unsold.data["hammer_price"] is None and unsold.subject == f"lot/{UNSOLD.id}"
    founded = events.fund_founded(*CALLS["fund_founded"][0][0])
    assert founded.data["amount"] == "99028.10"
    assert founded.data["sources"][0] == {"kind": "event", "ref": "charity-night-2018", "amount": "49028.10"}


def test_an_expense_says_its_budget_line_and_a_grant_its_fund():
    area, fund, unrestricted = (events.expense_posted(*args, **kwargs) for args, kwargs in CALLS["expense_posted"])
    assert area.subject == f"expense/{EXPENSE_ID}" and fund.subject == f"grant/{EXPENSE_ID}"
    assert area.data["line"] == 1 and area.data["receipt_ref"] == "FP-2026-0311" and "fund_code" not in area.data
    assert fund.data["fund_code"] == "yicang-art-edu" and not {"line", "receipt_ref"} & set(fund.data)
    assert unrestricted.data["fund_code"] is None  # the foundation's own money: said, as none
    approved = events.project_approved(*CALLS["project_approved"][0][0])
    assert approved.data["budget_total"] == "5000.00" and approved.data["team"] == {"name": "自治花园志愿者团队",
                                                                                   "members": 4}
    assert approved.data["hearing"] == {"held_on": "2026-03-10", "for": 6, "against": 0, "abstain": 1}


