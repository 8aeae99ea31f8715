"""Commit groups: the units of work running at the same moment share one transaction and one commit.

Whether a worker's unit joins a group or runs alone is decided here and nowhere else, by :class:`Grouping`;
the entrypoints only record, through their :class:`GroupMembership`, which of their events or requests must
run alone for now.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Hashable

import sqlalchemy as sa
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from sqlalchemy.orm import Session

from shared.broker import OutgoingMessage
from shared.messaging_tables import outbox


class Grouping:
    """Whether a worker's unit of work joins a commit group or runs alone: the whole decision, in one place.

    A unit joins a group when all of these hold:

    * the database is PostgreSQL and the service has commit groups switched on. SQLite, the embedded default,
      has one connection, so there every unit has a transaction of its own;
    * its entrypoint takes part (its :class:`GroupMembership` says so): an event consumer of single events, or
      an HTTP endpoint declared with ``commit_group=True``. A batch consumer's batch is one transaction
      already; timers, RPC and other HTTP endpoints never group;
    * this event or request is not marked to run alone. A consumer marks each retry, and both consumers and
      HTTP endpoints mark a member whose group was rolled back for another member's failure
      (:class:`GroupAborted`) before handling it again: alone, so that one failing member cannot make the
      members grouped with it fail again and again.
    """

    def __init__(self, engine: sa.Engine, session_factory: Callable[[], Session],
                 on_commit: Callable[[list[OutgoingMessage]], None] | None = None, enabled: bool = True):
        self.groups = None
        if enabled and engine.dialect.name == "postgresql":
            self.groups = CommitGroups(session_factory, on_commit=on_commit)

    def group_for(self, worker_ctx) -> CommitGroups | None:
        """The commit groups this worker's unit of work joins, or None: it runs alone."""
        if self.groups is None:
            return None
        membership = getattr(worker_ctx.entrypoint, "group_membership", None)
        if membership is None or not membership.takes_part:
            return None
        return None if membership.runs_alone(worker_ctx.args[0]) else self.groups


class GroupMembership:
    """An entrypoint's part in commit groups: whether its units of work take part at all, and which of its
    events or requests are, for now, to run alone. It records; :class:`Grouping` decides.

    ``key`` tells one event or request from another across its attempts: an event by its id (each attempt is a
    new worker for the same event), a request by the identity of its object (it is handled again as it is).
    """

    def __init__(self, takes_part: bool, key: Callable[[Any], Hashable] = id):
        self.takes_part = takes_part
        self._key = key
        self._alone: set = set()

    def run_alone(self, handled) -> None:
        """Mark an event or a request to run in a transaction of its own the next times it is handled."""
        self._alone.add(self._key(handled))

    def forget(self, handled) -> None:
        """It is settled (done, dead-lettered or given back): the mark goes."""
        self._alone.discard(self._key(handled))

    def runs_alone(self, handled) -> bool:
        return self._key(handled) in self._alone

    @contextmanager
    def alone(self, handled):
        """Marked to run alone while the block handles it."""
        self.run_alone(handled)
        try:
            yield
        finally:
            self.forget(handled)


class GroupAborted(Exception):
    """Another member of this unit's commit group failed, so the group's transaction was rolled back and this
    unit's work with it. Nothing of it is committed, and it was not this unit's fault: the entrypoint handles it
    again at once, alone (see :class:`Grouping`)."""


class CommitGroups:
    """Units of work of concurrent event handlers, committed together: one transaction, one commit.

    A consumer that handles ten events at once would otherwise pay ten transactions (begin, commit and the
    commit's WAL flush, a connection each). Here the units that are running at the same moment form a group:
    they take turns on the group's session (one member's block at a time, in arrival order), and the member
    that finishes when nobody is waiting for a turn commits for all. Each member's ``commit()`` returns only
    after that commit, so code after it sees its effect committed, exactly as with a unit of its own; the
    events of all members go to the outbox in that transaction and are published together after it.

    A member that fails (raises, or leaves without committing) rolls the whole group back: the members that
    had finished get :class:`GroupAborted` from their ``commit()`` and are handled again, each in a transaction
    of its own (a consumer's event without counting an attempt, an HTTP request within the same request; see
    :class:`Grouping`). That is safe because their inbox rows were rolled back with them, and it is final: a
    unit running alone has no neighbour to be aborted by.
    """

    def __init__(self, session_factory: Callable[[], Session],
                 on_commit: Callable[[list[OutgoingMessage]], None] | None = None, max_members: int = 50):
        self._session_factory = session_factory
        self._on_commit = on_commit
        self.max_members = max_members
        self._open: Group | None = None

    def join(self) -> "Group":
        """Wait for this member's turn in the group forming now; return the group."""
        while True:
            group = self._open
            if group is None or not group.accepting:
                group = self._open = Group(self, self._session_factory())
            if group.take_turn():
                return group
            # That group failed while we waited: nothing of ours was in it; join the next one.


class Group:
    """One commit group: its session, whose turn it is, and the event its members wait on for the commit."""

    def __init__(self, owner: CommitGroups, session: Session):
        self.owner = owner
        self.session = session
        self.accepting = True
        self._turn = Semaphore(1)
        self._waiting = 0
        self._members = 0
        self._finished = Event()
        self._failed = False
        self._rows: list[dict] = []
        self._outgoing: list[OutgoingMessage] = []

    def take_turn(self) -> bool:
        self._waiting += 1
        self._turn.acquire()
        self._waiting -= 1
        if self._failed:
            self._turn.release()
            return False
        self._members += 1
        if self._members >= self.owner.max_members:
            self.accepting = False
        return True

    def withdraw(self) -> None:
        """A member leaves having written nothing (its event was handled before)."""
        self._members -= 1
        if self._waiting:
            self._turn.release()
        elif self._members:
            self._commit()
        else:  # nobody did anything in this group
            self.accepting = False
            self.session.close()
            self._finished.send(True)
            self._turn.release()

    def commit_member(self, rows: list[dict], outgoing: list[OutgoingMessage]) -> None:
        """A member is done: hand the turn on, or commit for everybody if nobody waits for one; then wait for the
        group's commit, so that the member returns only once its work is committed.

        Raises :class:`GroupAborted` if the group was rolled back instead (a later member failed, or the commit
        did): the member's work went with it, and its entrypoint handles it again alone.
        """
        self._rows.extend(rows)
        self._outgoing.extend(outgoing)
        if self._waiting:
            self._turn.release()  # the next member's turn; the last one commits for everybody
        else:
            self._commit()
        if not self._finished.wait():
            raise GroupAborted("the transaction of this unit's commit group was rolled back")

    def _commit(self) -> None:
        self.accepting = False
        try:
            if self._rows:
                self.session.execute(outbox.insert(), self._rows)
            self.session.commit()
        except BaseException:
            self.abort()
            raise
        self.session.close()
        self._finished.send(True)
        self._turn.release()
        if self._outgoing and self.owner._on_commit:
            self.owner._on_commit(self._outgoing)

    def abort(self) -> None:
        """Roll back everybody's work; members waiting for the commit get GroupAborted."""
        self.accepting = False
        self._failed = True
        try:
            self.session.rollback()
        finally:
            self.session.close()
            if not self._finished.ready():
                self._finished.send(False)
            self._turn.release()
