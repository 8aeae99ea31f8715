"""Intake's tables and repositories. The raw ID-card number is never stored: only a keyed hash and a mask."""
from __future__ import annotations

import hashlib
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.db import UTCDateTime, UnitOfWork
from shared.personal_data import mask_id_card
from services.intake.domain import Case, ResidentDetails

metadata = sa.MetaData()

residents = sa.Table(
    "residents", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False),
    sa.Column("phone", sa.String(11), nullable=False, unique=True),
    sa.Column("area", sa.String(40), nullable=False),
    sa.Column("building", sa.String(20), nullable=False, default=""),
    sa.Column("room", sa.String(20), nullable=False, default=""),
    sa.Column("id_card_masked", sa.String(18)),
    sa.Column("id_card_hash", sa.String(64)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
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
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

case_history = sa.Table(
    "case_history", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
)

_CASE_FIELDS = ("id", "matter_code", "category", "channel", "kind", "urgency", "description", "resident_id", "area",
                "status", "entered_by", "submitted_at", "updated_at")


class ResidentRepository:
    def __init__(self, session: Session):
        self.session = session

    def upsert(self, details: ResidentDetails, now) -> str:
        """The resident with this phone number, created or updated; returns the id."""
        values = {"name": details.name, "area": details.area, "building": details.building, "room": details.room}
        if details.id_card:
            values["id_card_masked"] = mask_id_card(details.id_card)
            values["id_card_hash"] = hashlib.sha256(details.id_card.upper().encode()).hexdigest()
        existing = self.session.execute(sa.select(residents.c.id).where(residents.c.phone == details.phone)).scalar()
        if existing:
            self.session.execute(residents.update().where(residents.c.id == existing).values(**values))
            return existing
        resident_id = str(uuid.uuid4())
        self.session.execute(residents.insert().values(id=resident_id, phone=details.phone, created_at=now, **values))
        return resident_id

    def get(self, resident_id: str) -> dict | None:
        row = self.session.execute(sa.select(residents).where(residents.c.id == resident_id)).mappings().first()
        return dict(row) if row else None


class CaseRepository:
    def __init__(self, session: Session):
        self.session = session
        self._seen: dict[str, int] = {}  # case id → history rows already stored

    def add(self, case: Case) -> None:
        self.session.execute(cases.insert().values(**{f: getattr(case, f) for f in _CASE_FIELDS}))
        self._seen[case.id] = 0
        self.save(case)

    def get(self, case_id: str) -> Case | None:
        row = self.session.execute(sa.select(cases).where(cases.c.id == case_id)).mappings().first()
        if row is None:
            return None
        history = self.session.execute(
            sa.select(case_history.c.status, case_history.c.at, case_history.c.note)
            .where(case_history.c.case_id == case_id).order_by(case_history.c.id)
        ).mappings().all()
        case = Case(**{f: row[f] for f in _CASE_FIELDS}, history=[dict(h) for h in history])
        self._seen[case_id] = len(history)
        return case

    def save(self, case: Case) -> None:
        """Store the status and append history entries added since the case was loaded."""
        self.session.execute(
            cases.update().where(cases.c.id == case.id).values(status=case.status, updated_at=case.updated_at))
        new = case.history[self._seen.get(case.id, 0):]
        if new:
            self.session.execute(case_history.insert(), [{"case_id": case.id, **entry} for entry in new])
        self._seen[case.id] = len(case.history)


class IntakeUnitOfWork(UnitOfWork):
    def open_repositories(self, session):
        self.residents = ResidentRepository(session)
        self.cases = CaseRepository(session)
