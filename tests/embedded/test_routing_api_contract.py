"""Routing's HTTP contract on the embedded system: every endpoint answers what its model documents (the services
run with answers checked), badly typed input is a 400 naming the field — never a 500 — and a refused request
writes nothing."""
import json
import uuid

import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy.orm import sessionmaker

from shared.db import engine_for
from shared.events import new_event
from services.routing.domain.directory import default_directory
from services.routing.handlers.cases import route_case
from services.routing.persistence import RoutingUnitOfWork
from support import strategies

TABLES = ("assignments", "routing_cases", "case_log", "outbox")


class Routing:
    """The running routing service, seen by an admin (who acts for every unit)."""

    def __init__(self, settings, token):
        self.settings, self.base = settings, f"http://127.0.0.1:{settings.port('routing')}"
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, body=None, raw=None):
        headers = dict(self.headers)
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return requests.request(method, self.base + path, data=data, headers=headers, timeout=10)

    def route(self, **facts) -> str:
        """A case accepted at intake and routed here, as routing's consumer does it; its case id."""
        data = {"case_id": str(uuid.uuid4()), "matter_code": "property-repair", "category": "property",
                "handling": "routed", "channel": "counter", "kind": "request", "urgency": "normal", "area": "shixin",
                "resident": {"resident_id": str(uuid.uuid4()), "phone_masked": "138****5678"},
                "accepted_at": "2026-11-23T08:00:00+00:00", **facts}
        event = new_event("doorstep.intake.case.accepted.v1", street=self.settings.street,
                          subject=f"case/{data['case_id']}", data=data)
        uow = RoutingUnitOfWork(sessionmaker(engine_for(self.settings.db_url("routing")), expire_on_commit=False),
                                self.settings.street)
        route_case(event, uow, default_directory())
        return data["case_id"]

    def assignments(self, case_id) -> list[dict]:
        answer = self.call("GET", f"/routing/cases/{case_id}/decision")
        assert answer.status_code == 200, answer.text
        return answer.json()["assignments"]

    def rows(self) -> dict:
        with engine_for(self.settings.db_url("routing")).connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}


@pytest.fixture
def routing(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["routing"])
    return Routing(settings, counter_token(settings, "admin"))


def refused(answer, status=400):
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    return answer.json()


def named(answer) -> str:
    return refused(answer)["invalid_params"][0]["name"]


def test_badly_typed_input_that_was_a_500_is_a_400_naming_the_field(routing):
    case_id = routing.route()
    lead = routing.assignments(case_id)[0]["id"]
    before = routing.rows()

    assert named(routing.call("POST", f"/routing/assignments/{lead}/transfer", {"to_unit": {}, "reason": "r"})) \
        == "to_unit"
    assert named(routing.call("POST", f"/routing/assignments/{lead}/report", {"answer": True})) == "answer"
    assert named(routing.call("POST", f"/routing/assignments/{lead}/return", {"reason_code": []})) == "reason_code"
    assert named(routing.call("POST", f"/routing/assignments/{lead}/extension",
                              {"working_days": 2, "reason": 1})) == "reason"
    assert named(routing.call("POST", f"/routing/cases/{case_id}/arbitrate",
                              {"unit": "shixin-rc", "decision": 1})) == "decision"
    scores = refused(routing.call("GET", "/routing/units/shixin-pm/scores?from=0001-01-01&to=9999-12-31"))
    assert scores["invalid_params"][0]["name"] == "from"
    assert {p["name"] for p in scores["invalid_params"]} == {"from", "to"}
    assert routing.rows() == before


def test_each_field_is_checked_by_its_rule_and_named_without_its_value(routing):
    case_id = routing.route()
    lead = routing.assignments(case_id)[0]["id"]
    post = lambda action, body: routing.call("POST", f"/routing/assignments/{lead}/{action}", body)  # noqa: E731
    before = routing.rows()

    assert named(post("report", {"answer": "   "})) == "answer"
    assert named(post("report", {"answer": "修好了\x00"})) == "answer"
    assert named(routing.call("POST", f"/routing/assignments/{lead}/report",
                              raw='{"answer": "\\ud800"}')) == "answer"
    assert named(post("report", {"answer": "x" * 2001})) == "answer"
    assert named(post("report", {"answer": "修好了", "answerr": "x"})) == "answerr"
    assert named(post("report", ["修好了"])) == "(body)"
    assert named(post("transfer", {"to_unit": "shixin-oc", "reason": " "})) == "reason"
    assert named(post("transfer", {"to_unit": "Shixin OC", "reason": "业委会事项"})) == "to_unit"
    assert named(post("return", {"reason_code": "not-ours"})) == "reason_code"
    assert named(post("return", {"reason_code": "wrong-area", "note": 3})) == "note"
    for days in (0, 31, "2", 2.5, True, None):
        assert named(post("extension", {"working_days": days, "reason": "等配件"})) == "working_days", days
    for approve in ("yes", 1, None):
        assert named(post("extension/decision", {"approve": approve})) == "approve", approve
    assert named(routing.call("GET", "/routing/units/shixin-pm/assignments?state=someday")) == "state"
    assert named(routing.call("GET", "/routing/units/shixin-pm/assignments?per_page=101")) == "per_page"
    assert named(routing.call("GET", "/routing/units/shixin-pm/assignments?page=x")) == "page"
    assert named(routing.call("GET", "/routing/units/shixin-pm/assignments?sort=due")) == "sort"
    # A filter a form left empty is a filter not given.
    assert routing.call("GET", "/routing/units/shixin-pm/assignments?role=&area=&page=&per_page=").json()[
        "per_page"] == 20
    assert named(routing.call("GET", "/routing/units/shixin-pm/scores?from=2026-11-02&to=2026-11-01")) == "to"
    assert named(routing.call("GET", "/routing/units/shixin-pm/scores?from=2026-11-01")) == "to"
    # The rejected value is never echoed: it may be somebody's phone number.
    assert "13812345678" not in post("report", {"answer": 13812345678}).text
    assert routing.rows() == before


def test_what_the_street_does_not_have_is_named_too(routing):
    case_id = routing.route()
    lead = routing.assignments(case_id)[0]["id"]
    # A unit of no street: the field that names it. An id or unit in the path that is not there: 404.
    assert named(routing.call("POST", f"/routing/assignments/{lead}/transfer",
                              {"to_unit": "nowhere-pm", "reason": "不是我们的"})) == "to_unit"
    assert named(routing.call("POST", f"/routing/assignments/{lead}/transfer",
                              {"to_unit": "shixin-pm", "reason": "还是物业"})) == "to_unit"
    refused(routing.call("GET", "/routing/units/nowhere-pm/assignments"), 404)
    refused(routing.call("GET", "/routing/units/nowhere-pm/scores?from=2026-11-01&to=2026-11-02"), 404)
    refused(routing.call("POST", f"/routing/assignments/{uuid.uuid4()}/sign"), 404)
    refused(routing.call("POST", "/routing/assignments/not-an-id/sign"), 404)
    refused(routing.call("POST", "/routing/assignments/%00/sign"), 404)
    refused(routing.call("GET", f"/routing/cases/{uuid.uuid4()}/decision"), 404)
    # A state the assignment is not in: 409.
    refused(routing.call("POST", f"/routing/assignments/{lead}/contact"), 409)


def test_every_endpoint_answers_its_documented_model(routing):
    """Each answer is checked against its model by the service itself (a mismatch would be a 500)."""
    leak = routing.route(matter_code="water-leak-repair")
    lead, assist = (a["id"] for a in routing.assignments(leak))
    ok = lambda answer: answer.json() if answer.status_code == 200 else pytest.fail(answer.text)  # noqa: E731

    directory = ok(routing.call("GET", "/routing/units"))
    assert directory["areas"]["meiyuan"]["has_owners_committee"] is False
    assert ok(routing.call("POST", f"/routing/assignments/{lead}/sign"))["status"] == "signed"
    assert ok(routing.call("POST", f"/routing/assignments/{lead}/contact"))["status"] == "in_progress"
    asked = ok(routing.call("POST", f"/routing/assignments/{lead}/extension", {"working_days": 2, "reason": "等配件"}))
    assert asked["approver"] == "housing-office" and asked["assignment"]["extension_days"] == 2
    decided = ok(routing.call("POST", f"/routing/assignments/{lead}/extension/decision", {"approve": True}))
    assert decided["approved"] is True and decided["assignment"]["extensions"] == 1
    reported = ok(routing.call("POST", f"/routing/assignments/{lead}/report", {"answer": " 已更换水管 "}))
    assert reported["case_status"] == "open" and reported["assignment"]["result"] == "已更换水管"
    ok(routing.call("POST", f"/routing/assignments/{assist}/sign"))
    resolved = ok(routing.call("POST", f"/routing/assignments/{assist}/report", {"answer": "已协调"}))
    assert resolved["case_status"] == "resolved" and resolved["answer"].startswith("已更换水管")
    worklist = ok(routing.call("GET", "/routing/units/shixin-pm/assignments?state=closed&role=lead&area=shixin"))
    assert worklist["total"] == 1 and worklist["items"][0]["id"] == lead
    scores = ok(routing.call("GET", "/routing/units/shixin-pm/scores?from=2000-01-01&to=2199-12-31"))
    assert scores["assignments"] == 1 and scores["resolution_rate"] == 1.0

    repair = routing.route()
    first = routing.assignments(repair)[0]["id"]
    moved = ok(routing.call("POST", f"/routing/assignments/{first}/transfer",
                            {"to_unit": "shixin-oc", "reason": "业委会事项"}))
    assert moved["outcome"] == "transferred" and moved["assignment"]["unit_code"] == "shixin-oc"
    returned = ok(routing.call("POST", f"/routing/assignments/{moved['assignment']['id']}/return",
                               {"reason_code": "wrong-area"}))
    assert returned == {"case_id": repair, "status": "arbitration", "arbitration_unit": "ops-centre"}
    waiting = ok(routing.call("GET", "/routing/units/ops-centre/assignments?state=arbitration"))
    assert [a["case_id"] for a in waiting["items"]] == [repair]
    arbitrated = ok(routing.call("POST", f"/routing/cases/{repair}/arbitrate",
                                 {"unit": "meiyuan-rc", "decision": "楼栋属梅园"}))
    assert arbitrated["assignment"]["unit_code"] == "meiyuan-rc"
    decision = ok(routing.call("GET", f"/routing/cases/{repair}/decision"))
    assert [h["action"] for h in decision["history"]] == ["transfer", "return", "arbitration"]
    assert decision["history"][1]["reason_code"] == "wrong-area" and decision["history"][1]["note"] == ""


# Text that breaks naive code (NUL, lone surrogates, a phone number, very long), and any JSON value.
awkward_text = strategies.awkward_text("shixin-oc", "wrong-area")
json_values = strategies.json_values(awkward_text, max_leaves=6)
BODIES = {
    "report": {"answer": awkward_text},
    "transfer": {"to_unit": st.sampled_from(["shixin-oc", "shixin-pm", "nowhere"]), "reason": awkward_text},
    "return": {"reason_code": st.sampled_from(["wrong-area", "not-ours"]), "note": awkward_text},
    "extension": {"working_days": st.integers(-2, 40), "reason": awkward_text},
    "extension/decision": {"approve": st.booleans()},
}


def _body(action):
    fields = {name: st.one_of(value, json_values) for name, value in BODIES[action].items()}
    return st.one_of(json_values, st.fixed_dictionaries({}, optional={**fields, "extra": json_values}))


def test_any_body_gets_an_answer_or_a_problem_and_a_refused_one_writes_nothing(routing):
    case_id = routing.route()
    lead = routing.assignments(case_id)[0]["id"]

    @hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(BODIES)).flatmap(lambda action: st.tuples(st.just(action), _body(action))))
    def act(action_and_body):
        action, body = action_and_body
        before = routing.rows()
        answer = routing.call("POST", f"/routing/assignments/{lead}/{action}", raw=json.dumps(body))
        assert answer.status_code < 500, answer.text
        if answer.status_code >= 400:
            problem = refused(answer, answer.status_code)
            assert problem["status"] == answer.status_code
            if answer.status_code == 400:
                assert problem["invalid_params"][0]["name"]
            assert routing.rows() == before, "a refused request wrote something"

    act()


def test_any_query_gets_an_answer_or_a_problem(routing):
    routing.route()
    # A URL carries UTF-8: no lone surrogates here (the bodies' test sends them).
    text = st.one_of(st.text(st.characters(codec="utf-8"), max_size=20), st.sampled_from(["", "\x00", "x" * 300]))
    params = st.dictionaries(st.sampled_from(["state", "role", "area", "page", "per_page", "from", "to", "x"]),
                             st.one_of(text, st.dates().map(str), st.integers().map(str)), max_size=4)

    @hypothesis_settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["assignments", "scores"]), params)
    def read(what, query):
        answer = requests.get(f"{routing.base}/routing/units/shixin-pm/{what}", params=query,
                              headers=routing.headers, timeout=10)
        assert answer.status_code in (200, 400), answer.text
        if answer.status_code == 400:
            assert refused(answer)["invalid_params"][0]["name"] in {*query, "from", "to"}

    read()
