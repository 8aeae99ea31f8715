"""The console's pure parts: times and money as people write them, the lockout rule, CSRF tokens, the session
cookie, sealed tokens, and the services' words made readable."""
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from console import security
from console.formatting import amount_in_words, is_amount, local_date, local_time, yuan
from console.pages.cases import intake_note, why
from console.web import safe_next, same_site

UTC = timezone.utc


@pytest.mark.parametrize("value, shown", [
    ("2026-11-30T03:00:00+00:00", "2026年11月30日 11:00"),
    ("2026-11-30T03:00:00Z", "2026年11月30日 11:00"),
    ("2026-12-31T16:05:00+00:00", "2027年1月1日 00:05"),  # past midnight in Shanghai: the next day, the next year
    (datetime(2026, 1, 5, 1, 5, tzinfo=UTC), "2026年1月5日 09:05"),
    ("2026-11-30T11:00:00+08:00", "2026年11月30日 11:00"),
    (None, ""), ("", ""),
])
def test_times_are_shown_in_shanghai_as_people_write_them(value, shown):
    assert local_time(value) == shown


def test_dates_are_shown_as_people_write_them():
    assert local_date("2026-01-05") == "2026年1月5日"
    assert local_date(date(2026, 11, 30)) == "2026年11月30日"
    assert local_date("2026-11-29T17:00:00+00:00") == "2026年11月30日"


@pytest.mark.parametrize("amount, words", [
    ("49028.10", "肆万玖仟零贰拾捌元壹角整"),
    ("50000", "伍万元整"),
    ("50000.00", "伍万元整"),
    ("99028.1", "玖万玖仟零贰拾捌元壹角整"),
    ("1005", "壹仟零伍元整"),
    ("10010.01", "壹万零壹拾元零壹分"),
    ("20301", "贰万零叁佰零壹元整"),
    ("100000", "壹拾万元整"),
    ("100200300.45", "壹亿零贰拾万零叁佰元肆角伍分"),
    ("0.5", "伍角整"),
    ("0.05", "伍分"),
    ("0", "零元整"),
])
def test_an_amount_in_capitals_as_a_receipt_writes_it(amount, words):
    assert amount_in_words(amount) == words


def test_amounts_typed_and_shown():
    assert [is_amount(t) for t in ("500", "49028.10", "0.01", "0", "0.00", "-1", "1.234", "1e3", "", "1,000")] == \
        [True, True, True, False, False, False, False, False, False, False]
    assert yuan("49028.1") == "¥49,028.10"


def test_five_failures_in_a_row_lock_a_name_for_fifteen_minutes():
    now, limit, lock = datetime(2026, 11, 30, 3, tzinfo=UTC), 5, timedelta(minutes=15)
    attempts = security.Attempts()
    for n in range(1, 5):
        attempts = security.after_failure(attempts, now, limit, lock)
        assert attempts == security.Attempts(n, None) and not security.locked(attempts, now)
    attempts = security.after_failure(attempts, now, limit, lock)
    assert security.locked(attempts, now) and attempts.locked_until == now + lock
    # Failing again while locked does not lengthen the lock; at its end the name may try again, from zero.
    assert security.after_failure(attempts, now + timedelta(minutes=10), limit, lock) == attempts
    assert security.locked(attempts, now + lock - timedelta(seconds=1))
    assert not security.locked(attempts, now + lock)
    assert security.after_failure(attempts, now + lock, limit, lock) == security.Attempts(1, None)


def test_failures_are_counted_by_name_whatever_its_case():
    assert security.name_key("Wang ") == security.name_key("wang") != security.name_key("zhang")


def test_a_csrf_token_is_the_sessions_own():
    key, other = b"k" * 32, b"o" * 32
    token = security.csrf_token(key)
    assert security.csrf_valid(key, token)
    assert not security.csrf_valid(other, token)
    assert not security.csrf_valid(key, security.csrf_token(key, "login"))  # a login token is not a form token
    assert not security.csrf_valid(key, None) and not security.csrf_valid(key, "")
    assert not security.csrf_valid(None, token) and not security.csrf_valid(b"", token)
    assert not security.csrf_valid(key, token[:-1]) and not security.csrf_valid(key, "令牌")


def test_the_session_cookie_round_trips_and_refuses_what_is_not_one():
    cookie = security.SessionCookie.new()
    assert security.SessionCookie.parse(cookie.value()) == cookie
    assert len(cookie.lookup) == 64 and cookie.session_id not in cookie.lookup
    for bad in (None, "", "abc", "x" * 20, f"{cookie.session_id}.short", f"../../{cookie.session_id}.{'A' * 43}",
                f"{cookie.session_id}.{'!' * 43}"):
        assert security.SessionCookie.parse(bad) is None, bad


def test_a_sealed_token_opens_only_with_its_key_and_context():
    key = security.password_key("correct horse battery", b"s" * 16)
    assert key == security.password_key("correct horse battery", b"s" * 16)
    assert key != security.password_key("correct horse battery", b"t" * 16)
    sealed = security.seal(key, "dst_secret", "user:wang")
    assert "dst_secret" not in sealed
    assert security.unseal(key, sealed, "user:wang") == "dst_secret"
    with pytest.raises(security.BrokenSeal):
        security.unseal(security.password_key("wrong password!", b"s" * 16), sealed, "user:wang")
    with pytest.raises(security.BrokenSeal):
        security.unseal(key, sealed, "user:zhang")  # moved to another user's row
    with pytest.raises(security.BrokenSeal):
        security.unseal(key, sealed[:-2] + ("AA" if sealed[-2:] != "AA" else "BB"), "user:wang")


def test_passwords():
    stored = security.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert security.verify_password(stored, "correct horse battery")
    assert not security.verify_password(stored, "Correct horse battery")
    assert not security.verify_password(None, "correct horse battery")
    assert security.password_problem("short") and security.password_problem("a" * 10) is None


def test_only_a_path_of_this_site_is_a_place_to_go_back_to():
    assert safe_next("/cases/1?x=2") == "/cases/1?x=2"
    for bad in (None, "", "cases", "//evil.example/x", "/\\evil.example", "https://evil.example/"):
        assert safe_next(bad) is None


@pytest.mark.parametrize("headers, same", [
    ({}, True),
    ({"Origin": "http://console.test"}, True),
    ({"Origin": "http://console.test", "Sec-Fetch-Site": "same-origin"}, True),
    ({"Origin": "https://evil.example"}, False),
    ({"Origin": "http://console.test.evil.example"}, False),
    ({"Origin": "null"}, False),
    ({"Sec-Fetch-Site": "cross-site"}, False),
    ({"Sec-Fetch-Site": "same-site"}, False),  # a sibling subdomain is another site for the console
])
def test_a_post_from_another_site_is_told_apart(headers, same):
    request = Request(EnvironBuilder(method="POST", base_url="http://console.test", headers=headers).get_environ())
    assert same_site(request) is same


def test_routing_and_intake_words_made_readable():
    assert why("rule property-repair-to-pm matched: matter_code=property-repair (报修由物业承办)") == "报修由物业承办"
    assert why("转办") == "转办" and why(None) == ""
    assert intake_note("channel counter, entered for the resident (代办)") == "经窗口提交，代办"
    assert intake_note("channel online") == "经网上提交"
    assert intake_note("accepted at the counter") == "窗口一口受理"
    assert intake_note("callback dissatisfied: 灯还是不亮") == "回访评价：不满意；居民说：灯还是不亮"
    assert intake_note("callback satisfied") == "回访评价：满意"
    assert intake_note("missing: 户口簿、照片; 请带原件") == "需补正：户口簿、照片；请带原件"
    assert intake_note("已更换灯泡") == "已更换灯泡"


def _contrast(one: str, other: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_consoles_colours_are_readable():
    """Text and its background meet WCAG AA (4.5:1) for every pair the stylesheet uses."""
    css = (Path(__file__).resolve().parents[2] / "console" / "static" / "console.css").read_text("utf-8")
    colour = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))
    pairs = [("text", "card"), ("text", "page"), ("muted", "card"), ("muted", "page"), ("primary", "card"),
             ("primary", "page"), ("bad", "bad-bg"), ("ok", "ok-bg"), ("text", "warn-bg"), ("bad", "card")]
    low = {f"{a} on {b}": round(_contrast(colour[a], colour[b]), 2) for a, b in pairs
           if _contrast(colour[a], colour[b]) < 4.5}
    assert low == {}
    assert _contrast("#ffffff", colour["primary"]) >= 4.5  # a button's text
    assert _contrast("#ffffff", "#12355b") >= 4.5  # the header's
