"""承办: a unit's handler works through the unit's worklist — signs for a case (签收), records the first contact
with the resident (先行联系) and reports the result (办结). Built for a phone as much as for a desk."""
from __future__ import annotations

import eventlet

from console.apis import ApiProblem
from console.web import Visit, page

HANDLERS = ("handler",)
STATES = {"open": "待办", "overdue": "已超期", "closed": "已办结"}
NOTICES = {"sign": "已签收。", "contact": "已记录先行联系。", "report": "已上报办结。"}


def _unit(visit: Visit) -> str | None:
    return visit.user.unit or None


@page("/handler", roles=HANDLERS)
def worklist(visit: Visit, errors=None, status: int = 200, message: str = ""):
    unit = _unit(visit)
    if unit is None:
        return visit.render("error.html", 403, title="未指定单位", status=403,
                            detail="这个账号没有指定承办单位，请联系管理员（doorstep user create … --unit）。")
    state = visit.request.args.get("state", "open")
    state = state if state in STATES else "open"
    listed = visit.services.get("routing", f"/routing/units/{unit}/assignments", state=state, per_page=50)
    # The worklist names cases by id; the matter and the resident's words are intake's.
    pool = eventlet.GreenPool(8)
    cases = dict(pool.imap(lambda item: (item["case_id"], _case(visit, item["case_id"])), listed["items"]))
    notice = NOTICES.get(visit.request.args.get("notice", ""), "")
    return visit.render("handler.html", status, unit=unit, state=state, states=STATES, items=listed["items"],
                        total=listed["total"], cases=cases, catalog=visit.catalog(), directory=visit.directory(),
                        notice=notice, errors=errors or {}, message=message)


def _case(visit: Visit, case_id: str) -> dict | None:
    try:
        return visit.services.get("intake", f"/intake/cases/{case_id}")
    except ApiProblem:
        return None


def _act(visit: Visit, assignment_id, action: str, body: dict | None = None):
    try:
        visit.services.post("routing", f"/routing/assignments/{assignment_id}/{action}", body)
    except ApiProblem as problem:
        if problem.status not in (400, 409):
            raise
        return worklist(visit, errors={str(assignment_id): problem.message}, status=problem.status,
                        message=problem.message)
    return visit.redirect(f"/handler?notice={action}")


@page("/handler/assignments/<uuid:assignment_id>/sign", methods=("POST",), roles=HANDLERS)
def sign(visit: Visit, assignment_id):
    return _act(visit, assignment_id, "sign")


@page("/handler/assignments/<uuid:assignment_id>/contact", methods=("POST",), roles=HANDLERS)
def contact(visit: Visit, assignment_id):
    return _act(visit, assignment_id, "contact")


@page("/handler/assignments/<uuid:assignment_id>/report", methods=("POST",), roles=HANDLERS)
def report(visit: Visit, assignment_id):
    answer = visit.form.get("answer", "").strip()
    if not answer:
        message = "请填写办理结果（答复居民的内容）。"
        return worklist(visit, errors={str(assignment_id): message}, status=400, message=message)
    return _act(visit, assignment_id, "report", {"answer": answer})
