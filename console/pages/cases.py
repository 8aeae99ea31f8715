"""The case page: one case's story on one timeline, told by the three services that each know a part of it —
intake's status history, routing's decision (and why) with its assignments and deadlines, notify's messages."""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from console import formatting as fmt
from console.apis import ApiProblem
from console.web import Visit, page

READERS = ("counter", "handler", "auditor")
# Until routing has decided and the messages have gone, the page asks again by itself (htmx), every so often.
SETTLING = ("submitted", "accepted", "resubmitted", "reopened")
NOTICES = {"submitted": "已受理，工单已提交。", "callback": "回访已记录。"}
# Notes intake writes itself, as a worker says them.
INTAKE_NOTES = {"accepted at the counter": "窗口一口受理", "accepted": "", "materials supplemented": "材料已补齐",
                "closed": ""}
_WHY = re.compile(r"\(([^()]*)\)\s*$")


def why(reason: str | None) -> str:
    """A routing decision's reason in the rule's own words: ``rule x matched: … (报修由物业承办)`` → 报修由物业承办."""
    found = _WHY.search(reason or "")
    return found.group(1) if found else (reason or "")


def intake_note(note: str) -> str:
    """The note of an intake history entry, in the words of the station (intake writes some in English)."""
    if note in INTAKE_NOTES:
        return INTAKE_NOTES[note]
    if note.startswith("channel "):
        channel = note.removeprefix("channel ").split(",")[0]
        return f"经{fmt.label(fmt.CHANNEL, channel)}提交" + ("，代办" if "代办" in note else "")
    if note.startswith("callback "):
        rating, _, comment = note.removeprefix("callback ").partition(": ")
        return "回访评价：" + fmt.label(fmt.RATING, rating) + (f"；居民说：{comment}" if comment else "")
    if note.startswith("missing: "):
        missing, _, extra = note.removeprefix("missing: ").partition("; ")
        return f"需补正：{missing}" + (f"；{extra}" if extra else "")
    return note


@dataclasses.dataclass(frozen=True)
class Moment:
    at: datetime
    source: str
    title: str
    detail: str = ""
    kind: str = ""


def _at(value) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value


def timeline(case: dict, decision: dict | None, deliveries: list[dict], directory, catalog) -> list[Moment]:
    """Everything that happened to the case, oldest first."""
    moments = []
    for entry in case["history"]:
        if decision and entry["status"] in ("routed", "in_progress"):
            continue  # routing's own entries say where it went and who signed
        moments.append(Moment(_at(entry["at"]), "受理", fmt.label(fmt.CASE_STATUS, entry["status"]),
                              intake_note(entry["note"]), entry["status"]))
    for assignment in (decision or {}).get("assignments", ()):
        unit = directory.unit_name(assignment["unit_code"])
        role = fmt.label(fmt.ASSIGNMENT_ROLE, assignment["role"])
        if assignment["rule"] != "warning":  # a warning case's dispatch is routing's "warning" entry below
            moments.append(Moment(_at(assignment["created_at"]), "派单", f"派至{unit}（{role}）",
                                  why(assignment["reason"]), "routed"))
        if assignment.get("signed_at"):
            moments.append(Moment(_at(assignment["signed_at"]), "承办", f"{unit}签收", "", "signed"))
        if assignment.get("contacted_at"):
            moments.append(Moment(_at(assignment["contacted_at"]), "承办", f"{unit}已先行联系居民", "", "contacted"))
        if assignment.get("reported_at"):
            moments.append(Moment(_at(assignment["reported_at"]), "承办", f"{unit}上报办结",
                                  assignment.get("result") or "", "reported"))
    for entry in (decision or {}).get("history", ()):
        if entry["action"] == "warning":
            detail = fmt.label(fmt.RATING, entry.get("rating")) + ("：" + entry["reason"] if entry.get("reason") else "")
            moments.append(Moment(_at(entry["at"]), "派单", f"预警工单，重新派至{directory.unit_name(entry.get('unit'))}",
                                  detail, "warning"))
            continue
        parts = [directory.unit_name(entry.get("unit"))]
        if entry.get("to_unit"):
            parts.append("→ " + directory.unit_name(entry["to_unit"]))
        if entry.get("escalated_to"):
            parts.append("督办单位：" + directory.unit_name(entry["escalated_to"]))
        detail = " ".join(p for p in parts if p)
        for key in ("reason", "decision", "note"):
            if entry.get(key):
                detail += "；" + entry[key]
        moments.append(Moment(_at(entry["at"]), "派单", fmt.label(fmt.ROUTING_ACTION, entry["action"]), detail,
                              entry["action"]))
    for delivery in deliveries:
        at = delivery.get("sent_at") or delivery.get("failed_at") or delivery["created_at"]
        whom = directory.recipient_name(delivery["recipient"])
        channel = fmt.label(fmt.DELIVERY_CHANNEL, delivery["channel"])
        status = fmt.label(fmt.DELIVERY_STATUS, delivery["status"])
        moments.append(Moment(_at(at), "通知", f"通知{whom}（{channel}，{status}）", delivery["subject"], "message"))
    return sorted(moments, key=lambda m: m.at)


def attribute_rows(case: dict, catalog) -> list[tuple[str, str]]:
    """The matter's form fields as filled in: the field's description and the chosen values' names."""
    matter = catalog.matters.get(case["matter_code"], {"attributes": []})
    rows = []
    for attribute in matter["attributes"]:
        value = case["attributes"].get(attribute["code"])
        if value in (None, "", []):
            continue
        names = {v["key"]: v["name"] for v in attribute["values"]}
        shown = "、".join(names.get(v, v) for v in value) if isinstance(value, list) else names.get(value, str(value))
        rows.append((attribute["description"] or attribute["code"], shown))
    return rows


def _story(visit: Visit, case_id: str) -> dict:
    services = visit.services
    case = services.get("intake", f"/intake/cases/{case_id}")
    try:
        decision = services.get("routing", f"/routing/cases/{case_id}/decision")
    except ApiProblem as problem:
        if problem.status != 404:
            raise
        decision = None  # not routed (yet, or never: a station matter)
    deliveries = services.get("notify", "/notify/deliveries", case_id=case_id)
    directory, catalog = visit.directory(), visit.catalog()
    settling = case["status"] in SETTLING or (
        case["handling"] == "routed" and case["status"] not in ("rejected", "closed") and not deliveries) or any(
        d["status"] == "queued" for d in deliveries)  # not "deferred": quiet hours may hold a message all night
    rules = []
    for step in (decision or {}).get("explanation") or ():
        failed = step.get("failed") or {}
        if step["matched"]:
            verdict = "符合"
        elif failed.get("condition"):
            verdict = f"不符：{failed['condition']} 应为 {failed.get('expected')}，实为 {failed.get('actual')}"
        else:
            verdict = f"不符：{failed.get('problem') or '该居民区无此单位'}"
        rules.append({"rule": step["rule"], "matched": step["matched"], "why": verdict})
    return {"case": case, "decision": decision, "deliveries": deliveries, "directory": directory,
            "catalog": catalog, "moments": timeline(case, decision, deliveries, directory, catalog),
            "attributes": attribute_rows(case, catalog), "rules": rules, "settling": settling,
            "why": why((decision or {}).get("reason")),
            "lead_name": directory.unit_name((decision or {}).get("lead_unit") or case.get("lead_unit"))}


@page("/cases/<uuid:case_id>", roles=READERS)
def case_page(visit: Visit, case_id):
    story = _story(visit, str(case_id))
    notice = NOTICES.get(visit.request.args.get("notice", ""), "")
    return visit.render("case.html", notice=notice, **story)


@page("/cases/<uuid:case_id>/live", roles=READERS)
def case_live(visit: Visit, case_id):
    """The changing part of the case page, for the page to ask again while the case settles."""
    return visit.render("_case_live.html", **_story(visit, str(case_id)))
