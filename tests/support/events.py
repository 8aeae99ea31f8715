"""Events as the services produce them: valid data of an event type, and events committed to an outbox as a
service commits them (unpublished, for a relay to take)."""
import uuid

from sqlalchemy.orm import sessionmaker

from shared.db import engine_for
from shared.events import new_event


def accepted_data(**overrides):
    """Data of a valid doorstep.intake.case.accepted.v1 event of a matter routing handles."""
    return {
        "case_id": str(uuid.uuid4()), "matter_code": "property-repair", "category": "property", "handling": "routed",
        "channel": "counter", "kind": "request", "urgency": "normal", "area": "shixin",
        "resident": {"resident_id": str(uuid.uuid4()), "phone_masked": "138****5678"},
        "accepted_at": "2026-11-23T08:00:00+00:00", **overrides,
    }


def accepted_event(**data):
    """A case.accepted envelope as intake publishes it."""
    return new_event("doorstep.intake.case.accepted.v1", street="lujiazui", subject="case/x",
                     data=accepted_data(**data))


def accepted_events_in_outbox(settings, count=1):
    """Commit ``count`` case.accepted events to intake's outbox, unpublished, as intake does; return their ids."""
    from services.intake.persistence import IntakeUnitOfWork

    uow = IntakeUnitOfWork(sessionmaker(engine_for(settings.db_url("intake"))), settings.street)
    ids = []
    with uow:
        for _ in range(count):
            data = accepted_data()
            ids.append(emit(uow, "doorstep.intake.case.accepted.v1", subject=f"case/{data['case_id']}",
                                data=data).id)
        uow.commit()
    return ids


def emit(uow, type_name: str, *, subject: str, data: dict):
    """An event of any type with any data, for tests of the outbox and commit machinery (the services emit
    only what their builders make)."""
    from shared.events import Outgoing

    return uow.emit(Outgoing(type_name, subject, data))
