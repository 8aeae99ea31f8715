"""Routing's Prometheus metrics, declared once. The ``unit`` label is a unit code from the street's directory
(bounded; anything else is counted as "unknown"), never a case or assignment id."""
from prometheus_client import Counter, Gauge, Histogram

from shared.metrics import RETENTION_RECORDS

_HOURS = 3600
_DURATION_BUCKETS = (60, 300, 900, 1800, _HOURS, 2 * _HOURS, 4 * _HOURS, 8 * _HOURS, 24 * _HOURS, 3 * 24 * _HOURS,
                     7 * 24 * _HOURS, 15 * 24 * _HOURS, 30 * 24 * _HOURS)

TIME_TO_SIGN = Histogram(
    "doorstep_routing_time_to_sign_seconds", "From dispatch to sign-for (签收), per unit", ["unit"],
    buckets=_DURATION_BUCKETS)
TIME_TO_RESOLVE = Histogram(
    "doorstep_routing_time_to_resolve_seconds", "From first routing to the case resolved, per lead unit", ["unit"],
    buckets=_DURATION_BUCKETS)
OPEN_ASSIGNMENTS = Gauge(
    "doorstep_routing_open_assignments", "Assignments dispatched, signed or in progress, per unit", ["unit"])
OVERDUE_ASSIGNMENTS = Gauge(
    "doorstep_routing_overdue_assignments", "Open assignments past their sign-for or handling deadline, per unit",
    ["unit"])
ESCALATIONS = Counter(
    "doorstep_routing_escalations_total", "Escalations (督办) by the unit that held the case and why",
    ["unit", "reason"])
REMINDERS = Counter(
    "doorstep_routing_reminders_total", "Reminders (催办) sent, per unit and deadline", ["unit", "clock"])
TRANSFERS = Counter(
    "doorstep_routing_transfers_total", "Transfers (转办) by the unit that gave the case away", ["unit"])
RETURNS = Counter(
    "doorstep_routing_returns_total", "Returns (退单) per unit and reason code", ["unit", "reason_code"])

# Deadline clocks the timer reminds and escalates on (domain.deadlines.breaches), and the escalation reasons
# handlers.deadlines.escalate records: "<clock>-overdue" from the timer, "transfer-limit" from a transfer.
CLOCKS = ("sign", "contact", "handle")
ESCALATION_REASONS = ("sign-overdue", "handle-overdue", "transfer-limit")


def prime(unit_codes, return_reasons=()) -> None:
    """Create each unit's series at start-up so dashboards show zeros rather than gaps."""
    for code in unit_codes:
        OPEN_ASSIGNMENTS.labels(code)
        OVERDUE_ASSIGNMENTS.labels(code)
        TRANSFERS.labels(code)
        TIME_TO_SIGN.labels(code)
        TIME_TO_RESOLVE.labels(code)
        for reason_code in return_reasons:
            RETURNS.labels(code, reason_code)
        # The deadline alert takes increase() of these: a series born at 1 would hide the first breach.
        for clock in CLOCKS:
            REMINDERS.labels(code, clock)
        for reason in ESCALATION_REASONS:
            ESCALATIONS.labels(code, reason)
    RETENTION_RECORDS.labels("routing", "cases")
