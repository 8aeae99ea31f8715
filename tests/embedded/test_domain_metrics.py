"""Embedded: intake's and funds' domain metrics move by exactly what the requests did, read from each service's
/metrics before and after (the registry is process-global, so every assertion is on a difference or on a gauge
that was just set from the database)."""
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import sessionmaker

from shared.db import engine_for
from support.http import base_url

RESIDENT = {"name": "李", "phone": "13612345678", "area": "shixin"}


def scrape(settings, service) -> dict:
    """Every sample of the service's /metrics as {(name, sorted label pairs): value}."""
    response = requests.get(f"{base_url(settings, service)}/metrics", timeout=10)
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class Client:
    def __init__(self, settings, service, token):
        self.base = base_url(settings, service)
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path, body=None, key=None, expect=(200, 201)):
        headers = dict(self.headers, **({"Idempotency-Key": key} if key else {}))
        response = requests.post(self.base + path, json=body if body is not None else {}, headers=headers,
                                 timeout=10)
        assert response.status_code in ((expect,) if isinstance(expect, int) else expect), response.text
        return response.json()

    def get(self, path, **params):
        response = requests.get(self.base + path, params=params, headers=self.headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


# -- intake ------------------------------------------------------------------------------------------------

def test_intake_counts_submissions_decisions_callbacks_visits_and_cases_by_status(
        embedded_settings, start_services, counter_token):
    from services.intake.handlers.reads import refresh_case_gauges
    from services.intake.persistence import IntakeUnitOfWork

    settings, _ = start_services(embedded_settings, ["intake"])
    api = Client(settings, "intake", counter_token(settings))
    before = scrape(settings, "intake")

    def case(matter, channel):
        return api.post("/intake/cases", {"matter_code": matter, "channel": channel, "resident": RESIDENT})["id"]

    # Two bill prints at the counter: accepted on submission (一口受理), settled on the spot.
    twice, once = case("medical-insurance-bill-print", "counter"), case("medical-insurance-bill-print", "counter")
    # Online repairs: one rejected, one sent back for materials (补正) and then accepted.
    rejected, supplemented = case("property-repair", "online"), case("property-repair", "online")
    api.post(f"/intake/cases/{rejected}/reject", {"reason": "不属于物业报修范围"})
    api.post(f"/intake/cases/{supplemented}/supplement-request", {"missing_materials": ["现场照片"]})
    api.post(f"/intake/cases/{supplemented}/resubmit", {"note": "照片已补"})
    api.post(f"/intake/cases/{supplemented}/accept")
    # A refused move (a rejected case cannot be accepted) counts nothing.
    api.post(f"/intake/cases/{rejected}/accept", expect=409)

    # The first bill print took two visits, the second none recorded; both are closed, one after a callback.
    for _ in range(2):
        api.post("/intake/visits", {"station": "shixin", "case_ids": [twice]})
    for case_id in (twice, once):
        api.post(f"/intake/cases/{case_id}/settle", {"answer": "已打印"})
    api.post(f"/intake/cases/{once}/callback", {"rating": "satisfied"})
    for case_id in (twice, once):
        api.post(f"/intake/cases/{case_id}/close")

    after = scrape(settings, "intake")

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("doorstep_intake_cases_submitted_total", category="medical-insurance", channel="counter") == 2
    assert moved("doorstep_intake_cases_submitted_total", category="property", channel="online") == 2
    assert moved("doorstep_intake_cases_submitted_total", category="property", channel="counter") == 0
    assert moved("doorstep_intake_case_decisions_total", category="medical-insurance", decision="accepted") == 2
    assert moved("doorstep_intake_case_decisions_total", category="property", decision="accepted") == 1
    assert moved("doorstep_intake_case_decisions_total", category="property", decision="rejected") == 1
    assert moved("doorstep_intake_case_decisions_total", category="property", decision="supplement_requested") == 1
    assert moved("doorstep_intake_callbacks_total", rating="satisfied") == 1
    assert moved("doorstep_intake_callbacks_total", rating="dissatisfied") == 0
    histogram = "doorstep_intake_visits_per_case"
    assert moved(f"{histogram}_count", category="medical-insurance") == 2
    assert moved(f"{histogram}_sum", category="medical-insurance") == 2  # 2 visits + 0 visits
    assert moved(f"{histogram}_bucket", category="medical-insurance", le="0.0") == 1
    assert moved(f"{histogram}_bucket", category="medical-insurance", le="1.0") == 1
    assert moved(f"{histogram}_bucket", category="medical-insurance", le="2.0") == 2
    assert moved(f"{histogram}_count", category="property") == 0  # not closed

    # The gauge is what the metrics timer counts in the database; this test's database holds only these cases.
    uow = IntakeUnitOfWork(sessionmaker(engine_for(settings.db_url("intake"))), settings.street)
    assert refresh_case_gauges(uow) == {"closed": 2, "rejected": 1, "accepted": 1}
    gauges = scrape(settings, "intake")
    expected = {"closed": 2, "rejected": 1, "accepted": 1, "submitted": 0, "settled": 0, "supplement_requested": 0}
    for status, count in expected.items():
        assert value(gauges, "doorstep_intake_cases", status=status) == count, status
        assert api.get("/intake/cases", status=status)["total"] == count, status


def test_intake_primes_every_status_and_the_catalogs_categories_at_start_up(embedded_settings, start_services):
    from services.intake.catalog import default_catalog
    from services.intake.domain import STATUSES
    from services.intake.metrics import channels_by_category

    settings, _ = start_services(embedded_settings, ["intake"])
    samples = scrape(settings, "intake")
    for status in STATUSES:
        assert ("doorstep_intake_cases", (("status", status),)) in samples, status
    combos = channels_by_category(default_catalog())
    assert combos["property"] == ("counter", "online", "phone")
    for category, channels in combos.items():
        for channel in channels:
            assert ("doorstep_intake_cases_submitted_total",
                    (("category", category), ("channel", channel))) in samples, (category, channel)
        assert ("doorstep_intake_case_decisions_total",
                (("category", category), ("decision", "rejected"))) in samples, category


# -- funds -------------------------------------------------------------------------------------------------

def hearing():
    return {"held_on": "2026-03-10", "attendees": ["王阿姨", "李师傅", "张老师"], "decision": "approve",
            "minutes": "事前听证", "votes": {"for": 3, "against": 0, "abstain": 0}}


def test_funds_balances_equal_the_ledger_and_postings_count_by_kind(
        embedded_settings, start_services, counter_token):
    from services.funds import metrics
    from services.funds.repositories import FundsUnitOfWork
    from services.funds.handlers.ledger import refresh_metrics

    settings, _ = start_services(embedded_settings, ["funds"])
    api = Client(settings, "funds", counter_token(settings, role="treasurer"))
    auditor = Client(settings, "funds", counter_token(settings, role="auditor"))
    before = scrape(settings, "funds")

    def moved(samples, name, **labels):
        return value(samples, name, **labels) - value(before, name, **labels)

    def ledger(code, figure="available"):
        return float(auditor.get(f"/funds/accounts/{code}")[figure])

    def gauge(samples, book, account):
        return value(samples, "doorstep_funds_balance_yuan", book=book, account=account)

    api.post("/funds/areas/shixin/allocations", {"year": 2026, "amount": "50000.00"}, key="alloc/shixin/2026")
    project = api.post("/funds/projects", {
        "area": "shixin", "year": 2026, "title": "自治花园", "team": {"name": "花园队", "lead": "王阿姨",
                                                                    "members": ["李师傅"]},
        "budget": [{"name": "苗木", "amount": "3000.00"}, {"name": "工具", "amount": "2000.00"}]})
    api.post(f"/funds/projects/{project['id']}/hearing", hearing(), key="hearing/garden")
    expense = {"line": 1, "amount": "1200.50", "payee": "花鸟市场", "receipt_ref": "F-001"}
    api.post(f"/funds/projects/{project['id']}/expenses", expense, key="garden/spend-1")
    # A retry of the same request and a refused overspend post nothing, and count nothing.
    api.post(f"/funds/projects/{project['id']}/expenses", expense, key="garden/spend-1", expect=200)
    api.post(f"/funds/projects/{project['id']}/expenses",
             {"line": 2, "amount": "2000.01", "payee": "五金店", "receipt_ref": "F-002"}, key="garden/spend-2",
             expect=409)
    donor = api.post("/funds/donors", {"kind": "company", "name": "陆家嘴金融城企业A"})
    api.post("/funds/donations", {"donor_id": donor["id"], "amount": "49028.10"}, key="gift/night")

    after = scrape(settings, "funds")
    for book_type, kind, yuan in [("autonomy", "allocation", 50000), ("autonomy", "budget-reservation", 5000),
                                  ("autonomy", "expense", 1200.50), ("foundation", "donation", 49028.10)]:
        assert moved(after, "doorstep_funds_postings_total", book_type=book_type, kind=kind) == 1, kind
        assert moved(after, "doorstep_funds_posted_yuan_total", book_type=book_type, kind=kind) == pytest.approx(yuan)
    assert moved(after, "doorstep_funds_postings_total", book_type="autonomy", kind="budget-release") == 0

    # Set as each posting committed, before any timer pass: the ledger's figures, in yuan.
    expected = {("area:shixin", "unrestricted"): 45000.0, ("area:shixin", "bank"): 48799.5,
                ("foundation", "unrestricted"): 49028.1, ("foundation", "bank"): 49028.1}
    for (book, account), yuan in expected.items():
        assert gauge(after, book, account) == yuan == ledger(f"{book}:{account}"), (book, account)
    # Budget lines are not exported one by one: the area's budgets are its bank less its unreserved fund.
    assert not [key for key in after if key[0] == "doorstep_funds_balance_yuan" and "budget" in str(key)]
    reserved = sum(ledger(f"area:shixin:budget:{project['id']}:{line}") for line in (1, 2))
    assert gauge(after, "area:shixin", "bank") - gauge(after, "area:shixin", "unrestricted") == reserved

    # The timer's pass reads the ledger: a figure gone stale (another replica posted) is put right.
    metrics.BALANCE.labels("area:shixin", "unrestricted").set(-1)
    uow = FundsUnitOfWork(sessionmaker(engine_for(settings.db_url("funds")), expire_on_commit=False),
                          settings.street)
    refreshed = refresh_metrics(uow)
    assert refreshed["projects"] == {"approved": 1}
    timer = scrape(settings, "funds")
    assert gauge(timer, "area:shixin", "unrestricted") == 45000.0
    for (book, account), yuan in expected.items():
        assert gauge(timer, book, account) == yuan, (book, account)
    assert value(timer, "doorstep_funds_projects", status="approved") == 1
    assert value(timer, "doorstep_funds_projects", status="proposed") == 0
