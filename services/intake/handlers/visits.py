"""Visits at a station (一口受理: several cases, one visit; 只跑一次: the share of cases done in at most one) and
video sessions (可视化咨询) with a worker."""
from __future__ import annotations

import uuid

from shared.db import utcnow
from shared.errors import Conflict, InvalidInput, NotFound
from services.intake.persistence import IntakeUnitOfWork


def record_visit(station_code: str, case_ids: list[str], worker: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    visit_id = str(uuid.uuid4())
    if len(set(case_ids)) != len(case_ids):
        raise InvalidInput("case_ids", "names a case twice")
    with uow:
        residents = set()
        for case_id in case_ids:
            case = uow.cases.get(case_id)
            if case is None:
                raise NotFound(f"case {case_id} does not exist")
            residents.add(case.resident_id)
        if len(residents) != 1:
            raise Conflict("a visit is one resident's: the cases belong to different residents")
        resident_id = residents.pop()
        uow.visits.add(visit_id, resident_id, station_code, worker, now, case_ids)
        uow.emit("doorstep.intake.visit.recorded.v1", subject=f"visit/{visit_id}", data={
            "visit_id": visit_id, "resident_id": resident_id, "station": station_code, "case_ids": case_ids,
            "visited_at": now.isoformat()})
        uow.commit()
    return {"id": visit_id, "resident_id": resident_id, "case_ids": case_ids, "visited_at": now.isoformat()}


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


def start_video(case_id: str, kind: str, worker: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    session_id = str(uuid.uuid4())
    with uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} does not exist")
        if case.status in ("closed", "rejected"):
            raise Conflict(f"case {case_id} is {case.status}")
        uow.video_sessions.add(id=session_id, case_id=case_id, kind=kind, worker=worker, started_at=now)
        uow.emit("doorstep.intake.video_session.started.v1", subject=f"case/{case_id}", data={
            "session_id": session_id, "case_id": case_id, "kind": kind, "worker": worker,
            "started_at": now.isoformat()})
        uow.commit()
    return {"id": session_id, "case_id": case_id, "kind": kind, "worker": worker, "started_at": now.isoformat()}


def end_video(session_id: str, uow: IntakeUnitOfWork) -> dict:
    now = utcnow()
    with uow:
        session = uow.video_sessions.get(session_id)
        if session is None:
            raise NotFound(f"video session {session_id} does not exist")
        if session["ended_at"] is not None:
            raise Conflict(f"video session {session_id} has already ended")
        uow.video_sessions.end(session_id, now)
        uow.emit("doorstep.intake.video_session.ended.v1", subject=f"case/{session['case_id']}", data={
            "session_id": session_id, "case_id": session["case_id"], "kind": session["kind"],
            "worker": session["worker"], "started_at": session["started_at"].isoformat(), "ended_at": now.isoformat(),
            "duration_s": int((now - session["started_at"]).total_seconds())})
        uow.commit()
    return {"id": session_id, "ended_at": now.isoformat()}
