"""Records of a street with history, written straight into the services' tables, for the retention tests: what
is past its time and what is not, with the people's words in it to be redacted.

Each ``seed_*`` writes ``n`` records of each kind that a retention pass at ``now`` must handle, and returns
their ids; dates are ``years`` back. Names carry ``tag`` so two seeds in one database never collide.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from shared.db import engine_for
from services.intake import persistence as intake
from services.notify import persistence as notify
from services.routing import persistence as routing


def _ago(now: datetime, years: float) -> datetime:
    return now - timedelta(days=365 * years)


def _phone(tag: int, i: int) -> str:
    return f"139{tag:02d}{i:06d}"


def intake_resident(rid: str, phone: str, at: datetime) -> dict:
    return dict(id=rid, name="王秀英", phone=phone, area="shixin", building="12", room="301",
                id_card_masked="310115**********34", id_card_hash="ab" * 32, created_at=at, last_active_at=at)


def intake_case(rid: str, status: str, at: datetime) -> dict:
    return dict(id=str(uuid.uuid4()), matter_code="property-repair", category="property", channel="counter",
                kind="request", urgency="normal", description="王秀英家楼道灯不亮", resident_id=rid, area="shixin",
                status=status, entered_by="counter", submitted_at=at, updated_at=at, handling="routed", proxy=False,
                reporter="楼组长", attributes={"location": "stairwell"}, missing_materials=[], lead_unit="shixin-pm",
                answer="已为王秀英更换", rating="satisfied", reason="")


def _history(case: dict) -> list[dict]:
    at = case["updated_at"].isoformat()
    return [dict(case_id=case["id"], status="submitted", at=at, note="channel counter"),
            dict(case_id=case["id"], status="resolved", at=at, note=case["answer"]),
            dict(case_id=case["id"], status="called_back", at=at, note="callback satisfied: 王秀英说很快")]


def seed_intake(url: str, n: int, now: datetime, tag: int, years: float = 6) -> dict[str, list[str]]:
    """``n`` inactive residents (each with a closed case), ``n`` closed cases of an active resident, ``n``
    bookings long past; and, not due: the active resident, their recent case, an old case still being handled
    and a recent booking."""
    old, recent = _ago(now, years), _ago(now, 0.1)
    active = str(uuid.uuid4())
    residents = [intake_resident(active, _phone(tag, 999999), recent)]
    cases = [intake_case(active, "closed", recent), intake_case(active, "routed", old)]
    inactive = [str(uuid.uuid4()) for _ in range(n)]
    residents += [intake_resident(rid, _phone(tag, i), old) for i, rid in enumerate(inactive)]
    due_cases = [intake_case(rid, "closed", old) for rid in inactive] + [intake_case(active, "closed", old)
                                                                         for _ in range(n)]
    cases += due_cases
    station = f"station-{tag}"
    slot = f"{station}@{old.isoformat()}"
    bookings = [dict(id=str(uuid.uuid4()), slot_id=slot, station_code=station, starts_at=old - timedelta(days=i),
                     resident_id=active, matter_code="property-repair", status="attended", booked_at=old,
                     changed_at=old) for i in range(n)]
    later = dict(id=str(uuid.uuid4()), slot_id=slot, station_code=station, starts_at=recent, resident_id=active,
                 matter_code="property-repair", status="booked", booked_at=recent, changed_at=recent)
    with engine_for(url).begin() as conn:
        conn.execute(intake.residents.insert(), residents)
        conn.execute(intake.cases.insert(), cases)
        conn.execute(intake.case_history.insert(), [h for case in cases for h in _history(case)])
        conn.execute(intake.appointment_slots.insert(), [dict(id=slot, station_code=station, starts_at=old,
                                                              ends_at=old, capacity=n + 1, booked=n + 1)])
        conn.execute(intake.appointments.insert(), bookings + [later])
    return {"residents": inactive, "cases": [c["id"] for c in due_cases], "appointments": [b["id"] for b in bookings],
            "kept_resident": [active], "kept_cases": [c["id"] for c in cases[:2]], "kept_appointments": [later["id"]]}


def seed_routing(url: str, n: int, now: datetime, years: float = 6) -> dict[str, list[str]]:
    """``n`` cases resolved long ago, each with an assignment and a log entry; not due: one resolved recently
    and one old case still open."""
    old, recent = _ago(now, years), _ago(now, 0.1)

    def case(status, at):
        return dict(case_id=str(uuid.uuid4()), area="shixin", matter_code="property-repair", category="property",
                    kind="request", urgency="normal", rule="warning", reason="预警工单 (dissatisfied): 王秀英说还是不亮",
                    explanation="[]", escalation="[]", status=status, lead_unit="shixin-pm", transfers=1,
                    escalations=0, warning=True, resident_id=str(uuid.uuid4()), phone_masked="139****0021",
                    answer="已为王秀英更换", created_at=at, updated_at=at, resolved_at=at if status == "resolved" else None)

    due = [case("resolved", old) for _ in range(n)]
    kept = [case("resolved", recent), case("open", old)]
    everything = due + kept
    with engine_for(url).begin() as conn:
        conn.execute(routing.routing_cases.insert(), everything)
        conn.execute(routing.assignments.insert(), [dict(
            id=str(uuid.uuid4()), case_id=c["case_id"], unit_code="shixin-pm", rule="warning", reason=c["reason"],
            area="shixin", status="done", created_at=c["created_at"], result="已为王秀英更换",
            extension_reason="王秀英不在家") for c in everything])
        conn.execute(routing.case_log.insert(), [dict(
            case_id=c["case_id"], at=c["created_at"], action="transfer", unit_code="shixin-rc", actor="handler:t",
            detail=json.dumps({"to_unit": "shixin-pm", "reason": "王秀英说是物业的事"}, ensure_ascii=False))
            for c in everything])
    return {"cases": [c["case_id"] for c in due], "kept_cases": [c["case_id"] for c in kept]}


def seed_notify(url: str, n: int, now: datetime, years: float = 1) -> dict[str, list[str]]:
    """``n`` messages sent long ago, each with a failed attempt first; not due: one sent recently and an old one
    still queued."""
    old, recent = _ago(now, years), _ago(now, 0.1)

    def delivery(status, at):
        return dict(id=str(uuid.uuid4()), cause_event_id=str(uuid.uuid4()), cause_type="doorstep.routing.case.resolved.v1",
                    case_id=str(uuid.uuid4()), recipient=f"resident:{uuid.uuid4()}", channel="sms",
                    template="case-resolved-resident", subject="您的事项已办结", body="答复：已为王秀英更换",
                    status=status, created_at=at, sent_at=at if status == "sent" else None,
                    context=json.dumps({"answer": "已为王秀英更换"}, ensure_ascii=False), address_masked="139****0021",
                    next_attempt_at=at)

    due = [delivery("sent", old) for _ in range(n)]
    kept = [delivery("sent", recent), delivery("queued", old)]
    with engine_for(url).begin() as conn:
        conn.execute(notify.deliveries.insert(), due + kept)
        conn.execute(notify.delivery_attempts.insert(), [dict(
            delivery_id=d["id"], channel="sms", attempt=1, outcome="failed", error="139****0021: gateway busy",
            attempted_at=d["created_at"]) for d in due + kept])
    return {"deliveries": [d["id"] for d in due], "kept_deliveries": [d["id"] for d in kept]}
