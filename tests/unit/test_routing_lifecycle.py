"""The assignment state machine: sign-for starts the clock, co-handling completion, transfer limit, returns
before the work, extension with approval, reminders and escalation per breach, scores and who may act."""
from datetime import datetime

import pytest

from shared.errors import Conflict, InvalidInput
from shared.workdays import SHANGHAI
from services.routing.domain import assignments
from services.routing.domain.assignments import NotYourUnit, RoutedCase, check_acts_for, new_assignment
from services.routing.domain.deadlines import breaches, escalation_target
from services.routing.domain.directory import TimeLimit, default_directory
from services.routing.domain.scores import unit_scores

D = default_directory()
POLICY = D.policy


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def routed_case(**overrides):
    now = at(2026, 9, 30, 10)
    values = dict(case_id="c1", area="shixin", matter_code="water-leak-repair", category="property",
                  kind="request", urgency="normal", rule="r", reason="", explanation=[], escalation=[],
                  status="open", lead_unit="shixin-pm", created_at=now, updated_at=now)
    return RoutedCase(**{**values, **overrides})


def assignment(unit="shixin-pm", role="lead", required=True, now=at(2026, 9, 30, 10), handle="working_days:3"):
    return new_assignment("c1", "shixin", D.units[unit], rule="r", reason="", now=now,
                          sign_limit=TimeLimit(4, "working_hours"), handle_limit=TimeLimit.parse(handle, "h"),
                          role=role, required=required)


def test_dispatch_sets_the_sign_for_deadline_in_the_units_working_hours():
    # 物业 works 08:00-18:00: from 16:00 on 30 September, 2 hours that day and 2 on 8 October.
    a = assignment(now=at(2026, 9, 30, 16))
    assert a.status == "dispatched" and a.due_at is None
    assert a.sign_due_at == at(2026, 10, 8, 10)


def test_signing_starts_the_handling_clock_and_the_first_contact_deadline():
    a = assignment()
    assignments.sign(a, D.units["shixin-pm"], at(2026, 9, 30, 11), POLICY)
    assert a.status == "signed"
    assert a.due_at == at(2026, 10, 11)  # 3 working days: 8, 9 and the adjusted Saturday 10 October
    assert a.contact_due_at == at(2026, 10, 9)  # 先行联系 within 1 working day
    with pytest.raises(Conflict, match="signed; cannot sign"):
        assignments.sign(a, D.units["shixin-pm"], at(2026, 9, 30, 12), POLICY)
    assignments.record_contact(a, at(2026, 10, 8, 9))
    assert a.status == "in_progress"


def test_a_report_needs_a_signed_assignment():
    a = assignment()
    with pytest.raises(Conflict, match="only when signed or in_progress"):
        assignments.report(a, "修好了", at(2026, 10, 8))


def test_the_case_resolves_when_the_lead_and_required_assists_are_done_with_one_merged_answer():
    case = routed_case()
    lead, rc = assignment(), assignment("shixin-rc", role="assist", required=True)
    police = assignment("shixin-police", role="assist", required=False)
    for a in (lead, rc, police):
        assignments.sign(a, D.units[a.unit_code], at(2026, 9, 30, 11), POLICY)
    assignments.report(lead, "已更换楼上渗漏水管", at(2026, 10, 8, 10))
    assert assignments.resolution(case, [lead, rc, police], D.units) is None  # the required assist is outstanding
    assignments.report(rc, "已协调楼上住户配合入户", at(2026, 10, 8, 15))
    result = assignments.resolution(case, [lead, rc, police], D.units)
    assert result["lead"] is lead
    assert result["answer"] == "已更换楼上渗漏水管\n【协办 市新居民区居委会】已协调楼上住户配合入户"
    assert result["assisting_units"] == ["shixin-rc", "shixin-police"]
    assert result["overdue"] is False


def test_an_assist_done_first_still_waits_for_the_lead():
    case = routed_case()
    lead, rc = assignment(), assignment("shixin-rc", role="assist")
    assignments.sign(rc, D.units["shixin-rc"], at(2026, 9, 30, 11), POLICY)
    assignments.report(rc, "已协调", at(2026, 10, 8))
    assert assignments.resolution(case, [lead, rc], D.units) is None


def test_a_late_report_makes_the_resolution_overdue():
    case, lead = routed_case(), assignment()
    assignments.sign(lead, D.units["shixin-pm"], at(2026, 9, 30, 11), POLICY)
    assignments.report(lead, "已处理", at(2026, 10, 12, 9))
    assert assignments.resolution(case, [lead], D.units)["overdue"] is True


def test_transfers_beyond_the_limit_escalate_instead():
    a = assignment()
    assert assignments.check_transfer(routed_case(transfers=0), a, "shixin-oc", POLICY) == "transfer"
    assert assignments.check_transfer(routed_case(transfers=1), a, "shixin-oc", POLICY) == "transfer"
    assert assignments.check_transfer(routed_case(transfers=2), a, "shixin-oc", POLICY) == "escalate"
    with pytest.raises(InvalidInput, match="already with this unit"):
        assignments.check_transfer(routed_case(), a, "shixin-pm", POLICY)
    with pytest.raises(Conflict, match="only the lead"):
        assignments.check_transfer(routed_case(), assignment("shixin-rc", role="assist"), "shixin-oc", POLICY)


def test_a_return_is_the_leads_and_only_before_the_work():
    a = assignment()
    assignments.check_return(a)
    with pytest.raises(Conflict, match="only the lead"):
        assignments.check_return(assignment("shixin-rc", role="assist"))
    assignments.sign(a, D.units["shixin-pm"], at(2026, 9, 30, 11), POLICY)
    assignments.record_contact(a, at(2026, 9, 30, 12))
    with pytest.raises(Conflict):
        assignments.check_return(a)


def test_an_extension_moves_the_deadline_only_when_approved():
    a = assignment()
    assignments.sign(a, D.units["shixin-pm"], at(2026, 9, 30, 11), POLICY)
    assignments.request_extension(a, 2, "等配件")
    with pytest.raises(Conflict, match="already waits"):
        assignments.request_extension(a, 3, "again")
    assert assignments.decide_extension(a, False) is None and a.due_at == at(2026, 10, 11)
    assignments.request_extension(a, 2, "等配件")
    previous = assignments.decide_extension(a, True)
    assert previous == at(2026, 10, 11)
    assert a.due_at == at(2026, 10, 14)  # 12 and 13 October: Sunday 11 is rest
    assert a.extensions == 1
    with pytest.raises(Conflict, match="no extension request"):
        assignments.decide_extension(a, True)


@pytest.mark.parametrize("due, days, extended", [
    (at(2026, 12, 3), 2, at(2026, 12, 5)),   # end of Wed 2 Dec + 2 = end of Fri 4 Dec (not Mon 7)
    (at(2026, 12, 5), 1, at(2026, 12, 8)),   # end of Fri 4 Dec + 1 = end of Mon 7 Dec
    (at(2026, 9, 30), 2, at(2026, 10, 9)),   # end of Tue 29 Sep + 2 = end of Thu 8 Oct: 30 Sep, the holiday, 8 Oct
])
def test_an_extension_of_n_working_days_adds_exactly_n(due, days, extended):
    a = assignment()
    assignments.sign(a, D.units["shixin-pm"], at(2026, 9, 28, 11), POLICY)
    a.due_at = due
    assignments.request_extension(a, days, "等配件")
    assignments.decide_extension(a, True)
    assert a.due_at == extended


def test_a_breach_is_reminded_at_once_and_escalated_a_working_day_later():
    a = assignment()
    assignments.sign(a, D.units["shixin-pm"], at(2026, 9, 30, 11), POLICY)  # due at the end of 10 October
    assignments.record_contact(a, at(2026, 9, 30, 15))
    assert breaches(a, at(2026, 10, 10, 23), POLICY) == []
    found = breaches(a, at(2026, 10, 11, 12), POLICY)
    assert [(b.clock, b.step) for b in found] == [("handle", "remind")]
    # Escalation once the next working day (Monday 12 October) has passed too.
    assert [b.step for b in breaches(a, at(2026, 10, 12, 23), POLICY)] == ["remind"]
    assert [b.step for b in breaches(a, at(2026, 10, 13, 0, 1), POLICY)] == ["remind", "escalate"]
    # An approved extension is a new deadline, hence a new breach with its own key.
    assignments.request_extension(a, 2, "等配件")
    assignments.decide_extension(a, True)
    later = breaches(a, at(2026, 10, 15, 1), POLICY)
    assert {b.due_at for b in later} == {at(2026, 10, 14)} != {b.due_at for b in found}


def test_an_unsigned_assignment_breaches_its_sign_for_deadline():
    a = assignment(now=at(2026, 9, 30, 16))  # sign by 8 October 10:00
    assert [(b.clock, b.step) for b in breaches(a, at(2026, 10, 8, 10, 1), POLICY)] == [("sign", "remind")]
    assignments.close(a, "transferred", "x", at(2026, 10, 8, 11))
    assert breaches(a, at(2026, 10, 20), POLICY) == []


def test_escalation_follows_the_rules_chain_then_the_supervisor():
    a = assignment()
    case = routed_case(escalation=["housing-office", "ops-centre"])
    assert escalation_target(case, a, D) == "housing-office"
    case.escalations = 1
    assert escalation_target(case, a, D) == "ops-centre"
    case.escalations = 2
    assert escalation_target(case, a, D) == "housing-office"  # 物业's supervisor
    assert escalation_target(routed_case(), assignment("shixin-rc"), D) == "autonomy-office"


def test_only_a_handler_of_the_unit_or_an_admin_acts_for_it():
    check_acts_for("handler", "unit:shixin-pm", "shixin-pm")
    check_acts_for("handler", "unit:shixin-rc, unit:shixin-pm", "shixin-pm")
    check_acts_for("admin", "", "shixin-pm")
    for role, label in (("handler", "unit:shixin-rc"), ("handler", ""), ("counter", "unit:shixin-pm"),
                        ("handler", "unit:shixin-pm-2")):
        with pytest.raises(NotYourUnit):
            check_acts_for(role, label, "shixin-pm")


def test_scores_count_response_resolution_and_satisfaction():
    on_time, late, open_one = assignment(), assignment(), assignment()
    assignments.sign(on_time, D.units["shixin-pm"], at(2026, 9, 30, 11), POLICY)
    assignments.sign(late, D.units["shixin-pm"], at(2026, 10, 9, 11), POLICY)  # after the sign-for deadline
    assignments.report(on_time, "好了", at(2026, 10, 8))
    assignments.report(late, "好了", at(2026, 10, 9, 12))
    scores = unit_scores([on_time, late, open_one], dissatisfied={late.id})
    assert scores["assignments"] == 3
    assert scores["response_rate"] == round(1 / 3, 4)
    assert scores["resolution_rate"] == round(2 / 3, 4)
    assert scores["satisfaction_rate"] == 0.5
    assert unit_scores([], set())["response_rate"] is None


def test_no_first_contact_within_a_working_day_is_reminded_but_not_escalated():
    a = assignment()
    assignments.sign(a, D.units["shixin-pm"], at(2026, 9, 30, 11), POLICY)  # contact due at the end of 8 October
    assert breaches(a, at(2026, 10, 8, 23), POLICY) == []
    assert [(b.clock, b.step) for b in breaches(a, at(2026, 10, 9, 9), POLICY)] == [("contact", "remind")]
    assignments.record_contact(a, at(2026, 10, 9, 10))
    assert breaches(a, at(2026, 10, 9, 11), POLICY) == []
