"""What routing forgets of a case once its resident is erased or its retention is over: the link to the
resident (their id and masked phone) and what people wrote about it (the answer, the units' results, reasons for
a transfer, an extension or a warning case, notes, arbitration decisions). Kept: the decision (rule, explanation),
the units, every status and time, so worklists, scores and the case log stay whole."""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.personal_data import redacted_text

# Keys of a case-log entry's detail that hold what someone wrote, by action; the rest are codes and counts.
LOG_FREE_TEXT = {
    "transfer": ("reason",),
    "transfer-refused": ("reason",),
    "return": ("note",),
    "arbitration": ("decision",),
    "extension-requested": ("reason",),
    "extension-approved": ("reason",),
    "extension-refused": ("reason",),
    "warning": ("reason",),
}


def _reason(rule: str, reason: str) -> str:
    # A rule's reason is the directory's own text, except a warning case's: the resident's complaint.
    return redacted_text(reason) if rule == "warning" else reason


def redacted_case(case: dict) -> dict:
    """A routed case's row (``rule``, ``reason``, ``answer``) once forgotten: no resident, no written words."""
    return {"resident_id": None, "phone_masked": None, "answer": redacted_text(case["answer"]),
            "reason": _reason(case["rule"], case["reason"])}


def redacted_assignment(assignment: dict) -> dict:
    """An assignment's row (``rule``, ``reason``, ``result``, ``extension_reason``) once forgotten."""
    return {"reason": _reason(assignment["rule"], assignment["reason"]),
            "result": redacted_text(assignment["result"]),
            "extension_reason": redacted_text(assignment["extension_reason"])}


def redacted_log_detail(action: str, detail: dict) -> dict:
    """A case-log entry's detail once forgotten: what was written goes, codes and counts stay."""
    return {key: redacted_text(value) if key in LOG_FREE_TEXT.get(action, ()) and isinstance(value, str) else value
            for key, value in detail.items()}


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Cases resolved before this moment have outlived a retention of ``days``."""
    return now - timedelta(days=days)
