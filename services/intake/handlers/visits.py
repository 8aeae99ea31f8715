"""Visits at a station (一口受理: several cases, one visit; 只跑一次: the share of cases done in at most one) and
video sessions (可视化咨询) with a worker."""
from __future__ import annotations

import uuid

from shared.db import utcnow
from shared.errors import Conflict, NotFound
from services.intake import events
from services.intake.domain import RecordVisit, StartVideo
from services.intake.persistence import IntakeUnitOfWork


def record_visit(cmd: RecordVisit, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    visit_id = str(uuid.uuid4())
    with uow:
        residents = set()
        for case_id in cmd.case_ids:
            case = uow.cases.get(case_id)
            if case is None:
                raise NotFound(f"case {case_id} does not exist")
            residents.add(case.resident_id)
        if len(residents) != 1:
            raise Conflict("a visit is one resident's: the cases belong to different residents")
        resident_id = residents.pop()
        uow.visits.add(visit_id, resident_id, cmd.station, cmd.worker, now, list(cmd.case_ids))
        uow.emit(events.visit_recorded(visit_id, cmd, resident_id, now))
        uow.commit()
    return {"id": visit_id, "resident_id": resident_id, "case_ids": list(cmd.case_ids), "visited_at": now.isoformat()}


def visit_metrics(uow: IntakeUnitOfWork) -> dict:
    """Visits per done case, and the share of done cases that took at most one visit (只跑一次)."""
    with uow:
        per_case = uow.visits.visits_per_case()
    done = len(per_case)
    visits = sum(per_case.values())
    one_visit = sum(1 for count in per_case.values() if count <= 1)
    return {"cases_done": done, "visits": visits,
            "visits_per_done_case": round(visits / done, 3) if done else None,
            "share_done_in_one_visit": round(one_visit / done, 3) if done else None}


def start_video(cmd: StartVideo, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    session_id = str(uuid.uuid4())
    with uow:
        case = uow.cases.get(cmd.case_id)
        if case is None:
            raise NotFound(f"case {cmd.case_id} does not exist")
        if case.status in ("closed", "rejected"):
            raise Conflict(f"case {cmd.case_id} is {case.status}")
        uow.video_sessions.add(id=session_id, case_id=cmd.case_id, kind=cmd.kind, worker=cmd.worker, started_at=now)
        uow.emit(events.video_session_started(session_id, cmd, now))
        uow.commit()
    return {"id": session_id, "case_id": cmd.case_id, "kind": cmd.kind, "worker": cmd.worker,
            "started_at": now.isoformat()}


def end_video(session_id: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        session = uow.video_sessions.get(session_id)
        if session is None:
            raise NotFound(f"video session {session_id} does not exist")
        if session["ended_at"] is not None:
            raise Conflict(f"video session {session_id} has already ended")
        uow.video_sessions.end(session_id, now)
        uow.emit(events.video_session_ended(session, now))
        uow.commit()
    return {"id": session_id, "ended_at": now.isoformat()}
