"""Reading fields of a request body, naming the field when it is wrong (``resident.phone: is required``)."""
from __future__ import annotations

from shared.errors import InvalidInput


def storable_text(field: str, value: str) -> None:
    """Text every database keeps: PostgreSQL refuses NUL, UTF-8 refuses lone surrogates."""
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(field, "is not valid Unicode text") from None


def text_field(body: dict, field: str, *, required: bool = True, max_len: int = 200, prefix: str = "") -> str:
    """A string field, stripped; ``""`` when optional and absent."""
    value = body.get(field)
    name = f"{prefix}{field}"
    if value is None or value == "":
        if required:
            raise InvalidInput(name, "is required")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(name, f"must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise InvalidInput(name, f"is longer than {max_len} characters")
    storable_text(name, value)
    value = value.strip()
    if required and not value:
        raise InvalidInput(name, "is required")
    return value
