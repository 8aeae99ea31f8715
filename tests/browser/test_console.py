"""The console in a browser against the real services on RabbitMQ and PostgreSQL: a case from the counter to the
handler to the resident's callback, a donation to its receipt, a book verified — each step by the person whose
job it is, through the pages, checking what they show. Screenshots of every page at desktop and phone width go
to var/screenshots/ (git-ignored)."""
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from console.server import Running
from console.store import migrate
from console.users import create_user
from shared.auth import TokenFile
from shared.db import dispose_engines, utcnow
from support.http import base_url, get
from support.waiting import wait_for
from support_browser import in_browser

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "correct horse battery"
EVENT = {"code": "charity-night-2026", "name": "2026陆家嘴慈善之夜", "held_on": "2026-11-29", "place": "艺仓美术馆"}
STAFF = {  # login name: (role, display name, unit, station)
    "wangfang": ("counter", "王芳", "", "shixin"),
    "zhangjl": ("handler", "张经理", "shixin-pm", ""),
    "likj": ("treasurer", "李会计", "", ""),
    "chensj": ("auditor", "陈审计", "", ""),
}


@pytest.fixture
def console(infra_settings, start_services, pg_admin, request):
    """The four services in this process, and the console served beside them with its own database on the
    same PostgreSQL server and a user for each job; returns (settings, console URL, a treasurer token)."""
    settings, _ = start_services(infra_settings)
    settings = settings.replace(console_db=settings.db_template.format(service="console"))
    migrate(settings.console_db_url)
    tokens = TokenFile(settings.tokens_file)
    for name, (role, display, unit, station) in STAFF.items():
        create_user_now(settings, tokens, name, role, display, unit, station)
    running = Running(settings)
    yield settings, running.url, tokens.create("treasurer", label="test")[0]
    running.stop()
    dispose_engines()
    if not request.config.getoption("--keep-infra"):
        with pg_admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{settings.console_db_url.rsplit("/", 1)[1]}" WITH (FORCE)')


def create_user_now(settings, tokens, name, role, display, unit, station):
    from console.store import Store

    create_user(Store(settings.console_db_url), tokens, name, role, PASSWORD, display_name=display, unit=unit,
                station=station, now=utcnow())


def _step(action, url, name, **kwargs):
    result, requested = in_browser(f"browser.console_steps:{action}", url=url, name=name, password=PASSWORD,
                                   shots=str(SHOTS), **kwargs)
    assert {urlparse(r).hostname for r in requested} == {"127.0.0.1"}, requested  # no CDN, no fonts from afar
    assert result.pop("errors") == [], f"{action}: the page reported errors"  # e.g. a script the CSP refused
    return result


def test_a_case_a_donation_and_a_book_through_the_console(console):
    settings, url, treasurer_token = console
    admin = TokenFile(settings.tokens_file).create("admin", label="test")[0]

    submitted = _step("counter_submits", url, "wangfang")
    case_id = submitted["case_id"]
    # The directory: a property repair in 市新居民区 goes to its property company (rule property-repair-to-pm).
    assert "承办单位：市新居民区物业" in submitted["decision"]
    assert "派单依据：报修由物业承办" in submitted["decision"]
    assert "市新居民区" in submitted["summary"] and "代办" in submitted["summary"]
    assert "2026年" in submitted["timeline"] and "通知居民" in submitted["timeline"]
    case = get(settings, "intake", f"/intake/cases/{case_id}", admin).json()
    assert (case["status"], case["lead_unit"], case["proxy"], case["area"]) == ("routed", "shixin-pm", True, "shixin")
    assert case["entered_by"] == "counter"  # the user's own token: the services checked its role

    _step("handler_works", url, "zhangjl")
    # The callback is made once the case is done (intake hears it from routing a moment after the report).
    wait_for(lambda: get(settings, "intake", f"/intake/cases/{case_id}", admin).json()["status"] == "resolved",
             timeout=20, message="the case resolved at intake")

    called = _step("callback_dissatisfied", url, "wangfang", case_id=case_id)
    assert "回访评价：不满意" in called["timeline"]
    decision = get(settings, "routing", f"/routing/cases/{case_id}/decision", admin).json()
    assert decision["warning"] is True and decision["lead_unit"] == "shixin-pm"

    created = requests.post(f"{base_url(settings, 'funds')}/funds/events", json=EVENT, timeout=10,
                            headers={"Authorization": f"Bearer {treasurer_token}"})
    assert created.status_code == 201, created.text
    receipt = _step("treasurer_records", url, "likj", event_name=EVENT["name"])
    assert receipt["number"].startswith(f"{utcnow().year}-") or receipt["number"][:4].isdigit()
    assert "人民币伍万元整" in receipt["receipt"] and "经办人：李会计" in receipt["receipt"]

    verified = _step("auditor_verifies", url, "chensj")
    book = get(settings, "funds", "/funds/books/foundation/verification", admin).json()
    assert book["ok"] is True
    assert (verified["sequence"], verified["hash"]) == (str(book["head"]["sequence"]), book["head"]["hash"])
    for page in ("login", "counter", "matter-form", "case-routed", "handler", "callback", "case-warning", "treasurer",
                 "receipt", "auditor"):
        for width in ("desktop", "phone"):
            assert (SHOTS / f"console-{page}-{width}.png").stat().st_size > 10_000
