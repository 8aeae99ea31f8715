"""A resident's right to erasure over RabbitMQ and PostgreSQL, all four services running: two residents whose
names, phones and ID numbers have spread through intake, routing and notify (a case routed to a unit and
resolved, a callback, a rejected case, messages delivered, contacts and preferences registered) are erased, one
through the API and one with ``doorstep residents erase``; afterwards no row of any table of any of the four
databases, outbox and inbox bodies included, holds any of them in clear."""
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from doorstep.cli import main
from shared.auth import TokenFile
from shared.db import engine_for
from shared.personal_data import REDACTED
from support.http import base_url, get
from support.scan import found_in_clear, id_card
from support.waiting import count_rows, wait_for

ERASED = "doorstep.intake.resident.erased.v1"


HE = {"name": "贺秀英", "phone": "13912340021", "id_card": id_card("31011519570412304"),
      "area": "shixin", "building": "12", "room": "301"}
TAO = {"name": "陶建国", "phone": "13612349876", "id_card": id_card("31011519620809511"), "area": "shixin"}


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

    def all_sent(self, case_id, templates):
        """The case's deliveries, once there is one per template and all are sent."""
        found = self.deliveries(case_id)
        done = sorted(d["template"] for d in found) == sorted(templates) and all(d["status"] == "sent" for d in found)
        return done and found

    def reachable_on_file(self, resident_id, person):
        """The resident's phone registered for SMS, file first (reachable in a test), an area subscription. The
        preference comes first: a message recorded in between then still goes to the file."""
        recipient = f"resident:{resident_id}"
        assert self.call("PUT", "notify", f"/notify/recipients/{recipient}/preferences",
                         body={"channels": ["file", "sms"]}).status_code == 200
        assert self.call("PUT", "notify", f"/notify/recipients/{recipient}/contacts",
                         body={"contacts": {"sms": person["phone"]}}).status_code == 200
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
    he_told = ["case-routed-resident", "case-routed-unit", "case-resolved-resident"]
    wait_for(lambda: street.case(he_case)["status"] == "resolved" and street.all_sent(he_case, he_told),
             message="resolved at intake, and the resident and the unit told")
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
    wait_for(lambda: street.all_sent(tao_case, ["case-rejected-resident"]), message="the rejection delivered")

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
    assert sorted(d["template"] for d in deliveries) == sorted(he_told)
    assert all(d["body"] == REDACTED and d["status"] == "sent" and d["redacted_at"] for d in deliveries)
    for recipient in (f"resident:{he_id}", f"resident:{tao_id}"):
        assert street.call("GET", "notify", f"/notify/recipients/{recipient}/contacts").json()["contacts"] == {}
    # A callback would record her words again: refused.
    assert street.call("POST", "intake", f"/intake/cases/{he_case}/callback",
                       body={"rating": "neutral", "comment": "again"}).status_code == 409
