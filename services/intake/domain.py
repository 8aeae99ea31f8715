"""Intake's domain: a resident's case and the rules of its life. No nameko, HTTP or SQL here."""
from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import datetime

from shared.errors import Conflict, InvalidInput
from shared.personal_data import MOBILE_RE, id_card_is_valid

CHANNELS = ("counter", "online", "phone", "video")
KINDS = ("consultation", "complaint", "request", "suggestion")  # 咨询 投诉 求助 建议
URGENCIES = ("normal", "urgent", "critical")  # 一般 紧急 特急
AREA_RE = re.compile(r"^[a-z0-9-]{1,40}$")

# Which status may follow which (受理 → 收受分离 → 办结 → 回访 → 结案); one table, checked on every move.
TRANSITIONS = {
    "submitted": {"accepted", "rejected", "supplement_requested"},
    "supplement_requested": {"resubmitted"},
    "resubmitted": {"accepted", "rejected", "supplement_requested"},
    "accepted": {"settled", "routed"},
    "routed": {"in_progress", "resolved"},
    "in_progress": {"resolved"},
    "settled": {"closed", "reopened"},
    "resolved": {"closed", "reopened"},
    "reopened": {"routed", "in_progress", "resolved"},
    "rejected": set(),
    "closed": set(),
}


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

    def move_to(self, status: str, at: datetime, note: str = "") -> str:
        """Change status if the lifecycle allows it; returns the previous status."""
        if status not in TRANSITIONS.get(self.status, set()):
            raise Conflict(f"case {self.id} cannot go from {self.status} to {status}")
        previous, self.status, self.updated_at = self.status, status, at
        self.history.append({"status": status, "at": at.isoformat(), "note": note})
        return previous


def _text(body: dict, field: str, *, required: bool = True, max_len: int = 200, prefix: str = "") -> str:
    value = body.get(field)
    name = f"{prefix}{field}"
    if value is None or value == "":
        if required:
            raise InvalidInput(name, "is required")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, f"must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise InvalidInput(name, f"is longer than {max_len} characters")
    return value.strip()


def _choice(body: dict, field: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(field, default)
    if value is None:
        raise InvalidInput(field, f"is required; one of {', '.join(allowed)}")
    if value not in allowed:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def parse_submit_case(body: dict, entered_by: str = "") -> SubmitCase:
    """Turn a request body into a command, naming the first field that is wrong."""
    resident = body.get("resident")
    if not isinstance(resident, dict):
        raise InvalidInput("resident", "is required and must be an object")
    phone = _text(resident, "phone", prefix="resident.", max_len=11)
    if not MOBILE_RE.match(phone):
        raise InvalidInput("resident.phone", "must be an 11-digit mainland mobile number")
    area = _text(resident, "area", prefix="resident.", max_len=40)
    if not AREA_RE.match(area):
        raise InvalidInput("resident.area", "must be a residential-area code (lower-case letters, digits, '-')")
    id_card = _text(resident, "id_card", prefix="resident.", required=False, max_len=18) or None
    if id_card and not id_card_is_valid(id_card):
        raise InvalidInput("resident.id_card", "is not a valid 18-character ID-card number")
    return SubmitCase(
        matter_code=_text(body, "matter_code", max_len=80),
        channel=_choice(body, "channel", CHANNELS, "counter"),
        kind=_choice(body, "kind", KINDS, "request"),
        urgency=_choice(body, "urgency", URGENCIES, "normal"),
        description=_text(body, "description", required=False, max_len=2000),
        resident=ResidentDetails(
            name=_text(resident, "name", prefix="resident.", max_len=50),
            phone=phone,
            area=area,
            building=_text(resident, "building", prefix="resident.", required=False, max_len=20),
            room=_text(resident, "room", prefix="resident.", required=False, max_len=20),
            id_card=id_card,
        ),
        entered_by=entered_by,
    )


def new_case(cmd: SubmitCase, category: str, resident_id: str, now: datetime) -> Case:
    case = Case(
        id=str(uuid.uuid4()), matter_code=cmd.matter_code, category=category, channel=cmd.channel,
        kind=cmd.kind, urgency=cmd.urgency, description=cmd.description, resident_id=resident_id,
        area=cmd.resident.area, status="submitted", submitted_at=now, updated_at=now, entered_by=cmd.entered_by,
    )
    case.history.append({"status": "submitted", "at": now.isoformat(), "note": f"channel {cmd.channel}"})
    return case
