"""Personal data stays in the service that needs it; what leaves it is masked.

Events carry ids and masked values (``138****5678``), never a raw mobile number or ID-card number.
:func:`find_raw_personal_data` is the guard every outgoing event passes through.
"""
from __future__ import annotations

import re
from typing import Any

MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
# 18-character resident identity card number (GB 11643): 17 digits and a digit or X check character.
ID_CARD_RE = re.compile(r"^[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$")
# A number standing on its own: not part of a longer run of letters or digits (a UUID's hex, a code).
_EMBEDDED_RE = re.compile(
    r"(?<![0-9A-Za-z])(1[3-9][0-9]{9}|[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx])(?![0-9A-Za-z])"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if not MOBILE_RE.match(phone):
        raise ValueError("not a mainland mobile number")
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_card(number: str) -> str:
    """Keep the region prefix and the check character only: ``310115********123X`` style."""
    return f"{number[:6]}{'*' * 11}{number[-1]}"


def id_card_is_valid(number: str) -> bool:
    """Format and GB 11643 check character."""
    if not ID_CARD_RE.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def find_raw_personal_data(value: Any, path: str = "") -> str | None:
    """Return the path of the first string holding a raw mobile or ID-card number, or None."""
    if isinstance(value, str):
        return path or "(root)" if _EMBEDDED_RE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = find_raw_personal_data(item, f"{path}/{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = find_raw_personal_data(item, f"{path}/{index}")
            if found:
                return found
    return None
