"""Acceptance: the seed's 2018 陆家嘴慈善之夜 replayed through the funds API on PostgreSQL and RabbitMQ.

16 donated lots are auctioned and a charity market sells; together they raise ¥49,028.10. 艺仓美术馆 gives
¥50,000.00, and both found the 艺仓美术馆美术教育专项基金 with ¥99,028.10. The reports show exactly these
figures, ``doorstep ledger verify`` passes, and altering one stored amount makes it fail naming that entry.
"""
import json

import requests
import sqlalchemy as sa
from click.testing import CliRunner

from shared.db import engine_for
from shared.events import Envelope
from support.http import base_url
from support.waiting import wait_for

EVENT = "charity-night-2018"
EVENING = "2018-11-29T{}+08:00"

# (title, donor, hammer price): 16 lots, ¥41,600.00 at the hammer.
LOTS = [
    ("阳光钻石果盘", "阳光基地", "3800.00"), ("百岁老人书法《福寿康宁》", "百岁老人", "8800.00"),
    ("黄浦江夜景油画", "陆家嘴金融城企业A", "2000.00"), ("手工布艺熊猫", "阳光基地", "1500.00"),
    ("紫砂茶具一套", "陆家嘴金融城企业B", "2600.00"), ("签名足球", "匿名", "3200.00"),
    ("剪纸《上海滩》", "社区剪纸社", "1800.00"), ("景德镇青花瓷瓶", "陆家嘴金融城企业A", "2200.00"),
    ("儿童绘画作品集", "市新幼儿园", "1200.00"), ("茅台纪念酒", "陆家嘴金融城企业B", "3000.00"),
    ("真丝围巾", "匿名", "2500.00"), ("手工皂礼盒", "阳光基地", "1600.00"),
    ("摄影作品《东方明珠》", "社区摄影社", "2400.00"), ("绿植盆景", "社区园艺队", "1000.00"),
    ("古籍影印本", "陆家嘴金融城企业A", "2000.00"), ("手绘团扇", "社区剪纸社", "2000.00"),
]
# Charity market (公益市集) takings: ¥7,428.10.
MARKET = [("公益市集 手工摊位", "1236.50"), ("公益市集 义卖咖啡", "2891.60"), ("公益市集 二手书", "3300.00")]
DONOR_KINDS = {"百岁老人": "individual", "匿名": "anonymous"}


class Api:
    def __init__(self, settings, token):
        self.base = base_url(settings, "funds")
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path, body, key=None, expect=201):
        headers = dict(self.headers, **({"Idempotency-Key": key} if key else {}))
        response = requests.post(self.base + path, json=body, headers=headers, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path, **params):
        response = requests.get(self.base + path, params=params, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def replay_charity_night(api):
    donors = {}
    for name in sorted({donor for _, donor, _ in LOTS} | {"艺仓美术馆"}):
        kind = DONOR_KINDS.get(name, "company")
        donors[name] = api.post("/funds/donors", {"kind": kind, "name": name})["id"]
    api.post("/funds/events", {"code": EVENT, "name": "2018陆家嘴慈善之夜暨社区公益基金会三周年答谢会",
                               "held_on": "2018-11-29", "place": "艺仓美术馆"})
    lot_ids = []
    for number, (title, donor, price) in enumerate(LOTS, start=1):
        lot = api.post(f"/funds/events/{EVENT}/lots", {"lot_number": number, "title": title,
                                                       "donor_id": donors[donor]})
        opening = f"{int(price.split('.')[0]) // 2}.00"
        api.post(f"/funds/lots/{lot['id']}/bids", {"bidder": f"竞拍人{number}A", "amount": opening})
        api.post(f"/funds/lots/{lot['id']}/bids", {"bidder": f"竞拍人{number}B", "amount": price})
        sold = api.post(f"/funds/lots/{lot['id']}/hammer", {"at": EVENING.format(f"20:{number:02d}:00")},
                        key=f"{EVENT}/lot-{number}/hammer")
        assert sold["status"] == "sold" and sold["hammer_price"] == price
        lot_ids.append(lot["id"])
    for number, lot_id in enumerate(lot_ids, start=1):  # buyers pay after the auction
        api.post(f"/funds/lots/{lot_id}/payment", {"paid_at": EVENING.format(f"21:{number:02d}:00")},
                 key=f"{EVENT}/lot-{number}/payment")
    for index, (description, amount) in enumerate(MARKET, start=1):
        api.post(f"/funds/events/{EVENT}/market-sales",
                 {"description": description, "amount": amount, "sold_at": EVENING.format(f"21:3{index}:00")},
                 key=f"{EVENT}/market-{index}")
    museum_gift = {"donor_id": donors["艺仓美术馆"], "kind": "cash", "amount": "50000.00", "event_code": EVENT,
                   "description": "艺仓美术馆捐赠善款", "received_at": EVENING.format("21:45:00")}
    donation = api.post("/funds/donations", museum_gift, key=f"{EVENT}/museum-gift")
    fund = api.post("/funds/special-funds", {
        "code": "yicang-art-edu", "name": "艺仓美术馆美术教育专项基金", "purpose": "art-education",
        "sources": [{"event": EVENT}, {"donation": donation["id"]}], "founded_at": EVENING.format("22:00:00"),
    }, key=f"{EVENT}/found-fund")
    return donors, museum_gift, donation, fund


def test_charity_night_2018_through_the_api(infra_settings, start_services, counter_token):
    settings, _ = start_services(infra_settings, ["funds"])
    api = Api(settings, counter_token(settings, role="treasurer"))
    auditor = Api(settings, counter_token(settings, role="auditor"))
    donors, museum_gift, donation, fund = replay_charity_night(api)

    # The figures of the seed, exactly.
    assert donation["receipt_number"] == "2018-000001"
    assert fund["amount"] == "99028.10"
    assert fund["sources"] == [{"kind": "event", "ref": EVENT, "amount": "49028.10"},
                               {"kind": "donation", "ref": donation["id"], "amount": "50000.00"}]
    report = auditor.get(f"/funds/events/{EVENT}/report")
    assert (report["lots_sold"], report["lots_paid"], len(report["lots"])) == (16, 16, 16)
    assert report["auction_total"] == "41600.00" and report["market_total"] == "7428.10"
    assert report["proceeds_total"] == "49028.10"
    assert report["donations_total"] == "50000.00" and report["total"] == "99028.10"
    assert report["lots"][0] == {"lot_number": 1, "title": "阳光钻石果盘", "status": "paid", "donor": "阳光基地",
                                 "hammer_price": "3800.00"}
    assert report["lots"][5]["donor"] == "匿名捐赠人 anonymous donor"
    special = auditor.get("/funds/special-funds/yicang-art-edu")
    assert special["founding_amount"] == "99028.10" and special["available"] == "99028.10"
    totals = auditor.get("/funds/foundation/totals", year="2018")
    assert totals["per_event"][0]["total"] == "99028.10"
    assert totals["per_fund"] == [{"code": "yicang-art-edu", "name": "艺仓美术馆美术教育专项基金",
                                   "founded_with": "99028.10", "available": "99028.10"}]
    museum = auditor.get(f"/funds/donors/{donors['艺仓美术馆']}/statement")
    assert museum["donations_total"] == "50000.00" and museum["donations"][0]["receipt_number"] == "2018-000001"
    sunshine = auditor.get(f"/funds/donors/{donors['阳光基地']}/statement")
    assert sunshine["lots_raised_total"] == "6900.00"  # 果盘 3800 + 熊猫 1500 + 手工皂 1600

    # The books: every lot paid, so the bank holds it all, and the fund holds it restricted.
    trial = auditor.get("/funds/books/foundation/trial-balance")
    assert trial["balanced"] and trial["total_debit"] == trial["total_credit"]
    by_account = {line["account"]: line for line in trial["accounts"]}
    assert by_account["foundation:bank"]["debit"] == "99028.10"
    assert by_account["foundation:receivables"]["debit"] == "0.00"
    assert by_account["foundation:revenue:auction"]["credit"] == "41600.00"
    assert by_account["foundation:revenue:market"]["credit"] == "7428.10"
    assert by_account["foundation:fund:yicang-art-edu"]["credit"] == "99028.10"
    # As of 21:00 Shanghai the 16 hammers had fallen but nobody had paid yet; at 20:05:30, five had fallen.
    before_payment = auditor.get("/funds/books/foundation/trial-balance", as_of="2018-11-29T21:00:30+08:00")
    early = {line["account"]: line for line in before_payment["accounts"]}
    assert early["foundation:receivables"]["debit"] == "41600.00"
    assert early["foundation:bank"]["debit"] == "0.00" and before_payment["balanced"]
    assert auditor.get("/funds/accounts/foundation:receivables",
                       as_of="2018-11-29T20:05:30+08:00")["balance"] == "18700.00"

    # Retrying the museum's gift with the same key returns the first answer and changes nothing.
    repeat = requests.post(api.base + "/funds/donations", json=museum_gift,
                           headers={**api.headers, "Idempotency-Key": f"{EVENT}/museum-gift"}, timeout=10)
    assert repeat.status_code == 200 and repeat.json() == donation
    assert auditor.get("/funds/books/foundation/trial-balance")["total_debit"] == trial["total_debit"]

    # Published (公示): public JSON and HTML with the chain head; the public ledger export verifies against it.
    disclosure = api.post("/funds/disclosures", {"year": 2018}, key="disclosure/foundation/2018")
    public = requests.get(f"{api.base}/funds/disclosures/{disclosure['id']}", timeout=10)
    assert public.status_code == 200 and public.json()["chain"] == disclosure["chain"]
    assert public.json()["events"][0]["proceeds_total"] == "49028.10"
    page = requests.get(f"{api.base}/funds/disclosures/{disclosure['id']}/html", timeout=10)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "¥49,028.10" in page.text and "¥99,028.10" in page.text and disclosure["chain"]["head"] in page.text
    export = requests.get(f"{api.base}/funds/disclosures/{disclosure['id']}/ledger", timeout=10).json()
    from services.funds.handlers.ledger import verify_export
    assert verify_export(export) == {"book": "foundation", "ok": True, "entries": 37, "first_breach": None,
                                     "head": {"sequence": 37, "hash": disclosure["chain"]["head"]}}

    # The events were published through the outbox, each valid against its schema.
    funds_db = settings.db_url("funds")
    engine = engine_for(funds_db)

    def all_published():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar() == 0

    wait_for(all_published, message="funds outbox relayed")
    with engine.connect() as conn:
        bodies = conn.execute(sa.text("SELECT body FROM outbox ORDER BY position")).scalars().all()
    types = [Envelope.from_json(body).type.split(".", 2)[2] for body in bodies]
    assert types.count("auction.settled.v1") == 16
    assert types.count("donation.received.v1") == 1
    assert types.count("fund.founded.v1") == 1 and types.count("disclosure.published.v1") == 1

    # Anyone with the database can verify the books: `doorstep ledger verify`.
    from doorstep.cli import main
    runner = CliRunner()
    ok = runner.invoke(main, ["ledger", "verify", "--db", funds_db])
    assert ok.exit_code == 0, ok.output
    assert "foundation: OK, 37 entries" in ok.output

    # Someone alters one stored amount: the museum's gift, in the bank leg of its entry.
    with engine.begin() as conn:
        sequence = conn.execute(sa.text("SELECT sequence FROM transfers WHERE id = :id"),
                                {"id": donation["transfer_id"]}).scalar()
        conn.execute(sa.text("UPDATE legs SET amount = amount - 100000 WHERE transfer_id = :id AND amount > 0"),
                     {"id": donation["transfer_id"]})
    broken = runner.invoke(main, ["ledger", "verify", "--db", funds_db, "--json"])
    assert broken.exit_code == 1
    [result] = json.loads(broken.output)
    assert not result["ok"] and result["breach_sequence"] == sequence
    assert donation["transfer_id"] in result["first_breach"] and f"#{sequence}" in result["first_breach"]
    assert "do not match its hash" in result["first_breach"]
    # ...and the published export no longer matches the disclosure either.
    tampered = requests.get(f"{api.base}/funds/disclosures/{disclosure['id']}/ledger", timeout=10).json()
    assert verify_export(tampered)["ok"] is False
