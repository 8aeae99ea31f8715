"""Retention of intake's personal records: what has outlived its time is pseudonymised, redacted or deleted by
a timer, one batch per kind and pass (``DOORSTEP_RETENTION_BATCH_SIZE``), each batch a few statements over
indexes that hold only what is still to do, so a pass costs the same on a street with years of history.

* done cases unchanged for ``DOORSTEP_RETENTION_CLOSED_CASE_DAYS``: their free text is redacted;
* residents with no case or booking for ``DOORSTEP_RETENTION_RESIDENT_DAYS`` (and nothing open): pseudonymised
  as on request, ``resident.erased`` with the reason ``retention``;
* bookings whose slot is ``DOORSTEP_RETENTION_APPOINTMENT_DAYS`` past: deleted (who went where, when).
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from shared import metrics as shared_metrics
from shared.config import Settings
from shared.db import utcnow
from services.intake import metrics
from services.intake.catalog import Catalog
from services.intake.domain import retention_cutoff
from services.intake.handlers.residents import erase_residents, redact_cases
from services.intake.persistence import IntakeUnitOfWork


def apply_retention(new_uow: Callable[[], IntakeUnitOfWork], settings: Settings, catalog: Catalog,
                    now: datetime | None = None) -> dict[str, int]:
    """One pass: a transaction per kind of record. Returns how many records of each kind it handled."""
    now = now or utcnow()
    limit = settings.retention_batch_size
    done = {}
    with new_uow() as uow:
        due = uow.privacy.due_cases(retention_cutoff(now, settings.retention_closed_case_days), limit)
        redact_cases(uow, due, now, catalog)
        uow.commit()
    done["cases"] = len(due)
    with new_uow() as uow:
        residents = uow.privacy.due_residents(retention_cutoff(now, settings.retention_resident_days), limit)
        erase_residents(uow, residents, "retention", now, catalog)
        uow.commit()
    done["residents"] = len(residents)
    with new_uow() as uow:
        done["appointments"] = uow.privacy.delete_appointments(
            retention_cutoff(now, settings.retention_appointment_days), limit)
        uow.commit()
    for kind, count in done.items():
        shared_metrics.RETENTION_RECORDS.labels("intake", kind).inc(count)
    if done["residents"]:
        metrics.RESIDENTS_ERASED.labels("retention").inc(done["residents"])
    return done
