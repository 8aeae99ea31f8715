"""Intake's and funds' domain metrics on PostgreSQL: the GROUP BY and balance reads the metrics timers run, and
balance gauges set by postings that commit concurrently on green threads end at the ledger's figure."""
import eventlet
from prometheus_client import REGISTRY
from sqlalchemy.orm import sessionmaker

from shared.db import engine_for
from shared.migrations import upgrade
from services.funds import models
from services.funds.domain.ledger import InsufficientFunds
from services.funds.repositories import FundsUnitOfWork
from services.funds.handlers import autonomy
from services.funds.handlers.ledger import account_balance, refresh_metrics
from services.intake.catalog import default_catalog
from services.intake.domain import RecordVisit, RejectCase, SettleCase
from services.intake.handlers.cases import close_case, reject_case, settle_case, submit_case
from services.intake.handlers.reads import refresh_case_gauges
from services.intake.handlers.visits import record_visit
from services.intake.models import SubmitCaseBody
from services.intake.persistence import IntakeUnitOfWork

HEARING = {"held_on": "2026-03-02", "attendees": ["王阿姨", "李师傅", "张老师"],
           "votes": {"for": 3, "against": 0, "abstain": 0}, "minutes": "同意立项", "decision": "approve"}


def sample(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_concurrent_postings_leave_the_balance_gauges_at_the_ledgers_figures(pg_databases):
    url = pg_databases.format(service="funds")
    upgrade("funds", url)

    def uow():
        return FundsUnitOfWork(sessionmaker(engine_for(url), expire_on_commit=False), "lujiazui")

    autonomy.allocate("shixin", models.AllocationBody(year=2026, amount="5000.00").command(), "alloc-shixin-2026",
                      uow())
    body = {"area": "shixin", "year": 2026, "title": "楼道歇歇椅",
            "team": {"name": "楼组志愿者", "lead": "王阿姨", "members": ["李师傅"]},
            "budget": [{"name": "椅子", "amount": "1000.00"}]}
    _, project = autonomy.propose_project(models.ProjectBody.model_validate(body).command(), None, uow())
    autonomy.hold_hearing(project["id"], models.HearingBody.model_validate(HEARING).command(), "hearing-1", uow())
    count_before = sample("doorstep_funds_postings_total", book_type="autonomy", kind="expense")
    yuan_before = sample("doorstep_funds_posted_yuan_total", book_type="autonomy", kind="expense")

    def spend(n):
        spent = {"line": 1, "amount": "50.00", "payee": f"五金店{n}", "receipt_ref": f"FP-{n:03d}"}
        try:
            return autonomy.record_expense(project["id"], models.ExpenseBody.model_validate(spent).command(),
                                           f"spend-{n}", uow())[0]
        except InsufficientFunds:
            return 409

    outcomes = list(eventlet.GreenPool(30).imap(spend, range(30)))

    assert outcomes.count(201) == 20 and outcomes.count(409) == 10
    assert sample("doorstep_funds_postings_total", book_type="autonomy", kind="expense") - count_before == 20
    assert sample("doorstep_funds_posted_yuan_total", book_type="autonomy", kind="expense") - yuan_before == 1000
    for account, yuan in [("bank", 4000.0), ("unrestricted", 4000.0)]:
        ledger = float(account_balance(f"area:shixin:{account}", None, uow())["available"])
        assert sample("doorstep_funds_balance_yuan", book="area:shixin", account=account) == yuan == ledger

    refreshed = refresh_metrics(uow())
    assert refreshed["projects"] == {"approved": 1}
    assert refreshed["balances"] == {"area:shixin:bank": 400000, "area:shixin:unrestricted": 400000}
    assert sample("doorstep_funds_balance_yuan", book="area:shixin", account="bank") == 4000.0
    assert sample("doorstep_funds_projects", status="approved") == 1


def test_cases_by_status_and_visits_per_case_on_postgresql(pg_databases):
    url = pg_databases.format(service="intake")
    upgrade("intake", url)
    catalog = default_catalog()

    def uow():
        return IntakeUnitOfWork(sessionmaker(engine_for(url), expire_on_commit=False), "lujiazui")

    def submit(matter, channel, phone):
        body = {"matter_code": matter, "channel": channel,
                "resident": {"name": "李", "phone": phone, "area": "shixin"}}
        return submit_case(SubmitCaseBody.model_validate(body).command("counter"), uow(), catalog)["id"]

    settled = submit("medical-insurance-bill-print", "counter", "13612345678")
    submit("medical-insurance-bill-print", "counter", "13612345679")
    waiting = [submit("property-repair", "online", "1361234568" + str(n)) for n in range(3)]
    reject_case(RejectCase(waiting[0], "重复提交"), uow())
    for _ in range(3):
        record_visit(RecordVisit("shixin", (settled,), "counter"), uow())
    settle_case(SettleCase(settled, "已打印"), uow())
    observed = sample("doorstep_intake_visits_per_case_count", category="medical-insurance")
    visits = sample("doorstep_intake_visits_per_case_sum", category="medical-insurance")
    three = sample("doorstep_intake_visits_per_case_bucket", category="medical-insurance", le="3.0")
    two = sample("doorstep_intake_visits_per_case_bucket", category="medical-insurance", le="2.0")
    close_case(settled, uow())

    assert sample("doorstep_intake_visits_per_case_count", category="medical-insurance") - observed == 1
    assert sample("doorstep_intake_visits_per_case_sum", category="medical-insurance") - visits == 3
    assert sample("doorstep_intake_visits_per_case_bucket", category="medical-insurance", le="3.0") - three == 1
    assert sample("doorstep_intake_visits_per_case_bucket", category="medical-insurance", le="2.0") - two == 0
    assert refresh_case_gauges(uow()) == {"closed": 1, "accepted": 1, "submitted": 2, "rejected": 1}
    assert sample("doorstep_intake_cases", status="submitted") == 2
    assert sample("doorstep_intake_cases", status="in_progress") == 0
