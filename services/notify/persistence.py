"""Notify's tables and repositories."""
from __future__ import annotations

import sqlalchemy as sa

from shared.db import UTCDateTime, UnitOfWork

metadata = sa.MetaData()

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("cause_event_id", sa.String(64), nullable=False),
    sa.Column("cause_type", sa.String(200), nullable=False),
    sa.Column("case_id", sa.String(36), index=True),
    sa.Column("recipient", sa.String(120), nullable=False, index=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("template", sa.String(80), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    # At most one message per event, recipient and channel, whatever the redeliveries.
    sa.UniqueConstraint("cause_event_id", "recipient", "channel", name="uq_delivery_once"),
)


class DeliveryRepository:
    def __init__(self, session):
        self.session = session

    def add(self, **values) -> None:
        self.session.execute(deliveries.insert().values(**values))

    def list(self, *, case_id: str | None = None, recipient: str | None = None, limit: int = 100) -> list[dict]:
        query = sa.select(deliveries).order_by(deliveries.c.created_at.desc()).limit(limit)
        if case_id:
            query = query.where(deliveries.c.case_id == case_id)
        if recipient:
            query = query.where(deliveries.c.recipient == recipient)
        return [dict(row) for row in self.session.execute(query).mappings()]


class NotifyUnitOfWork(UnitOfWork):
    def open_repositories(self, session):
        self.deliveries = DeliveryRepository(session)
