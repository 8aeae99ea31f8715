"""Intake's events are built in one place, a builder per type: each builds data its frozen schema (the public
contract subscribers rely on) and its current schema accept, every type intake publishes has exactly one
builder, and no use case spells an event itself."""
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.events import Outgoing, new_event
from services.intake import events
from services.intake.appointments import Slot, Station
from services.intake.catalog import default_catalog
from services.intake.domain import RecordVisit, ResidentDetails, StartVideo, SubmitCase, new_case
from support import contract
from support.contract import published_types, schema_errors

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "shared" / "contract"
AT = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
CATALOG = default_catalog()
REPAIR = CATALOG.get("property-repair")


def a_case(status_path=(), **changes):
    cmd = SubmitCase(matter_code="property-repair", channel="online", kind="request", urgency="normal",
                     description="楼道灯不亮，电话 13812345678", entered_by="counter",
                     resident=ResidentDetails(name="王", phone="13812345678", area="shixin"))
    case = new_case(cmd, "property", str(uuid.uuid4()), AT, handling="routed")
    for step in status_path:
        step(case)
    for name, value in changes.items():
        setattr(case, name, value)
    return case


def accepted(case):
    case.accept(AT)


def routed(case):
    case.routed_to("shixin-pm", "市新居民区物业", AT)


def resolved(case):
    case.resolved("shixin-pm", "已更换灯泡", AT)


RESIDENT = events.resident_ref(str(uuid.uuid4()), "13812345678")
STATION = Station("shixin", "市新服务站", "shixin", (), 30, 4)
SLOT = Slot("shixin", AT + timedelta(days=1), AT + timedelta(days=1, minutes=30))
APPOINTMENT = {"id": str(uuid.uuid4()), "station_code": "shixin", "starts_at": SLOT.starts_at,
               "resident_id": RESIDENT["resident_id"], "matter_code": "property-repair"}
SESSION = {"id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "kind": "consultation", "worker": "counter",
           "started_at": AT - timedelta(minutes=12)}


def samples():
    """Every builder called with sample domain objects, the optional parts both given and left out."""
    rejected = a_case(reason="不属于本站事项，请拨打 13812345678")
    supplement = a_case((lambda c: c.request_supplement(["房屋产权证明"], AT),))
    settled = a_case((accepted,), handling="station")
    settled.settle("当场打印", AT)
    reopened = a_case((accepted, routed, resolved))
    reopened.record_callback("dissatisfied", "灯还是不亮", AT)
    closed = a_case((accepted, routed, resolved))
    closed.record_callback("satisfied", "", AT)
    closed.close(AT)
    return {
        events.case_submitted: [(a_case(), RESIDENT)],
        events.case_accepted: [(a_case((accepted,)), REPAIR, RESIDENT, AT), (a_case((accepted,)), None, RESIDENT, AT)],
        events.case_status_changed: [(a_case((accepted,)), "submitted", AT), (rejected, "submitted", AT, "原因")],
        events.case_rejected: [(rejected, AT)],
        events.case_supplement_requested: [(supplement, "请带原件", AT), (supplement, "", AT)],
        events.case_resubmitted: [(a_case(), "已补", AT), (a_case(), "", AT)],
        events.case_settled: [(settled, AT)],
        events.case_callback_recorded: [(reopened, "灯还是不亮", True, AT), (closed, "", False, AT)],
        events.case_reopened: [(reopened, "灯还是不亮", AT), (reopened, "", AT)],
        events.case_closed: [(closed, AT), (a_case((accepted,)), AT)],
        events.visit_recorded: [(str(uuid.uuid4()), RecordVisit("shixin", (str(uuid.uuid4()),), "counter"),
                                 RESIDENT["resident_id"], AT)],
        events.video_session_started: [(str(uuid.uuid4()), StartVideo(str(uuid.uuid4()), "remote_assistance",
                                                                      "counter"), AT)],
        events.video_session_ended: [(SESSION, AT)],
        events.appointment_booked: [(str(uuid.uuid4()), STATION, SLOT, REPAIR, RESIDENT, AT)],
        events.appointment_cancelled: [(APPOINTMENT, "改期", AT), (APPOINTMENT, "", AT)],
        events.appointment_no_show: [(APPOINTMENT, AT)],
        events.appointment_reminder_due: [(APPOINTMENT, RESIDENT, STATION, REPAIR, AT),
                                          (APPOINTMENT, RESIDENT, None, None, AT)],
        events.resident_erased: [(RESIDENT["resident_id"], [closed.id, reopened.id], "request", AT),
                                 (RESIDENT["resident_id"], [], "retention", AT)],
    }


def builders():
    return list(contract.builders(events).values())


@pytest.mark.parametrize("builder, args", [(b, a) for b, calls in samples().items() for a in calls],
                         ids=lambda value: getattr(value, "__name__", ""))
def test_every_builder_makes_data_its_frozen_schema_accepts(builder, args):
    outgoing = builder(*args)
    assert isinstance(outgoing, Outgoing)
    assert schema_errors(outgoing.type, outgoing.data) == []
    assert schema_errors(outgoing.type, outgoing.data, kind="schemas") == []
    envelope = new_event(outgoing.type, street="lujiazui", subject=outgoing.subject, data=outgoing.data)
    assert envelope.subject.split("/")[0] in ("case", "visit", "appointment", "resident")
    assert "13812345678" not in json.dumps(envelope.data, ensure_ascii=False)  # personal data leaves masked


def test_every_published_type_has_exactly_one_builder():
    published = published_types("intake")
    made = {}
    for builder, calls in samples().items():
        made.setdefault(builder(*calls[0]).type, []).append(builder.__name__)
    assert set(samples()) == set(builders()), "a builder without samples here, or a sample of no builder"
    assert {t: names for t, names in made.items() if len(names) > 1} == {}
    assert set(made) == published

