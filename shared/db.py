"""Database plumbing every service shares: engines, the outbox and inbox tables, the unit of work.

Each service owns its own database. Next to its business tables, each has the two messaging tables defined
here: ``outbox`` (events written in the business transaction, published later by the relay) and ``inbox``
(ids of events already handled, written in the same transaction as their effect).
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.events import Envelope, new_event



class UTCDateTime(sa.types.TypeDecorator):
    """Timestamps are stored in UTC and always read back timezone-aware (SQLite forgets the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC times")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


messaging_metadata = sa.MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

outbox = sa.Table(
    "outbox",
    messaging_metadata,
    sa.Column("position", _BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("exchange", sa.String(100), nullable=False),
    sa.Column("routing_key", sa.String(200), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Index(
        "ix_outbox_unpublished",
        "position",
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    ),
)

inbox = sa.Table(
    "inbox",
    messaging_metadata,
    sa.Column("consumer", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("handled_at", UTCDateTime(), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str, pool_size: int = 12) -> sa.Engine:
    """One engine per database URL per process (all four services may share a process)."""
    with _engines_lock:
        if url not in _engines:
            _engines[url] = _make_engine(url, pool_size)
        return _engines[url]


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _make_engine(url: str, pool_size: int) -> sa.Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection: SQLite allows one writer, and its busy-wait would block every green thread of the
        # process; waiting for the pool's only connection is cooperative instead.
        engine = sa.create_engine(
            url,
            pool_size=1,
            max_overflow=0,
            poolclass=sa.pool.QueuePool,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # psycopg2 is made cooperative by eventlet.monkey_patch() (eventlet's psycopg patcher).
    return sa.create_engine(url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True, pool_recycle=1800)


class AlreadyHandled(Exception):
    """The event was handled before by this consumer: its effect is already committed."""


class UnitOfWork:
    """One database transaction that rolls back unless committed.

    Events emitted inside it are written to the outbox in the same transaction, so a state change and its
    announcement commit together or not at all. When the unit of work handles an incoming event
    (``inbox_key``), the event id is recorded first: a second delivery of the same event fails on the
    primary key and raises :class:`AlreadyHandled` before any effect.

    Services subclass it and open their repositories in :meth:`open_repositories`.
    """

    def __init__(self, session_factory: Callable[[], Session], street: str,
                 inbox_key: tuple[str, Envelope] | None = None,
                 on_commit: Callable[[list[Envelope]], None] | None = None):
        self._session_factory = session_factory
        self.street = street
        self._inbox_key = inbox_key
        self._on_commit = on_commit
        self.session: Session | None = None
        self.emitted: list[Envelope] = []

    def open_repositories(self, session: Session) -> None:
        """Hook for subclasses: attach repositories bound to ``session``."""

    def __enter__(self):
        self.session = self._session_factory()
        self._pending: list[Envelope] = []
        if self._inbox_key:
            self._record_inbox()
        self.open_repositories(self.session)
        return self

    def __exit__(self, *exc_info):
        self.rollback()
        self.session.close()

    def _record_inbox(self) -> None:
        consumer, event = self._inbox_key
        try:
            self.session.execute(
                inbox.insert().values(consumer=consumer, event_id=event.id, event_type=event.type, handled_at=utcnow())
            )
            self.session.flush()
        except IntegrityError:
            self.session.rollback()
            self.session.close()
            raise AlreadyHandled(f"{consumer} already handled event {event.id}") from None

    def emit(self, type_name: str, *, subject: str, data: dict) -> Envelope:
        """Write an event to the outbox of this transaction; it is published after commit."""
        event = new_event(type_name, street=self.street, subject=subject, data=data)
        self.session.execute(
            outbox.insert().values(
                event_id=event.id,
                type=event.type,
                exchange=f"{event.service}.events",
                routing_key=event.routing_key,
                subject=event.subject,
                body=event.to_json().decode("utf-8"),
                created_at=utcnow(),
            )
        )
        self._pending.append(event)
        return event

    def commit(self) -> None:
        self.session.commit()
        committed, self._pending = self._pending, []
        self.emitted.extend(committed)
        if committed and self._on_commit:
            self._on_commit(committed)

    def rollback(self) -> None:
        self._pending = []
        if self.session is not None:
            self.session.rollback()
