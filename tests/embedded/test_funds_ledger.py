"""The ledger's rules on the embedded default (SQLite): idempotent posting, reversals that point at what they
correct, entries in time order, balances as of a date, and verification that names what was tampered with."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from shared.db import engine_for
from shared.errors import Conflict, InvalidInput
from services.funds import models
from services.funds.repositories import FundsUnitOfWork
from services.funds.handlers import ledger

BANK, GIFTS, FEES = "foundation:bank", "foundation:revenue:donation", "foundation:expense:general"


@pytest.fixture
def funds(embedded_settings):
    url = embedded_settings.db_url("funds")
    uow = FundsUnitOfWork(sessionmaker(engine_for(url), expire_on_commit=False), "lujiazui")
    ledger.ensure_book(uow, "foundation")
    return uow, engine_for(url)


def transfer(debit, credit, amount, memo, at=None):
    body = {"book": "foundation", "memo": memo,
            "legs": [{"account": debit, "debit": amount}, {"account": credit, "credit": amount}]}
    if at:
        body["occurred_at"] = at
    return models.TransferBody.model_validate(body)


def post(body, key, uow):
    return ledger.post_manual_transfer(body.command(), key, uow)


def as_of(day):
    return models.AsOfQuery(as_of=day).as_of


def test_posting_twice_with_one_key_returns_the_first_result_and_changes_nothing(funds):
    uow, _ = funds
    body = transfer(BANK, GIFTS, "500.00", "a gift")
    status, first = post(body, "gift-1", uow)
    again_status, again = post(body, "gift-1", uow)
    assert (status, again_status) == (201, 200) and again == first
    assert ledger.account_balance(BANK, None, uow)["balance"] == "500.00"
    with pytest.raises(Conflict, match="different request"):
        post(transfer(BANK, GIFTS, "600.00", "a gift"), "gift-1", uow)
    with pytest.raises(InvalidInput, match="not in the chart"):
        post(transfer("foundation:nowhere", GIFTS, "1.00", "x"), "bad-1", uow)


def test_a_correction_is_a_reversal_pointing_at_what_it_corrects(funds):
    uow, _ = funds
    post(transfer(BANK, GIFTS, "1000.00", "gift"), "gift", uow)
    _, fee = post(transfer(FEES, BANK, "12.50", "bank fee (wrong amount)"), "fee", uow)
    _, reversal = ledger.reverse_transfer(fee["id"], "wrong amount", "fee-reversal", uow)
    assert reversal["reverses"] == fee["id"] and reversal["sequence"] == fee["sequence"] + 1
    assert [(leg["account"], leg["amount_fen"]) for leg in reversal["legs"]] == [(FEES, -1250), (BANK, 1250)]
    assert ledger.account_balance(FEES, None, uow)["balance"] == "0.00"
    with pytest.raises(Conflict, match="already reversed"):
        ledger.reverse_transfer(fee["id"], "again", "fee-reversal-2", uow)
    with pytest.raises(Conflict, match="itself a reversal"):
        ledger.reverse_transfer(reversal["id"], "undo", "undo-reversal", uow)
    # The original stays as it was: immutable, and still in the chain.
    verification = ledger.verify_book("foundation", uow)
    assert verification["ok"] and verification["entries"] == 3


def test_entries_are_in_time_order_and_balances_read_as_of_any_date(funds):
    uow, _ = funds
    post(transfer(BANK, GIFTS, "100.00", "d1", "2026-01-05T10:00:00+08:00"), "d1", uow)
    post(transfer(BANK, GIFTS, "250.00", "d2", "2026-02-05T10:00:00+08:00"), "d2", uow)
    post(transfer(FEES, BANK, "30.00", "fee", "2026-03-05T10:00:00+08:00"), "f1", uow)
    with pytest.raises(Conflict, match="time order"):
        post(transfer(BANK, GIFTS, "1.00", "late", "2026-02-01T10:00:00+08:00"), "x", uow)
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    with pytest.raises(InvalidInput, match="future"):
        post(transfer(BANK, GIFTS, "1.00", "early", tomorrow), "y", uow)
    balance = lambda day: ledger.account_balance(BANK, as_of(day), uow)["balance"]  # noqa: E731
    assert [balance(day) for day in ("2026-01-04", "2026-01-05", "2026-02-28", "2026-03-05")] == [
        "0.00", "100.00", "350.00", "320.00"]
    trial = ledger.trial_balance("foundation", as_of("2026-02-28"), uow)
    assert trial["through_entry"] == 2 and trial["total_debit"] == "350.00" and trial["balanced"]


def test_verification_names_an_altered_balance_or_a_removed_entry(funds):
    uow, engine = funds
    for n in range(1, 5):
        post(transfer(BANK, GIFTS, f"{n}.00", f"gift {n}"), f"g{n}", uow)
    assert ledger.verify_book("foundation", uow)["ok"]

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE balances SET balance = balance + 1 WHERE account_code = :a"), {"a": BANK})
    altered = ledger.verify_book("foundation", uow)
    assert not altered["ok"] and "stored balance of foundation:bank is 10.01" in altered["first_breach"]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE balances SET balance = balance - 1 WHERE account_code = :a"), {"a": BANK})

    with engine.begin() as conn:  # someone removes entry #2 and its legs
        removed = conn.execute(sa.text("SELECT id FROM transfers WHERE sequence = 2")).scalar()
        conn.execute(sa.text("DELETE FROM legs WHERE transfer_id = :id"), {"id": removed})
        conn.execute(sa.text("DELETE FROM transfers WHERE id = :id"), {"id": removed})
    gap = ledger.verify_book("foundation", uow)
    assert not gap["ok"] and gap["breach_sequence"] == 3 and "missing" in gap["first_breach"]
