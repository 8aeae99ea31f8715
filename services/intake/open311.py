"""Open311 GeoReport v2 over the matter catalog and cases: pure mapping, no nameko, HTTP or SQL.

* a matter that takes the ``online`` channel is an Open311 *service*; its form attributes are the service's
  attributes, preceded by ``area`` (the resident's residential area, 居民区), which every request must give;
* ``POST requests.json`` becomes the body of intake's own submit command (channel ``online``);
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
from services.intake.domain import AREA_RE, SHANGHAI, STATUSES, redact

CHANNEL = "online"
PREFIX = "/open311/v2"
ROUTES = {
    "services": f"{PREFIX}/services.json",
    "service_definition": f"{PREFIX}/services/<string:service_code>.json",
    "post_request": f"{PREFIX}/requests.json",
    "get_requests": f"{PREFIX}/requests.json",
    "get_request": f"{PREFIX}/requests/<string:service_request_id>.json",
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
MAX_IDS = 100
MAX_RESULTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
# Intake's field names (as InvalidInput names them) → the GeoReport parameter a client sent.
_FIELD_NAMES = {
    "matter_code": "service_code",
    "channel": "service_code",
    "resident.name": "first_name",
    "resident.phone": "phone",
    "resident.area": "area",
    "resident.building": "building",
    "resident.room": "room",
}
_ATTRIBUTE_KEY_RE = re.compile(r"^attribute\[([^\]]*)\](\[\])?$")


# -- errors -------------------------------------------------------------------------------------------------

def open311_field(field: str) -> str:
    """The GeoReport name of an intake field: ``attributes.location`` → ``attribute[location]``."""
    if field.startswith("attributes."):
        return f"attribute[{field.split('.', 1)[1]}]"
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
    return errors(status, detail)


# -- parameters ---------------------------------------------------------------------------------------------

def params_from_pairs(pairs) -> dict[str, list]:
    """Form or query pairs (a key may repeat) as key → list of values."""
    params: dict[str, list] = {}
    for key, value in pairs:
        params.setdefault(str(key), []).append(value)
    return params


def params_from_json(body) -> dict[str, list]:
    """A JSON object in the same shape: ``{"attribute": {"location": "roof"}}`` is ``attribute[location]``."""
    if not isinstance(body, dict):
        raise InvalidInput("(body)", "must be a JSON object")
    params: dict[str, list] = {}
    for key, value in body.items():
        if key in ("attribute", "attributes") and isinstance(value, dict):
            for code, inner in value.items():
                params[f"attribute[{code}]"] = list(inner) if isinstance(inner, list) else [inner]
        else:
            params[key] = list(value) if isinstance(value, list) else [value]
    return params


def one(params: dict, name: str, *, required: bool = False, max_len: int = 200) -> str:
    values = [v for v in params.get(name, []) if v not in (None, "")]
    if not values:
        if required:
            raise InvalidInput(name, "is required")
        return ""
    if len(set(map(str, values))) > 1:
        raise InvalidInput(name, "is given more than once with different values")
    value = values[0]
    if not isinstance(value, str):
        raise InvalidInput(name, f"must be text, got {type(value).__name__}")
    if len(value) > max_len:
        raise InvalidInput(name, f"is longer than {max_len} characters")
    return value.strip()


def check_jurisdiction(params: dict, street: str) -> None:
    """``jurisdiction_id`` is optional (one jurisdiction per endpoint); if given it must be this street."""
    given = one(params, "jurisdiction_id", max_len=80)
    if given and given != street:
        raise InvalidInput("jurisdiction_id", f"{given!r} is not served here; this endpoint serves {street!r}")


def api_key(params: dict) -> str:
    return one(params, "api_key", max_len=200)


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

def _attribute_params(params: dict) -> dict[str, list]:
    found: dict[str, list] = {}
    for key, values in params.items():
        match = _ATTRIBUTE_KEY_RE.match(key)
        if match:
            found.setdefault(match.group(1), []).extend(v for v in values if v not in (None, ""))
    return found


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


def request_attributes(params: dict, matter: Matter) -> tuple[str, dict]:
    """The resident's area and the matter's attributes, typed; an attribute the matter lacks is refused."""
    given = _attribute_params(params)
    area_values = given.pop(AREA_ATTRIBUTE, [])
    extension = one(params, "area", max_len=40)
    if extension:
        area_values = [*area_values, extension]
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
        if values:
            attributes[code] = _typed(code, known[code].datatype, values)
    return area, attributes


def _name(params: dict) -> str:
    first = one(params, "first_name", max_len=50)
    last = one(params, "last_name", max_len=50)
    if not first and not last:
        raise InvalidInput("first_name", "first_name or last_name is required")
    if (first + last).isascii():
        return " ".join(p for p in (first, last) if p)
    return last + first  # 姓 then 名


def _phone(params: dict) -> str:
    phone = re.sub(r"[\s-]", "", one(params, "phone", required=True, max_len=20))
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    return phone


def submit_body(params: dict, catalog: Catalog) -> dict:
    """The body of intake's submit command (as ``POST /intake/cases`` takes it) for a GeoReport request."""
    matter = online_matter(catalog, one(params, "service_code", required=True, max_len=80))
    area, attributes = request_attributes(params, matter)
    email = one(params, "email", max_len=100)
    if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise InvalidInput("email", "is not an e-mail address")
    description = one(params, "description", max_len=1700)
    address = one(params, "address_string", max_len=255)
    if address:
        description = description + ADDRESS_MARK + address
    resident = {"name": _name(params), "phone": _phone(params), "area": area}
    for extra in ("building", "room"):
        value = one(params, extra, max_len=20)
        if value:
            resident[extra] = value
    return {"matter_code": matter.code, "channel": CHANNEL, "description": description, "resident": resident,
            "attributes": attributes}


def submitted_view(catalog: Catalog, case: dict) -> list[dict]:
    matter = catalog.get(case["matter_code"])
    limit = matter.time_limit_days if matter else 0
    notice = "已收到，工作人员受理后" + (f"{limit}个工作日内办结" if limit else "即办")
    return [{"service_request_id": case["id"], "service_notice": notice,
             "account_id": case.get("resident_id")}]


# -- GET requests -------------------------------------------------------------------------------------------

def open311_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def statuses_for(value: str) -> tuple[str, ...] | None:
    """``open``, ``closed`` or ``open,closed`` → intake statuses; None: all."""
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    if not wanted:
        return None
    unknown = wanted - {"open", "closed"}
    if unknown:
        raise InvalidInput("status", f"{sorted(unknown)[0]!r} is not one of open, closed")
    found = (OPEN_STATUSES if "open" in wanted else ()) + (CLOSED_STATUSES if "closed" in wanted else ())
    return tuple(found)


def _moment(params: dict, name: str) -> datetime | None:
    value = one(params, name, max_len=40)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(name, "must be an ISO 8601 date-time such as 2026-11-23T08:00:00+08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def request_query(params: dict, now: datetime) -> dict:
    """GET requests.json parameters as a query: ``ids`` (then nothing else counts, as the spec says), or
    ``matter_codes``, ``statuses`` and a submission window (the last 90 days unless given)."""
    ids = [i.strip() for i in one(params, "service_request_id", max_len=4000).split(",") if i.strip()]
    if len(ids) > MAX_IDS:
        raise InvalidInput("service_request_id", f"names more than {MAX_IDS} requests")
    if ids:
        return {"ids": ids, "matter_codes": None, "statuses": None, "submitted_from": None, "submitted_to": None,
                "limit": MAX_IDS}
    codes = [c.strip() for c in one(params, "service_code", max_len=2000).split(",") if c.strip()] or None
    start, end = _moment(params, "start_date"), _moment(params, "end_date")
    if start is None and end is None:
        start = now - DEFAULT_WINDOW
    if start and end and start > end:
        raise InvalidInput("start_date", "is after end_date")
    return {"ids": None, "matter_codes": codes, "statuses": statuses_for(one(params, "status", max_len=20)),
            "submitted_from": start, "submitted_to": end, "limit": MAX_RESULTS}


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def public_description(description: str) -> str:
    """The resident's words without the address kept for workers; numbers that identify a person masked."""
    return redact((description or "").split(ADDRESS_MARK, 1)[0])


def request_view(catalog: Catalog, case: dict) -> dict:
    """One case as a GeoReport service request, for anyone to read: the place is the residential area only."""
    matter = catalog.get(case["matter_code"])
    notes = STATUS_NOTES.get(case["status"], "")
    if case["status"] == "supplement_requested" and case.get("missing_materials"):
        notes += "：" + "、".join(case["missing_materials"])
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
