"""The console's own small database: its users, their sessions, and failed logins per name.

SQLite by default, PostgreSQL in production, through :mod:`shared.db` as the services do; its Alembic history
is ``console/migrations`` (``doorstep migrate console``; ``doorstep run console`` migrates SQLite itself).
Nothing about residents or cases is kept here: those stay in the services, read through their APIs.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from console.security import Attempts
from shared.db import UTCDateTime, engine_for

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("display_name", sa.String(50), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("unit", sa.String(40), nullable=False),
    sa.Column("station", sa.String(40), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    # The user's bearer token for the services, sealed under a key derived from the password (seal_salt).
    sa.Column("token_id", sa.String(16), nullable=False),
    sa.Column("token_sealed", sa.Text, nullable=False),
    sa.Column("seal_salt", sa.String(44), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(32), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False,
              index=True),
    # The same token, sealed under the session key that only the user's cookie holds.
    sa.Column("token_sealed", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

login_attempts = sa.Table(
    "login_attempts", metadata,
    sa.Column("name_hash", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)


@dataclasses.dataclass(frozen=True)
class User:
    name: str
    display_name: str
    role: str
    unit: str
    station: str
    password_hash: str
    token_id: str
    token_sealed: str
    seal_salt: str
    created_at: datetime


@dataclasses.dataclass(frozen=True)
class Session:
    id_hash: str
    user_name: str
    token_sealed: str
    created_at: datetime
    expires_at: datetime


class Store:
    """Reads and writes of the console's tables, each in a short transaction of its own."""

    def __init__(self, url: str):
        self.url = url
        self.engine = engine_for(url)

    # -- users ----------------------------------------------------------------------------------------------

    def user(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        return User(**row) if row else None

    def users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [User(**row) for row in conn.execute(sa.select(users).order_by(users.c.name)).mappings()]

    def add_user(self, user: User) -> None:
        with self.engine.begin() as conn:
            conn.execute(users.insert().values(**dataclasses.asdict(user)))

    def replace_credentials(self, name: str, password_hash: str, token_id: str, token_sealed: str,
                            seal_salt: str) -> None:
        """A new password and token; the user's sessions end (they hold the old token)."""
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.name == name).values(
                password_hash=password_hash, token_id=token_id, token_sealed=token_sealed, seal_salt=seal_salt))
            conn.execute(sessions.delete().where(sessions.c.user_name == name))

    def remove_user(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.user_name == name))
            conn.execute(users.delete().where(users.c.name == name))

    # -- sessions -------------------------------------------------------------------------------------------

    def add_session(self, session: Session, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at < now))  # the expired go as new ones come
            conn.execute(sessions.insert().values(**dataclasses.asdict(session)))

    def session(self, id_hash: str) -> Session | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sessions).where(sessions.c.id_hash == id_hash)).mappings().first()
        return Session(**row) if row else None

    def end_session(self, id_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.id_hash == id_hash))

    # -- failed logins --------------------------------------------------------------------------------------

    def attempts(self, name_hash: str) -> Attempts:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(login_attempts).where(login_attempts.c.name_hash == name_hash)).first()
        return Attempts(row.failures, row.locked_until) if row else Attempts()

    def save_attempts(self, name_hash: str, attempts: Attempts, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.name_hash == name_hash))
            if attempts != Attempts():
                conn.execute(login_attempts.insert().values(name_hash=name_hash, failures=attempts.failures,
                                                            locked_until=attempts.locked_until, updated_at=now))

    def ready(self) -> bool:
        """The database answers and is migrated to this code's head."""
        try:
            return is_current(self.engine)
        except sa.exc.SQLAlchemyError:
            return False


# -- migrations ---------------------------------------------------------------------------------------------

HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("script_location", str(HERE / "alembic"))
    cfg.set_main_option("version_locations", str(HERE / "migrations"))
    return cfg


def migrate(url: str) -> None:
    """Upgrade the console's database to head (creating a missing PostgreSQL database first)."""
    from shared.migrations import ensure_database

    ensure_database(url)
    cfg = alembic_config()
    with engine_for(url).begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def is_current(engine: sa.Engine) -> bool:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current is not None and current == ScriptDirectory.from_config(alembic_config()).get_current_head()
