"""回访: the station calls the resident back once a case is done and records the rating (好差评); 不满意 or worse
reopens the case as a warning case (预警工单) that routing handles again."""
from __future__ import annotations

from console import formatting as fmt
from console.apis import ApiProblem
from console.web import Visit, page

CALLERS = ("counter",)
RATINGS = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")


@page("/callbacks", roles=CALLERS)
def waiting(visit: Visit):
    """Cases done and not called back yet: resolved by a unit, or settled at the station."""
    items = []
    for status in ("resolved", "settled"):
        items += visit.services.get("intake", "/intake/cases", status=status, per_page=50)["items"]
    items.sort(key=lambda c: c["updated_at"])
    return visit.render("callbacks.html", items=items, catalog=visit.catalog(), directory=visit.directory())


def _form(visit: Visit, case_id: str, status: int = 200, values=None, errors=None, message: str = ""):
    case = visit.services.get("intake", f"/intake/cases/{case_id}")
    return visit.render("callback_form.html", status, case=case, catalog=visit.catalog(),
                        directory=visit.directory(), ratings=RATINGS, values=values or {}, errors=errors or {},
                        message=message, rating_names=fmt.RATING)


@page("/cases/<uuid:case_id>/callback", roles=CALLERS)
def callback_form(visit: Visit, case_id):
    return _form(visit, str(case_id))


@page("/cases/<uuid:case_id>/callback", methods=("POST",), roles=CALLERS)
def record_callback(visit: Visit, case_id):
    values = {"rating": visit.form.get("rating", ""), "comment": visit.form.get("comment", "").strip()}
    if values["rating"] not in RATINGS:
        return _form(visit, str(case_id), 400, values, {"rating": "请选择居民的评价"}, "请选择居民的评价。")
    try:
        visit.services.post("intake", f"/intake/cases/{case_id}/callback", values)
    except ApiProblem as problem:
        if problem.status not in (400, 409):
            raise
        return _form(visit, str(case_id), problem.status, values, problem.fields, problem.message)
    return visit.redirect(f"/cases/{case_id}?notice=callback")
