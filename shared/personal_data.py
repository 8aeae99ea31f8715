"""Personal data stays in the service that needs it; what leaves it is masked.

People write numbers in many ways: ``138 1234 5678``, ``138-1234-5678``, ``+86 138…``, ``0086…``, full-width
digits (``１３８…``), a phone run into a letter (``13812345678x``), ID numbers in groups (``310115 19800101 123X``),
old 15-digit IDs, landlines (``021-5888 1234``, ``(021)58881234``). :func:`find_numbers` finds them all in any
text; :func:`mask_text` replaces each with its masked form (``138****5678``, ``310115********123X``,
``021****34``), and :func:`mask_data` does so for every string of an event's data, an answer or a log line.

How: the text is read as runs of digits, where a run may continue across a few separators (spaces, hyphens,
dots, brackets, their full-width forms) and full-width digits count as digits; the patterns are matched on
the digits of a run, and a match is replaced in the original text from its first to its last digit. A string
that is wholly a UUID is an identifier, not text, and is left alone.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")
# 18-character resident identity card number (GB 11643): 17 digits and a digit or X check character.
ID_CARD_RE = re.compile(r"^[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FULL_WIDTH = {ord("０") + i: str(i) for i in range(10)} | {ord("Ｘ"): "X", ord("ｘ"): "x", ord("＋"): "+"}
_SEPARATORS = set(" -.()\u00a0\u3000－—–（）·/")
_MAX_SEPARATORS = 3  # "138 - 1234" is still one number; a longer gap is not

# On the digits of a run (separators removed). Order matters: the longest forms first.
_PATTERNS = (
    ("id18", re.compile(r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]")),
    ("mobile", re.compile(r"(?:0086|\+86|86)?1[3-9][0-9]{9}")),
    ("id15", re.compile(r"[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}")),
    ("landline", re.compile(r"(?:(?:0086|\+86|86)0?|0)(?:10|2[0-9]|[3-9][0-9]{2})[2-9][0-9]{6,7}")),
)


@dataclasses.dataclass(frozen=True)
class Found:
    kind: str  # mobile | landline | id18 | id15
    start: int  # in the original text, first character of the number
    end: int  # one past its last character
    digits: str  # the number as digits, without separators or prefix signs


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if not MOBILE_RE.match(phone):
        raise ValueError("not a mainland mobile number")
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_card(number: str) -> str:
    """Keep the region prefix and the check character only: ``310115***********X`` style."""
    return f"{number[:6]}{'*' * (len(number) - 7)}{number[-1]}"


def id_card_is_valid(number: str) -> bool:
    """Format and GB 11643 check character."""
    if not ID_CARD_RE.match(number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def _runs(text: str):
    """Runs of digit characters, continued across short gaps of separators; a leading '+' and a trailing check
    letter X belong to the run. Yields (the run's characters, each one's position in ``text``, the indexes in
    the run where a gap of separators ended)."""
    normal = text.translate(_FULL_WIDTH)
    digits: list[str] = []
    positions: list[int] = []
    breaks: set[int] = set()
    gap = 0
    for index, char in enumerate(normal):
        if char.isascii() and char.isdigit() or (char == "+" and not digits):
            if gap:
                breaks.add(len(digits))
            digits.append(char)
            positions.append(index)
            gap = 0
        elif char in "Xx" and digits and digits[-1].isdigit() and not gap:
            digits.append(char)
            positions.append(index)
            yield "".join(digits), positions, breaks
            digits, positions, breaks, gap = [], [], set(), 0
        elif char in _SEPARATORS and digits and gap < _MAX_SEPARATORS:
            gap += 1
        else:
            if digits:
                yield "".join(digits), positions, breaks
            digits, positions, breaks, gap = [], [], set(), 0
            if char == "+":
                digits.append(char)
                positions.append(index)
    if digits:
        yield "".join(digits), positions, breaks


def find_numbers(text: str) -> list[Found]:
    """Every phone and ID number in ``text``, in order.

    A number must stand on its own in its run: start where the run starts or after a separator, end where it
    ends or before one. So ``13812345678 13912345678`` is two numbers, but eleven digits inside a longer
    number (an order number, a bank reference) are not a phone.
    """
    if not text or _UUID_RE.match(text):
        return []
    found: list[Found] = []
    for run, positions, breaks in _runs(text):
        edges = breaks | {0, len(run)}
        if run.endswith(("X", "x")):
            edges.add(len(run) - 1)  # 13812345678x: the phone ends before the letter
        taken = [False] * len(run)
        for kind, pattern in _PATTERNS:
            for start in sorted(edges):
                match = pattern.match(run, start)
                if match is None or match.end() not in edges or any(taken[match.start():match.end()]):
                    continue
                for i in range(match.start(), match.end()):
                    taken[i] = True
                found.append(Found(kind, positions[match.start()], positions[match.end() - 1] + 1,
                                   match.group().lstrip("+")))
    return sorted(found, key=lambda f: f.start)


def _masked(found: Found) -> str:
    digits = found.digits
    if found.kind == "mobile":
        national = digits[-11:]
        return f"{national[:3]}****{national[-4:]}"
    if found.kind == "landline":
        national = digits
        for prefix in ("0086", "86"):
            if national.startswith(prefix):
                national = national[len(prefix):]
                break
        national = national if national.startswith("0") else "0" + national
        area = national[:3] if national[1] in "12" else national[:4]  # 010, 021 …; 0571 …
        return f"{area}****{national[-2:]}"
    return mask_id_card(digits.upper())


def mask_text(text: str) -> str:
    """``text`` with every phone and ID number in it masked."""
    found = find_numbers(text)
    if not found:
        return text
    out, last = [], 0
    for item in found:
        start = item.start
        if start > last and text[start - 1] in "(（" and any(c in "）)" for c in text[start:item.end]):
            start -= 1  # (021)5888 1234: the bracket goes with the number
        out.append(text[last:start])
        out.append(_masked(item))
        last = item.end
    out.append(text[last:])
    return "".join(out)


def mask_data(value: Any) -> Any:
    """``value`` with every string in it masked (dicts and lists walked; other values kept)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(item) for item in value]
    return value


def find_raw_personal_data(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a raw phone or ID number, or None."""
    if isinstance(value, str):
        return path or "(root)" if find_numbers(value) else None
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


# What stands where a person's words or details were erased or outlived their retention: the field stays (its
# record is still whole and valid for its schema), its content goes.
REDACTED = "[已删除]"


def redacted_text(text: str | None) -> str | None:
    """:data:`REDACTED` for any text; an empty or missing one stays as it is (there was nothing to hide)."""
    return REDACTED if text else text


def redact_fields(data: dict, fields=(), drop=()) -> dict:
    """A copy of ``data`` with the text of ``fields`` redacted and the keys in ``drop`` left out."""
    return {key: redacted_text(value) if key in fields and isinstance(value, str) else value
            for key, value in data.items() if key not in drop}
