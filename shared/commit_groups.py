"""Commit groups: the units of work running at the same moment share one transaction and one commit."""
from __future__ import annotations

from typing import Callable

from eventlet.event import Event
from eventlet.semaphore import Semaphore
from sqlalchemy.orm import Session

from shared.broker import OutgoingMessage
from shared.messaging_tables import outbox


class GroupAborted(Exception):
    """Another member of this unit's commit group failed, so the group's transaction was rolled back and this
    unit's work with it. Nothing of it is committed; the caller tries again on its own (see :class:`CommitGroups`)."""


class CommitGroups:
    """Units of work of concurrent event handlers, committed together: one transaction, one commit.

    A consumer that handles ten events at once would otherwise pay ten transactions (begin, commit and the
    commit's WAL flush, a connection each). Here the units that are running at the same moment form a group:
    they take turns on the group's session (one member's block at a time, in arrival order), and the member
    that finishes when nobody is waiting for a turn commits for all. Each member's ``commit()`` returns only
    after that commit, so code after it sees its effect committed, exactly as with a unit of its own; the
    events of all members go to the outbox in that transaction and are published together after it.

    A member that fails (raises, or leaves without committing) rolls the whole group back: the members that
    had finished get :class:`GroupAborted` from their ``commit()`` and are handled again on their own (see
    :mod:`shared.consumer`), which is safe because their inbox rows were rolled back with them.
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
