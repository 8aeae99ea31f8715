"""The foundation's treasurer records a donation and prints its receipt; the auditor verifies a book's hash
chain and balances and sees its chain head."""
from __future__ import annotations

import uuid

from console import formatting as fmt
from console.apis import ApiProblem
from console.web import Visit, page

TREASURER = ("treasurer",)
AUDITOR = ("auditor",)
DONOR_KINDS = {"individual": "个人", "company": "企业", "anonymous": "匿名"}
FOUNDATION_BOOK = "foundation"


def _events(visit: Visit) -> list[tuple[str, str]]:
    """The foundation's events (慈善之夜 …), for the donation form's choice: (code, name)."""
    return [(e["code"], e["name"]) for e in visit.services.get("funds", "/funds/foundation/totals")["per_event"]]


def _donation_form(visit: Visit, status: int = 200, values=None, errors=None, message: str = ""):
    values = values or {"donor_kind": "individual", "key": uuid.uuid4().hex}
    return visit.render("treasurer.html", status, values=values, errors=errors or {}, message=message,
                        events=_events(visit), donor_kinds=DONOR_KINDS)


@page("/treasurer", roles=TREASURER)
def donation_form(visit: Visit):
    return _donation_form(visit)


@page("/treasurer/donations", methods=("POST",), roles=TREASURER)
def record_donation(visit: Visit):
    form = visit.form
    values = {name: form.get(name, "").strip() for name in ("donor_kind", "donor_name", "amount", "event_code",
                                                             "description", "key")}
    errors = {}
    if values["donor_kind"] not in DONOR_KINDS:
        errors["donor_kind"] = "请选择捐赠人类型"
    if values["donor_kind"] != "anonymous" and not values["donor_name"]:
        errors["donor_name"] = "请填写捐赠人名称"
    if not fmt.is_amount(values["amount"]):
        errors["amount"] = "金额应为正数，最多两位小数，例如 500 或 49028.10"
    if not values["key"] or len(values["key"]) > 64 or not values["key"].isalnum():
        values["key"] = uuid.uuid4().hex  # a form that lost its key gets a new one (and is shown again)
        errors.setdefault("amount", errors.get("amount") or "请重新提交")
    if errors:
        return _donation_form(visit, 400, values, errors, "请检查标出的内容。")
    # One key per form: the donor and the donation are each recorded once however often the form is sent.
    try:
        donor = visit.services.post("funds", "/funds/donors", {
            "kind": values["donor_kind"], "name": values["donor_name"]}, idempotency_key=f"console-donor-{values['key']}")
        body = {"donor_id": donor["id"], "kind": "cash", "amount": values["amount"],
                "description": values["description"]}
        if values["event_code"]:
            body["event_code"] = values["event_code"]
        donation = visit.services.post("funds", "/funds/donations", body,
                                       idempotency_key=f"console-donation-{values['key']}")
    except ApiProblem as problem:
        if problem.status not in (400, 409):
            raise
        fields = {{"name": "donor_name", "kind": "donor_kind"}.get(k, k): v for k, v in problem.fields.items()}
        return _donation_form(visit, problem.status, values, fields, problem.message)
    return visit.redirect(f"/treasurer/receipts/{donor['id']}/{donation['id']}")


@page("/treasurer/receipts/<uuid:donor_id>/<uuid:donation_id>", roles=TREASURER)
def receipt(visit: Visit, donor_id, donation_id):
    statement = visit.services.get("funds", f"/funds/donors/{donor_id}/statement")
    donation = next((d for d in statement["donations"] if d["id"] == str(donation_id)), None)
    if donation is None:
        return visit.render("error.html", 404, title="没有这笔捐赠", detail="该捐赠人名下没有这笔捐赠。", status=404)
    event = None
    if donation.get("event_code"):
        event = visit.services.get("funds", f"/funds/events/{donation['event_code']}/report")["event"]
    return visit.render("receipt.html", donor=statement["donor"], donation=donation, event=event,
                        donor_kinds=DONOR_KINDS)


# -- the auditor ------------------------------------------------------------------------------------------------

def _books(visit: Visit) -> list[tuple[str, str]]:
    """The foundation's book and each residential area's autonomy-fund book (自治金), by name."""
    directory = visit.directory()
    return [(FOUNDATION_BOOK, "社区公益基金会账簿")] + [
        (f"area:{code}", f"{area['name']}自治金账簿") for code, area in directory.areas.items()]


@page("/auditor", roles=AUDITOR)
def auditor(visit: Visit):
    return visit.render("auditor.html", books=_books(visit), book=FOUNDATION_BOOK, result=None, error="")


@page("/auditor/verification", methods=("POST",), roles=AUDITOR)
def verify(visit: Visit):
    books = _books(visit)
    book = visit.form.get("book", FOUNDATION_BOOK)
    result, error, status = None, "", 200
    if book not in dict(books):
        error, status = "请选择要核验的账簿", 400
    else:
        try:
            result = visit.services.get("funds", f"/funds/books/{book}/verification")
        except ApiProblem as problem:
            if problem.status != 404:
                raise
            error, status = "该账簿尚未开立（还没有任何记账）。", 404
    # htmx swaps only a 2xx answer into the page; the fragment says what went wrong itself.
    template, status = ("_verification.html", 200) if visit.htmx else ("auditor.html", status)
    return visit.render(template, status, books=books, book=book, book_name=dict(books).get(book, book),
                        result=result, error=error, checked_at=visit.now)
