"""Staff users of the console: created by an operator (``doorstep user create``), each with a bearer token of
its own role in the services' tokens file, and logged in with a password.

A user's token carries the label ``console:<name>`` (and ``unit:<code>`` for a unit's handler, which routing
checks), so what a person does through the console is recorded in the services as theirs, and the services'
own permission checks decide what the console may show and do for them.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from console import security
from console.store import Session, Store, User
from shared.auth import ROLES, TokenFile

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


class UserProblem(Exception):
    """A user cannot be created or changed as asked; the message says why."""


def token_label(name: str, role: str, unit: str, station: str) -> str:
    parts = [f"console:{name}"]
    if unit:
        parts.append(f"unit:{unit}")
    if station:
        parts.append(f"station:{station}")
    return ",".join(parts)


def _credentials(password: str, token: str, name: str) -> tuple[str, str, str]:
    salt = secrets.token_bytes(16)
    key = security.password_key(password, salt)
    return security.hash_password(password), security.seal(key, token, f"user:{name}"), security.b64(salt)


def create_user(store: Store, tokens: TokenFile, name: str, role: str, password: str, *, display_name: str = "",
                unit: str = "", station: str = "", now: datetime) -> User:
    if not NAME_RE.match(name):
        raise UserProblem("登录名应为 2–32 个小写字母、数字或 . _ - / a login name is 2-32 lower-case letters, "
                          "digits, '.', '_' or '-'")
    if role not in ROLES:
        raise UserProblem(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "handler" and not unit:
        raise UserProblem("承办人须指定单位 (--unit) / a handler acts for a unit: give --unit")
    problem = security.password_problem(password)
    if problem:
        raise UserProblem(problem)
    if store.user(name) is not None:
        raise UserProblem(f"user {name} already exists")
    token, principal = tokens.create(role, token_label(name, role, unit, station))
    password_hash, sealed, salt = _credentials(password, token, name)
    user = User(name=name, display_name=display_name or name, role=role, unit=unit, station=station,
                password_hash=password_hash, token_id=principal.token_id, token_sealed=sealed, seal_salt=salt,
                created_at=now)
    store.add_user(user)
    return user


def reset_password(store: Store, tokens: TokenFile, name: str, password: str) -> User:
    """A new password. The old token cannot be opened without the old password, so the user gets a new one and
    the old one is revoked; the user's sessions end."""
    user = store.user(name)
    if user is None:
        raise UserProblem(f"no user {name}")
    problem = security.password_problem(password)
    if problem:
        raise UserProblem(problem)
    token, principal = tokens.create(user.role, token_label(name, user.role, user.unit, user.station))
    password_hash, sealed, salt = _credentials(password, token, name)
    store.replace_credentials(name, password_hash, principal.token_id, sealed, salt)
    tokens.revoke(user.token_id)
    return store.user(name)


def remove_user(store: Store, tokens: TokenFile, name: str) -> None:
    user = store.user(name)
    if user is None:
        raise UserProblem(f"no user {name}")
    store.remove_user(name)
    tokens.revoke(user.token_id)


# -- logging in -----------------------------------------------------------------------------------------------

class LoginRefused(Exception):
    """A login that did not succeed; ``locked_until`` is set when the name is locked."""

    def __init__(self, locked_until: datetime | None = None):
        super().__init__("locked" if locked_until else "wrong name or password")
        self.locked_until = locked_until


def log_in(store: Store, name: str, password: str, *, now: datetime, session_hours: float, lockout_failures: int,
           lockout_minutes: float) -> tuple[User, security.SessionCookie]:
    """Check the password (unless the name is locked), open the user's token and start a session holding it
    under a fresh key; returns the user and the cookie to set. Failures in a row lock the name for a while."""
    key = security.name_key(name)
    attempts = store.attempts(key)
    if security.locked(attempts, now):
        raise LoginRefused(attempts.locked_until)
    user = store.user(name.strip().lower()) if NAME_RE.match(name.strip().lower()) else None
    if not security.verify_password(user.password_hash if user else None, password):
        attempts = security.after_failure(attempts, now, lockout_failures, timedelta(minutes=lockout_minutes))
        store.save_attempts(key, attempts, now)
        raise LoginRefused(attempts.locked_until)
    store.save_attempts(key, security.Attempts(), now)
    token = security.unseal(security.password_key(password, security.unb64(user.seal_salt)), user.token_sealed,
                            f"user:{user.name}")
    cookie = security.SessionCookie.new()
    store.add_session(Session(id_hash=cookie.lookup, user_name=user.name,
                              token_sealed=security.seal(cookie.key, token, f"session:{cookie.lookup}"),
                              created_at=now, expires_at=now + timedelta(hours=session_hours)), now)
    return user, cookie


def resume(store: Store, cookie: security.SessionCookie | None, now: datetime) -> tuple[User, str] | None:
    """The user of a session cookie and the token to act with, or None (no, unknown, expired or altered)."""
    if cookie is None:
        return None
    session = store.session(cookie.lookup)
    if session is None or session.expires_at <= now:
        return None
    try:
        token = security.unseal(cookie.key, session.token_sealed, f"session:{cookie.lookup}")
    except security.BrokenSeal:
        return None
    user = store.user(session.user_name)
    return (user, token) if user else None
