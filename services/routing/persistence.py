"""Routing's tables and repositories."""
from __future__ import annotations

import dataclasses

import sqlalchemy as sa

from shared.db import UTCDateTime, UnitOfWork
from services.routing.domain import Assignment

metadata = sa.MetaData()

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
)


class AssignmentRepository:
    def __init__(self, session):
        self.session = session

    def add(self, assignment: Assignment) -> None:
        self.session.execute(assignments.insert().values(**dataclasses.asdict(assignment)))

    def for_case(self, case_id: str) -> list[Assignment]:
        rows = self.session.execute(
            sa.select(assignments).where(assignments.c.case_id == case_id).order_by(assignments.c.created_at)
        ).mappings().all()
        return [Assignment(**row) for row in rows]


class RoutingUnitOfWork(UnitOfWork):
    def open_repositories(self, session):
        self.assignments = AssignmentRepository(session)
