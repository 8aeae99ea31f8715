"""全岗通: the counter worker finds the resident's matter, fills its form with the resident, checks the materials
and submits it (accepted at once at the window, 一口受理); then the case page shows where it went."""
from __future__ import annotations

from console.apis import ApiProblem
from console.web import Visit, page

COUNTER = ("counter",)
# The notes intake writes itself, said as a worker would.
KINDS = ("request", "consultation", "complaint", "suggestion")
URGENCIES = ("normal", "urgent", "critical")


@page("/counter", roles=COUNTER)
def counter(visit: Visit):
    catalog = visit.catalog()
    query, category = visit.request.args.get("q", "").strip(), visit.request.args.get("category", "")
    matters = catalog.search(query, category) if (query or category) else []
    if visit.htmx and visit.request.headers.get("HX-Target") == "matters":
        return visit.render("_matters.html", matters=matters, query=query, category=category, searched=True)
    recent = visit.services.get("intake", "/intake/cases", per_page=8)["items"]
    return visit.render("counter.html", catalog=catalog, matters=matters, query=query, category=category,
                        searched=bool(query or category), recent=recent, directory=visit.directory())


def _form(visit: Visit, code: str, status: int = 200, values=None, errors=None, message: str = ""):
    catalog = visit.catalog()
    matter = catalog.matters.get(code)
    if matter is None or "counter" not in matter["channels"]:
        return visit.render("error.html", 404, title="没有这个事项", detail="事项目录中没有这个窗口事项。", status=404)
    directory = visit.directory()
    values = values or {"resident.area": visit.user.station if visit.user.station in directory.areas else "",
                        "kind": "request", "urgency": "normal"}
    return visit.render("matter_form.html", status, matter=matter, catalog=catalog, directory=directory,
                        values=values, errors=errors or {}, message=message, kinds=KINDS, urgencies=URGENCIES,
                        checked=set(values.get("materials", ())))


@page("/counter/matters/<code>", roles=COUNTER)
def matter_form(visit: Visit, code: str):
    return _form(visit, code)


def _attribute_value(attribute: dict, form) -> object:
    key = f"attributes.{attribute['code']}"
    if attribute["datatype"] == "multivaluelist":
        return form.getlist(key)
    value = form.get(key, "").strip()
    if attribute["datatype"] == "number" and value:
        try:
            return int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            return value  # intake names the field and says why
    if attribute["datatype"] == "datetime" and len(value) == 16:  # <input type=datetime-local>: Shanghai time
        return value + ":00+08:00"
    return value


@page("/counter/matters/<code>", methods=("POST",), roles=COUNTER)
def submit(visit: Visit, code: str):
    catalog = visit.catalog()
    matter = catalog.matters.get(code)
    if matter is None:
        return _form(visit, code)
    form = visit.form
    values = {name: form.get(name, "") for name in form if name != "csrf_token"}
    values["materials"] = form.getlist("materials")
    for attribute in matter["attributes"]:
        if attribute["datatype"] == "multivaluelist":
            values[f"attributes.{attribute['code']}"] = form.getlist(f"attributes.{attribute['code']}")
    missing = [m for m in matter["materials"] if m not in values["materials"]]
    if missing:
        # A counter case is accepted at once (一口受理): the resident is told in one go what to bring, and the
        # matter is accepted when it is all there.
        return _form(visit, code, 400, values, {"materials": "材料未齐：" + "、".join(missing)},
                     "材料未齐，请一次性告知居民需补齐的材料，材料齐全后再受理。")
    body = {
        "matter_code": code, "channel": "counter", "kind": form.get("kind", "request"),
        "urgency": form.get("urgency", "normal"), "description": form.get("description", "").strip(),
        "proxy": form.get("proxy") == "yes", "reporter": form.get("reporter", "").strip(),
        "resident": {"name": form.get("resident.name", "").strip(), "phone": form.get("resident.phone", "").strip(),
                     "area": form.get("resident.area", ""), "building": form.get("resident.building", "").strip(),
                     "room": form.get("resident.room", "").strip()},
        "attributes": {a["code"]: v for a in matter["attributes"]
                       if (v := _attribute_value(a, form)) not in ("", [])},
    }
    try:
        created = visit.services.post("intake", "/intake/cases", body)
    except ApiProblem as problem:
        if problem.status != 400:
            raise
        return _form(visit, code, 400, values, problem.fields, "请检查标出的内容。")
    return visit.redirect(f"/cases/{created['id']}?notice=submitted")
