"""Open311 GeoReport v2 over the matter catalog and cases: pure mapping, no nameko, HTTP or SQL.

* a matter that takes the ``online`` channel is an Open311 *service*; its form attributes are the service's
  attributes, preceded by ``area`` (the resident's residential area, 居民区), which every request must give;
* ``POST requests.json`` (typed by :class:`services.intake.models.GeoReportRequest`) becomes intake's own submit
  command (channel ``online``); the attributes are typed here, by the matter's datatypes;
* a case is a *service request*; its status is ``closed`` once it is resolved, settled, called back, closed
  or rejected, ``open`` otherwise;
* what the public read side shows stops at the residential area: no name, phone, room or free address;
* errors are the GeoReport list ``[{"code": <HTTP status>, "description": "..."}]``.

See services/intake/README-open311.md.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from shared.errors import InvalidInput, NotFound
from services.intake.catalog import Catalog, Matter
from services.intake.domain import SHANGHAI, STATUSES, ResidentDetails, SubmitCase
from shared.personal_data import mask_text
from services.intake.models import AREA_PATTERN, GeoReportRequest, GeoReportRequestsQuery

CHANNEL = "online"
PREFIX = "/open311/v2"
ROUTES = {
    "services": f"{PREFIX}/services.json",
    "service_definition": f"{PREFIX}/services/<string:service_code>.json",
    "post_request": f"{PREFIX}/requests.json",
    "get_requests": f"{PREFIX}/requests.json",
    "get_request": f"{PREFIX}/requests/<uuid:service_request_id>.json",
    "unknown": f"{PREFIX}/<path:rest>",  # anything else under the prefix: a GeoReport 404, not an HTML page
}
# Open311 "closed": the matter is done with, whatever the outcome; everything before that is "open".
CLOSED_STATUSES = ("resolved", "settled", "called_back", "closed", "rejected")
OPEN_STATUSES = tuple(s for s in STATUSES if s not in CLOSED_STATUSES)
STATUS_NOTES = {
    "submitted": "已收到，等待工作人员受理",
    "supplement_requested": "请补充材料",
    "resubmitted": "已补充材料，等待受理",
    "accepted": "已受理",
    "routed": "已派单至承办单位",
    "in_progress": "承办单位办理中",
    "reopened": "回访不满意，重新办理中",
    "resolved": "已办结",
    "settled": "已当场办结",
    "called_back": "已办结并回访",
    "closed": "已结案",
    "rejected": "不予受理",
}
AREA_ATTRIBUTE = "area"
# address_string is kept with the case for the workers, after this mark; the public view cuts it off.
ADDRESS_MARK = "\n\n地点："
MAX_RESULTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
AREA_RE = re.compile(AREA_PATTERN)
# Intake's field names (as the matter's rules name them) → the GeoReport parameter a client sent.
_FIELD_NAMES = {"matter_code": "service_code", "channel": "service_code"}


# -- errors -------------------------------------------------------------------------------------------------

def open311_field(field: str) -> str:
    """The GeoReport name of an intake field: ``attributes.location`` (or the form's ``attribute.location[0]``)
    → ``attribute[location]``."""
    if field.startswith(("attributes.", "attribute.")):
        return f"attribute[{field.split('.', 1)[1].split('[', 1)[0]}]"
    return _FIELD_NAMES.get(field, field)


def errors(status: int, description: str) -> list[dict]:
    return [{"code": status, "description": description}]


def errors_from_problem(problem: dict) -> list[dict]:
    """A problem+json body as the GeoReport error list, fields named as the client sent them."""
    status = int(problem.get("status") or 500)
    named = problem.get("invalid_params") or []
    if named:
        return [{"code": status, "description": f"{open311_field(p.get('name', ''))}: {p.get('reason', '')}"}
                for p in named]
    detail = problem.get("detail") or problem.get("title") or "error"
    if problem.get("correlation_id"):
        detail += f" (correlation id {problem['correlation_id']})"
    return errors(status, detail)


def check_jurisdiction(given: str | None, street: str) -> None:
    """``jurisdiction_id`` is optional (one jurisdiction per endpoint); if given it must be this street."""
    if given and given != street:
        raise InvalidInput("jurisdiction_id", f"{given!r} is not served here; this endpoint serves {street!r}")


# -- services -----------------------------------------------------------------------------------------------

def online_matter(catalog: Catalog, code: str) -> Matter:
    matter = catalog.get(code)
    if matter is None or CHANNEL not in matter.channels:
        raise NotFound(f"service_code {code!r} not found")
    return matter


def service_view(catalog: Catalog, matter: Matter) -> dict:
    group = catalog.categories.get(matter.category, matter.category)
    parts = []
    if matter.materials:
        parts.append("所需材料：" + "、".join(matter.materials))
    parts.append(f"办理时限：{matter.time_limit_days}个工作日" if matter.time_limit_days else "办理时限：即办")
    if matter.appointment:
        parts.append("需先预约")
    return {
        "service_code": matter.code,
        "service_name": matter.name,
        "description": "；".join(parts),
        "metadata": True,  # every service asks for the resident's residential area (an attribute)
        "type": "realtime",  # the service_request_id is returned at once
        "keywords": f"{group},{matter.category}",
        "group": group,
    }


def services_view(catalog: Catalog) -> list[dict]:
    return [service_view(catalog, m) for m in catalog.matters.values() if CHANNEL in m.channels]


def _attribute(order: int, code: str, datatype: str, required: bool, description: str,
               datatype_description: str = "", values=()) -> dict:
    return {"variable": True, "code": code, "datatype": datatype, "required": required,
            "datatype_description": datatype_description, "order": order, "description": description,
            "values": [{"key": v.key, "name": v.name} for v in values]}


def definition_view(catalog: Catalog, code: str) -> dict:
    matter = online_matter(catalog, code)
    attributes = [_attribute(1, AREA_ATTRIBUTE, "string", True, "居民区",
                             "居民区代码：小写字母、数字和 '-'，如 shixin")]
    for index, attr in enumerate(a for a in matter.attributes if a.code != AREA_ATTRIBUTE):
        attributes.append(_attribute(index + 2, attr.code, attr.datatype, attr.required,
                                     attr.description or attr.code, values=attr.values))
    return {"service_code": matter.code, "attributes": attributes}


# -- POST requests.json -------------------------------------------------------------------------------------

def _typed(code: str, datatype: str, values: list):
    field = f"attributes.{code}"
    if datatype == "multivaluelist":
        flat = []
        for value in values:  # a form sends repeated keys; a single field may carry "a,b"
            flat.extend(value.split(",") if isinstance(value, str) else [value])
        return [v.strip() if isinstance(v, str) else v for v in flat]
    if len(values) > 1:
        raise InvalidInput(field, "takes one value")
    value = values[0]
    if datatype == "number" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(field, "must be a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(field, "must be a number")
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return value


def request_attributes(form: GeoReportRequest, matter: Matter) -> tuple[str, dict]:
    """The resident's area and the matter's attributes, typed; an attribute the matter lacks is refused."""
    given = dict(form.attribute)
    area_values = [*given.pop(AREA_ATTRIBUTE, []), *([form.area] if form.area else [])]
    if len({str(v) for v in area_values}) > 1:
        raise InvalidInput("area", "is given twice with different values (attribute[area] and area)")
    area = area_values[0] if area_values else ""
    if not area:
        raise InvalidInput("area", "is required: the resident's residential area (居民区), "
                                   "as attribute[area] or area")
    if not isinstance(area, str) or not AREA_RE.match(area):
        raise InvalidInput("area", "must be a residential-area code (lower-case letters, digits, '-')")
    known = {a.code: a for a in matter.attributes}
    attributes = {}
    for code, values in given.items():
        if code not in known:
            raise InvalidInput(f"attributes.{code}", f"is not an attribute of service {matter.code}")
        attributes[code] = _typed(code, known[code].datatype, values)
    return area, attributes


def submit_command(form: GeoReportRequest, catalog: Catalog, entered_by: str) -> SubmitCase:
    """Intake's submit command (as ``POST /intake/cases`` makes it) for a GeoReport request."""
    matter = online_matter(catalog, form.service_code)
    area, attributes = request_attributes(form, matter)
    description = form.description + (ADDRESS_MARK + form.address_string if form.address_string else "")
    resident = ResidentDetails(name=form.name, phone=form.phone, area=area, building=form.building, room=form.room)
    return SubmitCase(matter_code=matter.code, channel=CHANNEL, kind="request", urgency="normal",
                      description=description, resident=resident, entered_by=entered_by, attributes=attributes)


def submitted_view(catalog: Catalog, case: dict) -> list[dict]:
    matter = catalog.get(case["matter_code"])
    limit = matter.time_limit_days if matter else 0
    notice = "已收到，工作人员受理后" + (f"{limit}个工作日内办结" if limit else "即办")
    return [{"service_request_id": case["id"], "service_notice": notice,
             "account_id": case.get("resident_id")}]


# -- GET requests -------------------------------------------------------------------------------------------

def open311_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def statuses_for(wanted: tuple[str, ...]) -> tuple[str, ...] | None:
    """``open``, ``closed`` or both → intake statuses; nothing: None (all)."""
    if not wanted:
        return None
    return (OPEN_STATUSES if "open" in wanted else ()) + (CLOSED_STATUSES if "closed" in wanted else ())


def request_query(query: GeoReportRequestsQuery, now: datetime) -> dict:
    """GET requests.json parameters as a query: ``ids`` (then nothing else counts, as the spec says), or
    ``matter_codes``, ``statuses`` and a submission window (the last 90 days unless given)."""
    if query.service_request_id:
        return {"ids": list(query.service_request_id), "matter_codes": None, "statuses": None,
                "submitted_from": None, "submitted_to": None, "limit": len(query.service_request_id)}
    start, end = query.start_date, query.end_date
    if start is None and end is None:
        start = now - DEFAULT_WINDOW
    return {"ids": None, "matter_codes": list(query.service_code) or None, "statuses": statuses_for(query.status),
            "submitted_from": start, "submitted_to": end, "limit": MAX_RESULTS}


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def public_description(description: str) -> str:
    """The resident's words without the address kept for workers; numbers that identify a person masked."""
    return mask_text((description or "").split(ADDRESS_MARK, 1)[0])


def request_view(catalog: Catalog, case: dict) -> dict:
    """One case as a GeoReport service request, for anyone to read: the place is the residential area only."""
    matter = catalog.get(case["matter_code"])
    notes = STATUS_NOTES.get(case["status"], "")
    if case["status"] == "supplement_requested" and case.get("missing_materials"):
        notes += "：" + mask_text("、".join(case["missing_materials"]))
    return {
        "service_request_id": case["id"],
        "status": open311_status(case["status"]),
        "status_notes": notes,
        "service_name": matter.name if matter else case["matter_code"],
        "service_code": case["matter_code"],
        "description": public_description(case.get("description", "")),
        "agency_responsible": case.get("lead_unit") or "",
        "service_notice": "",
        "requested_datetime": _iso(case["submitted_at"]),
        "updated_datetime": _iso(case["updated_at"]),
        "expected_datetime": None,
        "address": case["area"],
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }
