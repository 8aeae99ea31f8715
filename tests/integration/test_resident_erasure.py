"""A resident's right to erasure over RabbitMQ and PostgreSQL, all four services running: two residents whose
names, phones and ID numbers have spread through intake, routing and notify (a case routed to a unit and
resolved, a callback, a rejected case, messages delivered, contacts and preferences registered) are erased, one
through the API and one with ``doorstep residents erase``; afterwards no row of any table of any of the four
databases, outbox and inbox bodies included, holds any of them in clear."""
import hashlib
import json

import requests
import sqlalchemy as sa
from click.testing import CliRunner

from doorstep.cli import main
from shared.auth import TokenFile
from shared.config import SERVICES
from shared.db import engine_for
from shared.personal_data import REDACTED
from support.http import base_url, get
from support.waiting import count_rows, wait_for

ERASED = "doorstep.intake.resident.erased.v1"


def id_card(first17: str) -> str:
    """An ID-card number with its GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


HE = {"name": "贺秀英", "phone": "13912340021", "id_card": id_card("31011519570412304"),
      "area": "shixin", "building": "12", "room": "301"}
TAO = {"name": "陶建国", "phone": "13612349876", "id_card": id_card("31011519620809511"), "area": "shixin"}


def needles(person: dict) -> list[str]:
    """Every form in which the person could be found in clear: name (also as JSON escapes it), phone, ID number
    and the ID number's hash (as good as the number: the numbers are few enough to try them all)."""
    return [person["name"], json.dumps(person["name"])[1:-1], person["phone"], person["id_card"],
            hashlib.sha256(person["id_card"].encode()).hexdigest()]


def found_in_clear(settings, people) -> dict[str, list[str]]:
    """Every table of the four databases, each row as PostgreSQL writes it as text (every column, JSON and
    outbox and inbox bodies included): service.table → the needles it holds."""
    found = {}
    for service in SERVICES:
        with engine_for(settings.db_url(service)).connect() as conn:
            tables = conn.execute(sa.text("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")).scalars()
            for table in sorted(tables):
                text = "\n".join(conn.execute(sa.text(f'SELECT t::text FROM "{table}" AS t')).scalars())
                hits = [needle for person in people for needle in needles(person) if needle in text]
                if hits:
                    found[f"{service}.{table}"] = hits
    return found


class Street:
    def __init__(self, settings):
        self.settings = settings
        tokens = TokenFile(settings.tokens_file)
        self.tokens = {role: tokens.create(role, label=label)[0] for role, label in
                       (("counter", "station"), ("handler", "unit:shixin-pm"), ("admin", "ops"))}

    def call(self, method, service, path, role="counter", body=None):
        return requests.request(method, base_url(self.settings, service) + path, json=body, timeout=10,
                                headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def case(self, case_id):
        return get(self.settings, "intake", f"/intake/cases/{case_id}", self.tokens["counter"]).json()

    def deliveries(self, case_id):
        return get(self.settings, "notify", f"/notify/deliveries?case_id={case_id}", self.tokens["counter"]).json()

    def sent(self, case_id, template):
        return any(d["template"] == template and d["status"] == "sent" for d in self.deliveries(case_id))

    def reachable_on_file(self, resident_id, person):
        """The resident's phone registered for SMS, file first (reachable in a test), an area subscription."""
        recipient = f"resident:{resident_id}"
        assert self.call("PUT", "notify", f"/notify/recipients/{recipient}/contacts",
                         body={"contacts": {"sms": person["phone"]}}).status_code == 200
        assert self.call("PUT", "notify", f"/notify/recipients/{recipient}/preferences",
                         body={"channels": ["file", "sms"]}).status_code == 200
        assert self.call("PUT", "notify", f"/notify/topics/area:shixin/subscribers/{recipient}").status_code == 201


def test_an_erased_resident_is_left_in_clear_in_no_table_of_any_service(infra_settings, start_services):
    settings, _ = start_services(infra_settings)
    street = Street(settings)

    # 贺秀英 at the counter: accepted at once, routed to the property company of 市新居民区.
    submitted = street.call("POST", "intake", "/intake/cases", body={
        "matter_code": "property-repair", "kind": "request", "urgency": "normal", "resident": HE,
        "description": f"{HE['name']}家楼道灯不亮，电话{HE['phone']}，身份证{HE['id_card']}", "reporter": HE["name"]})
    assert submitted.status_code == 201, submitted.text
    he_case = submitted.json()["id"]
    routed = wait_for(lambda: (c := street.case(he_case))["status"] == "routed" and c, message="routed")
    he_id = routed["resident_id"]
    street.reachable_on_file(he_id, HE)

    # While the property company works on it, she cannot be erased: those handling it need her details.
    refused = street.call("POST", "intake", f"/intake/residents/{he_id}/erase", role="admin")
    assert refused.status_code == 409 and he_case in refused.json()["detail"]
    assert HE["phone"] not in refused.text
    assert street.call("POST", "intake", f"/intake/residents/{he_id}/erase").status_code == 403  # admin only

    # The unit signs, answers naming her; she is told, and says at callback that she is satisfied.
    decision = street.call("GET", "routing", f"/routing/cases/{he_case}/decision").json()
    lead = next(a for a in decision["assignments"] if a["role"] == "lead")["id"]
    assert street.call("POST", "routing", f"/routing/assignments/{lead}/sign", role="handler").status_code == 200
    reported = street.call("POST", "routing", f"/routing/assignments/{lead}/report", role="handler",
                           body={"answer": f"已为{HE['name']}更换楼道灯，回访电话{HE['phone']}"})
    assert reported.json()["case_status"] == "resolved", reported.text
    wait_for(lambda: street.case(he_case)["status"] == "resolved" and street.sent(he_case, "case-resolved-resident"),
             message="resolved at intake and the resident told")
    called = street.call("POST", "intake", f"/intake/cases/{he_case}/callback",
                         body={"rating": "satisfied", "comment": f"{HE['name']}说修得很快"})
    assert called.json()["status"] == "called_back", called.text

    # 陶建国 online: the station does not accept the case, and tells him why, by name.
    submitted = street.call("POST", "intake", "/intake/cases", body={
        "matter_code": "property-repair", "channel": "online", "kind": "request", "urgency": "normal",
        "resident": TAO, "description": f"我是{TAO['name']}，电话{TAO['phone']}"})
    tao_case = submitted.json()["id"]
    tao_id = street.case(tao_case)["resident_id"]
    street.reachable_on_file(tao_id, TAO)
    assert street.call("POST", "intake", f"/intake/cases/{tao_case}/reject",
                       body={"reason": f"请{TAO['name']}本人携带户口本到服务站办理"}).status_code == 200
    wait_for(lambda: street.sent(tao_case, "case-rejected-resident"), message="the rejection delivered")

    # Before: both are found in clear in each service that holds them — the scan sees what it looks for.
    before = found_in_clear(settings, [HE, TAO])
    assert {"intake.residents", "intake.cases", "intake.case_history", "routing.assignments",
            "routing.routing_cases", "routing.outbox", "notify.contacts", "notify.deliveries"} <= set(before), before

    # 贺秀英 through the API, 陶建国 with the command line against the database.
    erased = street.call("POST", "intake", f"/intake/residents/{he_id}/erase", role="admin")
    assert erased.status_code == 200, erased.text
    assert erased.json()["case_ids"] == [he_case] and erased.json()["pseudonym"].startswith("已删除居民-")
    result = CliRunner().invoke(main, ["residents", "erase", tao_id, "--db", settings.db_template])
    assert result.exit_code == 0, result.output
    assert f"resident {tao_id} erased" in result.output and "1 case(s) redacted" in result.output
    # Asked again: the same answer, and no second event.
    again = street.call("POST", "intake", f"/intake/residents/{he_id}/erase", role="admin")
    assert again.status_code == 200 and again.json()["erased_at"] == erased.json()["erased_at"]

    # Routing and notify each handle both erasures (the effect commits with the inbox row).
    for service in ("routing", "notify"):
        wait_for(lambda: count_rows(settings, service, "inbox", f"event_type = '{ERASED}'") == 2,
                 message=f"{service} handled both erasures")
    assert count_rows(settings, "intake", "outbox", f"type = '{ERASED}'") == 2

    # After: nobody in clear, anywhere.
    assert found_in_clear(settings, [HE, TAO]) == {}

    # What stays: the cases with their facts, the history's steps, the unit's work; the words are gone.
    he = street.case(he_case)
    assert (he["status"], he["lead_unit"], he["rating"], he["resident_id"]) == ("called_back", "shixin-pm",
                                                                               "satisfied", he_id)
    assert he["description"] == he["answer"] == he["reporter"] == REDACTED
    assert [h["status"] for h in he["history"]] == ["submitted", "accepted", "routed", "in_progress", "resolved",
                                                    "called_back"]
    assert he["history"][2]["note"] == "assigned to 市新居民区物业 (shixin-pm)"
    assert street.case(tao_case)["reason"] == REDACTED
    with engine_for(settings.db_url("intake")).connect() as conn:
        rows = conn.execute(sa.text("SELECT name, phone, building, room, id_card_masked, id_card_hash, area, "
                                    "erased_at FROM residents ORDER BY created_at")).all()
    assert [row[:7] for row in rows] == [(f"已删除居民-{he_id[:8]}", None, "", "", None, None, "shixin"),
                                         (f"已删除居民-{tao_id[:8]}", None, "", "", None, None, "shixin")]
    decision = street.call("GET", "routing", f"/routing/cases/{he_case}/decision").json()
    assert decision["rule"] == "property-repair-to-pm" and decision["answer"] == REDACTED
    assert decision["assignments"][0]["result"] == REDACTED and decision["assignments"][0]["status"] == "done"
    deliveries = street.deliveries(he_case)
    assert {d["template"] for d in deliveries} == {"case-routed-resident", "case-routed-unit",
                                                   "case-resolved-resident"}
    assert all(d["body"] == REDACTED and d["status"] == "sent" and d["redacted_at"] for d in deliveries)
    for recipient in (f"resident:{he_id}", f"resident:{tao_id}"):
        assert street.call("GET", "notify", f"/notify/recipients/{recipient}/contacts").json()["contacts"] == {}
    # A callback would record her words again: refused.
    assert street.call("POST", "intake", f"/intake/cases/{he_case}/callback",
                       body={"rating": "neutral", "comment": "again"}).status_code == 409
