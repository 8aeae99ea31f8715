"""Funds' pure domain: balanced legs, running figures and the non-negative rule, the hash chain and its verifier,
the trial balance, the auction lot and the project lifecycle, and the rules the commands carry."""
import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from shared.errors import Conflict, InvalidInput
from shared.events import SchemaViolation, new_event
from shared.money import format_fen, format_yuan_grouped, parse_yuan
from services.funds.domain.autonomy import Hearing, Project, ProposeProject
from services.funds.domain.chart import area_chart, budget_line_accounts, foundation_chart
from services.funds.domain.foundation import Lot, RegisterDonor, check_grant_purpose
from services.funds.domain.ledger import (
    GENESIS_HASH, AccountState, ChainVerifier, InsufficientFunds, PostedTransfer, TransferDraft, apply_legs, credit,
    debit, transfer_hash, trial_balance,
)

T0 = datetime(2018, 11, 29, 12, 0, tzinfo=timezone.utc)


def states_of(specs):
    return {s.code: AccountState(s.code, s.normal_side, s.parent, s.non_negative) for s in specs}


def test_money_is_integer_fen_with_decimal_strings_at_the_edge():
    assert parse_yuan("49028.1", "amount") == 4902810
    assert parse_yuan("50000", "amount") == 5000000 and parse_yuan(7, "amount") == 700
    assert format_fen(9902810) == "99028.10" and format_fen(-5) == "-0.05"
    assert format_yuan_grouped(4902810) == "¥49,028.10"
    for bad, reason in [(1.5, "not a JSON number"), ("1.234", "at most two decimals"), ("-3", "negative"),
                        ("0.00", "more than zero"), (None, "required"), (True, "required")]:
        with pytest.raises(InvalidInput, match=reason) as info:
            parse_yuan(bad, "amount")
        assert info.value.field == "amount"


def test_a_transfer_must_balance_and_stay_in_its_book():
    with pytest.raises(InvalidInput, match="differ by 0.01"):
        TransferDraft("foundation", "k", "x", "m", (debit("foundation:bank", 100),
                                                        credit("foundation:revenue:donation", 99)), T0)
    with pytest.raises(InvalidInput, match="not an account of book"):
        TransferDraft("foundation", "k", "x", "m", (debit("area:shixin:bank", 100),
                                                        credit("foundation:revenue:donation", 100)), T0)
    with pytest.raises(InvalidInput, match="appears twice"):
        TransferDraft("foundation", "k", "x", "m", (debit("foundation:bank", 100),
                                                        credit("foundation:bank", 100)), T0)


def test_budget_lines_are_spent_through_their_expense_accounts_and_never_below_zero():
    specs = area_chart("shixin") + budget_line_accounts("shixin", "shixin-2026-001", 1, "椅子")
    states = states_of(specs)
    b = "area:shixin"
    budget, expense = f"{b}:budget:shixin-2026-001:1", f"{b}:expense:shixin-2026-001:1"
    apply_legs(states, [debit(f"{b}:bank", 100_000), credit(f"{b}:revenue:allocation", 100_000)])
    assert states[f"{b}:unrestricted"].available == 100_000  # allocation revenue feeds the unreserved fund
    apply_legs(states, [debit(f"{b}:unrestricted", 60_000), credit(budget, 60_000)])
    assert (states[f"{b}:unrestricted"].available, states[budget].available) == (40_000, 60_000)
    after = apply_legs(states, [debit(expense, 45_000), credit(f"{b}:bank", 45_000)])
    assert after == (45_000, 55_000)
    assert states[budget].available == 15_000 and states[budget].balance == 60_000

    before = dataclasses.replace(states[budget])
    with pytest.raises(InsufficientFunds, match="has 150.00 available; this would take it to -0.01"):
        apply_legs(states, [debit(expense, 15_001), credit(f"{b}:bank", 15_001)])
    assert states[budget] == before  # a refused transfer changes nothing
    with pytest.raises(InsufficientFunds, match=f"{b}:unrestricted"):
        apply_legs(states, [debit(f"{b}:unrestricted", 40_001), credit(budget, 40_001)])


def chain_of(n):
    specs = foundation_chart()
    states = states_of(specs)
    prev, out = GENESIS_HASH, []
    for i in range(1, n + 1):
        legs = (debit("foundation:bank", 100 * i), credit("foundation:revenue:donation", 100 * i))
        after = apply_legs(states, legs)
        fields = dict(id=f"t{i}", book="foundation", sequence=i, idempotency_key=f"k{i}", kind="donation",
                      memo=f"gift {i}", occurred_at=T0 + timedelta(minutes=i), recorded_at=T0 + timedelta(hours=1),
                      reverses=None, legs=legs)
        digest = transfer_hash(prev_hash=prev, **fields)
        out.append(PostedTransfer(**{**fields, "prev_hash": prev, "hash": digest, "balances_after": after}))
        prev = digest
    return out, {s.code: s.normal_side for s in specs}, states


def verify(chain, sides, head=None):
    verifier = ChainVerifier("foundation", sides)
    for t in chain:
        if not verifier.feed(t):
            break
    if head:
        verifier.check_head(*head)
    return verifier


def test_the_hash_of_a_transfer_is_fixed_by_its_canonical_form():
    """Published ledgers are verified against these digests: the canonical form must never drift."""
    fields = dict(prev_hash="0" * 64, id="3f2b8c1e-0000-4000-8000-000000000001", book="foundation", sequence=7,
                  idempotency_key="gift/2018-11-30/1", kind="donation", memo='陆家嘴慈善之夜 "义拍" \\ {1,2}',
                  occurred_at=datetime(2018, 11, 30, 20, 15, tzinfo=timezone(timedelta(hours=8))),
                  recorded_at=datetime(2018, 11, 30, 12, 15, 0, 123456, tzinfo=timezone.utc), reverses=None,
                  legs=(debit("foundation:bank", 4902810), credit("foundation:revenue:auction", 4902810)))
    assert transfer_hash(**fields) == "fa782619922e8f46abf5d967dbdf15d131bc13b6c63c33c923f672d7d3a9f129"
    reversal = {**fields, "reverses": "3f2b8c1e-0000-4000-8000-000000000000", "memo": ""}
    assert transfer_hash(**reversal) == "3f0f24a740ba7b273326ff69fda04ec932bdd257021eb0fc771ef98687d1e4c7"
    # The same instant written in another zone is the same entry.
    utc = {**fields, "occurred_at": datetime(2018, 11, 30, 12, 15, tzinfo=timezone.utc)}
    assert transfer_hash(**utc) == transfer_hash(**fields)


def test_the_verifier_accepts_an_intact_chain_and_its_head():
    chain, sides, states = chain_of(5)
    verifier = verify(chain, sides, head=(5, chain[-1].hash))
    assert verifier.breach is None and verifier.count == 5
    assert verifier.check_balances({code: s.balance for code, s in states.items()})


@pytest.mark.parametrize("tamper, broken_at, reason", [
    (lambda c: c.__setitem__(2, dataclasses.replace(c[2], legs=(debit("foundation:bank", 301),
                                                               credit("foundation:revenue:donation", 301)))),
     3, "do not match its hash"),
    (lambda c: c.__setitem__(1, dataclasses.replace(c[1], memo="gift 2 (edited)")), 2, "do not match its hash"),
    (lambda c: c.__setitem__(3, dataclasses.replace(c[3], occurred_at=T0)), 4, "do not match its hash"),
    (lambda c: c.pop(2), 4, "missing or out of order"),
    (lambda c: c.__setitem__(4, dataclasses.replace(c[4], balances_after=(1, -1))), 5, "running balance"),
])
def test_the_verifier_names_the_first_broken_entry(tamper, broken_at, reason):
    chain, sides, _ = chain_of(6)
    tamper(chain)
    breach = verify(chain, sides).breach
    assert breach is not None and breach.sequence == broken_at and reason in breach.reason
    assert f"#{broken_at}" in str(breach)


def test_a_rehashed_forgery_breaks_the_next_link_and_the_published_head():
    chain, sides, _ = chain_of(4)
    forged_legs = (debit("foundation:bank", 1), credit("foundation:revenue:donation", 1))
    forged = dataclasses.replace(chain[3], legs=forged_legs, balances_after=(601, 601))
    fields = {f: getattr(forged, f) for f in ("id", "book", "sequence", "idempotency_key", "kind", "memo",
                                             "occurred_at", "recorded_at", "reverses", "legs")}
    chain[3] = dataclasses.replace(forged, hash=transfer_hash(prev_hash=forged.prev_hash, **fields))
    verifier = verify(chain, sides, head=(4, chain_of(4)[0][-1].hash))  # the head a disclosure published
    assert verifier.breach is not None and "the head says entry #4" in verifier.breach.reason


def test_trial_balance_puts_normal_side_balances_in_debit_and_credit_columns():
    chart = {s.code: s for s in foundation_chart()}
    report = trial_balance([(chart["foundation:bank"], 9_902_810), (chart["foundation:revenue:donation"], 5_000_000),
                            (chart["foundation:revenue:market"], 4_902_810)])
    assert report["total_debit"] == report["total_credit"] == "99028.10" and report["balanced"]
    assert report["accounts"][1] == {"account": "foundation:revenue:donation", "name": "捐赠收入 donations",
                                     "kind": "revenue", "debit": "0.00", "credit": "50000.00"}


def test_an_auction_lot_is_bid_up_hammered_and_paid():
    lot = Lot("l1", "charity-night-2018", 1, "阳光钻石果盘", "donor")
    lot.place_bid("A", 100_000)
    with pytest.raises(InvalidInput, match="more than the highest bid 1000.00"):
        lot.place_bid("B", 100_000)
    lot.place_bid("B", 380_000)
    with pytest.raises(Conflict, match="only a sold lot"):
        lot.record_payment()
    lot.hammer()
    assert (lot.status, lot.buyer, lot.hammer_price) == ("sold", "B", 380_000)
    with pytest.raises(Conflict, match="bidding is over"):
        lot.place_bid("C", 500_000)
    lot.record_payment()
    assert lot.status == "paid"
    unsold = Lot("l2", "e", 2, "x", "donor")
    unsold.hammer()
    assert unsold.status == "unsold" and unsold.hammer_price is None


def test_a_project_moves_through_the_three_meetings_only_in_order():
    project = Project("shixin-2026-001", "shixin", 2026, "自治花园", "proposed")
    with pytest.raises(Conflict, match="cannot become closed"):
        project.move_to("closed")
    project.move_to("approved")
    project.require("approved", doing="spending")
    project.move_to("evaluated")
    with pytest.raises(Conflict, match="spending needs it approved"):
        project.require("approved", doing="spending")
    project.move_to("closed")
    rejected = Project("p2", "shixin", 2026, "停车棚", "proposed")
    rejected.move_to("rejected")
    with pytest.raises(Conflict):
        rejected.move_to("approved")


def test_commands_carry_the_rules_of_the_domain():
    proposal = ProposeProject.of(area="shixin", year=2026, title="自治花园", description="", team_name="t",
                                 lead="王阿姨", members=["李"], budget=[("花苗", 300_000), ("工具", 150_000)])
    assert proposal.members == ("王阿姨", "李") and proposal.total == 450_000  # the lead is on the team
    assert [(line.line_no, line.name) for line in proposal.budget] == [(1, "花苗"), (2, "工具")]
    day = datetime(2026, 3, 10).date()
    with pytest.raises(InvalidInput, match="3 votes from 2 attendees") as info:
        Hearing(day, ("a", "b"), 2, 1, 0, "m", "approve")
    assert info.value.field == "votes"
    with pytest.raises(InvalidInput, match="more votes for than against") as info:
        Hearing(day, ("a", "b", "c"), 1, 1, 1, "m", "approve")
    assert info.value.field == "decision"
    assert Hearing(day, ("a", "b", "c"), 1, 1, 1, "m", "reject").decision == "reject"
    assert RegisterDonor("anonymous", "王先生").name == "" and RegisterDonor("individual", "王先生").name == "王先生"
    with pytest.raises(InvalidInput, match="may only pay for 'art-education'"):
        check_grant_purpose("art-education", "elderly-care")


def test_funds_events_follow_their_schemas_and_mask_personal_data():
    donor = {"donor_id": "0b9d7c1e-3c1e-4a55-9b5e-1f7c2f0f8a11", "kind": "company", "display_name": "艺仓美术馆"}
    data = {"donation_id": "5f0c8e7a-2b8f-4d44-8a7e-6c2b9a1d3e55", "kind": "cash", "amount": "50000.00",
            "currency": "CNY", "donor": donor, "receipt_number": "2018-000001", "event_code": "charity-night-2018",
            "received_at": "2018-11-29T13:45:00+00:00", "transfer_id": "5f0c8e7a-2b8f-4d44-8a7e-6c2b9a1d3e56"}
    assert new_event("doorstep.funds.donation.received.v1", street="lujiazui", subject="d", data=data).data == data
    with pytest.raises(SchemaViolation, match="amount"):
        new_event("doorstep.funds.donation.received.v1", street="lujiazui", subject="d",
                  data={**data, "amount": 50000.0})
    # a donor whose name carries a phone number is recorded, and the event carries the name masked
    named = new_event("doorstep.funds.donation.received.v1", street="lujiazui", subject="d",
                      data={**data, "donor": {**donor, "display_name": "王先生 13812345678"}})
    assert named.data["donor"]["display_name"] == "王先生 138****5678"
