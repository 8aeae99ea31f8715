"""Bearer tokens for the write APIs.

A token is a random secret shown once when created; only its SHA-256 is stored, in a YAML file that a
Kubernetes Secret can mount into every service. Each token has a role; each write endpoint names the roles
it admits (``admin`` is admitted everywhere). A slow password hash is not needed: the secrets are 256-bit
random values, not something a person chose.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

import yaml

ROLES = ("counter", "handler", "treasurer", "auditor", "admin")


@dataclasses.dataclass(frozen=True)
class Principal:
    token_id: str
    role: str
    label: str = ""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenFile:
    """The token hashes, re-read when the file changes (a rotated Secret needs no restart)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._mtime: float | None = None
        self._by_hash: dict[str, Principal] = {}

    def _load(self) -> dict[str, Principal]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._mtime, self._by_hash = None, {}
            return self._by_hash
        if mtime != self._mtime:
            raw = yaml.safe_load(self.path.read_text("utf-8")) or {}
            self._by_hash = {
                entry["sha256"]: Principal(entry["id"], entry["role"], entry.get("label", ""))
                for entry in raw.get("tokens", [])
            }
            self._mtime = mtime
        return self._by_hash

    def authenticate(self, token: str) -> Principal | None:
        digest = hash_token(token)
        for known, principal in self._load().items():
            if hmac.compare_digest(known, digest):
                return principal
        return None

    def create(self, role: str, label: str = "") -> tuple[str, Principal]:
        """Issue a new token; returns the secret (shown once) and its principal."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        token = "dst_" + secrets.token_urlsafe(32)
        principal = Principal(secrets.token_hex(4), role, label)
        raw = {"tokens": []}
        if self.path.exists():
            raw = yaml.safe_load(self.path.read_text("utf-8")) or {"tokens": []}
        raw.setdefault("tokens", []).append({
            "id": principal.token_id,
            "role": role,
            "label": label,
            "sha256": hash_token(token),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        return token, principal

    def revoke(self, token_id: str) -> bool:
        """Remove the token with this id (the services refuse it from their next request); True if it was there."""
        if not self.path.exists():
            return False
        raw = yaml.safe_load(self.path.read_text("utf-8")) or {"tokens": []}
        kept = [entry for entry in raw.get("tokens", []) if entry.get("id") != token_id]
        if len(kept) == len(raw.get("tokens", [])):
            return False
        raw["tokens"] = kept
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)
        return True


class FailedAttempts:
    """Failed authentications per source, in a sliding window: past ``limit`` in ``window_s`` seconds, the
    source is refused (without its credential being looked at) until its oldest failure leaves the window.

    Guessing a 256-bit token is hopeless, but a flood of guesses is still an attack to slow down and to see;
    the count is per process (per replica), which is enough to make guessing slow and loud.
    """

    def __init__(self, limit: int = 10, window_s: float = 60.0, clock=None):
        import time as _time

        self.limit, self.window_s = limit, window_s
        self._clock = clock or _time.monotonic
        self._failures: dict[str, list[float]] = {}

    def retry_after(self, source: str) -> int:
        """Seconds until ``source`` may try again; 0 when it may now."""
        recent = self._recent(source)
        if len(recent) < self.limit:
            return 0
        return max(1, int(recent[-self.limit] + self.window_s - self._clock()) + 1)

    def failed(self, source: str) -> None:
        recent = self._recent(source)
        recent.append(self._clock())
        self._failures[source] = recent[-self.limit:]
        if len(self._failures) > 10_000:  # a spread-out attack must not grow this without bound
            oldest = min(self._failures, key=lambda s: self._failures[s][-1] if self._failures[s] else 0)
            del self._failures[oldest]

    def _recent(self, source: str) -> list[float]:
        horizon = self._clock() - self.window_s
        recent = [t for t in self._failures.get(source, ()) if t > horizon]
        if recent:
            self._failures[source] = recent
        else:
            self._failures.pop(source, None)
        return recent
