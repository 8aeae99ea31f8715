"""The deadline timer: each breach reminded (催办) and escalated (督办) exactly once, however many replicas run."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from sqlalchemy.exc import IntegrityError

from shared.db import utcnow
from services.routing import events, metrics
from services.routing.domain.assignments import Assignment, RoutedCase
from services.routing.domain.deadlines import breaches, escalation_target
from services.routing.domain.directory import Directory
from services.routing.persistence import RoutingUnitOfWork


def escalate(uow: RoutingUnitOfWork, case: RoutedCase, assignment: Assignment, to_unit: str, reason: str,
             now: datetime, due_at: datetime | None) -> None:
    case.escalations += 1
    case.updated_at = now
    assignment.escalated_to, assignment.escalated_at = to_unit, now
    uow.assignments.save(assignment)
    uow.cases.save(case)
    uow.cases.log(case.case_id, now, "escalation", assignment.unit_code, "timer" if due_at else None,
                  {"to_unit": to_unit, "reason": reason})
    uow.emit(events.case_escalated(case, assignment, to_unit, reason, now, due_at))
    metrics.ESCALATIONS.labels(assignment.unit_code, reason).inc()  # a directory code: bounded


def check_deadlines(new_uow: Callable[[], RoutingUnitOfWork], directory: Directory,
                    now: datetime | None = None) -> list[tuple[str, str, str]]:
    """One pass of the deadline timer: remind (催办) and escalate (督办) each breach exactly once.

    Each assignment is handled in its own transaction, locked (FOR UPDATE on PostgreSQL) so that a second
    timer replica waits and then sees what the first did; the unique (assignment, deadline, due time, step)
    row commits with the event, so even without the lock a step can only happen once.
    Returns the (assignment id, clock, step) done by this pass.
    """
    now = now or utcnow()
    with new_uow() as uow:
        candidates = uow.assignments.open_ids()
    done: list[tuple[str, str, str]] = []
    for assignment_id in candidates:
        uow = new_uow()
        try:
            with uow:
                assignment = uow.assignments.get(assignment_id, lock=True)
                if assignment is None:
                    continue
                steps = breaches(assignment, now, directory.policy)
                recorded = uow.breaches.recorded(assignment_id)
                steps = [s for s in steps if (s.clock, s.due_at, s.step) not in recorded]
                if not steps:
                    continue
                case = uow.cases.get(assignment.case_id, lock=True)
                for step in steps:
                    target = escalation_target(case, assignment, directory) if step.step == "escalate" else None
                    uow.breaches.record(assignment_id, step.clock, step.due_at, step.step, assignment.unit_code,
                                        target, now)
                    if step.step == "remind":
                        uow.emit(events.assignment_reminded(assignment, step.clock, step.due_at, now))
                        metrics.REMINDERS.labels(directory.metric_label(assignment.unit_code), step.clock).inc()
                    else:
                        escalate(uow, case, assignment, target, f"{step.clock}-overdue", now, step.due_at)
                    done.append((assignment_id, step.clock, step.step))
                uow.commit()
        except IntegrityError:
            # Another replica recorded this step between our read and our insert: it is done, once.
            done = [d for d in done if d[0] != assignment_id]
    refresh_gauges(new_uow, directory, now)
    return done


def refresh_gauges(new_uow: Callable[[], RoutingUnitOfWork], directory: Directory, now: datetime) -> None:
    with new_uow() as uow:
        opened, overdue = uow.assignments.open_counts(now)
    for code in directory.units:
        metrics.OPEN_ASSIGNMENTS.labels(code).set(opened.get(code, 0))
        metrics.OVERDUE_ASSIGNMENTS.labels(code).set(overdue.get(code, 0))
