"""The unit of work: one database transaction that rolls back unless committed, writes the events it emits to the
outbox in that transaction, and records the events it handles in the inbox."""
from __future__ import annotations

import json
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared.broker import OutgoingMessage
from shared.commit_groups import CommitGroups, Group
from shared.db import insert_new_rows, update_rows, utcnow
from shared.events import Envelope, Outgoing, new_event
from shared.messaging_tables import inbox, outbox


class AlreadyHandled(Exception):
    """The event was handled before by this consumer: its effect is already committed."""


class EventBatch(list):
    """The events a batch consumer handles in one call and one transaction (see :mod:`shared.consumer`).

    The unit of work records them in its inbox and keeps the ids of those handled before in ``duplicates``.
    """

    def __init__(self, events=()):
        super().__init__(events)
        self.duplicates: set[str] = set()


class UnitOfWork:
    """One database transaction that rolls back unless committed.

    Events emitted inside it are written to the outbox in the same transaction, so a state change and its
    announcement commit together or not at all. When the unit of work handles an incoming event
    (``inbox_key``), the event id is recorded first: a second delivery of the same event finds its row and
    raises :class:`AlreadyHandled` before any effect.

    With ``group`` (:class:`CommitGroups`), the unit joins the transaction of other units running at the same
    time and commits with them; see there. Its behaviour towards the code using it is the same.

    Services subclass it and open their repositories in :meth:`open_repositories`.
    """

    def __init__(self, session_factory: Callable[[], Session], street: str,
                 inbox_key: tuple[str, Envelope | EventBatch] | None = None,
                 on_commit: Callable[[list[OutgoingMessage]], None] | None = None,
                 group: CommitGroups | None = None):
        self._session_factory = session_factory
        self.street = street
        self._inbox_key = inbox_key
        self._on_commit = on_commit
        self._groups = group
        self._group: Group | None = None
        self.session: Session | None = None
        self.emitted: list[Envelope] = []
        # The events of the inbox key not handled before: what the handler is to handle.
        self.new_events: list[Envelope] = []

    def open_repositories(self, session: Session) -> None:
        """Hook for subclasses: attach repositories bound to ``session``."""

    def __enter__(self):
        self._pending: list[Envelope] = []
        self._outgoing: list[OutgoingMessage] = []
        self._outbox_rows: list[dict] = []
        if self._groups is not None:
            self._group = self._groups.join()
            self.session = self._group.session
        else:
            self.session = self._session_factory()
        if self._inbox_key:
            self._record_inbox()
        self.open_repositories(self.session)
        return self

    def __exit__(self, *exc_info):
        if self._groups is not None:
            if self._group is not None:  # left without commit (an exception, or on purpose): undo the group
                group, self._group = self._group, None
                group.abort()
            return
        self.rollback()
        self.session.close()

    def _record_inbox(self) -> None:
        consumer, handled = self._inbox_key
        events = handled if isinstance(handled, EventBatch) else [handled]
        new_ids = insert_new_rows(self.session, inbox, [
            dict(consumer=consumer, event_id=event.id, event_type=event.type, handled_at=utcnow())
            for event in events], returning="event_id")
        first_of_id = {}
        for event in events:  # a redelivered copy may arrive in the same batch as the original
            first_of_id.setdefault(event.id, event)
        self.new_events = [first_of_id[i] for i in first_of_id if i in new_ids]
        if isinstance(handled, EventBatch):
            handled.duplicates = set(first_of_id) - new_ids
        if self.new_events:
            return
        if self._group is not None:
            group, self._group = self._group, None
            group.withdraw()  # nothing was written; the group goes on without this unit
        else:
            self.session.rollback()
            self.session.close()
        what = handled.id if isinstance(handled, Envelope) else f"all {len(handled)} events of the batch"
        raise AlreadyHandled(f"{consumer} already handled {what}")

    def unhandled(self, events: list[Envelope]) -> list[Envelope]:
        """Of ``events``, those this unit is to handle: with an inbox key, the ones it had not handled before."""
        return self.new_events if self._inbox_key else list(events)

    def emit(self, outgoing: Outgoing) -> Envelope:
        """Write an event (made by its builder) to the outbox of this transaction; it is published after commit."""
        event = new_event(outgoing.type, street=self.street, subject=outgoing.subject, data=outgoing.data)
        body = event.to_json()
        # The rows are inserted at commit, all in one statement, still inside the transaction.
        self._outbox_rows.append(dict(
            event_id=event.id,
            type=event.type,
            exchange=f"{event.service}.events",
            routing_key=event.routing_key,
            subject=event.subject,
            body=body.decode("utf-8"),
            created_at=utcnow(),
        ))
        self._outgoing.append(OutgoingMessage(f"{event.service}.events", event.routing_key, body, event.id,
                                              event.type))
        self._pending.append(event)
        return event

    def rewrite_outbox(self, subjects: list[str], change: Callable[[str, dict], dict]) -> int:
        """Give the events of the outbox about ``subjects`` (``case/<id>`` …) the data ``change(type, data)``
        returns, so that what is erased is not replayed either. A row still pending goes out rewritten; ids,
        types and times stay. Returns how many rows changed."""
        if not subjects:
            return 0
        found = self.session.execute(sa.select(outbox.c.position, outbox.c.type, outbox.c.body)
                                     .where(outbox.c.subject.in_(sorted(set(subjects))))).all()
        changed = []
        for position, event_type, body in found:
            envelope = json.loads(body)
            data = change(event_type, envelope["data"])
            if data != envelope["data"]:
                envelope["data"] = data
                changed.append({"position": position,
                                "body": json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))})
        return update_rows(self.session, outbox, "position", changed)

    def commit(self) -> None:
        rows, outgoing = self._outbox_rows, self._outgoing
        self._outbox_rows, self._outgoing = [], []
        if self._group is not None:
            group, self._group = self._group, None
            group.commit_member(rows, outgoing)  # returns once the whole group committed; raises GroupAborted
        else:
            if rows:
                self.session.execute(outbox.insert(), rows)
            self.session.commit()
            if outgoing and self._on_commit:
                self._on_commit(outgoing)
        committed, self._pending = self._pending, []
        self.emitted.extend(committed)

    def rollback(self) -> None:
        self._pending = []
        self._outbox_rows, self._outgoing = [], []
        if self.session is not None and self._groups is None:
            self.session.rollback()
