"""The console's security rules: passwords, sealed API tokens, the session secret, CSRF tokens and lockout.

Each user acts on the services with a bearer token of its own. The console keeps that token sealed (AES-GCM)
under a key derived from the user's password, so its database alone lets nobody call the services; at login the
token is opened and sealed again under a fresh session key that lives only in the user's cookie. The same
session key signs the CSRF token of every form, so a page of another site can neither read nor forge it.
Nothing here touches a database or a request: the rules are tested on their own.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# argon2id with the library's defaults (RFC 9106's second recommended option: 64 MiB, 3 passes).
_hasher = PasswordHasher()
# A hash to verify against when the name is unknown, so that an unknown name costs the same time as a wrong
# password and the answer's timing does not say which names exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD_LENGTH = 10


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- passwords ----------------------------------------------------------------------------------------------

def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 个字符 / at least {MIN_PASSWORD_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash; with no hash (an unknown name) it spends the same time."""
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def password_key(password: str, salt: bytes) -> bytes:
    """The key that seals a user's API token: argon2id of the password with a salt of its own (not the
    password hash's, so the stored hash does not give the key)."""
    return hash_secret_raw(password.encode("utf-8"), salt, time_cost=_hasher.time_cost,
                           memory_cost=_hasher.memory_cost, parallelism=_hasher.parallelism, hash_len=32,
                           type=Type.ID)


# -- sealing ------------------------------------------------------------------------------------------------

class BrokenSeal(Exception):
    """A sealed value could not be opened: a wrong key, or the stored value was altered."""


def seal(key: bytes, secret: str, context: str) -> str:
    """``secret`` encrypted and authenticated under ``key``, bound to ``context`` (the row it belongs to)."""
    nonce = secrets.token_bytes(12)
    return b64(nonce + AESGCM(key).encrypt(nonce, secret.encode("utf-8"), context.encode("utf-8")))


def unseal(key: bytes, sealed: str, context: str) -> str:
    try:
        raw = unb64(sealed)
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode("utf-8")).decode("utf-8")
    except (InvalidTag, ValueError) as exc:
        raise BrokenSeal(str(exc) or "the seal does not open with this key") from None


# -- sessions and CSRF --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SessionCookie:
    """What the browser holds: the session's id (looked up by its hash) and its key (never stored)."""

    session_id: str
    key: bytes

    @classmethod
    def new(cls) -> "SessionCookie":
        return cls(secrets.token_urlsafe(24), secrets.token_bytes(32))

    @property
    def lookup(self) -> str:
        """The session row's id: a hash, so the table does not hold what a cookie presents."""
        return hashlib.sha256(self.session_id.encode("ascii")).hexdigest()

    def value(self) -> str:
        return f"{self.session_id}.{b64(self.key)}"

    @classmethod
    def parse(cls, value: str | None) -> "SessionCookie | None":
        session_id, dot, key = (value or "").partition(".")
        if not dot or not 16 <= len(session_id) <= 64 or not session_id.replace("-", "").replace("_", "").isalnum():
            return None
        try:
            raw = unb64(key)
        except ValueError:
            return None
        return cls(session_id, raw) if len(raw) == 32 else None


def csrf_token(key: bytes, purpose: str = "form") -> str:
    """The token every form of a session carries: an HMAC of the session key that only this session can show."""
    return b64(hmac.new(key, f"doorstep-console-csrf:{purpose}".encode("ascii"), hashlib.sha256).digest())


def csrf_valid(key: bytes | None, given: str | None, purpose: str = "form") -> bool:
    """Whether a form's token is this session's (compared in constant time)."""
    if not key or not given:
        return False
    return hmac.compare_digest(csrf_token(key, purpose).encode("ascii"), given.encode("ascii", "replace"))


# -- lockout ------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Attempts:
    """Failed logins of one name in a row, and until when the name is locked."""

    failures: int = 0
    locked_until: datetime | None = None


def locked(attempts: Attempts, now: datetime) -> bool:
    return attempts.locked_until is not None and now < attempts.locked_until


def after_failure(attempts: Attempts, now: datetime, limit: int, lock_for: timedelta) -> Attempts:
    """One more failure; the ``limit``-th in a row locks the name for ``lock_for`` and starts the count again."""
    if locked(attempts, now):
        return attempts
    failures = attempts.failures + 1
    if failures >= limit:
        return Attempts(0, now + lock_for)
    return Attempts(failures, None)


def name_key(name: str) -> str:
    """Attempts are kept by a hash of the name as typed (any name, known or not: a lockout must not tell which
    names exist), case-folded so ``Wang`` and ``wang`` count together."""
    return hashlib.sha256(name.strip().casefold().encode("utf-8")).hexdigest()
