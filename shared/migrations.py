"""Alembic migrations, one history per service (``services/<service>/migrations``), one shared env.

``doorstep migrate [service]`` upgrades to head; ``/readyz`` reports a service whose database is behind.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from shared.db import engine_for
from shared.messaging_tables import messaging_metadata

ROOT = Path(__file__).resolve().parent.parent


def target_metadata(service: str) -> list[sa.MetaData]:
    persistence = importlib.import_module(f"services.{service}.persistence")
    return [persistence.metadata, messaging_metadata]


def alembic_config(service: str) -> Config:
    cfg = Config()
    # One path, split by the OS separator only: legacy splitting on spaces and commas would break a checkout
    # whose path holds one (alembic warns of it as deprecated).
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(Path(__file__).parent / "alembic"))
    cfg.set_main_option("version_locations", str(ROOT / "services" / service / "migrations"))
    cfg.attributes["service"] = service
    return cfg


class MissingDatabase(Exception):
    """A service's database does not exist and cannot be created with the URL's credentials."""


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database named in ``url`` if the server has none of that name; True if created.

    A newcomer points ``doorstep migrate`` at a fresh server; without this the first statement fails with a
    traceback about a missing database. Where the user may not create databases, the error says what to run.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return False
    server = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first():
                return False
            try:
                conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
            except sa.exc.ProgrammingError as exc:
                raise MissingDatabase(
                    f"database {parsed.database!r} does not exist on {parsed.host}, and user {parsed.username!r} "
                    f"may not create it ({exc.orig.pgcode}); as a superuser run: CREATE DATABASE \"{parsed.database}\" "
                    f"OWNER \"{parsed.username}\";") from None
            return True
    except sa.exc.OperationalError as exc:
        raise MissingDatabase(f"cannot reach PostgreSQL at {parsed.host}:{parsed.port or 5432} as "
                              f"{parsed.username!r}: {str(exc.orig).strip().splitlines()[0]}") from None
    finally:
        server.dispose()


def upgrade(service: str, url: str, revision: str = "head") -> None:
    cfg = alembic_config(service)
    with engine_for(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def head_revision(service: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(service)).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(service: str, engine: sa.Engine) -> bool:
    """At our head, or ahead of it: during a rolling update the migration Job runs first, and pods of the
    previous image must stay ready on a database that a newer (additive) migration has moved on."""
    current = current_revision(engine)
    if current is None:
        return False
    script = ScriptDirectory.from_config(alembic_config(service))
    known = {rev.revision for rev in script.walk_revisions()}
    return current == script.get_current_head() or current not in known


def create_messaging_tables_v1(op) -> None:
    """The outbox and inbox as first created; frozen (a later change gets a new function and migration)."""
    op.create_table(
        "outbox",
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("exchange", sa.String(100), nullable=False),
        sa.Column("routing_key", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])
    op.create_index("ix_outbox_unpublished", "outbox", ["position"],
                    postgresql_where=sa.text("published_at IS NULL"), sqlite_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
    )
