"""Problems (RFC 9457): what every error answer is, and how a failed validation becomes one.

A 4xx names the field and says what is wrong in Chinese and English, for the worker at the counter
(``resident.phone: 手机号应为11位数字 / must be an 11-digit mobile number``), and never echoes the rejected
value: it may be somebody's phone or ID number.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROBLEM_JSON = "application/problem+json"


class InvalidParam(BaseModel):
    name: str = Field(description="the field: resident.phone, case_ids[0], query parameter from, …")
    reason: str = Field(description="what is wrong, in Chinese and English")


class ProblemDocument(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    invalid_params: list[InvalidParam] | None = None
    correlation_id: str | None = Field(None, description="quote it when reporting a 500")


class Problem(Exception):
    """An HTTP problem; ``field`` names the offending input."""

    def __init__(self, status: int, title: str, detail: str = "", *, field: str | None = None,
                 invalid_params: list[dict] | None = None, headers: dict | None = None, **extra):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.field, self.extra = status, title, detail, field, extra
        self.headers = headers or {}
        self.invalid_params = invalid_params or (
            [{"name": field, "reason": detail or title}] if field else None)

    def to_dict(self) -> dict:
        body: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.invalid_params:
            body["invalid_params"] = self.invalid_params
        body.update(self.extra)
        return body


def bad_input(field: str, reason: str) -> Problem:
    return Problem(400, "Invalid request", f"{field}: {reason}", field=field)


# pydantic's error types, worded for people. Anything not listed keeps pydantic's English wording, which
# states the rule, not the input.
_REASONS: dict[str, tuple[str, str]] = {
    "missing": ("必填", "is required"),
    "extra_forbidden": ("不是可用的字段", "is not a known field"),
    "string_type": ("应为文本", "must be a string"),
    "string_too_short": ("不能为空", "must not be empty"),
    "string_too_long": ("过长（最多 {max_length} 个字符）", "is longer than {max_length} characters"),
    "string_pattern_mismatch": ("格式不正确", "does not have the expected form"),
    "int_type": ("应为整数", "must be an integer"),
    "int_parsing": ("应为整数", "must be an integer"),
    "int_from_float": ("应为整数", "must be an integer"),
    "float_type": ("应为数字", "must be a number"),
    "float_parsing": ("应为数字", "must be a number"),
    "bool_type": ("应为 true 或 false", "must be true or false"),
    "bool_parsing": ("应为 true 或 false", "must be true or false"),
    "list_type": ("应为列表", "must be a list"),
    "dict_type": ("应为对象", "must be an object"),
    "model_type": ("应为对象", "must be an object"),
    "model_attributes_type": ("应为对象", "must be an object"),
    "too_short": ("至少需要 {min_length} 项", "needs at least {min_length} item(s)"),
    "too_long": ("最多 {max_length} 项", "holds at most {max_length} item(s)"),
    "greater_than_equal": ("不能小于 {ge}", "must be at least {ge}"),
    "greater_than": ("应大于 {gt}", "must be more than {gt}"),
    "less_than_equal": ("不能大于 {le}", "must be at most {le}"),
    "less_than": ("应小于 {lt}", "must be less than {lt}"),
    "literal_error": ("应为以下之一：{expected}", "must be one of {expected}"),
    "enum": ("应为以下之一：{expected}", "must be one of {expected}"),
    "uuid_type": ("应为编号（UUID）", "must be a UUID"),
    "uuid_parsing": ("应为编号（UUID）", "must be a UUID"),
    "json_invalid": ("不是有效的 JSON", "is not valid JSON"),
    "json_type": ("不是有效的 JSON", "is not valid JSON"),
    "union_tag_invalid": ("类型不正确", "is not of a known kind"),
    "frozen_instance": ("不可修改", "cannot be changed"),
}


def field_name(loc: tuple, prefix: str = "") -> str:
    """``('resident', 'phone')`` → ``resident.phone``; ``('case_ids', 0)`` → ``case_ids[0]``."""
    name = prefix
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]" if name else str(part)  # a top-level int is a mapping's key (a year)
        elif part.startswith(("function-", "json-or-python")) or part in ("str", "int", "list[str]"):
            continue  # pydantic's own path steps inside a validator or union, not fields
        else:
            name += f".{part}" if name else str(part)
    return name or "(body)"


def reason(error: dict) -> str:
    """One error's wording, in Chinese and English, without the rejected value."""
    kind = error["type"]
    context = {k: _plain(v) for k, v in (error.get("ctx") or {}).items()}
    if kind in _REASONS:
        zh, en = _REASONS[kind]
        try:
            return f"{zh.format(**context)} / {en.format(**context)}"
        except (KeyError, IndexError):
            return f"{zh} / {en}"
    if "zh" in context and "en" in context:  # a rule of shared.fields: already worded
        return f"{context['zh']} / {context['en']}"
    return f"值无效 / {error['msg'].removeprefix('Value error, ')}"


def _plain(value):
    return value if isinstance(value, (str, int, float)) else str(value)


def invalid_params(exc: ValidationError, prefix: str = "") -> list[dict]:
    """Every failed rule, each naming its field (first the shallowest)."""
    found, seen = [], set()
    for error in sorted(exc.errors(include_url=False, include_input=False), key=lambda e: len(e["loc"])):
        name = field_name(error["loc"], prefix)
        if name in seen:
            continue  # one reason per field: a union tried as several types fails once for people
        seen.add(name)
        found.append({"name": name, "reason": reason(error)})
    return found


def validation_problem(exc: ValidationError, prefix: str = "") -> Problem:
    """A 400 problem for a body or query that failed its model."""
    params = invalid_params(exc, prefix)
    first = params[0]
    return Problem(400, "Invalid request", f"{first['name']}: {first['reason']}", invalid_params=params)
