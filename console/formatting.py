"""How the console writes times, money and the services' codes for people: pure functions, no I/O.

Times are stored in UTC by the services and shown in Shanghai as people write them (``2026年11月30日 11:00``);
money arrives as a decimal string of yuan and is shown with its sign and, on a receipt, in capitals
(``肆万玖仟零贰拾捌元壹角整``) as Chinese financial documents write amounts.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _moment(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:  # the services answer with offsets; a naive time would be a bug, read as UTC
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(SHANGHAI)


def local_time(value) -> str:
    """``2026-11-30T03:00:00Z`` → ``2026年11月30日 11:00`` (Shanghai); empty for none."""
    moment = _moment(value)
    if moment is None:
        return ""
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


def local_date(value) -> str:
    """A date (or the Shanghai date of a time) as ``2026年11月30日``."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, datetime) or isinstance(value, str):
        value = _moment(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def machine_time(value) -> str:
    """The same moment for a ``<time datetime>`` attribute (ISO 8601 with the Shanghai offset)."""
    moment = _moment(value)
    return moment.isoformat(timespec="minutes") if moment else ""


# -- money --------------------------------------------------------------------------------------------------

AMOUNT_RE = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def is_amount(text: str) -> bool:
    """A positive amount of yuan as a person types it: digits, at most two decimals (``500``, ``49028.10``)."""
    return bool(AMOUNT_RE.match(text)) and Decimal(text) > 0


def yuan(value) -> str:
    """``"49028.1"`` → ``¥49,028.10``."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"¥{amount:,.2f}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_PLACES = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _group_words(number: int) -> str:
    """0 < number < 10000, with inner zeros as one 零 (``1005`` → 壹仟零伍)."""
    words, zero = "", False
    for place in range(3, -1, -1):
        digit = number // 10 ** place % 10
        if digit == 0:
            zero = bool(words)
            continue
        if zero:
            words += "零"
            zero = False
        words += _DIGITS[digit] + _PLACES[place]
    return words


def amount_in_words(value) -> str:
    """An amount of yuan in capitals (大写金额), as a receipt writes it: ``49028.10`` → 肆万玖仟零贰拾捌元壹角整."""
    fen = int((Decimal(str(value)) * 100).to_integral_value())
    if fen < 0:
        raise ValueError("a negative amount has no receipt wording")
    yuan_part, jiao, fen_digit = fen // 100, fen // 10 % 10, fen % 10
    words = ""
    if yuan_part:
        groups, n = [], yuan_part
        while n:
            groups.append(n % 10000)
            n //= 10000
        pending_zero = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                pending_zero = bool(words)
                continue
            if words and (pending_zero or group < 1000):
                words += "零"
            words += _group_words(group) + _GROUPS[index]
            pending_zero = False
        words += "元"
    if jiao == 0 and fen_digit == 0:
        return (words or "零元") + "整"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif words:
        words += "零"
    if fen_digit:
        return words + _DIGITS[fen_digit] + "分"
    return words + "整"


# -- the services' codes, in words ------------------------------------------------------------------------

CASE_STATUS = {
    "submitted": "已提交", "accepted": "已受理", "rejected": "不予受理", "supplement_requested": "待补正",
    "resubmitted": "已补正", "settled": "当场办结", "routed": "已派单", "in_progress": "办理中",
    "resolved": "已办结", "called_back": "已回访", "reopened": "预警重办", "closed": "已结案",
}
ASSIGNMENT_STATUS = {
    "dispatched": "待签收", "signed": "已签收", "in_progress": "办理中", "done": "已办结", "transferred": "已转办",
    "returned": "已退单", "superseded": "已撤回",
}
ROUTING_STATUS = {"open": "办理中", "arbitration": "待仲裁", "resolved": "已办结"}
ROUTING_ACTION = {
    "transfer": "转办", "transfer-refused": "转办未成（已督办）", "escalation": "督办", "return": "退单",
    "arbitration": "仲裁", "extension-requested": "申请延期", "extension-approved": "延期获批",
    "extension-refused": "延期未获批", "warning": "预警工单",
}
RATING = {"very_satisfied": "非常满意", "satisfied": "满意", "neutral": "基本满意", "dissatisfied": "不满意",
          "very_dissatisfied": "非常不满意"}
KIND = {"consultation": "咨询", "complaint": "投诉", "request": "求助", "suggestion": "建议"}
URGENCY = {"normal": "一般", "urgent": "紧急", "critical": "特急"}
CHANNEL = {"counter": "窗口", "online": "网上", "phone": "电话", "video": "视频"}
ASSIGNMENT_ROLE = {"lead": "主办", "assist": "协办"}
DELIVERY_STATUS = {"queued": "待发送", "deferred": "暂缓发送", "sent": "已发送", "failed": "发送失败"}
DELIVERY_CHANNEL = {"email": "电子邮件", "webhook": "系统推送", "sms": "短信", "wechat": "微信", "file": "站内记录",
                    "console": "站内记录"}
ROLE = {"counter": "全岗通", "handler": "承办人", "treasurer": "基金会出纳", "auditor": "审计", "admin": "管理员"}
DONATION_KIND = {"cash": "现金", "in_kind": "实物"}


def label(table: dict, code) -> str:
    """The word for a code; an unknown code is shown as it is rather than hidden."""
    return table.get(code, code or "")
