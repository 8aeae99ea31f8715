"""An autonomy-fund (自治金) year of 市新居民区 through the funds API, on the embedded default (SQLite, memory://):
allocation, a rejected hearing, a hearing the fund cannot afford, an approved 自治花园 co-funded by the community
foundation and a kindergarten, spending with an overspend refused, the three meetings, closing with the unspent
remainder released, and the public disclosure (公示)."""
import json

import requests
import sqlalchemy as sa
from click.testing import CliRunner

from shared.db import engine_for
from shared.events import Envelope
from support.http import base_url

AREA = "shixin"
PEOPLE = ["王阿姨", "李师傅", "张老师", "陈书记", "赵大姐", "刘叔叔", "周医生"]


class Api:
    def __init__(self, settings, token):
        self.base = base_url(settings, "funds")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def post(self, path, body, key=None, expect=201):
        headers = dict(self.headers, **({"Idempotency-Key": key} if key else {}))
        response = requests.post(self.base + path, json=body, headers=headers, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path, expect=200, **params):
        response = requests.get(self.base + path, params=params, headers=self.headers, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()


def proposal(title, lines, lead="王阿姨"):
    return {"area": AREA, "year": 2026, "title": title, "description": f"{title}（居民自下而上提出）",
            "team": {"name": f"{title}志愿者团队", "lead": lead, "members": PEOPLE[1:4]},
            "budget": [{"name": name, "amount": amount} for name, amount in lines]}


def hearing(decision, votes_for, against, abstain=0):
    return {"held_on": "2026-03-10", "attendees": PEOPLE, "decision": decision, "minutes": "居民代表事前听证",
            "votes": {"for": votes_for, "against": against, "abstain": abstain}}


def test_autonomy_project_through_the_three_meetings(embedded_settings, start_services, counter_token, tmp_path):
    settings, _ = start_services(embedded_settings, ["funds"])
    api = Api(settings, counter_token(settings, role="treasurer"))
    auditor = Api(settings, counter_token(settings, role="auditor"))

    api.post(f"/funds/areas/{AREA}/allocations", {"year": 2026, "amount": "50000.00"}, key="alloc/shixin/2026")
    assert auditor.get(f"/funds/accounts/area:{AREA}:unrestricted")["available"] == "50000.00"

    # 事前听证 rejects a parking shed: nothing is reserved.
    shed = api.post("/funds/projects", proposal("楼道停车棚", [("材料", "8000.00")]))
    rejected = api.post(f"/funds/projects/{shed['id']}/hearing", hearing("reject", 2, 4, 1), key="hearing/shed")
    assert rejected == {"id": shed["id"], "status": "rejected", "transfer_id": None}
    api.post(f"/funds/projects/{shed['id']}/expenses", {"line": 1, "amount": "1.00", "payee": "x", "receipt_ref": "r"},
             key="shed/spend", expect=409)
    # Approval needs more votes for than against, and the fund must afford the budget.
    too_big = api.post("/funds/projects", proposal("小区大改造", [("工程", "60000.00")]))
    wrong = api.post(f"/funds/projects/{too_big['id']}/hearing", hearing("approve", 3, 3), key="hearing/big-1",
                     expect=400)
    assert wrong["invalid_params"][0]["name"] == "decision"
    unaffordable = api.post(f"/funds/projects/{too_big['id']}/hearing", hearing("approve", 6, 1),
                            key="hearing/big-2", expect=409)
    assert "area:shixin:unrestricted has 50000.00 available" in unaffordable["detail"]
    assert auditor.get(f"/funds/projects/{too_big['id']}")["status"] == "proposed"  # nothing half-written

    # 自治花园: approved; its budget is reserved from the area's fund.
    garden = api.post("/funds/projects", proposal("自治花园", [("花苗", "3000.00"), ("工具", "1500.00"),
                                                             ("标识牌", "500.00")]))
    approved = api.post(f"/funds/projects/{garden['id']}/hearing", hearing("approve", 6, 0, 1),
                        key="hearing/garden")
    assert approved["status"] == "approved"
    assert auditor.get(f"/funds/accounts/area:{AREA}:unrestricted")["available"] == "45000.00"

    # Co-funding: the foundation (recorded in both books) and the kindergarten (the area's book only).
    donor = api.post("/funds/donors", {"kind": "company", "name": "陆家嘴金融城企业A"})
    api.post("/funds/donations", {"donor_id": donor["id"], "amount": "2000.00"}, key="gift/garden")
    from_foundation = api.post(f"/funds/projects/{garden['id']}/cofunding",
                               {"partner": "社区公益基金会", "from_foundation": True, "amount": "1000.00", "line": 1},
                               key="cofund/foundation")
    assert from_foundation["area_transfer_id"] and from_foundation["foundation_transfer_id"]
    api.post(f"/funds/projects/{garden['id']}/cofunding", {"partner": "社区幼儿园", "amount": "300.00", "line": 3},
             key="cofund/kindergarten")
    assert auditor.get("/funds/accounts/foundation:bank")["balance"] == "1000.00"

    # Execution: spending against lines, an overspend refused, a 事中协调 meeting.
    api.post(f"/funds/projects/{garden['id']}/expenses",
             {"line": 1, "amount": "3800.00", "payee": "浦东花卉市场", "receipt_ref": "FP-2026-0311"}, key="garden/1")
    api.post(f"/funds/projects/{garden['id']}/coordination",
             {"held_on": "2026-04-15", "attendees": PEOPLE[:4], "minutes": "幼儿园认领一块花圃，白领党员周末养护"})
    api.post(f"/funds/projects/{garden['id']}/expenses",
             {"line": 2, "amount": "1200.00", "payee": "五金店", "receipt_ref": "FP-2026-0420"}, key="garden/2")
    overspend = api.post(f"/funds/projects/{garden['id']}/expenses",
                         {"line": 3, "amount": "900.00", "payee": "广告公司", "receipt_ref": "FP-2026-0501"},
                         key="garden/3-too-much", expect=409)
    assert "area:shixin:budget:shixin-2026-003:3 has 800.00 available" in overspend["detail"]
    api.post(f"/funds/projects/{garden['id']}/expenses",
             {"line": 3, "amount": "650.00", "payee": "广告公司", "receipt_ref": "FP-2026-0502"}, key="garden/3")
    premature = api.post(f"/funds/projects/{garden['id']}/closing", {}, key="garden/close-early", expect=409)
    assert "approved" in premature["detail"]

    # 事后评议, then closing releases what is left: 200 + 300 + 150.
    api.post(f"/funds/projects/{garden['id']}/evaluation", {
        "held_on": "2026-10-20", "attendees": PEOPLE, "scores": {"环境改善": 92, "居民参与": 88, "资金使用": 95},
        "satisfaction": 93, "findings": "花园成为居民交流空间；建议增设浇水排班"})
    closed = api.post(f"/funds/projects/{garden['id']}/closing", {}, key="garden/close")
    assert closed["spent"] == "5650.00" and closed["released"] == "650.00"
    again = requests.post(f"{api.base}/funds/projects/{garden['id']}/closing", json={},
                          headers={**api.headers, "Idempotency-Key": "garden/close"}, timeout=10)
    assert again.status_code == 200 and again.json() == closed
    assert auditor.get(f"/funds/accounts/area:{AREA}:unrestricted")["available"] == "45650.00"
    assert auditor.get(f"/funds/accounts/area:{AREA}:bank")["balance"] == "45650.00"  # 50000 + 1300 − 5650

    view = auditor.get(f"/funds/projects/{garden['id']}")
    assert view["status"] == "closed" and view["released"] == "650.00"
    assert [m["kind"] for m in view["meetings"]] == ["hearing", "coordination", "evaluation"]
    assert view["meetings"][0]["votes"] == {"for": 6, "against": 0, "abstain": 1}
    assert [(b["planned"], b["spent"], b["available"]) for b in view["budget"]] == [
        ("3000.00", "3800.00", "0.00"), ("1500.00", "1200.00", "0.00"), ("500.00", "650.00", "0.00")]

    # 公示: public JSON and printable HTML; the verification needs no token.
    disclosure = api.post("/funds/disclosures", {"area": AREA, "year": 2026}, key="disclosure/shixin/2026")
    public = Api(settings, None)
    document = public.get(f"/funds/disclosures/{disclosure['id']}")
    assert document["allocation"] == "50000.00" and document["spent_total"] == "5650.00"
    assert [p["status"] for p in document["projects"]] == ["rejected", "proposed", "closed"]
    page = requests.get(f"{public.base}/funds/disclosures/{disclosure['id']}/html", timeout=10).text
    assert "自治花园" in page and "浦东花卉市场" in page and "¥3,800.00" in page
    # Anyone holding the disclosure checks the published ledger against its chain head, offline.
    export_file = tmp_path / "shixin-2026-ledger.json"
    export_file.write_text(json.dumps(public.get(f"/funds/disclosures/{disclosure['id']}/ledger")), "utf-8")
    from doorstep.cli import main
    offline = CliRunner().invoke(main, ["ledger", "verify", "--export", str(export_file)])
    assert offline.exit_code == 0 and f"area:shixin: OK, {document['chain']['sequence']} entries" in offline.output

    # The events: valid against their schemas.
    with engine_for(settings.db_url("funds")).connect() as conn:
        bodies = conn.execute(sa.text("SELECT body FROM outbox ORDER BY position")).scalars().all()
    events = [Envelope.from_json(body) for body in bodies]
    kinds = [e.routing_key for e in events]
    assert kinds.count("project.approved.v1") == 1 and kinds.count("project.closed.v1") == 1
    assert kinds.count("expense.posted.v1") == 4  # three expenses and the foundation's grant
    closed_event = next(e for e in events if e.routing_key == "project.closed.v1")
    assert closed_event.data["released"] == "650.00" and closed_event.data["satisfaction"] == 93

    result = CliRunner().invoke(main, ["ledger", "verify", "--db", settings.db_url("funds")])
    assert result.exit_code == 0, result.output
    assert "area:shixin: OK" in result.output and "foundation: OK" in result.output


def test_funds_api_errors_are_problems_naming_the_field(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["funds"])
    api = Api(settings, counter_token(settings, role="treasurer"))

    as_float = api.post(f"/funds/areas/{AREA}/allocations", {"year": 2026, "amount": 100.5}, key="a1", expect=400)
    assert as_float["invalid_params"][0]["name"] == "amount"
    no_key = api.post(f"/funds/areas/{AREA}/allocations", {"year": 2026, "amount": "100.00"}, expect=400)
    assert no_key["invalid_params"][0]["name"] == "idempotency_key"
    unbalanced = api.post("/funds/transfers", {"book": "foundation", "memo": "x", "legs": [
        {"account": "foundation:bank", "debit": "1.00"}, {"account": "foundation:revenue:donation",
                                                           "credit": "2.00"}]}, key="t1", expect=400)
    assert unbalanced["invalid_params"][0]["name"] == "legs"
    unknown_donor = api.post("/funds/donations", {"donor_id": "nobody", "amount": "5.00"}, key="d1", expect=400)
    assert unknown_donor["invalid_params"][0]["name"] == "donor_id"

    auditor = Api(settings, counter_token(settings, role="auditor"))
    auditor.post("/funds/donors", {"kind": "anonymous"}, expect=403)
    Api(settings, None).get("/funds/books/foundation/trial-balance", expect=401)
    with engine_for(settings.db_url("funds")).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM transfers")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar() == 0
