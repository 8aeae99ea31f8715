"""The daily digest of a unit: its assignments as notify follows them from routing's events, and what the digest
says at its hour — new in the last day, overdue, escalated."""
from __future__ import annotations

import dataclasses
from datetime import datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from services.notify.domain.recipients import SHANGHAI

# The digest is not an event; its templates live under this key and read this context.
DIGEST_KEY = "digest.unit"
# The digest's data is built by notify itself, every field always present.
DIGEST_SCHEMA = {"required": ["unit", "date", "new", "overdue", "escalated", "counts"], "properties": {
    "unit": {"required": ["code", "name"], "properties": {"code": {}, "name": {}}},
    "date": {}, "new": {"type": "array"}, "overdue": {"type": "array"}, "escalated": {"type": "array"},
    "counts": {"required": ["new", "overdue", "escalated"], "properties": {
        "new": {"type": "integer"}, "overdue": {"type": "integer"}, "escalated": {"type": "integer"}}},
}}


@dataclasses.dataclass(frozen=True)
class AssignmentView:
    assignment_id: str
    case_id: str
    unit_code: str
    unit_name: str
    area: str
    matter_code: str
    routed_at: datetime
    due_at: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None


def digest_moment(day, at: time, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, at, tzinfo=tz)


def digest_due(now: datetime, at: time, tz: ZoneInfo = SHANGHAI, catch_up: timedelta = timedelta(hours=6)):
    """The local date whose digest is due at ``now`` — today's, from its time on — else None. A service that
    was down at digest time catches up for a few hours, not at night (a stale digest helps no one)."""
    local = now.astimezone(tz)
    moment = digest_moment(local.date(), at, tz)
    return local.date() if moment <= local < moment + catch_up else None


def compose_digest(unit_code: str, assignments: Iterable[AssignmentView], moment: datetime) -> dict | None:
    """What a unit's digest says at ``moment``: new in the last day, overdue, escalated; None if nothing."""
    since = moment - timedelta(days=1)
    new, overdue, escalated, unit_name = [], [], [], unit_code
    for a in assignments:
        if a.unit_code != unit_code or a.routed_at >= moment or (a.closed_at and a.closed_at <= moment):
            continue
        unit_name = a.unit_name or unit_name
        line = {"case_id": a.case_id, "matter_code": a.matter_code, "area": a.area,
                "routed_at": a.routed_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")}
        if a.routed_at >= since:
            new.append(line)
        if a.due_at is not None and a.due_at < moment:
            overdue.append({**line, "due_at": a.due_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M")})
        if a.escalated_at is not None and a.escalated_at < moment:
            escalated.append(line)
    if not (new or overdue or escalated):
        return None
    return {"unit": {"code": unit_code, "name": unit_name}, "date": moment.astimezone(SHANGHAI).date().isoformat(),
            "new": new, "overdue": overdue, "escalated": escalated,
            "counts": {"new": len(new), "overdue": len(overdue), "escalated": len(escalated)}}
