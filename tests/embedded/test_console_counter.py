"""The counter's form against intake and routing running embedded: the materials checklist holds a matter back
until everything is there (told in one go), and intake's reasons for a wrong field come back beside that field,
in Chinese, without a case being made."""
import re

import pytest
from werkzeug.test import Client

from console.app import Console
from console.store import Store, migrate
from console.users import create_user
from shared.auth import TokenFile
from shared.db import utcnow
from support.http import get

HOST = "http://console.test"
PASSWORD = "correct horse battery"
MATTER = "social-insurance-card-apply"  # 社会保障卡申领: 居民身份证 and 近期证件照


@pytest.fixture
def counter(embedded_settings, start_services):
    settings, _ = start_services(embedded_settings, ["intake", "routing"])
    migrate(settings.console_db_url)
    create_user(Store(settings.console_db_url), TokenFile(settings.tokens_file), "wangfang", "counter", PASSWORD,
                station="shixin", now=utcnow())
    browser = Client(Console(settings))
    page = browser.get("/login", base_url=HOST).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    browser.post("/login", base_url=HOST, data={"name": "wangfang", "password": PASSWORD, "csrf_token": token})
    return settings, browser


def _form(browser) -> tuple[str, str]:
    page = browser.get(f"/counter/matters/{MATTER}", base_url=HOST).get_data(as_text=True)
    return page, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_form_holds_a_matter_back_until_its_materials_are_there(counter):
    settings, browser = counter
    page, csrf = _form(browser)
    assert "社会保障卡申领" in page and "近期证件照" in page
    assert '<option value="shixin" selected>市新居民区</option>' in page  # the worker's station's area
    resident = {"resident.name": "王阿姨", "resident.phone": "13812345678", "resident.area": "shixin"}

    held = browser.post(f"/counter/matters/{MATTER}", base_url=HOST,
                        data={"csrf_token": csrf, **resident, "materials": ["居民身份证"]})
    text = held.get_data(as_text=True)
    assert held.status_code == 400 and "材料未齐：近期证件照" in text and "一次性告知" in text
    assert 'value="王阿姨"' in text  # what was typed stays

    wrong = browser.post(f"/counter/matters/{MATTER}", base_url=HOST, data={
        "csrf_token": csrf, **resident, "resident.phone": "1381234", "materials": ["居民身份证", "近期证件照"]})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400
    # intake's reason, in Chinese, tied to the phone field; the number is not echoed
    assert re.search(r'<p class="field-error" id="f-resident-phone-error">[^<]*手机号[^<]*</p>', text), text
    assert 'aria-describedby="f-resident-phone-hint f-resident-phone-error" aria-invalid="true"' in text
    admin = TokenFile(settings.tokens_file).create("admin", label="test")[0]
    assert get(settings, "intake", "/intake/cases", admin).json()["total"] == 0

    done = browser.post(f"/counter/matters/{MATTER}", base_url=HOST,
                        data={"csrf_token": csrf, **resident, "materials": ["居民身份证", "近期证件照"]})
    assert done.status_code == 303 and re.match(r"^/cases/[0-9a-f-]{36}\?notice=submitted$", done.headers["Location"])
    assert get(settings, "intake", "/intake/cases", admin).json()["total"] == 1
