"""What routing forgets: the cases of a resident intake erased (``resident.erased``), and cases resolved longer
ago than ``DOORSTEP_RETENTION_CLOSED_CASE_DAYS`` (a timer, a batch a pass). The rules are
:mod:`services.routing.domain.erasure`; each batch is a few statements whatever its size."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from shared import metrics
from shared.config import Settings
from shared.db import utcnow
from shared.events import Envelope
from services.routing import events
from services.routing.domain.erasure import (redacted_assignment, redacted_case, redacted_log_detail,
                                             retention_cutoff)
from services.routing.persistence import RoutingUnitOfWork


def forget_residents(erased: list[Envelope], uow: RoutingUnitOfWork) -> None:
    """Residents were erased at intake: their cases keep their decision and history, not the resident or what
    was written about them; neither do the events about them still in the outbox."""
    with uow:
        todo = uow.unhandled(erased)
        case_ids = sorted({case_id for event in todo for case_id in event.data["case_ids"]})
        forget_cases(uow, case_ids, utcnow())
        # A resident erased for retention was quiet for longer than the outbox keeps events (see the settings).
        asked = sorted({case_id for event in todo if event.data["reason"] == "request"
                        for case_id in event.data["case_ids"]})
        uow.rewrite_outbox([f"case/{case_id}" for case_id in asked], events.redacted)
        uow.commit()


def forget_cases(uow: RoutingUnitOfWork, case_ids: list[str], now: datetime) -> None:
    """Inside ``uow``: redact these cases, their assignments and their case log."""
    if not case_ids:
        return
    privacy = uow.privacy
    cases = {row["case_id"]: redacted_case(row) for row in privacy.case_rows(case_ids)}
    assignments = {row["id"]: redacted_assignment(row) for row in privacy.assignment_rows(case_ids)}
    details = {}
    for row in privacy.log_rows(case_ids):
        detail = redacted_log_detail(row["action"], row["detail"])
        if detail != row["detail"]:
            details[row["id"]] = detail
    privacy.store(cases, assignments, details, now)


def apply_retention(new_uow: Callable[[], RoutingUnitOfWork], settings: Settings,
                    now: datetime | None = None) -> int:
    """One pass: the oldest batch of resolved cases past their retention; how many."""
    now = now or utcnow()
    with new_uow() as uow:
        due = uow.privacy.due_cases(retention_cutoff(now, settings.retention_closed_case_days),
                                    settings.retention_batch_size)
        forget_cases(uow, due, now)
        uow.commit()
    metrics.RETENTION_RECORDS.labels("routing", "cases").inc(len(due))
    return len(due)
