"""The typed pieces every edge is declared with: request bodies, query strings, answers, street files.

A model is a pydantic ``ApiModel``; its fields use the types below, which carry the rules people need (text a
database can keep, a mainland mobile number, an instant within the years a street's records can hold, money
as a decimal string). Each rule fails with a message in Chinese and English (:mod:`shared.problems` turns a
failure into a 400 problem naming the field), and none of them echoes the rejected value back.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      WithJsonSchema)
from pydantic_core import PydanticCustomError

SHANGHAI = ZoneInfo("Asia/Shanghai")

# The years a street's records can hold. A wider range reaches dates that do not survive a change of time
# zone (0001-01-01T00:00:00+14:00 is before year 1 in UTC) or a database's date type.
FIRST_YEAR, LAST_YEAR = 1900, 2199


class ApiModel(BaseModel):
    """A body, query or answer: unknown fields are refused (a misspelt field must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AnswerModel(BaseModel):
    """An answer: documented field by field; readers must ignore fields added later (additive changes)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def invalid(kind: str, zh: str, en: str) -> PydanticCustomError:
    """A rule's failure, worded for a worker in Chinese and English (``手机号应为11位数字 / must be …``)."""
    return PydanticCustomError(kind, "{zh} / {en}", {"zh": zh, "en": en})


def matching(pattern: str, kind: str, zh: str, en: str) -> AfterValidator:
    """Text of ``pattern``'s form; otherwise a failure that says which form, not pydantic's bare pattern."""
    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise invalid(kind, zh, en)
        return value
    return AfterValidator(check)


def Form(pattern: str, kind: str, zh: str, en: str, description: str) -> Any:  # noqa: N802 (a type, spelt as one)
    """Text of ``pattern``'s form, documented with it; a failure says in words which form is expected."""
    return Annotated[str, matching(pattern, kind, zh, en),
                     WithJsonSchema({"type": "string", "pattern": pattern, "description": description})]


# -- text ---------------------------------------------------------------------------------------------------

def _storable(value: str) -> str:
    # PostgreSQL refuses NUL; UTF-8 cannot encode a lone surrogate ("\ud800" is valid JSON).
    if "\x00" in value:
        raise invalid("text_nul", "不能包含空字符", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid("text_unicode", "含有无效字符", "is not valid Unicode text") from None
    return value


def Text(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 (a type, spelt as one)
    """Text, stripped of surrounding blanks, that every database can keep."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length), BeforeValidator(_strip),
                     AfterValidator(_storable)]


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def Required(max_length: int) -> Any:  # noqa: N802
    """Text that must not be empty once stripped."""
    return Text(max_length, min_length=1)


Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$", description="a code: a-z, 0-9, '-'")]

# -- personal data ------------------------------------------------------------------------------------------

MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"


def _mobile(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(MOBILE_PATTERN, value):
        raise invalid("mobile", "手机号应为11位数字", "must be an 11-digit mobile number")
    return value


def _id_card(value: str) -> str:
    from shared.personal_data import id_card_is_valid

    value = value.strip().upper()
    if not id_card_is_valid(value):
        raise invalid("id_card", "身份证号码无效", "must be an 18-character resident ID number")
    return value


Mobile = Annotated[str, AfterValidator(_mobile),
                   WithJsonSchema({"type": "string", "pattern": MOBILE_PATTERN, "example": "13812345678",
                                   "description": "mainland mobile number (personal data: never echoed)"})]
IdCard = Annotated[str, AfterValidator(_id_card),
                   WithJsonSchema({"type": "string", "minLength": 18, "maxLength": 18,
                                   "description": "resident ID number (personal data: stored protected)"})]

# -- time ---------------------------------------------------------------------------------------------------


def _in_range(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise invalid("year_range", f"年份应在{FIRST_YEAR}至{LAST_YEAR}之间",
                      f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")


def _instant(value: Any) -> datetime:
    """An ISO 8601 instant; without an offset it is Shanghai time; stored as UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise invalid("instant", "应为日期时间，如 2026-11-30T09:00:00+08:00",
                          "must be a date-time like 2026-11-30T09:00:00+08:00") from None
    else:
        raise invalid("instant", "应为日期时间字符串", "must be a date-time string")
    _in_range(moment.year)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(timezone.utc)


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise invalid("date", "应为日期，如 2026-11-30", "must be a date like 2026-11-30") from None
    else:
        raise invalid("date", "应为日期字符串", "must be a date string")
    _in_range(day.year)
    return day


Instant = Annotated[datetime, BeforeValidator(_instant),
                    PlainSerializer(lambda v: v.isoformat(), return_type=str),
                    WithJsonSchema({"type": "string", "format": "date-time",
                                    "description": "ISO 8601; without an offset, Asia/Shanghai"})]
Day = Annotated[date, BeforeValidator(_day), PlainSerializer(lambda v: v.isoformat(), return_type=str),
                WithJsonSchema({"type": "string", "format": "date", "description": "a date (Asia/Shanghai)"})]


def not_in_future(moment: datetime | date, now: datetime, field_zh: str = "日期") -> None:
    """Meetings, payments and donations happen before they are recorded."""
    today = now.astimezone(SHANGHAI).date()
    if (moment > now) if isinstance(moment, datetime) else (moment > today):
        raise invalid("future", f"{field_zh}不能晚于今天", "must not be in the future")


CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(CLOCK_PATTERN, value):
        raise invalid("clock", "应为时刻，如 22:00（上海时间）", "must be a time of day like 22:00 (Asia/Shanghai)")
    return time(int(value[:2]), int(value[3:]))


Clock = Annotated[time, BeforeValidator(_clock), PlainSerializer(lambda v: v.strftime("%H:%M"), return_type=str),
                  WithJsonSchema({"type": "string", "pattern": CLOCK_PATTERN, "example": "22:00",
                                  "description": "HH:MM, Asia/Shanghai"})]


# -- money --------------------------------------------------------------------------------------------------

YUAN_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"


def _fen(value: Any) -> int:
    """``"49028.10"`` → 4902810 fen; a decimal string, never a float (0.1 + 0.2)."""
    if not isinstance(value, str) or not re.fullmatch(YUAN_PATTERN, value.strip()):
        raise invalid("yuan", "金额应为最多两位小数的字符串，如 \"49028.10\"",
                      "must be an amount as a string with at most two decimals, like \"49028.10\"")
    try:
        return int(Decimal(value.strip()) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise invalid("yuan", "金额无效", "is not an amount") from None


Fen = Annotated[int, BeforeValidator(_fen),
                PlainSerializer(lambda fen: f"{fen // 100}.{fen % 100:02d}", return_type=str),
                WithJsonSchema({"type": "string", "pattern": YUAN_PATTERN, "example": "49028.10",
                                "description": "yuan, a decimal string with at most two decimals"})]


def positive(fen: int) -> int:
    if fen <= 0:
        raise invalid("amount_positive", "金额应大于零", "must be more than zero")
    return fen


PositiveFen = Annotated[Fen, AfterValidator(positive)]

# -- pages --------------------------------------------------------------------------------------------------

PerPage = Annotated[int, Field(ge=1, le=100, description="items per page")]
