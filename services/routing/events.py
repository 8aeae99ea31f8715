"""The events routing publishes, one builder per event type: each payload is shaped here and nowhere else.

A use case emits what a builder returns (``uow.emit(events.case_routed(...))``); the unit of work gives it its
envelope and checks it against the type's schema (``shared/contract/schemas/routing/``). Optional fields are
left out when there is nothing to say, never sent as null: the schemas type them as strings.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.events import Outgoing
from shared.personal_data import redact_fields
from services.routing.domain.assignments import Assignment, RoutedCase
from services.routing.domain.directory import Unit

_PREFIX = "doorstep.routing."


def _event(name: str, case_id: str, data: dict) -> Outgoing:
    return Outgoing(f"{_PREFIX}{name}", f"case/{case_id}", data)


def _when(moment: datetime) -> str:
    return moment.isoformat()


def _optional(**values) -> dict:
    """The fields that have a value (an empty string or None is none), times in ISO 8601."""
    return {key: _when(value) if isinstance(value, datetime) else value for key, value in values.items()
            if value is not None and value != ""}


# -- cases ------------------------------------------------------------------------------------------------

def case_routed(case: RoutedCase, lead: Assignment, unit: Unit, assists: list[tuple[Assignment, Unit]],
                dispatch: Literal["initial", "warning"], at: datetime) -> Outgoing:
    """A lead unit (and its assisting units) got the case: first routing, or a warning case (预警工单)
    re-dispatched with its deadline fixed now."""
    return _event("case.routed.v1", case.case_id, {
        "case_id": case.case_id,
        "assignment_id": lead.id,
        "unit": {"code": unit.code, "name": unit.name},
        "rule": lead.rule,
        "reason": lead.reason,
        "area": case.area,
        **_optional(matter_code=case.matter_code, resident_id=case.resident_id, phone_masked=case.phone_masked),
        "assists": [{"code": u.code, "name": u.name, "assignment_id": a.id, "required": a.required}
                    for a, u in assists],
        **_optional(sign_due_at=lead.sign_due_at, due_at=lead.due_at),
        "dispatch": dispatch,
        "routed_at": _when(at),
    })


def case_escalated(case: RoutedCase, assignment: Assignment, to_unit: str,
                   reason: Literal["sign-overdue", "handle-overdue", "transfer-limit"], at: datetime,
                   due_at: datetime | None = None) -> Outgoing:
    """督办: the case's ``escalations``-th escalation, to a supervising unit."""
    return _event("case.escalated.v1", case.case_id, {
        "case_id": case.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code, "to_unit": to_unit,
        "reason": reason, "level": case.escalations, "escalated_at": _when(at),
        **_optional(due_at=due_at),
    })


def case_resolved(case: RoutedCase, lead: Assignment, assisting_units: list[str], answer: str, overdue: bool,
                  at: datetime) -> Outgoing:
    """The lead and every required assisting unit are done: one merged answer for the resident."""
    return _event("case.resolved.v1", case.case_id, {
        "case_id": case.case_id, **_optional(resident_id=case.resident_id), "lead_unit": lead.unit_code,
        "assisting_units": assisting_units, "answer": answer, "overdue": overdue, "resolved_at": _when(at),
    })


def case_arbitrated(case: RoutedCase, arbitration_unit: str, unit: Unit, assignment: Assignment, decision: str,
                    at: datetime) -> Outgoing:
    """仲裁: the operations centre gave a returned case to ``unit``, saying why."""
    return _event("case.arbitrated.v1", case.case_id, {
        "case_id": case.case_id, "arbitration_unit": arbitration_unit, "unit": unit.code, "unit_name": unit.name,
        "assignment_id": assignment.id, "decision": decision, "arbitrated_at": _when(at),
    })


# -- assignments ------------------------------------------------------------------------------------------

def assignment_signed(assignment: Assignment, at: datetime) -> Outgoing:
    """签收: the handling clock runs from now (or from dispatch, for a warning case)."""
    return _event("assignment.signed.v1", assignment.case_id, {
        "case_id": assignment.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
        "role": assignment.role, **_optional(due_at=assignment.due_at),
        "signed_at": _when(at),
    })


def assignment_contacted(assignment: Assignment, at: datetime) -> Outgoing:
    """先行联系: the unit reached the resident, within the first-contact limit or not."""
    return _event("assignment.contacted.v1", assignment.case_id, {
        "case_id": assignment.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
        "on_time": assignment.contact_due_at is None or at <= assignment.contact_due_at,
        "contacted_at": _when(at),
    })


def assignment_reported(assignment: Assignment, at: datetime) -> Outgoing:
    """The lead's result, or an assisting unit's part."""
    return _event("assignment.reported.v1", assignment.case_id, {
        "case_id": assignment.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
        "role": assignment.role, "result": assignment.result,
        "overdue": assignment.due_at is not None and at > assignment.due_at, "reported_at": _when(at),
    })


def assignment_transferred(case: RoutedCase, closed: Assignment, successor: Assignment, to: Unit, reason: str,
                           at: datetime) -> Outgoing:
    """转办: ``closed`` ends, ``successor`` is the new unit's assignment; ``case.transfers`` counts this one."""
    return _event("assignment.transferred.v1", case.case_id, {
        "case_id": case.case_id, "assignment_id": closed.id, "from_unit": closed.unit_code, "to_unit": to.code,
        "to_unit_name": to.name, "new_assignment_id": successor.id, "reason": reason, "transfers": case.transfers,
        **_optional(sign_due_at=successor.sign_due_at),
        "transferred_at": _when(at),
    })


def assignment_returned(assignment: Assignment, reason_code: str, note: str, arbitration_unit: str,
                        at: datetime) -> Outgoing:
    """退单: the unit says the case is not theirs; ``arbitration_unit`` decides."""
    return _event("assignment.returned.v1", assignment.case_id, {
        "case_id": assignment.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
        "reason_code": reason_code, "note": note, "arbitration_unit": arbitration_unit, "returned_at": _when(at),
    })


def assignment_reminded(assignment: Assignment, clock: Literal["sign", "contact", "handle"], due_at: datetime,
                        at: datetime) -> Outgoing:
    """催办: the ``clock`` deadline, due at ``due_at``, has passed."""
    return _event("assignment.reminded.v1", assignment.case_id, {
        "case_id": assignment.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
        "clock": clock, "due_at": _when(due_at), "reminded_at": _when(at),
    })


def assignment_extended(assignment: Assignment, approved_by: str, working_days: int, reason: str,
                        previous_due_at: datetime, at: datetime) -> Outgoing:
    """延期 approved: the deadline moved from ``previous_due_at`` to the assignment's ``due_at``."""
    return _event("assignment.extended.v1", assignment.case_id, {
        "case_id": assignment.case_id, "assignment_id": assignment.id, "unit": assignment.unit_code,
        "approved_by": approved_by, "reason": reason, "working_days": working_days,
        "previous_due_at": _when(previous_due_at), "due_at": _when(assignment.due_at), "extended_at": _when(at),
    })


# -- erasure --------------------------------------------------------------------------------------------

# What of each event is someone's words about the case; redacted in the outbox once the case's resident is
# erased, with the resident's id and masked phone, so a replay does not publish them again.
FREE_TEXT = {
    "doorstep.routing.case.resolved.v1": ("answer",),
    "doorstep.routing.assignment.reported.v1": ("result",),
    "doorstep.routing.assignment.transferred.v1": ("reason",),
    "doorstep.routing.assignment.returned.v1": ("note",),
    "doorstep.routing.assignment.extended.v1": ("reason",),
    "doorstep.routing.case.arbitrated.v1": ("decision",),
}
_RESIDENT = ("resident_id", "phone_masked")


def redacted(event_type: str, data: dict) -> dict:
    """An event's data as it may still be replayed once the case's resident is erased."""
    fields = FREE_TEXT.get(event_type, ())
    if event_type == "doorstep.routing.case.routed.v1" and data.get("dispatch") == "warning":
        fields = ("reason",)  # a warning case's reason is the resident's complaint
    return redact_fields(data, fields, drop=_RESIDENT)
