"""Phone and ID numbers typed into free text do not leave intake unmasked, however they are written: not in
the public Open311 request list (no token needed to read it), not in any event; and an erased resident is in no
table of the embedded system."""
import json
import re

import requests

from shared.auth import TokenFile
from shared.db import engine_for
from support.http import base_url, get, submit_case
from support.scan import found_in_clear, id_card
from support.waiting import count_rows, wait_for

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


def test_an_erased_resident_is_left_in_clear_in_no_table_of_the_embedded_system(embedded_settings, start_services):
    settings, _ = start_services(embedded_settings)
    tokens = TokenFile(settings.tokens_file)
    counter, admin = tokens.create("counter", label="station")[0], tokens.create("admin", label="ops")[0]
    person = {"name": "梁桂芳", "phone": "13712345670", "id_card": id_card("31011519480203052"), "area": "shixin"}
    url = base_url(settings, "intake")

    # Online, refused by name; she is told by notify, which keeps her phone for SMS (the file channel first).
    submitted = submit_case(settings, counter, channel="online", resident=person,
                            description=f"{person['name']}，身份证{person['id_card']}")
    case_id = submitted.json()["id"]
    resident_id = get(settings, "intake", f"/intake/cases/{case_id}", counter).json()["resident_id"]
    recipient = f"{base_url(settings, 'notify')}/notify/recipients/resident:{resident_id}"
    for path, body in (("preferences", {"channels": ["file"]}), ("contacts", {"contacts": {"sms": person["phone"]}})):
        assert requests.put(f"{recipient}/{path}", json=body, headers={"Authorization": f"Bearer {counter}"},
                            timeout=10).status_code == 200
    assert requests.post(f"{url}/intake/cases/{case_id}/reject", json={"reason": f"请{person['name']}本人来"},
                         headers={"Authorization": f"Bearer {counter}"}, timeout=10).status_code == 200
    wait_for(lambda: count_rows(settings, "notify", "deliveries", "status = 'sent'") == 1, message="told")
    assert {"intake.residents", "intake.cases", "notify.contacts", "notify.deliveries"} <= set(
        found_in_clear(settings, [person]))

    erased = requests.post(f"{url}/intake/residents/{resident_id}/erase", headers={"Authorization": f"Bearer {admin}"},
                           timeout=10)
    assert erased.status_code == 200 and erased.json()["case_ids"] == [case_id]
    for service in ("routing", "notify"):
        wait_for(lambda: count_rows(settings, service, "inbox",
                                    "event_type = 'doorstep.intake.resident.erased.v1'") == 1,
                 message=f"{service} handled the erasure")
    assert found_in_clear(settings, [person]) == {}
