"""Database plumbing every service shares: one engine per database, timestamps stored in UTC, and the
``INSERT … ON CONFLICT`` statements the hot paths use.

Each service owns its own database; the unit of work is in :mod:`shared.unit_of_work`, the outbox and inbox
tables in :mod:`shared.messaging_tables`.
"""
from __future__ import annotations

import functools
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql


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


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


_PG_DIALECT = postgresql.dialect()
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
    engine = sa.create_engine(url, pool_size=pool_size, max_overflow=4, pool_recycle=1800)
    _ping_when_idle(engine, PING_AFTER_IDLE_S)
    return engine


# A connection back in the pool for longer than this is pinged before it is handed out again.
PING_AFTER_IDLE_S = 2.0


def _ping_when_idle(engine: sa.Engine, idle_s: float) -> None:
    """``pool_pre_ping``, but only for connections that sat idle: under load a connection returns to the pool
    and leaves it again within milliseconds, and a ping on every checkout was a round trip per transaction.

    A server restart shows on the first checkout after it (the pool had been idle) or, under load, as one
    failed statement: SQLAlchemy then invalidates the whole pool, and the caller's retry (a consumer's next
    attempt) gets fresh connections.
    """

    @sa_event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record):
        record.info["idle_since"] = time.monotonic()

    @sa_event.listens_for(engine, "checkout")
    def _handed_out(dbapi_conn, record, _proxy):
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and hands out another (or a new one).
            raise sa.exc.DisconnectionError(f"stale connection: {exc}") from exc


@functools.lru_cache(maxsize=512)
def upsert_statement(table: sa.Table, columns: tuple[str, ...], conflict: tuple[str, ...] | None = None,
                     update: tuple[str, ...] = (), returning: str | None = None, rows: int | None = None) -> sa.TextClause:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` (or ``DO UPDATE SET`` the ``update`` columns to the new
    values), optionally ``RETURNING`` one column; built once per shape, the same text on PostgreSQL and SQLite.

    With ``rows`` the statement inserts that many rows, its parameters named ``<column>_<row index>``.

    Written as text because SQLAlchemy's dialect inserts with ON CONFLICT cannot be cached: every execution
    compiled the statement again, which cost more than the database's work on the hot paths (the inbox row of
    every consumed event, the resident of every submitted case). The bind parameters keep the columns' types.
    """
    conflict = conflict or tuple(c.name for c in table.primary_key)
    action = ("DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in update)) if update else "DO NOTHING"
    names = [[c] for c in columns] if rows is None else [[f"{c}_{i}" for i in range(rows)] for c in columns]
    tuples = ", ".join("(" + ", ".join(":" + row_names[i] for row_names in names) + ")" for i in range(rows or 1))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {tuples} ON CONFLICT ({', '.join(conflict)}) {action}"
    if returning:
        sql += f" RETURNING {returning}"
    statement = sa.text(sql).bindparams(
        *(sa.bindparam(name, type_=table.c[column].type) for column, row_names in zip(columns, names)
          for name in row_names))
    return statement.columns(table.c[returning]) if returning else statement


def insert_or_nothing(session, table: sa.Table, values: dict) -> bool:
    """Insert the row unless one with its primary key exists; True if it was inserted.

    Race-free (no read before the write), and a duplicate leaves the transaction usable, which a commit group
    needs (see :mod:`shared.commit_groups`).
    """
    return session.execute(upsert_statement(table, tuple(values)), values).rowcount == 1


def insert_new_rows(session, table: sa.Table, rows: list[dict], returning: str) -> set:
    """Insert the rows whose primary key is not taken yet, in one statement; return their ``returning`` values."""
    columns = tuple(rows[0])
    statement = upsert_statement(table, columns, returning=returning, rows=len(rows))
    params = {f"{column}_{i}": row[column] for i, row in enumerate(rows) for column in columns}
    return set(session.execute(statement, params).scalars())


def update_rows(session, table: sa.Table, key: str, rows: list[dict]) -> int:
    """Give each row of ``table`` whose ``key`` column equals a row's ``key`` value that row's other values; one
    statement for all of them (``UPDATE … FROM (VALUES …)``), where executemany would send one per row. Every
    row names the same columns. Returns how many rows changed."""
    if not rows:
        return 0
    columns = tuple(name for name in rows[0] if name != key)
    statement = _update_rows_statement(table, key, columns, len(rows), session.get_bind().dialect.name)
    params = {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in (key, *columns)}
    return session.execute(statement, params).rowcount


@functools.lru_cache(maxsize=256)
def _update_rows_statement(table: sa.Table, key: str, columns: tuple[str, ...], rows: int,
                           dialect: str) -> sa.TextClause:
    names = (key, *columns)
    values = ", ".join("(" + ", ".join(f":{name}_{i}" for name in names) + ")" for i in range(rows))

    def value(name):
        # PostgreSQL types a VALUES list from its parameters (text); SQLite takes any value as it is.
        if dialect != "postgresql":
            return f"v.v_{name}"
        return f"CAST(v.v_{name} AS {table.c[name].type.compile(dialect=_PG_DIALECT)})"

    # Both name a VALUES list's columns column1, column2 …; a statement that begins with UPDATE (not WITH) has
    # its row count reported by the sqlite3 module.
    named = ", ".join(f"column{i + 1} AS v_{name}" for i, name in enumerate(names))
    sql = (f"UPDATE {table.name} SET {', '.join(f'{name} = {value(name)}' for name in columns)} "
           f"FROM (SELECT {named} FROM (VALUES {values}) AS rows_) AS v WHERE {table.name}.{key} = {value(key)}")
    return sa.text(sql).bindparams(*(sa.bindparam(f"{name}_{i}", type_=table.c[name].type)
                                     for i in range(rows) for name in names))
