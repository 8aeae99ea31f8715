"""Intake's domain: a resident's case and the rules of its life. No nameko, HTTP or SQL here."""
from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.errors import Conflict, InvalidInput
from shared.input import storable_text, text_field
from shared.personal_data import MOBILE_RE, id_card_is_valid

CHANNELS = ("counter", "online", "phone", "video")
KINDS = ("consultation", "complaint", "request", "suggestion")  # 咨询 投诉 求助 建议
URGENCIES = ("normal", "urgent", "critical")  # 一般 紧急 特急
AREA_RE = re.compile(r"^[a-z0-9-]{1,40}$")
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A mobile or ID-card number standing on its own inside free text (a comment, an answer).
_EMBEDDED_NUMBER_RE = re.compile(
    r"(?<![0-9A-Za-z])(1[3-9][0-9]{9}|[1-9][0-9]{16}[0-9Xx])(?![0-9A-Za-z])")

# Which status may follow which; one table, checked on every move:
# 受理 | 不予受理 | 补正 → 补正后再提交 → 当场办结, or 收受分离 → 签收办理 → 办结 → 回访 → 结案.
TRANSITIONS = {
    "submitted": {"accepted", "rejected", "supplement_requested"},
    "supplement_requested": {"resubmitted", "rejected"},
    "resubmitted": {"accepted", "rejected", "supplement_requested"},
    "accepted": {"settled", "routed"},
    # routed again: routing transferred the case (转办) to another lead unit
    "routed": {"routed", "in_progress", "resolved"},
    "in_progress": {"routed", "resolved"},
    "settled": {"called_back", "closed", "reopened"},
    "resolved": {"called_back", "reopened"},
    "called_back": {"closed"},
    # a warning case (预警工单): routing handles it again
    "reopened": {"routed", "in_progress", "resolved"},
    "rejected": set(),
    "closed": set(),
}
STATUSES = tuple(TRANSITIONS)

# The national 好差评 scale: 非常满意 满意 基本满意 不满意 非常不满意.
RATINGS = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")
REOPENING_RATINGS = ("dissatisfied", "very_dissatisfied")
WARNING_CASE_DEADLINE_DAYS = 3


@dataclasses.dataclass(frozen=True)
class ResidentDetails:
    name: str
    phone: str
    area: str
    building: str = ""
    room: str = ""
    id_card: str | None = None


@dataclasses.dataclass(frozen=True)
class SubmitCase:
    """Command: a worker (or the resident online) submits a matter."""
    matter_code: str
    channel: str
    kind: str
    urgency: str
    description: str
    resident: ResidentDetails
    entered_by: str = ""
    # 代办: a worker enters the case acting for the resident (who may not be present)
    proxy: bool = False
    # who reported it, when not the resident themself (a neighbour, a building leader 楼组长)
    reporter: str = ""
    attributes: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Case:
    id: str
    matter_code: str
    category: str
    channel: str
    kind: str
    urgency: str
    description: str
    resident_id: str
    area: str
    status: str
    submitted_at: datetime
    updated_at: datetime
    entered_by: str = ""
    history: list[dict] = dataclasses.field(default_factory=list)
    handling: str = "routed"
    proxy: bool = False
    reporter: str = ""
    attributes: dict = dataclasses.field(default_factory=dict)
    missing_materials: list[str] = dataclasses.field(default_factory=list)
    lead_unit: str = ""
    answer: str = ""
    rating: str = ""
    reason: str = ""
    closed_at: datetime | None = None

    def move_to(self, status: str, at: datetime, note: str = "") -> str:
        """Change status if the lifecycle allows it; returns the previous status."""
        if status not in TRANSITIONS.get(self.status, set()):
            raise Conflict(f"case {self.id} cannot go from {self.status} to {status}")
        previous, self.status, self.updated_at = self.status, status, at
        self.history.append({"status": status, "at": at.isoformat(), "note": note})
        return previous

    # -- what a station worker does -------------------------------------------------------------------------

    def accept(self, at: datetime, note: str = "") -> str:
        """受理."""
        return self.move_to("accepted", at, note or "accepted")

    def reject(self, reason: str, at: datetime) -> str:
        """不予受理: the reason is required and told to the resident."""
        self.reason = reason
        return self.move_to("rejected", at, reason)

    def request_supplement(self, missing: list[str], at: datetime, note: str = "") -> str:
        """补正: which materials are missing."""
        self.missing_materials = list(missing)
        return self.move_to("supplement_requested", at, "missing: " + "、".join(missing) + (f"; {note}" if note else ""))

    def resubmit(self, at: datetime, note: str = "") -> str:
        previous = self.move_to("resubmitted", at, note or "materials supplemented")
        self.missing_materials = []
        return previous

    def settle(self, answer: str, at: datetime) -> str:
        """当场办结: only a matter the station settles; the others are routed (收受分离)."""
        if self.handling != "station" and self.status == "accepted":
            raise Conflict(f"case {self.id} is a routed matter; routing resolves it, the station does not settle it")
        self.answer = answer
        return self.move_to("settled", at, answer)

    def record_callback(self, rating: str, comment: str, at: datetime) -> tuple[str, bool]:
        """回访 with a rating; 不满意 or worse reopens the case as a warning case. Returns (previous, reopened)."""
        self.rating = rating
        if rating in REOPENING_RATINGS:
            self.reason = comment or rating
            return self.move_to("reopened", at, f"callback {rating}: {comment}".rstrip(": ")), True
        return self.move_to("called_back", at, f"callback {rating}" + (f": {comment}" if comment else "")), False

    def close(self, at: datetime) -> str:
        previous = self.move_to("closed", at, "closed")
        self.closed_at = at
        return previous

    # -- what routing tells intake ---------------------------------------------------------------------------

    def routed_to(self, unit_code: str, unit_name: str, at: datetime) -> str:
        self.lead_unit = unit_code
        return self.move_to("routed", at, f"assigned to {unit_name} ({unit_code})")

    def signed(self, unit_code: str, at: datetime) -> str:
        return self.move_to("in_progress", at, f"signed for by {unit_code}")

    def resolved(self, lead_unit: str, answer: str, at: datetime) -> str:
        self.answer = answer
        self.lead_unit = lead_unit or self.lead_unit
        return self.move_to("resolved", at, answer)


def redact(text: str) -> str:
    """Free text leaves intake with any phone or ID-card number in it masked (138****5678)."""
    def mask(match):
        number = match.group(1)
        if len(number) == 11:
            return f"{number[:3]}****{number[-4:]}"
        return f"{number[:6]}{'*' * 11}{number[-1]}"
    return _EMBEDDED_NUMBER_RE.sub(mask, text)


def _choice(body: dict, field: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(field, default)
    if value is None:
        raise InvalidInput(field, f"is required; one of {', '.join(allowed)}")
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _flag(body: dict, field: str) -> bool:
    value = body.get(field, False)
    if not isinstance(value, bool):
        raise InvalidInput(field, "must be true or false")
    return value


def _object(body: dict, field: str) -> dict:
    value = body.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(field, "must be an object")
    return value


def parse_resident(resident) -> ResidentDetails:
    """The minimal resident record; the ID-card number is optional and checked."""
    if not isinstance(resident, dict):
        raise InvalidInput("resident", "is required and must be an object")
    phone = text_field(resident, "phone", prefix="resident.", max_len=11)
    if not MOBILE_RE.match(phone):
        raise InvalidInput("resident.phone", "must be an 11-digit mainland mobile number")
    area = text_field(resident, "area", prefix="resident.", max_len=40)
    if not AREA_RE.match(area):
        raise InvalidInput("resident.area", "must be a residential-area code (lower-case letters, digits, '-')")
    id_card = text_field(resident, "id_card", prefix="resident.", required=False, max_len=18) or None
    if id_card and not id_card_is_valid(id_card):
        raise InvalidInput("resident.id_card", "is not a valid 18-character ID-card number")
    return ResidentDetails(
        name=text_field(resident, "name", prefix="resident.", max_len=50),
        phone=phone,
        area=area,
        building=text_field(resident, "building", prefix="resident.", required=False, max_len=20),
        room=text_field(resident, "room", prefix="resident.", required=False, max_len=20),
        id_card=id_card,
    )


def parse_submit_case(body: dict, entered_by: str = "") -> SubmitCase:
    """Turn a request body into a command, naming the first field that is wrong."""
    resident = parse_resident(body.get("resident"))
    return SubmitCase(
        matter_code=text_field(body, "matter_code", max_len=80),
        channel=_choice(body, "channel", CHANNELS, "counter"),
        kind=_choice(body, "kind", KINDS, "request"),
        urgency=_choice(body, "urgency", URGENCIES, "normal"),
        description=text_field(body, "description", required=False, max_len=2000),
        resident=resident,
        entered_by=entered_by,
        proxy=_flag(body, "proxy"),
        reporter=text_field(body, "reporter", required=False, max_len=50),
        attributes=_object(body, "attributes"),
    )


def parse_moment(body: dict, field: str) -> datetime:
    value = body.get(field)
    if not isinstance(value, str):
        raise InvalidInput(field, "is required: an ISO 8601 date-time with a time zone")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(field, "is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidInput(field, "needs a time zone (e.g. +08:00)")
    return moment


def check_against_matter(cmd: SubmitCase, matter) -> dict:
    """The matter exists for this channel and the form's attributes fit it (Open311 style); returns them clean."""
    if cmd.channel not in matter.channels:
        raise InvalidInput("channel", f"{matter.name} is not taken by {cmd.channel}; "
                                      f"use one of {', '.join(matter.channels)}")
    known = {attr.code: attr for attr in matter.attributes}
    for code in cmd.attributes:
        if code not in known:
            raise InvalidInput(f"attributes.{code}", f"is not a field of {matter.name}")
    clean = {}
    for attr in matter.attributes:
        field, value = f"attributes.{attr.code}", cmd.attributes.get(attr.code)
        if value is None or value == "" or value == []:
            if attr.required:
                raise InvalidInput(field, f"is required ({attr.description or attr.code})")
            continue
        clean[attr.code] = _attribute_value(field, attr, value)
    return clean


def _attribute_value(field: str, attr, value):
    allowed = [v.key for v in attr.values]
    if attr.datatype == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(field, "must be a number")
        return value
    if attr.datatype == "multivaluelist":
        if not isinstance(value, list) or not all(isinstance(v, str) and v in allowed for v in value) \
                or len(set(value)) != len(value):
            raise InvalidInput(field, f"must be a list of {', '.join(allowed)}")
        return value
    if not isinstance(value, str) or len(value) > 2000:
        raise InvalidInput(field, "must be a string of at most 2000 characters")
    storable_text(field, value)
    if attr.datatype == "singlevaluelist" and value not in allowed:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")
    if attr.datatype == "datetime":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(field, "must be an ISO 8601 date-time") from None
    return value


def new_case(cmd: SubmitCase, category: str, resident_id: str, now: datetime, handling: str = "routed",
             attributes: dict | None = None) -> Case:
    case = Case(
        id=str(uuid.uuid4()), matter_code=cmd.matter_code, category=category, channel=cmd.channel,
        kind=cmd.kind, urgency=cmd.urgency, description=cmd.description, resident_id=resident_id,
        area=cmd.resident.area, status="submitted", submitted_at=now, updated_at=now, entered_by=cmd.entered_by,
        handling=handling, proxy=cmd.proxy, reporter=cmd.reporter, attributes=dict(attributes or {}),
    )
    note = f"channel {cmd.channel}" + (", entered for the resident (代办)" if cmd.proxy else "")
    case.history.append({"status": "submitted", "at": now.isoformat(), "note": note})
    return case


# -- the bodies of the worker's actions ------------------------------------------------------------------------

def parse_reason(body: dict) -> str:
    return text_field(body, "reason", max_len=500)


def parse_note(body: dict) -> str:
    return text_field(body, "note", required=False, max_len=500)


def parse_missing_materials(body: dict, matter=None) -> list[str]:
    missing = body.get("missing_materials")
    if not isinstance(missing, list) or not missing:
        raise InvalidInput("missing_materials", "is required: a non-empty list of the materials that are missing")
    for index, item in enumerate(missing):
        if not isinstance(item, str) or not item.strip() or len(item) > 100:
            raise InvalidInput(f"missing_materials[{index}]", "must be a material's name (at most 100 characters)")
        storable_text(f"missing_materials[{index}]", item)
    if len({item.strip() for item in missing}) != len(missing):
        raise InvalidInput("missing_materials", "names a material twice")
    return [item.strip() for item in missing]


def parse_answer(body: dict) -> str:
    return text_field(body, "answer", max_len=2000)


def parse_callback(body: dict) -> tuple[str, str]:
    rating = _choice(body, "rating", RATINGS)
    return rating, text_field(body, "comment", required=False, max_len=1000)


# -- search ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    matter_code: str | None = None
    category: str | None = None
    area: str | None = None
    channel: str | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    page: int = 1
    per_page: int = 20


def parse_case_filter(args: dict) -> CaseFilter:
    """Query-string filters; dates are ISO 8601 (a date alone means midnight in Asia/Shanghai)."""
    def one(name, allowed=None, pattern=None):
        value = args.get(name)
        if value in (None, ""):
            return None
        if allowed is not None and value not in allowed:
            raise InvalidInput(name, f"{value!r} is not one of {', '.join(allowed)}")
        if pattern is not None and not pattern.match(value):
            raise InvalidInput(name, "is not a valid code")
        return value

    def moment(name):
        value = args.get(name)
        if value in (None, ""):
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(name, "must be an ISO 8601 date or date-time") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)

    def number(name, default, low, high):
        value = args.get(name)
        if value in (None, ""):
            return default
        if not str(value).isdigit() or not low <= int(value) <= high:
            raise InvalidInput(name, f"must be a whole number from {low} to {high}")
        return int(value)

    code = re.compile(r"^[a-z0-9-]{1,80}$")
    found = CaseFilter(
        status=one("status", STATUSES), matter_code=one("matter_code", pattern=code),
        category=one("category", pattern=code), area=one("area", pattern=AREA_RE), channel=one("channel", CHANNELS),
        submitted_from=moment("from"), submitted_to=moment("to"),
        page=number("page", 1, 1, 100000), per_page=number("per_page", 20, 1, 100),
    )
    if found.submitted_from and found.submitted_to and found.submitted_from > found.submitted_to:
        raise InvalidInput("from", "is after 'to'")
    return found
