"""Phone and ID numbers typed into free text do not leave intake unmasked, however they are written: not in
the public Open311 request list (no token needed to read it), not in any event."""
import json
import re

import requests

from support.http import base_url, submit_case
from support.waiting import count_rows
from shared.db import engine_for

FORMS = ["13812345678", "138 1234 5678", "138-1234-5678", "+8613812345678", "0086 138 1234 5678",
         "１３８１２３４５６７８", "13812345678x", "138.1234.5678", "电话13812345678请回电",
         "身份证310115199001011234", "310115 19900101 1234", "3101 1519 9001 0112 34", "身份证110105491231002",
         "(021)58881234", "021-5888 1234"]


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))


RAW = {"13812345678", "310115199001011234", "110105491231002", "58881234"}


def test_free_text_never_leaves_unmasked(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["intake"])
    token = counter_token(settings)
    auth = {"Authorization": f"Bearer {token}"}
    url = base_url(settings, "intake")
    for form in FORMS:
        answer = submit_case(settings, token, description=f"楼道灯不亮，{form}", channel="online")
        assert answer.status_code == 201, answer.text
        case_id = answer.json()["id"]
        rejected = requests.post(f"{url}/intake/cases/{case_id}/reject", json={"reason": f"请联系 {form}"},
                                 headers=auth, timeout=10)
        assert rejected.status_code == 200, rejected.text
    public = requests.get(f"{url}/open311/v2/requests.json?status=open,closed", timeout=10)
    assert public.status_code == 200 and len(public.json()) == len(FORMS)
    for request in public.json():
        assert not any(raw in _digits(request["description"]) for raw in RAW), request["description"]
    assert count_rows(settings, "intake", "outbox") > 0
    with engine_for(settings.db_url("intake")).connect() as conn:
        bodies = [row[0] for row in conn.exec_driver_sql("SELECT body FROM outbox")]
    for body in bodies:
        for value in _strings(json.loads(body)["data"]):
            assert not any(raw in _digits(value) for raw in RAW), value


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
