"""Notify's tables and repositories.

Personal data (phone numbers, e-mail addresses, openids, webhook URLs) lives only in ``contacts``; deliveries
and events carry recipient references and masked addresses.
"""
from __future__ import annotations

import contextlib
import json
from datetime import datetime

import sqlalchemy as sa

from shared.db import UTCDateTime, insert_or_nothing
from shared.personal_data import REDACTED
from shared.unit_of_work import UnitOfWork
from services.notify.domain.digest import AssignmentView
from services.notify.domain.recipients import Preferences, QuietHours

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
    # Added in 0002: the decision and the state of sending.
    sa.Column("category", sa.String(40), nullable=False, server_default="general"),
    sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("context", sa.Text, nullable=False, server_default="{}"),  # the event data, to render per channel
    sa.Column("channel_plan", sa.Text, nullable=False, server_default="[]"),
    sa.Column("channel_index", sa.Integer, nullable=False, server_default="0"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # on the current channel
    sa.Column("total_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime()),
    sa.Column("claimed_until", UTCDateTime()),
    sa.Column("deferred_reason", sa.String(40)),
    sa.Column("last_error", sa.Text),
    sa.Column("address_masked", sa.String(120)),
    sa.Column("failed_at", UTCDateTime()),
    sa.Column("resent_at", UTCDateTime()),
    # Added in 0003: when the message's wording was redacted (its recipient erased, or its retention over).
    sa.Column("redacted_at", UTCDateTime()),
    # At most one message per event, recipient and channel, whatever the redeliveries.
    sa.UniqueConstraint("cause_event_id", "recipient", "channel", name="uq_delivery_once"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
    # The retention pass walks the finished deliveries not yet redacted, oldest first.
    sa.Index("ix_deliveries_retention", "created_at",
             postgresql_where=sa.text("redacted_at IS NULL AND status IN ('sent', 'failed')"),
             sqlite_where=sa.text("redacted_at IS NULL AND status IN ('sent', 'failed')")),
)

delivery_attempts = sa.Table(
    "delivery_attempts", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(36), sa.ForeignKey("deliveries.id"), nullable=False, index=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),  # sent | failed
    sa.Column("error", sa.Text),
    sa.Column("attempted_at", UTCDateTime(), nullable=False),
)

contacts = sa.Table(
    "contacts", metadata,
    sa.Column("recipient", sa.String(120), primary_key=True),
    sa.Column("channel", sa.String(20), primary_key=True),
    sa.Column("address", sa.String(500), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

preferences = sa.Table(
    "preferences", metadata,
    sa.Column("recipient", sa.String(120), primary_key=True),
    sa.Column("channels", sa.Text, nullable=False),  # JSON list, in order of preference
    sa.Column("opted_out", sa.Text, nullable=False),  # JSON list of categories
    sa.Column("quiet_start", sa.String(5)),  # HH:MM Asia/Shanghai; both null: no quiet hours
    sa.Column("quiet_end", sa.String(5)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("topic", sa.String(120), primary_key=True),
    sa.Column("recipient", sa.String(120), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_subscriptions_recipient", "recipient"),  # 0003: a recipient's subscriptions, when erased
)

dead_letters = sa.Table(
    "notify_dead_letters", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(36), sa.ForeignKey("deliveries.id"), nullable=False, index=True),
    sa.Column("recipient", sa.String(120), nullable=False),
    sa.Column("channels", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Read model of routing's assignments, for the daily digest.
assignments = sa.Table(
    "assignments", metadata,
    sa.Column("assignment_id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), nullable=False, index=True),
    sa.Column("unit_code", sa.String(80), nullable=False, index=True),
    sa.Column("unit_name", sa.String(200), nullable=False),
    sa.Column("area", sa.String(80), nullable=False),
    sa.Column("matter_code", sa.String(80), nullable=False),
    sa.Column("routed_at", UTCDateTime(), nullable=False),
    sa.Column("due_at", UTCDateTime()),
    sa.Column("escalated_at", UTCDateTime()),
    sa.Column("closed_at", UTCDateTime()),
)

digests = sa.Table(
    "digests", metadata,
    sa.Column("unit_code", sa.String(80), primary_key=True),
    sa.Column("digest_date", sa.String(10), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# Built once: the statements notify runs for every delivery take their values as parameters.
_INSERT_DELIVERY = deliveries.insert()
_INSERT_ATTEMPT = delivery_attempts.insert()
_UPDATE_DELIVERY = deliveries.update().where(deliveries.c.id == sa.bindparam("delivery_id"))

_WHEN = sa.func.coalesce(deliveries.c.sent_at, deliveries.c.next_attempt_at, deliveries.c.created_at)
_RECENT = (
    sa.select(deliveries.c.recipient, _WHEN.label("at"),
              sa.func.row_number().over(partition_by=deliveries.c.recipient, order_by=_WHEN.desc()).label("rank"))
    .where(deliveries.c.recipient.in_(sa.bindparam("recipients", expanding=True)), deliveries.c.urgent.is_(False),
           deliveries.c.status.in_(("queued", "deferred", "sent")), _WHEN > sa.bindparam("since", type_=UTCDateTime()))
    .subquery()
)
_SCHEDULED_SINCE = (
    sa.select(_RECENT.c.recipient, sa.type_coerce(_RECENT.c.at, UTCDateTime()))
    .where(_RECENT.c.rank <= sa.bindparam("limit", type_=sa.Integer))
    .order_by(_RECENT.c.recipient, _RECENT.c.at.desc())
)

_PUBLIC_DELIVERY_COLUMNS = ("id", "cause_event_id", "cause_type", "case_id", "recipient", "channel", "template",
                            "category", "urgent", "subject", "body", "status", "deferred_reason", "attempts",
                            "total_attempts", "address_masked", "last_error", "created_at", "sent_at",
                            "next_attempt_at", "failed_at", "resent_at", "redacted_at")


class DeliveryRepository:
    def __init__(self, session):
        self.session = session
        self._locking = session.get_bind().dialect.name == "postgresql"
        self._held: dict | None = None  # writes held back by ``together()``

    @contextlib.contextmanager
    def together(self):
        """Attempts added and deliveries updated inside are written when the block ends, one statement for all
        attempts and one per kind of update (a sending round records many outcomes; they read nothing back)."""
        self._held = {"attempts": [], "updates": {}}
        try:
            yield
            held = self._held
        finally:
            self._held = None
        if held["attempts"]:
            self.session.execute(_INSERT_ATTEMPT, held["attempts"])
        for rows in held["updates"].values():
            self.session.execute(_UPDATE_DELIVERY, rows)

    def add(self, **values) -> None:
        self.session.execute(_INSERT_DELIVERY, values)

    def add_all(self, rows: list[dict]) -> None:
        self.session.execute(_INSERT_DELIVERY, rows)

    def notified(self, cause_event_ids: list[str], recipients: list[str]) -> set[tuple[str, str]]:
        """(cause, recipient) pairs of these causes and recipients that have a delivery already."""
        query = sa.select(deliveries.c.cause_event_id, deliveries.c.recipient).where(
            deliveries.c.cause_event_id.in_(cause_event_ids), deliveries.c.recipient.in_(recipients))
        return {(row[0], row[1]) for row in self.session.execute(query)}

    def get(self, delivery_id: str, *, lock: bool = False) -> dict | None:
        query = sa.select(deliveries).where(deliveries.c.id == delivery_id)
        if lock and self._locking:
            query = query.with_for_update()
        row = self.session.execute(query).mappings().first()
        return dict(row) if row else None

    def statuses(self, delivery_ids: list[str], *, lock: bool = False) -> dict[str, str]:
        query = sa.select(deliveries.c.id, deliveries.c.status).where(deliveries.c.id.in_(delivery_ids))
        if lock and self._locking:
            query = query.with_for_update()
        return dict(self.session.execute(query).all())

    def list(self, *, case_id: str | None = None, recipient: str | None = None, status: str | None = None,
             limit: int = 100) -> list[dict]:
        columns = [deliveries.c[name] for name in _PUBLIC_DELIVERY_COLUMNS]
        query = sa.select(*columns).order_by(deliveries.c.created_at.desc(), deliveries.c.id).limit(limit)
        if case_id:
            query = query.where(deliveries.c.case_id == case_id)
        if recipient:
            query = query.where(deliveries.c.recipient == recipient)
        if status:
            query = query.where(deliveries.c.status == status)
        return [dict(row) for row in self.session.execute(query).mappings()]

    def scheduled_since(self, recipients: list[str], since: datetime, limit: int) -> dict[str, list[datetime]]:
        """When each recipient's messages were or will be sent, from ``since`` on, the latest ``limit`` of each
        (for the rate limit, which looks no further back than its limit); one query for all."""
        found: dict[str, list[datetime]] = {recipient: [] for recipient in recipients}
        for recipient, when in self.session.execute(_SCHEDULED_SINCE, {"recipients": list(recipients),
                                                                        "since": since, "limit": limit}):
            found[recipient].append(when)
        return found

    def claim_due(self, now: datetime, lease_until: datetime, limit: int, ids: list[str] | None = None) -> list[dict]:
        """Take deliveries that are due and not being sent by someone else; they stay claimed until
        ``lease_until`` (a sender that dies meanwhile leaves them to be claimed again after it)."""
        due = (deliveries.c.status.in_(("queued", "deferred")),
               deliveries.c.next_attempt_at <= now,
               sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now))
        if ids is not None and self._locking and len(ids) <= limit:
            # Rows just recorded by the caller: claimed in one statement. A row another sender holds is waited
            # for and then, claimed by it, no longer matches.
            claimed = self.session.execute(deliveries.update().where(deliveries.c.id.in_(ids), *due)
                                           .values(claimed_until=lease_until).returning(*deliveries.c))
            return sorted((dict(r) for r in claimed.mappings()), key=lambda r: r["next_attempt_at"])
        query = sa.select(deliveries).where(*due).order_by(deliveries.c.next_attempt_at).limit(limit)
        if ids is not None:
            query = query.where(deliveries.c.id.in_(ids))
        if self._locking:
            query = query.with_for_update(skip_locked=True)
        rows = [dict(r) for r in self.session.execute(query).mappings()]
        if rows:
            self.session.execute(deliveries.update().where(deliveries.c.id.in_([r["id"] for r in rows]))
                                 .values(claimed_until=lease_until))
        return rows

    def update(self, delivery_id: str, **values) -> None:
        if self._held is not None:
            self._held["updates"].setdefault(tuple(sorted(values)), []).append({"delivery_id": delivery_id, **values})
            return
        self.session.execute(_UPDATE_DELIVERY, {"delivery_id": delivery_id, **values})

    def add_attempt(self, **values) -> None:
        if self._held is not None:
            self._held["attempts"].append(values)
            return
        self.session.execute(_INSERT_ATTEMPT, values)

    def attempts_of(self, delivery_id: str) -> list[dict]:
        query = (sa.select(delivery_attempts.c.channel, delivery_attempts.c.attempt, delivery_attempts.c.outcome,
                           delivery_attempts.c.error, delivery_attempts.c.attempted_at)
                 .where(delivery_attempts.c.delivery_id == delivery_id).order_by(delivery_attempts.c.id))
        return [dict(r) for r in self.session.execute(query).mappings()]

    def add_dead_letter(self, **values) -> None:
        self.session.execute(dead_letters.insert().values(**values))

    def dead_letters(self, limit: int = 100) -> list[dict]:
        query = sa.select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        return [dict(r) for r in self.session.execute(query).mappings()]

    def backlog(self, status: str) -> int:
        return self.session.execute(
            sa.select(sa.func.count()).where(deliveries.c.status == status)).scalar_one()


class RecipientRepository:
    """Contacts (the only place addresses are kept), preferences and subscriptions."""

    def __init__(self, session):
        self.session = session

    def contacts(self, recipient: str) -> dict[str, str]:
        query = sa.select(contacts.c.channel, contacts.c.address).where(contacts.c.recipient == recipient)
        return {row.channel: row.address for row in self.session.execute(query)}

    def address(self, recipient: str, channel: str) -> str | None:
        query = sa.select(contacts.c.address).where(contacts.c.recipient == recipient, contacts.c.channel == channel)
        return self.session.execute(query).scalar_one_or_none()

    def replace_contacts(self, recipient: str, addresses: dict[str, str | None], now: datetime) -> None:
        for channel, address in addresses.items():
            self.session.execute(contacts.delete().where(contacts.c.recipient == recipient,
                                                         contacts.c.channel == channel))
            if address is not None:
                self.session.execute(contacts.insert().values(recipient=recipient, channel=channel, address=address,
                                                              updated_at=now))

    def contacts_of(self, recipients: list[str]) -> dict[str, dict[str, str]]:
        """Each recipient's addresses by channel (empty for one without any)."""
        found: dict[str, dict[str, str]] = {recipient: {} for recipient in recipients}
        query = sa.select(contacts.c.recipient, contacts.c.channel, contacts.c.address).where(
            contacts.c.recipient.in_(recipients))
        for row in self.session.execute(query):
            found[row.recipient][row.channel] = row.address
        return found

    def preferences_of(self, recipients: list[str], default: Preferences) -> dict[str, Preferences]:
        """Each recipient's preferences; ``default`` for one who set none."""
        found = {recipient: default for recipient in recipients}
        for row in self.session.execute(sa.select(preferences).where(preferences.c.recipient.in_(recipients))):
            found[row.recipient] = self._preferences(row)
        return found

    def preferences(self, recipient: str, default: Preferences) -> Preferences:
        row = self.session.execute(sa.select(preferences).where(preferences.c.recipient == recipient)).first()
        if row is None:
            return default
        return self._preferences(row)

    @staticmethod
    def _preferences(row) -> Preferences:
        quiet = None
        if row.quiet_start and row.quiet_end:
            quiet = QuietHours(datetime.strptime(row.quiet_start, "%H:%M").time(),
                               datetime.strptime(row.quiet_end, "%H:%M").time())
        return Preferences(tuple(json.loads(row.channels)), frozenset(json.loads(row.opted_out)), quiet)

    def save_preferences(self, recipient: str, prefs: Preferences, now: datetime) -> None:
        self.session.execute(preferences.delete().where(preferences.c.recipient == recipient))
        quiet = prefs.quiet_hours
        self.session.execute(preferences.insert().values(
            recipient=recipient, channels=json.dumps(list(prefs.channels)),
            opted_out=json.dumps(sorted(prefs.opted_out)),
            quiet_start=quiet.start.strftime("%H:%M") if quiet else None,
            quiet_end=quiet.end.strftime("%H:%M") if quiet else None, updated_at=now))

    def subscribers(self, topic: str) -> list[str]:
        query = sa.select(subscriptions.c.recipient).where(subscriptions.c.topic == topic).order_by(
            subscriptions.c.recipient)
        return [row[0] for row in self.session.execute(query)]

    def subscribe(self, topic: str, recipient: str, now: datetime) -> bool:
        return insert_or_nothing(self.session, subscriptions, dict(topic=topic, recipient=recipient, created_at=now))

    def unsubscribe(self, topic: str, recipient: str) -> bool:
        result = self.session.execute(subscriptions.delete().where(
            subscriptions.c.topic == topic, subscriptions.c.recipient == recipient))
        return result.rowcount > 0


class AssignmentRepository:
    def __init__(self, session):
        self.session = session

    def record(self, view: AssignmentView) -> None:
        """Insert the assignment unless it is known already (a redelivered or replayed event)."""
        insert_or_nothing(self.session, assignments, view.__dict__)

    def escalated(self, assignment_id: str, at: datetime) -> None:
        self.session.execute(assignments.update().where(assignments.c.assignment_id == assignment_id,
                                                        assignments.c.escalated_at.is_(None)).values(escalated_at=at))

    def close(self, at: datetime, *, assignment_id: str | None = None, case_id: str | None = None) -> None:
        query = assignments.update().where(assignments.c.closed_at.is_(None))
        if assignment_id:
            query = query.where(assignments.c.assignment_id == assignment_id)
        if case_id:
            query = query.where(assignments.c.case_id == case_id)
        self.session.execute(query.values(closed_at=at))

    def get(self, assignment_id: str) -> AssignmentView | None:
        row = self.session.execute(sa.select(assignments).where(
            assignments.c.assignment_id == assignment_id)).mappings().first()
        return AssignmentView(**dict(row)) if row else None

    def open_units(self, moment: datetime) -> list[str]:
        query = (sa.select(assignments.c.unit_code).distinct()
                 .where(assignments.c.routed_at < moment,
                        sa.or_(assignments.c.closed_at.is_(None), assignments.c.closed_at > moment))
                 .order_by(assignments.c.unit_code))
        return [row[0] for row in self.session.execute(query)]

    def for_unit(self, unit_code: str) -> list[AssignmentView]:
        query = sa.select(assignments).where(assignments.c.unit_code == unit_code).order_by(assignments.c.routed_at)
        return [AssignmentView(**dict(row)) for row in self.session.execute(query).mappings()]

    def claim_digest(self, unit_code: str, digest_date: str, now: datetime) -> bool:
        """Record that today's digest for the unit is being sent; False if it was already."""
        return insert_or_nothing(self.session, digests,
                                 dict(unit_code=unit_code, digest_date=digest_date, created_at=now))


# What a delivery still to be sent says once its wording is erased: it will not go out.
CANCELLED_BY_ERASURE = "cancelled: its recipient or case was erased before it was sent"
_PENDING = ("queued", "deferred")


class PrivacyRepository:
    """What notify forgets: a recipient's addresses, preferences and subscriptions, and the wording of
    deliveries. A few statements for a whole batch, whatever its size, each over an index of its filter."""

    def __init__(self, session):
        self.session = session
        self._locking = session.get_bind().dialect.name == "postgresql"

    def forget_recipients(self, recipients: list[str]) -> None:
        for table in (contacts, preferences, subscriptions):
            self.session.execute(table.delete().where(table.c.recipient.in_(recipients)))

    def deliveries_of(self, recipients: list[str], case_ids: list[str]) -> list[str]:
        """The deliveries to these recipients or about these cases, not yet redacted."""
        c = deliveries.c
        return list(self.session.execute(sa.select(c.id).where(
            sa.or_(c.recipient.in_(recipients), c.case_id.in_(case_ids)), c.redacted_at.is_(None))).scalars())

    def due_deliveries(self, cutoff: datetime, limit: int) -> list[str]:
        """Sent or failed deliveries recorded before ``cutoff`` and not yet redacted, oldest first."""
        c = deliveries.c
        query = (sa.select(c.id).where(c.redacted_at.is_(None), c.status.in_(("sent", "failed")),
                                       c.created_at < cutoff).order_by(c.created_at).limit(limit))
        if self._locking:
            query = query.with_for_update(skip_locked=True)
        return list(self.session.execute(query).scalars())

    def redact_deliveries(self, delivery_ids: list[str], now: datetime) -> None:
        """The deliveries' subject, body, event copy, errors and masked address redacted; one still to be sent
        is cancelled (failed, saying why), as there is nothing left to send."""
        if not delivery_ids:
            return
        c = deliveries.c
        pending = c.status.in_(_PENDING)
        self.session.execute(deliveries.update().where(c.id.in_(delivery_ids)).values(
            subject=REDACTED, body=REDACTED, context="{}", address_masked=None, redacted_at=now,
            last_error=sa.case((pending, CANCELLED_BY_ERASURE), (c.last_error.is_(None), None), else_=REDACTED),
            failed_at=sa.case((pending, now), else_=c.failed_at),
            status=sa.case((pending, "failed"), else_=c.status)))
        self.session.execute(delivery_attempts.update().where(
            delivery_attempts.c.delivery_id.in_(delivery_ids), delivery_attempts.c.error.is_not(None))
            .values(error=REDACTED))
        self.session.execute(dead_letters.update().where(dead_letters.c.delivery_id.in_(delivery_ids))
                             .values(reason=REDACTED))


class NotifyUnitOfWork(UnitOfWork):
    def open_repositories(self, session):
        self.privacy = PrivacyRepository(session)
        self.deliveries = DeliveryRepository(session)
        self.recipients = RecipientRepository(session)
        self.assignments = AssignmentRepository(session)
