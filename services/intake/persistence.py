"""Intake's tables and repositories. The raw ID-card number is never stored: only a keyed hash and a mask."""
from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import UTCDateTime, insert_or_nothing, update_rows, upsert_statement
from shared.personal_data import mask_id_card
from shared.unit_of_work import UnitOfWork
from services.intake.domain import (DONE_STATUSES, LIVE_STATUSES, Case, CaseFilter, ResidentDetails,
                                    erased_resident)

metadata = sa.MetaData()
DONE_STATUSES_SQL = "(" + ", ".join(f"'{status}'" for status in DONE_STATUSES) + ")"

residents = sa.Table(
    "residents", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    # None once erased: the number is free again, for whoever comes with it next.
    sa.Column("phone", sa.String(11), nullable=True, unique=True),
    sa.Column("area", sa.String(40), nullable=False),
    sa.Column("building", sa.String(20), nullable=False, default=""),
    sa.Column("room", sa.String(20), nullable=False, default=""),
    sa.Column("id_card_masked", sa.String(18)),
    sa.Column("id_card_hash", sa.String(64)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # added in 0003: the resident's last case or booking, and when their details were erased
    sa.Column("last_active_at", UTCDateTime(), nullable=True),
    sa.Column("erased_at", UTCDateTime(), nullable=True),
    # The retention pass walks the residents not erased, longest inactive first.
    sa.Index("ix_residents_retention", "last_active_at", postgresql_where=sa.text("erased_at IS NULL"),
             sqlite_where=sa.text("erased_at IS NULL")),
)

cases = sa.Table(
    "cases", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("matter_code", sa.String(80), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(10), nullable=False),
    sa.Column("kind", sa.String(15), nullable=False),
    sa.Column("urgency", sa.String(10), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("resident_id", sa.String(36), sa.ForeignKey("residents.id"), nullable=False),
    sa.Column("area", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("entered_by", sa.String(40), nullable=False, default=""),
    sa.Column("submitted_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # added in 0002
    sa.Column("handling", sa.String(10), nullable=False, server_default="routed"),
    sa.Column("proxy", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reporter", sa.String(50), nullable=False, server_default=""),
    sa.Column("attributes", sa.JSON, nullable=False, default=dict),
    sa.Column("missing_materials", sa.JSON, nullable=False, default=list),
    sa.Column("lead_unit", sa.String(40), nullable=False, server_default=""),
    sa.Column("answer", sa.Text, nullable=False, server_default=""),
    sa.Column("rating", sa.String(20), nullable=False, server_default=""),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    # added in 0003: when the case's free text was redacted (its resident erased, or its retention over)
    sa.Column("redacted_at", UTCDateTime(), nullable=True),
    sa.Index("ix_cases_matter_code", "matter_code"),
    sa.Index("ix_cases_category", "category"),
    sa.Index("ix_cases_area", "area"),
    sa.Index("ix_cases_resident_id", "resident_id"),
    # The retention pass walks the done cases not yet redacted, oldest change first; the predicate is the
    # pass's own filter, so the index holds only what is still to do.
    sa.Index("ix_cases_retention", "updated_at",
             postgresql_where=sa.text(f"redacted_at IS NULL AND status IN {DONE_STATUSES_SQL}"),
             sqlite_where=sa.text(f"redacted_at IS NULL AND status IN {DONE_STATUSES_SQL}")),
)

case_history = sa.Table(
    "case_history", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
)

# -- appointments (网上预约), visits (一口受理) and video sessions (可视化咨询); added in 0002 -------------------

appointment_slots = sa.Table(
    "appointment_slots", metadata,
    sa.Column("id", sa.String(80), primary_key=True),  # "<station>@<start ISO>": one row per slot
    sa.Column("station_code", sa.String(40), nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False),
    sa.Column("ends_at", UTCDateTime(), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("booked", sa.Integer, nullable=False),
    sa.UniqueConstraint("station_code", "starts_at", name="uq_appointment_slots_station_start"),
    sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_appointment_slots_within_capacity"),
)

appointments = sa.Table(
    "appointments", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("slot_id", sa.String(80), sa.ForeignKey("appointment_slots.id"), nullable=False),
    sa.Column("station_code", sa.String(40), nullable=False),
    sa.Column("starts_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("resident_id", sa.String(36), sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("matter_code", sa.String(80), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # booked, cancelled, no_show, attended
    sa.Column("booked_at", UTCDateTime(), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    sa.Column("reminder_sent_at", UTCDateTime(), nullable=True),
    # A resident holds at most one live booking per slot.
    sa.Index("uq_appointments_resident_slot_live", "resident_id", "slot_id", unique=True,
             postgresql_where=sa.text("status = 'booked'"), sqlite_where=sa.text("status = 'booked'")),
)

visits = sa.Table(
    "visits", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("resident_id", sa.String(36), sa.ForeignKey("residents.id"), nullable=False, index=True),
    sa.Column("station_code", sa.String(40), nullable=False),
    sa.Column("worker", sa.String(40), nullable=False),
    sa.Column("visited_at", UTCDateTime(), nullable=False),
)

visit_cases = sa.Table(
    "visit_cases", metadata,
    sa.Column("visit_id", sa.String(36), sa.ForeignKey("visits.id"), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True, index=True),
)

video_sessions = sa.Table(
    "video_sessions", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),  # consultation (可视化咨询) or remote_assistance (远程协助)
    sa.Column("worker", sa.String(40), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
)

_CASE_FIELDS = ("id", "matter_code", "category", "channel", "kind", "urgency", "description", "resident_id", "area",
                "status", "entered_by", "submitted_at", "updated_at", "handling", "proxy", "reporter", "attributes",
                "missing_materials", "lead_unit", "answer", "rating", "reason", "closed_at")
# What a change of status may change besides the status itself.
_MUTABLE_FIELDS = ("status", "updated_at", "missing_materials", "lead_unit", "answer", "rating", "reason",
                   "closed_at")


# Built once: the statements of every case take their values as parameters.
_INSERT_CASE = cases.insert()
_UPDATE_CASE = cases.update().where(cases.c.id == sa.bindparam("case_id"))


class ResidentRepository:
    def __init__(self, session: Session):
        self.session = session

    def upsert(self, details: ResidentDetails, now) -> str:
        """The resident with this phone number, created or updated; returns the id."""
        values = {"name": details.name, "area": details.area, "building": details.building, "room": details.room,
                  "last_active_at": now}
        if details.id_card:
            values["id_card_masked"] = mask_id_card(details.id_card)
            values["id_card_hash"] = hashlib.sha256(details.id_card.upper().encode()).hexdigest()
        # One statement, insert or update: two requests for the same new resident at once must not collide on
        # the phone, and the row's id comes back with it.
        row = dict(id=str(uuid.uuid4()), phone=details.phone, created_at=now, **values)
        statement = upsert_statement(residents, tuple(row), conflict=("phone",), update=tuple(values),
                                     returning="id")
        return self.session.execute(statement, row).scalar_one()

    def get(self, resident_id: str, for_update: bool = False) -> dict | None:
        query = sa.select(residents).where(residents.c.id == resident_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        return dict(row) if row else None


class CaseRepository:
    def __init__(self, session: Session):
        self.session = session
        self._seen: dict[str, int] = {}  # case id → history rows already stored

    def add(self, case: Case) -> None:
        self.session.execute(_INSERT_CASE, {f: getattr(case, f) for f in _CASE_FIELDS})
        self._seen[case.id] = 0
        self._append_history(case)

    def get(self, case_id: str, for_update: bool = False) -> Case | None:
        """The case with its history; ``for_update`` locks its row so two workers' moves cannot interleave."""
        query = sa.select(cases).where(cases.c.id == case_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        if row is None:
            return None
        history = self.session.execute(
            sa.select(case_history.c.status, case_history.c.at, case_history.c.note)
            .where(case_history.c.case_id == case_id).order_by(case_history.c.id)
        ).mappings().all()
        case = Case(**{f: row[f] for f in _CASE_FIELDS}, history=[dict(h) for h in history])
        self._seen[case_id] = len(history)
        return case

    def get_many(self, case_ids, for_update: bool = False) -> dict[str, Case]:
        """The cases found of ``case_ids``, by id, without their stored history (a change of status only appends
        to it, and :meth:`save` then stores just the new entries); ``for_update`` locks their rows, in the order
        of their ids so that two batches cannot deadlock."""
        query = sa.select(cases).where(cases.c.id.in_(sorted(set(case_ids)))).order_by(cases.c.id)
        if for_update:
            query = query.with_for_update()
        found = {}
        for row in self.session.execute(query).mappings():
            found[row["id"]] = Case(**{f: row[f] for f in _CASE_FIELDS}, history=[])
            self._seen[row["id"]] = 0
        return found

    def save(self, *changed: Case) -> None:
        """Store their status and append the history entries added since they were loaded (one statement each
        for all the cases)."""
        self.session.execute(_UPDATE_CASE, [{"case_id": case.id, **{f: getattr(case, f) for f in _MUTABLE_FIELDS}}
                                            for case in changed])
        self._append_history(*changed)

    def _append_history(self, *changed: Case) -> None:
        new = []
        for case in changed:
            new.extend({"case_id": case.id, **entry} for entry in case.history[self._seen.get(case.id, 0):])
            self._seen[case.id] = len(case.history)
        if new:
            self.session.execute(case_history.insert(), new)

    def search(self, found: CaseFilter) -> tuple[int, list[dict]]:
        """Cases matching the filter, newest first, one page; and how many match in all."""
        conditions = []
        for field in ("status", "matter_code", "category", "area", "channel"):
            value = getattr(found, field)
            if value is not None:
                conditions.append(cases.c[field] == value)
        if found.submitted_from is not None:
            conditions.append(cases.c.submitted_at >= found.submitted_from)
        if found.submitted_to is not None:
            conditions.append(cases.c.submitted_at <= found.submitted_to)
        total = self.session.execute(sa.select(sa.func.count()).select_from(cases).where(*conditions)).scalar()
        rows = self.session.execute(
            sa.select(cases).where(*conditions).order_by(cases.c.submitted_at.desc(), cases.c.id)
            .limit(found.per_page).offset((found.page - 1) * found.per_page)
        ).mappings().all()
        return total, [dict(row) for row in rows]

    def find(self, ids=None, matter_codes=None, statuses=None, submitted_from=None, submitted_to=None,
             limit: int = 1000) -> list[dict]:
        """Cases by id, or by matter codes, statuses and a submission window; newest first, at most ``limit``."""
        conditions = []
        if ids is not None:
            conditions.append(cases.c.id.in_(ids))
        if matter_codes is not None:
            conditions.append(cases.c.matter_code.in_(matter_codes))
        if statuses is not None:
            conditions.append(cases.c.status.in_(statuses))
        if submitted_from is not None:
            conditions.append(cases.c.submitted_at >= submitted_from)
        if submitted_to is not None:
            conditions.append(cases.c.submitted_at <= submitted_to)
        rows = self.session.execute(
            sa.select(cases).where(*conditions).order_by(cases.c.submitted_at.desc(), cases.c.id).limit(limit)
        ).mappings().all()
        return [dict(row) for row in rows]

    def count_by_status(self) -> dict[str, int]:
        """How many cases are in each status (one GROUP BY over the status index)."""
        rows = self.session.execute(sa.select(cases.c.status, sa.func.count()).group_by(cases.c.status)).all()
        return {status: count for status, count in rows}


class VisitRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, visit_id: str, resident_id: str, station_code: str, worker: str, at, case_ids: list[str]) -> None:
        self.session.execute(visits.insert().values(id=visit_id, resident_id=resident_id, station_code=station_code,
                                                    worker=worker, visited_at=at))
        self.session.execute(visit_cases.insert(), [{"visit_id": visit_id, "case_id": c} for c in case_ids])

    def visits_per_case(self) -> dict[str, int]:
        """For each case done (resolved, settled, called back or closed): how many in-person visits it took."""
        done = ("resolved", "settled", "called_back", "closed")
        rows = self.session.execute(
            sa.select(cases.c.id, sa.func.count(visit_cases.c.visit_id))
            .select_from(cases.outerjoin(visit_cases, visit_cases.c.case_id == cases.c.id))
            .where(cases.c.status.in_(done)).group_by(cases.c.id)
        ).all()
        return {case_id: count for case_id, count in rows}

    def count_for_case(self, case_id: str) -> int:
        """How many recorded visits named the case."""
        return self.session.execute(
            sa.select(sa.func.count()).select_from(visit_cases).where(visit_cases.c.case_id == case_id)).scalar()


class AppointmentRepository:
    def __init__(self, session: Session):
        self.session = session

    def ensure_slot(self, slot_id: str, station_code: str, starts_at, ends_at, capacity: int) -> None:
        """Create the slot's row once; concurrent first bookings both find it afterwards."""
        values = dict(id=slot_id, station_code=station_code, starts_at=starts_at, ends_at=ends_at,
                      capacity=capacity, booked=0)
        insert_or_nothing(self.session, appointment_slots, values)

    def take_place(self, slot_id: str) -> bool:
        """One place of the slot, atomically: the row lock makes a second booking of the last place wait and
        then find the slot full."""
        result = self.session.execute(
            appointment_slots.update()
            .where(appointment_slots.c.id == slot_id, appointment_slots.c.booked < appointment_slots.c.capacity)
            .values(booked=appointment_slots.c.booked + 1))
        return result.rowcount == 1

    def release_place(self, slot_id: str) -> None:
        self.session.execute(appointment_slots.update().where(appointment_slots.c.id == slot_id)
                             .values(booked=appointment_slots.c.booked - 1))

    def holds(self, resident_id: str, slot_id: str) -> bool:
        return self.session.execute(sa.select(appointments.c.id).where(
            appointments.c.resident_id == resident_id, appointments.c.slot_id == slot_id,
            appointments.c.status == "booked")).first() is not None

    def add(self, **values) -> None:
        self.session.execute(appointments.insert().values(**values))

    def get(self, appointment_id: str, for_update: bool = False) -> dict | None:
        query = sa.select(appointments).where(appointments.c.id == appointment_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        return dict(row) if row else None

    def set_status(self, appointment_id: str, status: str, at) -> None:
        self.session.execute(appointments.update().where(appointments.c.id == appointment_id)
                             .values(status=status, changed_at=at))

    def booked_counts(self, station_code: str, starts_from, starts_to) -> dict:
        rows = self.session.execute(sa.select(appointment_slots.c.starts_at, appointment_slots.c.booked).where(
            appointment_slots.c.station_code == station_code, appointment_slots.c.starts_at >= starts_from,
            appointment_slots.c.starts_at < starts_to)).all()
        return {starts_at: booked for starts_at, booked in rows}

    def due_for_reminder(self, starts_before, limit: int = 200) -> list[dict]:
        """Live bookings starting before ``starts_before`` that have had no reminder yet, locked for this run."""
        query = (sa.select(appointments).where(
            appointments.c.status == "booked", appointments.c.reminder_sent_at.is_(None),
            appointments.c.starts_at <= starts_before).order_by(appointments.c.starts_at).limit(limit))
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [dict(row) for row in self.session.execute(query).mappings().all()]

    def mark_reminded(self, appointment_id: str, at) -> None:
        self.session.execute(appointments.update().where(appointments.c.id == appointment_id)
                             .values(reminder_sent_at=at))


class VideoSessionRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, **values) -> None:
        self.session.execute(video_sessions.insert().values(**values))

    def get(self, session_id: str) -> dict | None:
        row = self.session.execute(sa.select(video_sessions).where(video_sessions.c.id == session_id)).mappings().first()
        return dict(row) if row else None

    def end(self, session_id: str, at) -> None:
        self.session.execute(video_sessions.update().where(video_sessions.c.id == session_id).values(ended_at=at))


_CASE_TEXT = (cases.c.id, cases.c.resident_id, cases.c.matter_code, cases.c.description, cases.c.answer,
              cases.c.reason, cases.c.reporter, cases.c.attributes, cases.c.redacted_at)


class PrivacyRepository:
    """What erasure and retention read and change. Each method is one or two statements for a whole batch,
    whatever its size, and each query walks an index that matches its filter."""

    def __init__(self, session: Session):
        self.session = session
        self._locking = session.get_bind().dialect.name == "postgresql"

    def _lock(self, query, *of):
        """Rows another replica's pass holds are left to it (PostgreSQL); SQLite has one writer anyway."""
        return query.with_for_update(skip_locked=True, of=of) if self._locking else query

    def still_open(self, resident_id: str, now) -> tuple[list[str], list[str]]:
        """The resident's cases still being handled, and their bookings still to come."""
        live = self.session.execute(
            sa.select(cases.c.id).where(cases.c.resident_id == resident_id, cases.c.status.in_(LIVE_STATUSES))
            .order_by(cases.c.submitted_at)).scalars().all()
        booked = self.session.execute(
            sa.select(appointments.c.id).where(appointments.c.resident_id == resident_id,
                                               appointments.c.status == "booked", appointments.c.starts_at >= now)
            .order_by(appointments.c.starts_at)).scalars().all()
        return list(live), list(booked)

    def cases_of(self, resident_ids: list[str]) -> list[dict]:
        """Every case of these residents, with its free text."""
        return [dict(row) for row in self.session.execute(
            sa.select(*_CASE_TEXT).where(cases.c.resident_id.in_(resident_ids)).order_by(cases.c.submitted_at)
        ).mappings()]

    def appointments_of(self, resident_ids: list[str]) -> list[str]:
        return list(self.session.execute(sa.select(appointments.c.id).where(
            appointments.c.resident_id.in_(resident_ids))).scalars())

    def due_cases(self, cutoff, limit: int) -> list[dict]:
        """Done cases last changed before ``cutoff`` and not yet redacted, oldest first, at most ``limit``."""
        query = (sa.select(*_CASE_TEXT)
                 .where(cases.c.redacted_at.is_(None), cases.c.status.in_(DONE_STATUSES), cases.c.updated_at < cutoff)
                 .order_by(cases.c.updated_at).limit(limit))
        return [dict(row) for row in self.session.execute(self._lock(query, cases)).mappings()]

    def redact_cases(self, redacted: dict[str, dict], at) -> None:
        """Store each case's redacted free text (case id → values), marked redacted ``at``."""
        update_rows(self.session, cases, "id", [{"id": case_id, **values, "redacted_at": at}
                                                for case_id, values in redacted.items()])

    def history_notes(self, case_ids: list[str]) -> list[dict]:
        return [dict(row) for row in self.session.execute(
            sa.select(case_history.c.id, case_history.c.status, case_history.c.note)
            .where(case_history.c.case_id.in_(case_ids))).mappings()]

    def set_history_notes(self, notes: dict[int, str]) -> None:
        update_rows(self.session, case_history, "id", [{"id": id_, "note": note} for id_, note in notes.items()])

    def due_residents(self, cutoff, limit: int) -> list[str]:
        """Residents not erased, whose last case or booking was made before ``cutoff``, with no case open or
        changed since and no booking since; longest inactive first, at most ``limit``."""
        busy_case = sa.exists().where(cases.c.resident_id == residents.c.id,
                                      sa.or_(cases.c.status.in_(LIVE_STATUSES), cases.c.updated_at >= cutoff))
        busy_booking = sa.exists().where(appointments.c.resident_id == residents.c.id,
                                         appointments.c.starts_at >= cutoff)
        query = (sa.select(residents.c.id)
                 .where(residents.c.erased_at.is_(None), residents.c.last_active_at < cutoff, ~busy_case,
                        ~busy_booking)
                 .order_by(residents.c.last_active_at).limit(limit))
        return list(self.session.execute(self._lock(query, residents)).scalars())

    def erase_residents(self, resident_ids: list[str], at) -> None:
        update_rows(self.session, residents, "id", [{"id": resident_id, **erased_resident(resident_id, at)}
                                                    for resident_id in resident_ids])

    def delete_appointments(self, cutoff, limit: int) -> int:
        """Delete bookings whose slot began before ``cutoff``, the oldest ``limit`` (and any sharing the last
        one's slot time); how many. By a range of the start-time index, found first: a list of ids to delete
        made PostgreSQL join the whole table against it."""
        c = appointments.c
        last = self.session.execute(sa.select(c.starts_at).where(c.starts_at < cutoff).order_by(c.starts_at)
                                    .offset(limit - 1).limit(1)).scalar()
        through = c.starts_at <= last if last is not None else c.starts_at < cutoff
        return self.session.execute(appointments.delete().where(through)).rowcount


class IntakeUnitOfWork(UnitOfWork):
    def open_repositories(self, session):
        self.privacy = PrivacyRepository(session)
        self.residents = ResidentRepository(session)
        self.cases = CaseRepository(session)
        self.visits = VisitRepository(session)
        self.appointments = AppointmentRepository(session)
        self.video_sessions = VideoSessionRepository(session)
