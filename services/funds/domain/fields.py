"""Reading the fields of a request body that funds' commands share: codes, idempotency keys, dates and times,
whole numbers and lists of names."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

from shared.errors import InvalidInput
from shared.input import text_field as text

CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._/-]{0,119}$")


def code(body: dict, field: str, *, prefix: str = "") -> str:
    value = text(body, field, max_len=24, prefix=prefix)
    if not CODE_RE.match(value):
        raise InvalidInput(f"{prefix}{field}", "must be a short code: lower-case letters, digits, '-'")
    return value


def idempotency_key(body: dict, header: str | None = None) -> str:
    """Every money-moving request names itself, so that a retry cannot post twice."""
    value = header or body.get("idempotency_key")
    if not value:
        raise InvalidInput("idempotency_key", "is required (body field or Idempotency-Key header)")
    if not isinstance(value, str) or not KEY_RE.match(value):
        raise InvalidInput("idempotency_key", "must be 1–120 letters, digits or ':._/-'")
    return value


def moment(body: dict, field: str, default: datetime | None = None) -> datetime | None:
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(field, "must be an ISO 8601 date-time with a zone, e.g. 2018-11-29T20:00:00+08:00")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise InvalidInput(field, "needs a zone offset, e.g. +08:00")
    return parsed.astimezone(timezone.utc)


def day(body: dict, field: str, *, required: bool = True) -> date | None:
    value = body.get(field)
    if value is None:
        if required:
            raise InvalidInput(field, "is required as YYYY-MM-DD")
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(field, f"{value!r} is not a date YYYY-MM-DD")


def whole_number(body: dict, field: str, *, low: int = 0, high: int = 1_000_000, required: bool = True,
                 prefix: str = "") -> int | None:
    value = body.get(field)
    name = f"{prefix}{field}"
    if value is None:
        if required:
            raise InvalidInput(name, "is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(name, f"must be a whole number, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidInput(name, f"must be between {low} and {high}")
    return value


def names(body: dict, field: str, *, required: bool = True, max_items: int = 500) -> list[str]:
    value = body.get(field)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInput(field, "must be a non-empty list of names")
    if len(value) > max_items:
        raise InvalidInput(field, f"has more than {max_items} entries")
    if any(len(v) > 50 for v in value):
        raise InvalidInput(field, "a name is longer than 50 characters")
    return [v.strip() for v in value]
