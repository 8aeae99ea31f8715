"""Preferences, quiet hours, rate limit, channel plans and retries: notify's pure rules."""
from datetime import datetime, time, timedelta, timezone

import pytest

from services.notify.domain.delivery import RateLimit, RetryPolicy, after_failure, decide
from services.notify.domain.digest import digest_due
from services.notify.domain.recipients import Preferences, QuietHours, mask_address, plan_channels
from services.notify.domain.templates import Notice

SHANGHAI = timezone(timedelta(hours=8))


def at(hh, mm=0, day=24):
    return datetime(2026, 11, day, hh, mm, tzinfo=SHANGHAI)


def notice(category="case-progress", mandatory=False, urgent=False):
    return Notice("t", "resident:r1", category, mandatory, urgent)


@pytest.mark.parametrize("now, until", [
    (at(23, 0), at(8, 0, day=25)),
    (at(2, 30), at(8, 0)),
    (at(22, 0), at(8, 0, day=25)),
    (at(7, 59), at(8, 0)),
    (at(8, 0), None),
    (at(21, 59), None),
    (at(12, 0), None),
])
def test_default_quiet_hours_run_from_22_to_8_shanghai_time(now, until):
    assert QuietHours().until(now.astimezone(timezone.utc)) == until


def test_quiet_hours_that_do_not_wrap_midnight():
    siesta = QuietHours(time(12, 0), time(14, 0))
    assert siesta.until(at(13, 0)) == at(14, 0)
    assert siesta.until(at(14, 0)) is None


def test_a_notice_in_quiet_hours_is_deferred_to_their_end_unless_urgent():
    deferred = decide(notice(), Preferences(), at(23, 30), [])
    assert (deferred.status, deferred.next_attempt_at, deferred.reason) == ("deferred", at(8, 0, day=25),
                                                                            "quiet hours")
    assert decide(notice(urgent=True), Preferences(), at(23, 30), []).status == "queued"
    assert decide(notice(), Preferences(quiet_hours=None), at(23, 30), []).status == "queued"
    assert decide(notice(), Preferences(), at(10, 0), []) .status == "queued"


def test_opting_out_skips_a_category_but_not_a_mandatory_notice():
    prefs = Preferences(opted_out=frozenset({"hearing"}))
    assert decide(notice("hearing"), prefs, at(10), []).status == "skipped"
    assert decide(notice("hearing", mandatory=True), prefs, at(10), []).status == "queued"
    assert decide(notice("case-progress"), prefs, at(10), []).status == "queued"


def test_the_rate_limit_defers_until_a_slot_frees_and_never_drops():
    limit = RateLimit(per_hour=3)
    now = at(10, 0)
    sends = [now - timedelta(minutes=50), now - timedelta(minutes=20), now - timedelta(minutes=5)]
    decision = decide(notice(), Preferences(), now, sends, limit)
    assert (decision.status, decision.next_attempt_at, decision.reason) == (
        "deferred", now + timedelta(minutes=10), "rate limit")
    assert decide(notice(), Preferences(), now, sends[1:], limit).status == "queued"
    assert decide(notice(urgent=True), Preferences(), now, sends, limit).status == "queued"
    assert decide(notice(mandatory=True), Preferences(), now, sends, limit).status == "queued"


def test_channel_plan_follows_preferences_with_an_address_then_registered_then_default():
    prefs = Preferences(channels=("wechat", "sms", "email"))
    assert plan_channels(prefs, {"email", "sms"}, "file") == ("sms", "email")
    assert plan_channels(Preferences(), {"email", "webhook"}, "file") == ("email", "webhook")
    assert plan_channels(Preferences(), set(), "file") == ("file",)
    assert plan_channels(Preferences(channels=("console",)), set(), "file") == ("console",)


def test_failure_retries_with_exponential_backoff_then_falls_back_then_gives_up():
    policy = RetryPolicy(attempts_per_channel=3, base_delay=timedelta(seconds=10), max_delay=timedelta(seconds=25))
    now = at(10)
    plan = ("email", "sms")
    first = after_failure(plan, 0, 1, False, now, policy)
    assert (first.action, first.next_attempt_at) == ("retry", now + timedelta(seconds=10))
    assert after_failure(plan, 0, 2, False, now, policy).next_attempt_at == now + timedelta(seconds=20)
    assert policy.delay(3) == timedelta(seconds=25)  # capped
    fallback = after_failure(plan, 0, 3, False, now, policy)
    assert (fallback.action, fallback.channel_index, fallback.attempts) == ("fallback", 1, 0)
    assert after_failure(plan, 0, 1, True, now, policy).action == "fallback"  # permanent: no retry here
    assert after_failure(plan, 1, 1, True, now, policy).action == "give_up"
    assert after_failure(plan, 1, 3, False, now, policy).action == "give_up"


def test_addresses_are_shown_masked():
    assert mask_address("sms", "13812345678") == "138****5678"
    assert mask_address("email", "wang.ayi@example.org") == "w***@example.org"
    assert mask_address("webhook", "https://hotline.example.gov/hooks/doorstep?key=1") == "https://hotline.example.gov/…"


def test_the_digest_is_due_from_its_time_for_a_few_hours_only():
    assert digest_due(at(8, 29), time(8, 30)) is None
    assert digest_due(at(8, 30), time(8, 30)).isoformat() == "2026-11-24"
    assert digest_due(at(13, 0), time(8, 30)).isoformat() == "2026-11-24"
    assert digest_due(at(23, 0), time(8, 30)) is None
