"""A resident's right to erasure (PIPL 删除权): the record is pseudonymised rather than deleted, so that cases,
visits, statistics and the other services' histories stay whole; what identifies the person (name, phone, ID
number, building and room) and what people wrote about them (descriptions, answers, reasons, comments, notes)
goes. ``resident.erased`` tells routing, notify and any subscriber to erase what they hold.

The same steps serve the retention pass (:mod:`.retention`), a batch of residents at a time.
"""
from __future__ import annotations

from datetime import datetime

from shared.db import utcnow
from shared.errors import Conflict, NotFound
from services.intake import events, metrics
from services.intake.catalog import Catalog
from services.intake.domain import (EraseResident, check_erasable, pseudonym, redacted_case, redacted_note)
from services.intake.persistence import IntakeUnitOfWork


def erase_resident(cmd: EraseResident, uow: IntakeUnitOfWork, catalog: Catalog) -> dict:
    """Pseudonymise the resident now (once: a second request answers what was done), unless a matter of theirs
    is still being handled or a booking is still to come."""
    now = utcnow()
    with uow:
        resident = uow.residents.get(cmd.resident_id, for_update=True)
        if resident is None:
            raise NotFound(f"resident {cmd.resident_id} does not exist")
        if resident["erased_at"] is None:
            check_erasable(cmd.resident_id, *uow.privacy.still_open(cmd.resident_id, now))
            case_ids = erase_residents(uow, [cmd.resident_id], cmd.reason, now, catalog)[cmd.resident_id]
            uow.commit()
            metrics.RESIDENTS_ERASED.labels(cmd.reason).inc()
            erased_at = now
        else:
            case_ids = [case["id"] for case in uow.privacy.cases_of([cmd.resident_id])]
            erased_at = resident["erased_at"]
    return {"resident_id": cmd.resident_id, "pseudonym": pseudonym(cmd.resident_id),
            "erased_at": erased_at.isoformat(), "case_ids": case_ids}


def erase_residents(uow: IntakeUnitOfWork, resident_ids: list[str], reason: str, now: datetime,
                    catalog: Catalog) -> dict[str, list[str]]:
    """Inside ``uow``: pseudonymise the residents, redact their cases (and, on request, the events about them
    still in the outbox), and emit ``resident.erased`` for each; a few statements for the whole batch. Returns
    each resident's case ids."""
    if not resident_ids:
        return {}
    found = uow.privacy.cases_of(resident_ids)
    redact_cases(uow, [case for case in found if case["redacted_at"] is None], now, catalog)
    uow.privacy.erase_residents(resident_ids, now)
    if reason == "request":
        # Retention erases only residents quiet for longer than the outbox keeps anything (see the settings).
        subjects = [f"case/{case['id']}" for case in found]
        subjects += [f"appointment/{a}" for a in uow.privacy.appointments_of(resident_ids)]
        uow.rewrite_outbox(subjects, events.redacted)
    case_ids: dict[str, list[str]] = {resident_id: [] for resident_id in resident_ids}
    for case in found:
        case_ids[case["resident_id"]].append(case["id"])
    for resident_id in resident_ids:
        uow.emit(events.resident_erased(resident_id, case_ids[resident_id], reason, now))
    return case_ids


def redact_cases(uow: IntakeUnitOfWork, found: list[dict], now: datetime, catalog: Catalog) -> None:
    """Redact the free text of these cases (rows of :meth:`PrivacyRepository.cases_of`) and of their history."""
    if not found:
        return
    uow.privacy.redact_cases({case["id"]: redacted_case(case, catalog.get(case["matter_code"])) for case in found},
                             now)
    notes = {}
    for entry in uow.privacy.history_notes([case["id"] for case in found]):
        note = redacted_note(entry["status"], entry["note"])
        if note != entry["note"]:
            notes[entry["id"]] = note
    uow.privacy.set_history_notes(notes)


def check_not_erased(uow: IntakeUnitOfWork, resident_id: str) -> None:
    """A step that would record the resident's words again (a callback's comment) is refused once erased."""
    resident = uow.residents.get(resident_id)
    if resident is not None and resident["erased_at"] is not None:
        raise Conflict(f"resident {resident_id} was erased; nothing more is recorded about them")
