"""Intake's domain: a resident's case and the rules of its life. No nameko, HTTP or SQL here."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.errors import Conflict, InvalidInput
from shared.personal_data import redacted_text

KINDS = ("consultation", "complaint", "request", "suggestion")  # 咨询 投诉 求助 建议
URGENCIES = ("normal", "urgent", "critical")  # 一般 紧急 特急
SHANGHAI = ZoneInfo("Asia/Shanghai")
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


# -- what a worker does to a case, a visit, an appointment (commands) -------------------------------------------

@dataclasses.dataclass(frozen=True)
class RejectCase:
    """不予受理: the reason is told to the resident."""
    case_id: str
    reason: str


@dataclasses.dataclass(frozen=True)
class RequestSupplement:
    """补正: which materials are missing."""
    case_id: str
    missing_materials: tuple[str, ...]
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ResubmitCase:
    case_id: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class SettleCase:
    """当场办结, with the answer given."""
    case_id: str
    answer: str


@dataclasses.dataclass(frozen=True)
class RecordCallback:
    """回访 with the resident's rating."""
    case_id: str
    rating: str
    comment: str = ""


@dataclasses.dataclass(frozen=True)
class RecordVisit:
    """One in-person visit for one or more of a resident's cases (一口受理)."""
    station: str
    case_ids: tuple[str, ...]
    worker: str


@dataclasses.dataclass(frozen=True)
class StartVideo:
    """可视化咨询 or 远程协助 about a case."""
    case_id: str
    kind: str
    worker: str


@dataclasses.dataclass(frozen=True)
class BookAppointment:
    """网上预约: a place in a station's slot."""
    station: str
    starts_at: datetime
    matter_code: str
    resident: ResidentDetails


@dataclasses.dataclass(frozen=True)
class CancelAppointment:
    appointment_id: str
    reason: str = ""


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
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text")
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


# -- erasure (PIPL 删除权) and retention ------------------------------------------------------------------------

# A case here has nothing left to be done with the resident's details (a settled or resolved case may still
# be called back; the callback of an erased resident is refused).
DONE_STATUSES = ("settled", "resolved", "called_back", "closed", "rejected")
LIVE_STATUSES = tuple(status for status in STATUSES if status not in DONE_STATUSES)
# History entries whose note is what someone wrote (a reason, a note, an answer, a comment); the notes of the
# others are the system's own words ("accepted", "assigned to …", "signed for by …").
WRITTEN_NOTES = ("rejected", "supplement_requested", "resubmitted", "settled", "resolved", "called_back",
                 "reopened")
# Form fields whose values are chosen, not written: kept for statistics. Text and dates may be the person's own.
CHOSEN_ATTRIBUTES = ("singlevaluelist", "multivaluelist", "number")
ERASURE_REASONS = ("request", "retention")


@dataclasses.dataclass(frozen=True)
class EraseResident:
    """Command: pseudonymise a resident, on their request or because the record outlived its retention."""
    resident_id: str
    reason: str = "request"


def pseudonym(resident_id: str) -> str:
    """The name an erased resident's record keeps: from the record's random id, so it says nothing of them."""
    return f"已删除居民-{resident_id[:8]}"


def erased_resident(resident_id: str, at: datetime) -> dict:
    """The resident's row once erased: the id (cases, visits and statistics keep pointing at it), the residential
    area (a neighbourhood of thousands, on every case too) and the dates stay; who and where exactly go."""
    return {"name": pseudonym(resident_id), "phone": None, "building": "", "room": "", "id_card_masked": None,
            "id_card_hash": None, "erased_at": at}


def check_erasable(resident_id: str, live_cases: list[str], booked: list[str]) -> None:
    """A resident whose matter is still being handled, or who is expected at a station, keeps their details until
    that is done: those who handle it need them (PIPL art. 47 once the purpose is achieved)."""
    waiting = [f"case {case_id}" for case_id in live_cases] + [f"appointment {a}" for a in booked]
    if waiting:
        raise Conflict(f"resident {resident_id} cannot be erased while {', '.join(waiting)} "
                       f"{'is' if len(waiting) == 1 else 'are'} still open; erase once done or cancelled")


def redacted_case(case: dict, matter) -> dict:
    """A case's free text redacted (what the resident said, what was answered or reasoned, who reported it) and
    the form's written values left out; the case's facts (matter, area, status, rating, dates) stay.

    ``case`` holds the stored ``description``, ``answer``, ``reason``, ``reporter`` and ``attributes``;
    ``matter`` is its catalog entry (None when no longer in the catalog: every value then goes)."""
    kinds = {attr.code: attr.datatype for attr in matter.attributes} if matter is not None else {}
    return {
        "description": redacted_text(case["description"]), "answer": redacted_text(case["answer"]),
        "reason": redacted_text(case["reason"]), "reporter": redacted_text(case["reporter"]),
        "attributes": {code: value for code, value in (case["attributes"] or {}).items()
                       if kinds.get(code) in CHOSEN_ATTRIBUTES},
    }


def redacted_note(status: str, note: str) -> str:
    """A history entry's note once its case is redacted."""
    return redacted_text(note) if status in WRITTEN_NOTES else note


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Records last changed before this moment have outlived a retention of ``days``."""
    return now - timedelta(days=days)


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
