"""``doorstep bench retention``: what one retention pass costs on a street with years of history; figures, not a
test.

For each service that keeps personal records (intake, routing, notify) the tables are filled inside PostgreSQL
(generate_series) with N records of each kind, their dates spread evenly over eight years, none handled yet:
the first pass after retention is switched on, when most of what is past its time is still to do — the most a
pass ever meets. Intake: N residents, each with a case (one in fifty still being handled) with three history
entries, and a booking; routing: N resolved cases with an assignment and a log entry; notify: N sent messages with
an attempt. Then passes are timed (each handles one full batch per kind) and their statements counted, first with
as few records as give each of the passes a full batch (the baseline), then with N, in the same run; and the
plans of each pass's statements are printed: every one walks an index, none scans a table.
"""
from __future__ import annotations

import statistics
import time

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from doorstep.bench.infra import recreate_database
from shared.config import load_settings
from shared.db import dispose_engines, engine_for, utcnow
from shared.migrations import upgrade
from services.intake.catalog import default_catalog
from services.intake.handlers.retention import apply_retention as intake_pass
from services.intake.persistence import IntakeUnitOfWork
from services.notify.handlers.privacy import apply_retention as notify_pass
from services.notify.persistence import NotifyUnitOfWork
from services.routing.handlers.erasure import apply_retention as routing_pass
from services.routing.persistence import RoutingUnitOfWork

DAYS = 8 * 365  # the history's span
PASSES = 3

# Each service's records, made from generate_series(1, :n) AS i, dated (i % DAYS) days before :now.
_AGE = f"(:now - ((i % {DAYS}) * interval '1 day'))"
_FILL = {
    "intake": [
        f"""INSERT INTO appointment_slots (id, station_code, starts_at, ends_at, capacity, booked)
            SELECT 'bench@' || d, 'bench', :now - d * interval '1 day', :now - d * interval '1 day', 1000000, 0
            FROM generate_series(0, {DAYS - 1}) AS d""",
        f"""INSERT INTO residents (id, name, phone, area, building, room, id_card_masked, id_card_hash, created_at,
                                   last_active_at)
            SELECT md5('r' || i)::uuid::text, '居民' || i, (13900000000 + i)::text, 'shixin', '12', '301',
                   '310115**********34', md5('id' || i) || md5('id' || i), {_AGE}, {_AGE}
            FROM generate_series(1, :n) AS i""",
        f"""INSERT INTO cases (id, matter_code, category, channel, kind, urgency, description, resident_id, area,
                               status, entered_by, submitted_at, updated_at, attributes, missing_materials, answer,
                               reporter, rating, lead_unit)
            SELECT md5('c' || i)::uuid::text, 'property-repair', 'property', 'counter', 'request', 'normal',
                   '居民' || i || '家楼道灯不亮', md5('r' || i)::uuid::text, 'shixin',
                   CASE WHEN i % 50 = 0 THEN 'routed' ELSE 'closed' END, 'counter', {_AGE}, {_AGE},
                   '{{"location": "stairwell"}}', '[]', '已为居民' || i || '更换', '楼组长', 'satisfied', 'shixin-pm'
            FROM generate_series(1, :n) AS i""",
        f"""INSERT INTO case_history (case_id, status, at, note)
            SELECT md5('c' || i)::uuid::text, s.status, {_AGE}::text, s.note || i
            FROM generate_series(1, :n) AS i,
                 (VALUES ('submitted', 'channel counter '), ('resolved', '已为居民更换 '),
                         ('called_back', 'callback satisfied: 居民说很快 ')) AS s (status, note)""",
        f"""INSERT INTO appointments (id, slot_id, station_code, starts_at, resident_id, matter_code, status,
                                      booked_at, changed_at)
            SELECT md5('a' || i)::uuid::text, 'bench@' || (i % {DAYS}), 'bench', {_AGE}, md5('r' || i)::uuid::text,
                   'property-repair', 'attended', {_AGE}, {_AGE}
            FROM generate_series(1, :n) AS i""",
    ],
    "routing": [
        f"""INSERT INTO routing_cases (case_id, area, matter_code, category, kind, urgency, rule, reason,
                                       explanation, escalation, status, lead_unit, transfers, escalations, warning,
                                       resident_id, phone_masked, answer, created_at, updated_at, resolved_at)
            SELECT md5('c' || i)::uuid::text, 'shixin', 'property-repair', 'property', 'request', 'normal',
                   'property-repair-to-pm', '物业报修由物业公司处理', '[]', '[]', 'resolved', 'shixin-pm', 0, 0,
                   false, md5('r' || i)::uuid::text, '139****' || lpad((i % 10000)::text, 4, '0'),
                   '已为居民' || i || '更换', {_AGE}, {_AGE}, {_AGE}
            FROM generate_series(1, :n) AS i""",
        f"""INSERT INTO assignments (id, case_id, unit_code, rule, reason, area, status, created_at, result)
            SELECT md5('s' || i)::uuid::text, md5('c' || i)::uuid::text, 'shixin-pm', 'property-repair-to-pm',
                   '物业报修由物业公司处理', 'shixin', 'done', {_AGE}, '已为居民' || i || '更换'
            FROM generate_series(1, :n) AS i""",
        f"""INSERT INTO case_log (case_id, at, action, unit_code, actor, detail)
            SELECT md5('c' || i)::uuid::text, {_AGE}, 'transfer', 'shixin-rc', 'handler:bench',
                   '{{"to_unit": "shixin-pm", "reason": "居民说是物业的事"}}'
            FROM generate_series(1, :n) AS i""",
    ],
    "notify": [
        f"""INSERT INTO deliveries (id, cause_event_id, cause_type, case_id, recipient, channel, template, subject,
                                    body, status, created_at, sent_at, context, address_masked)
            SELECT md5('d' || i)::uuid::text, md5('e' || i), 'doorstep.routing.case.resolved.v1',
                   md5('c' || i)::uuid::text, 'resident:' || md5('r' || i)::uuid::text, 'sms',
                   'case-resolved-resident', '您的事项已办结', '答复：已为居民' || i || '更换', 'sent', {_AGE}, {_AGE},
                   '{{"answer": "已为居民更换"}}', '139****0021'
            FROM generate_series(1, :n) AS i""",
        f"""INSERT INTO delivery_attempts (delivery_id, channel, attempt, outcome, error, attempted_at)
            SELECT md5('d' || i)::uuid::text, 'sms', 1, 'failed', '139****0021: gateway busy', {_AGE}
            FROM generate_series(1, :n) AS i""",
    ],
}
_TABLES = {
    "intake": "appointments, case_history, cases, residents, appointment_slots, outbox",
    "routing": "case_log, assignments, routing_cases, outbox",
    "notify": "delivery_attempts, deliveries, outbox",
}


def _fill(engine: sa.Engine, service: str, n: int, now) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {_TABLES[service]} RESTART IDENTITY CASCADE"))
        for statement in _FILL[service]:
            conn.execute(sa.text(statement), {"n": n, "now": now})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))  # autovacuum may be off: the planner is told what is there


def _passes(engine: sa.Engine, run_pass) -> tuple[float, int, list, list]:
    """PASSES passes: the median time (ms), the statements of one pass, the statements of the first (to explain
    its reads) and what each pass handled."""
    sent: list[tuple[str, dict]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    times, counts, handled = [], [], []
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(PASSES):
            before = len(sent)
            started = time.perf_counter()
            handled.append(run_pass())
            times.append((time.perf_counter() - started) * 1000)
            counts.append(len(sent) - before)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    if len(set(counts)) != 1:
        raise RuntimeError(f"passes issued different numbers of statements: {counts}")
    return round(statistics.median(times), 1), counts[0], sent[:counts[0]], handled


def _plans(engine: sa.Engine, statements) -> list[str]:
    """The scans of each statement's plan (EXPLAIN without ANALYZE: nothing is run), inserts aside."""
    plans = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith("INSERT"):
                continue
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars().all()
            scans = [row.strip().lstrip("-> ").split("  (")[0] for row in rows if "Scan" in row]
            plans.append(f"{' '.join(statement.split()[:4])} … : {'; '.join(scans)}")
    return plans


def run_retention_benchmark(db_template: str, n: int, batch: int, progress=None) -> dict:
    say = progress or (lambda _text: None)
    now = utcnow()
    settings = load_settings(environ={}, db_template=db_template, retention_batch_size=batch)
    catalog = default_catalog()
    units = {"intake": IntakeUnitOfWork, "routing": RoutingUnitOfWork, "notify": NotifyUnitOfWork}
    runs = {
        "intake": lambda new_uow: intake_pass(new_uow, settings, catalog, now),
        "routing": lambda new_uow: routing_pass(new_uow, settings, now),
        "notify": lambda new_uow: notify_pass(new_uow, settings, now),
    }
    # A quarter or more of each kind is past its time: this many give every pass a full batch.
    baseline = 4 * PASSES * batch
    if n < baseline:
        raise ValueError(f"-n must be at least {baseline:,} (the baseline) to say anything")
    figures: dict = {"rows_per_kind": n, "batch": batch, "baseline_rows_per_kind": baseline}
    for service, run in runs.items():
        url = settings.db_url(service)
        recreate_database(url, "retention")
        upgrade(service, url)
        engine = engine_for(url)
        new_uow = (lambda unit: lambda: unit(sessionmaker(engine, expire_on_commit=False), settings.street))(
            units[service])
        for size, label in ((baseline, "baseline"), (n, "history")):
            say(f"{service}: {size:,} records of each kind over {DAYS // 365} years …")
            _fill(engine, service, size, now)
            say(f"{service}: {PASSES} passes …")
            ms, count, reads, handled = _passes(engine, lambda: run(new_uow))
            figures[f"{service}_pass_ms_{label}"] = ms
            figures[f"{service}_statements_{label}"] = count
            figures[f"{service}_handled_{label}"] = handled
        figures[f"{service}_plans"] = _plans(engine, reads)
    dispose_engines()
    return figures
