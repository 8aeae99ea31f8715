"""Routing's tables and repositories."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import sqlalchemy as sa

from shared.db import UTCDateTime, update_rows
from shared.unit_of_work import UnitOfWork
from services.routing.domain.assignments import Assignment, RoutedCase

metadata = sa.MetaData()
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

assignments = sa.Table(
    "assignments", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), nullable=False, index=True),
    sa.Column("unit_code", sa.String(60), nullable=False, index=True),
    sa.Column("rule", sa.String(80), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("area", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # 0002
    sa.Column("role", sa.String(10), nullable=False, server_default="lead"),
    sa.Column("required", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("handle_limit", sa.String(40), nullable=False, server_default="working_days:15"),
    sa.Column("sign_due_at", UTCDateTime()),
    sa.Column("signed_at", UTCDateTime()),
    sa.Column("contact_due_at", UTCDateTime()),
    sa.Column("contacted_at", UTCDateTime()),
    sa.Column("due_at", UTCDateTime()),
    sa.Column("reported_at", UTCDateTime()),
    sa.Column("result", sa.Text),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("close_reason", sa.String(40)),
    sa.Column("extension_days", sa.Integer),
    sa.Column("extension_reason", sa.Text),
    sa.Column("extensions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("escalated_to", sa.String(60)),
    sa.Column("escalated_at", UTCDateTime()),
    sa.Column("dissatisfied", sa.Boolean, nullable=False, server_default=sa.false()),
)

routing_cases = sa.Table(
    "routing_cases", metadata,
    sa.Column("case_id", sa.String(36), primary_key=True),
    sa.Column("area", sa.String(40), nullable=False),
    sa.Column("matter_code", sa.String(80), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(15), nullable=False),
    sa.Column("urgency", sa.String(10), nullable=False),
    sa.Column("rule", sa.String(80), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("explanation", sa.Text, nullable=False),
    sa.Column("escalation", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("lead_unit", sa.String(60), nullable=False),
    sa.Column("transfers", sa.Integer, nullable=False),
    sa.Column("escalations", sa.Integer, nullable=False),
    sa.Column("warning", sa.Boolean, nullable=False),
    sa.Column("resident_id", sa.String(36)),
    sa.Column("phone_masked", sa.String(11)),
    sa.Column("answer", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("resolved_at", UTCDateTime()),
    # 0003: when the resident link and the written words were dropped (resident erased, or retention over)
    sa.Column("redacted_at", UTCDateTime()),
    # The retention pass walks the resolved cases not yet redacted, oldest first.
    sa.Index("ix_routing_cases_retention", "resolved_at",
             postgresql_where=sa.text("redacted_at IS NULL AND status = 'resolved'"),
             sqlite_where=sa.text("redacted_at IS NULL AND status = 'resolved'")),
)

# One row per reminder or escalation of one deadline: the unique key makes each happen once, whichever timer
# replica gets there first; the row commits with the event that announces it.
breach_steps = sa.Table(
    "breach_steps", metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("assignment_id", sa.String(36), nullable=False),
    sa.Column("clock", sa.String(10), nullable=False),
    sa.Column("due_at", UTCDateTime(), nullable=False),
    sa.Column("step", sa.String(10), nullable=False),
    sa.Column("unit_code", sa.String(60), nullable=False),
    sa.Column("target_unit", sa.String(60)),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("assignment_id", "clock", "due_at", "step", name="uq_breach_steps_once"),
)

# What happened to a case and who decided: transfers, returns, arbitration, extensions, escalations.
case_log = sa.Table(
    "case_log", metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("action", sa.String(30), nullable=False),
    sa.Column("unit_code", sa.String(60)),
    sa.Column("actor", sa.String(80)),
    sa.Column("detail", sa.Text, nullable=False),
)

_ASSIGNMENT_FIELDS = [f.name for f in dataclasses.fields(Assignment)]


def _row(record, fields: list[str]) -> dict:
    """The record's fields as a row (``dataclasses.asdict`` deep-copies every value, which cost more than
    inserting the row; these records hold plain values)."""
    return {name: getattr(record, name) for name in fields}
# Built once: the statements of every routed case take their values as parameters.
_INSERT_ASSIGNMENT = assignments.insert()
_INSERT_CASE = routing_cases.insert()


class AssignmentRepository:
    def __init__(self, session):
        self.session = session

    def add(self, *added: Assignment) -> None:
        self.session.execute(_INSERT_ASSIGNMENT, [_row(a, _ASSIGNMENT_FIELDS) for a in added])

    def save(self, assignment: Assignment) -> None:
        values = _row(assignment, _ASSIGNMENT_FIELDS)
        self.session.execute(assignments.update().where(assignments.c.id == assignment.id).values(**values))

    def get(self, assignment_id: str, *, lock: bool = False) -> Assignment | None:
        query = sa.select(*[assignments.c[f] for f in _ASSIGNMENT_FIELDS]).where(assignments.c.id == assignment_id)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        return Assignment(**row) if row else None

    def for_case(self, case_id: str) -> list[Assignment]:
        rows = self.session.execute(
            sa.select(*[assignments.c[f] for f in _ASSIGNMENT_FIELDS]).where(assignments.c.case_id == case_id)
            .order_by(assignments.c.created_at, assignments.c.role.desc())
        ).mappings().all()
        return [Assignment(**row) for row in rows]

    def open_ids(self) -> list[str]:
        return list(self.session.execute(
            sa.select(assignments.c.id).where(assignments.c.status.in_(("dispatched", "signed", "in_progress")))
            .order_by(assignments.c.created_at)).scalars())

    def mark_dissatisfied(self, assignment_id: str) -> None:
        self.session.execute(assignments.update().where(assignments.c.id == assignment_id).values(dissatisfied=True))

    def worklist(self, unit_code: str, state: str, now: datetime, *, role: str | None, area: str | None,
                 limit: int, offset: int) -> tuple[int, list[Assignment]]:
        c = assignments.c
        open_states = ("dispatched", "signed", "in_progress")
        if state == "supervising":  # escalated to this unit (督办)
            where = [c.escalated_to == unit_code, c.status.in_(open_states)]
        elif state == "arbitration":  # returned assignments of cases waiting for the arbitration unit
            waiting = sa.select(routing_cases.c.case_id).where(routing_cases.c.status == "arbitration")
            where = [c.status == "returned", c.case_id.in_(waiting)]
        else:
            where = [c.unit_code == unit_code]
            if state == "open":
                where.append(c.status.in_(open_states))
            elif state == "overdue":
                where.append(sa.or_(sa.and_(c.status == "dispatched", c.sign_due_at < now),
                                    sa.and_(c.status.in_(("signed", "in_progress")), c.due_at < now)))
            elif state == "escalated":
                where += [c.status.in_(open_states), c.escalated_at.is_not(None)]
            elif state == "closed":
                where.append(c.status.not_in(open_states))
        if role:
            where.append(c.role == role)
        if area:
            where.append(c.area == area)
        total = self.session.execute(sa.select(sa.func.count()).select_from(assignments).where(*where)).scalar()
        rows = self.session.execute(
            sa.select(*[c[f] for f in _ASSIGNMENT_FIELDS]).where(*where)
            .order_by(sa.func.coalesce(c.due_at, c.sign_due_at), c.id).limit(limit).offset(offset)
        ).mappings().all()
        return total, [Assignment(**row) for row in rows]

    def for_unit_between(self, unit_code: str, start: datetime, end: datetime) -> tuple[list[Assignment], set[str]]:
        """The unit's assignments dispatched in [start, end), and which of them were rated dissatisfied."""
        c = assignments.c
        rows = self.session.execute(
            sa.select(*[c[f] for f in _ASSIGNMENT_FIELDS], c.dissatisfied)
            .where(c.unit_code == unit_code, c.created_at >= start, c.created_at < end)
        ).mappings().all()
        found = [Assignment(**{k: row[k] for k in _ASSIGNMENT_FIELDS}) for row in rows]
        return found, {row["id"] for row in rows if row["dissatisfied"]}

    def open_counts(self, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
        c = assignments.c
        open_states = ("dispatched", "signed", "in_progress")
        opened = dict(self.session.execute(
            sa.select(c.unit_code, sa.func.count()).where(c.status.in_(open_states)).group_by(c.unit_code)).all())
        overdue = dict(self.session.execute(
            sa.select(c.unit_code, sa.func.count()).where(
                sa.or_(sa.and_(c.status == "dispatched", c.sign_due_at < now),
                       sa.and_(c.status.in_(("signed", "in_progress")), c.due_at < now))
            ).group_by(c.unit_code)).all())
        return opened, overdue


_CASE_FIELDS = [f.name for f in dataclasses.fields(RoutedCase)]


class CaseRepository:
    def __init__(self, session):
        self.session = session

    def _values(self, case: RoutedCase) -> dict:
        values = _row(case, _CASE_FIELDS)
        values["explanation"] = json.dumps(case.explanation, ensure_ascii=False)
        values["escalation"] = json.dumps(case.escalation, ensure_ascii=False)
        return values

    def add(self, *added: RoutedCase) -> None:
        self.session.execute(_INSERT_CASE, [self._values(case) for case in added])

    def save(self, case: RoutedCase) -> None:
        self.session.execute(routing_cases.update().where(routing_cases.c.case_id == case.case_id)
                             .values(**self._values(case)))

    def get(self, case_id: str, *, lock: bool = False) -> RoutedCase | None:
        query = sa.select(*[routing_cases.c[f] for f in _CASE_FIELDS]).where(routing_cases.c.case_id == case_id)
        if lock:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        if row is None:
            return None
        values = dict(row)
        values["explanation"] = json.loads(values["explanation"])
        values["escalation"] = json.loads(values["escalation"])
        return RoutedCase(**values)

    def log(self, case_id: str, at: datetime, action: str, unit_code: str | None, actor: str | None,
            detail: dict) -> None:
        self.session.execute(case_log.insert().values(case_id=case_id, at=at, action=action, unit_code=unit_code,
                                                      actor=actor, detail=json.dumps(detail, ensure_ascii=False)))

    def history(self, case_id: str) -> list[dict]:
        rows = self.session.execute(sa.select(case_log).where(case_log.c.case_id == case_id)
                                    .order_by(case_log.c.id)).mappings().all()
        return [{"at": r["at"].isoformat(), "action": r["action"], "unit": r["unit_code"], "actor": r["actor"],
                 **json.loads(r["detail"])} for r in rows]


class BreachRepository:
    def __init__(self, session):
        self.session = session

    def record(self, assignment_id: str, clock: str, due_at: datetime, step: str, unit_code: str,
               target_unit: str | None, at: datetime) -> None:
        """Raises IntegrityError when this step of this breach was recorded before (by anyone)."""
        self.session.execute(breach_steps.insert().values(
            assignment_id=assignment_id, clock=clock, due_at=due_at, step=step, unit_code=unit_code,
            target_unit=target_unit, at=at))
        self.session.flush()

    def recorded(self, assignment_id: str) -> set[tuple[str, datetime, str]]:
        rows = self.session.execute(sa.select(breach_steps.c.clock, breach_steps.c.due_at, breach_steps.c.step)
                                    .where(breach_steps.c.assignment_id == assignment_id)).all()
        return {(clock, due_at, step) for clock, due_at, step in rows}


class PrivacyRepository:
    """What routing reads and changes to forget cases: two statements per table for a whole batch of cases,
    whatever its size, by the case ids (indexed in every table)."""

    def __init__(self, session):
        self.session = session
        self._locking = session.get_bind().dialect.name == "postgresql"

    def case_rows(self, case_ids: list[str]) -> list[dict]:
        c = routing_cases.c
        return [dict(r) for r in self.session.execute(
            sa.select(c.case_id, c.rule, c.reason, c.answer).where(c.case_id.in_(case_ids))).mappings()]

    def assignment_rows(self, case_ids: list[str]) -> list[dict]:
        c = assignments.c
        return [dict(r) for r in self.session.execute(
            sa.select(c.id, c.rule, c.reason, c.result, c.extension_reason).where(c.case_id.in_(case_ids))
        ).mappings()]

    def log_rows(self, case_ids: list[str]) -> list[dict]:
        c = case_log.c
        return [{"id": r.id, "action": r.action, "detail": json.loads(r.detail)} for r in self.session.execute(
            sa.select(c.id, c.action, c.detail).where(c.case_id.in_(case_ids)))]

    def store(self, cases: dict[str, dict], assignment_values: dict[str, dict], log_details: dict[int, dict],
              at: datetime) -> None:
        """The forgotten values: by case id, by assignment id, and the case-log details by entry id."""
        update_rows(self.session, routing_cases, "case_id", [{"case_id": case_id, **values, "redacted_at": at}
                                                              for case_id, values in cases.items()])
        update_rows(self.session, assignments, "id", [{"id": id_, **values}
                                                       for id_, values in assignment_values.items()])
        update_rows(self.session, case_log, "id", [{"id": id_, "detail": json.dumps(detail, ensure_ascii=False)}
                                                    for id_, detail in log_details.items()])

    def due_cases(self, cutoff: datetime, limit: int) -> list[str]:
        """Resolved cases not yet redacted, resolved before ``cutoff``, oldest first, at most ``limit``."""
        c = routing_cases.c
        query = (sa.select(c.case_id).where(c.redacted_at.is_(None), c.status == "resolved", c.resolved_at < cutoff)
                 .order_by(c.resolved_at).limit(limit))
        if self._locking:
            query = query.with_for_update(skip_locked=True)
        return list(self.session.execute(query).scalars())


class RoutingUnitOfWork(UnitOfWork):
    def open_repositories(self, session):
        self.privacy = PrivacyRepository(session)
        self.assignments = AssignmentRepository(session)
        self.cases = CaseRepository(session)
        self.breaches = BreachRepository(session)
