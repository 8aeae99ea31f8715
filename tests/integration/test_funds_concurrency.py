"""The ledger under concurrency on PostgreSQL: many green threads (psycopg2 is green under eventlet) post at once.

No budget is overspent, no receipt number is skipped or repeated, a request retried concurrently with one key
posts once, and postings that lock two books at once never deadlock.
"""
import pytest

from support.funds import run_parallel, uow_for
from shared.errors import Conflict
from services.funds import models
from services.funds.domain.foundation import RegisterDonor
from services.funds.domain.ledger import InsufficientFunds
from services.funds.handlers import autonomy, foundation, ledger

HEARING = {"held_on": "2026-03-02", "attendees": ["王阿姨", "李师傅", "张老师", "陈书记", "赵大姐"],
           "votes": {"for": 4, "against": 0, "abstain": 1}, "minutes": "同意立项", "decision": "approve"}


def command(model, body):
    """The command a request with this body hands its use case."""
    return model.model_validate(body).command()


def donation(body):
    return command(models.DonationBody, body)


def expense(body):
    return command(models.ExpenseBody, body)


def approved_project(url, budget="1000.00", allocation="5000.00"):
    autonomy.allocate("shixin", command(models.AllocationBody, {"year": 2026, "amount": allocation}),
                      "alloc-shixin-2026", uow_for(url))
    body = {"area": "shixin", "year": 2026, "title": "楼道歇歇椅",
            "team": {"name": "楼组志愿者", "lead": "王阿姨", "members": ["李师傅"]},
            "budget": [{"name": "椅子", "amount": budget}]}
    _, project = autonomy.propose_project(command(models.ProjectBody, body), None, uow_for(url))
    _, approved = autonomy.hold_hearing(project["id"], command(models.HearingBody, HEARING),
                                        f"hearing-{project['id']}", uow_for(url))
    assert approved["status"] == "approved"
    return project["id"]

def test_parallel_spends_never_overspend_a_budget(funds_db):
    project_id = approved_project(funds_db, budget="1000.00")

    def spend(n):
        body = {"line": 1, "amount": "100.00", "payee": f"五金店{n}", "receipt_ref": f"FP-{n:03d}"}
        key = f"spend-{n}"
        return lambda: autonomy.record_expense(project_id, expense(body), key, uow_for(funds_db))

    outcomes, peak = run_parallel([spend(n) for n in range(30)])

    assert peak > 1  # the attempts really overlapped
    succeeded = [o for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(succeeded) == 10 and all(status == 201 for status, _ in succeeded)
    assert len(refused) == 20 and all(isinstance(o, InsufficientFunds) for o in refused), refused[:3]
    view = autonomy.project_view(project_id, uow_for(funds_db))
    assert view["spent"] == "1000.00" and view["budget"][0]["available"] == "0.00"
    assert len(view["expenses"]) == 10
    balance = ledger.account_balance("area:shixin:bank", None, uow_for(funds_db))
    assert balance["balance"] == "4000.00"
    assert ledger.verify_book("area:shixin", uow_for(funds_db))["ok"]


def test_parallel_donations_get_receipt_numbers_without_gaps_or_duplicates(funds_db):
    _, donor = foundation.register_donor(RegisterDonor("individual", "周先生"), None, uow_for(funds_db))

    def donate(n):
        body = {"donor_id": donor["id"], "amount": f"{n + 1}.00", "received_at": "2026-05-01T10:00:00+08:00"}
        key = f"gift-{n}"
        return lambda: foundation.record_donation(donation(body), key, uow_for(funds_db))

    outcomes, peak = run_parallel([donate(n) for n in range(40)])

    assert peak > 1
    assert all(isinstance(o, tuple) and o[0] == 201 for o in outcomes), [o for o in outcomes if
                                                                          not isinstance(o, tuple)][:3]
    numbers = sorted(result["receipt_number"] for _, result in outcomes)
    assert numbers == [f"2026-{n:06d}" for n in range(1, 41)]
    statement = foundation.donor_statement(donor["id"], uow_for(funds_db))
    assert statement["donations_total"] == f"{sum(range(1, 41))}.00"
    assert ledger.verify_book("foundation", uow_for(funds_db))["ok"]


def test_the_same_request_retried_in_parallel_posts_once(funds_db):
    _, donor = foundation.register_donor(RegisterDonor("company", "陆家嘴金融城企业A"), None, uow_for(funds_db))
    body = {"donor_id": donor["id"], "amount": "8888.00", "received_at": "2026-05-01T10:00:00+08:00"}

    def retry():
        return foundation.record_donation(donation(body), "gift-once", uow_for(funds_db))

    outcomes, peak = run_parallel([retry for _ in range(20)])

    assert peak > 1
    statuses = sorted(status for status, _ in outcomes)
    assert statuses == [200] * 19 + [201]
    first = next(result for status, result in outcomes if status == 201)
    assert all(result == first for _, result in outcomes)
    statement = foundation.donor_statement(donor["id"], uow_for(funds_db))
    assert len(statement["donations"]) == 1 and statement["donations_total"] == "8888.00"
    verification = ledger.verify_book("foundation", uow_for(funds_db))
    assert verification["ok"] and verification["entries"] == 1

    # The same key for a different request is refused rather than silently answered with the first result.
    other = {**body, "amount": "1.00"}
    with pytest.raises(Conflict, match="different request"):
        foundation.record_donation(donation(other), "gift-once", uow_for(funds_db))


def test_postings_across_two_books_in_parallel_do_not_deadlock(funds_db):
    project_id = approved_project(funds_db, budget="3000.00")
    _, donor = foundation.register_donor(RegisterDonor("company", "社区公益伙伴"), None, uow_for(funds_db))
    seed = {"donor_id": donor["id"], "amount": "10000.00"}
    foundation.record_donation(donation(seed), "seed-gift", uow_for(funds_db))

    def cofund(n):  # locks the area's book and the foundation's
        body = {"partner": "社区公益基金会", "from_foundation": True, "amount": "100.00", "line": 1}
        return lambda: autonomy.cofund_project(project_id, command(models.CofundingBody, body), f"cofund-{n}",
                                               uow_for(funds_db))

    def donate(n):  # the foundation's book only
        body = {"donor_id": donor["id"], "amount": "10.00"}
        return lambda: foundation.record_donation(donation(body), f"more-{n}", uow_for(funds_db))

    def spend(n):  # the area's book only
        body = {"line": 1, "amount": "50.00", "payee": "花店", "receipt_ref": f"H-{n}"}
        return lambda: autonomy.record_expense(project_id, expense(body), f"sp-{n}", uow_for(funds_db))

    calls = [make(n) for n in range(10) for make in (cofund, donate, spend)]
    outcomes, _ = run_parallel(calls)

    assert [o for o in outcomes if not isinstance(o, tuple)] == []
    view = autonomy.project_view(project_id, uow_for(funds_db))
    assert view["spent"] == "500.00" and view["budget"][0]["available"] == "3500.00"  # 3000 + 1000 − 500
    foundation_bank = ledger.account_balance("foundation:bank", None, uow_for(funds_db))
    assert foundation_bank["balance"] == "9100.00"  # 10000 + 100 − 1000
    assert all(r["ok"] for r in ledger.verify_all(uow_for(funds_db)))


def test_the_longest_key_names_a_cofunding_posted_in_both_books(funds_db):
    project_id = approved_project(funds_db, budget="3000.00")
    _, donor = foundation.register_donor(RegisterDonor("company", "社区公益伙伴"), None, uow_for(funds_db))
    foundation.record_donation(donation({"donor_id": donor["id"], "amount": "1000.00"}), "seed", uow_for(funds_db))
    key = "k" * 120  # the longest a request may send; each book's posting adds its suffix to it
    body = {"partner": "社区公益基金会", "from_foundation": True, "amount": "100.00", "line": 1}
    status, cofunded = autonomy.cofund_project(project_id, command(models.CofundingBody, body), key,
                                               uow_for(funds_db))
    assert status == 201 and cofunded["foundation_transfer_id"]
    assert all(r["ok"] for r in ledger.verify_all(uow_for(funds_db)))
