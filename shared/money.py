"""Money: integer fen (分) inside, a decimal string ("49028.10") at the edges, never a float.

``parse_yuan`` turns what a client sent into fen, naming the field when it is wrong; ``format_fen`` turns fen
back into the string every API and report shows.
"""
from __future__ import annotations

import re

from shared.errors import InvalidInput

_AMOUNT_RE = re.compile(r"^(?P<sign>-?)(?P<yuan>[0-9]{1,13})(?:\.(?P<fen>[0-9]{1,2}))?$")


def parse_yuan(value, field: str, *, allow_zero: bool = False, allow_negative: bool = False) -> int:
    """``"49028.1"`` → ``4902810``. Accepts a decimal string (or a whole number of yuan as an int); a float is
    refused because it may already have lost the fen."""
    if isinstance(value, bool) or value is None:
        raise InvalidInput(field, "is required as a decimal string of yuan, e.g. \"49028.10\"")
    if isinstance(value, float):
        raise InvalidInput(field, "must be a decimal string such as \"49028.10\", not a JSON number with a fraction")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a decimal string, got {type(value).__name__}")
    match = _AMOUNT_RE.match(value.strip())
    if not match:
        raise InvalidInput(field, f"{value!r} is not an amount of yuan with at most two decimals")
    fen = int(match["yuan"]) * 100 + int((match["fen"] or "0").ljust(2, "0"))
    if match["sign"]:
        fen = -fen
    if fen < 0 and not allow_negative:
        raise InvalidInput(field, "must not be negative")
    if fen == 0 and not allow_zero:
        raise InvalidInput(field, "must be more than zero")
    return fen


def format_fen(fen: int) -> str:
    """``4902810`` → ``"49028.10"``; ``-5`` → ``"-0.05"``."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"fen must be an int, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{rest:02d}"


def format_yuan_grouped(fen: int) -> str:
    """``4902810`` → ``"¥49,028.10"`` for printed pages."""
    text = format_fen(abs(fen))
    yuan, _, rest = text.partition(".")
    return f"{'-' if fen < 0 else ''}¥{int(yuan):,}.{rest}"
