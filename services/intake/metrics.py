"""Intake's Prometheus metrics, declared once.

Labels are bounded: ``category`` is a category code of the street's matter catalog (a case keeps the category
its matter had when it was submitted, so the set only grows when the catalog is edited), ``channel``,
``status``, ``decision`` and ``rating`` come from code. Never a case id, matter code or resident's text.
"""
from prometheus_client import Counter, Gauge, Histogram

from shared import metrics as shared_metrics

from services.intake.domain import ERASURE_REASONS, RATINGS, STATUSES

# What a station worker decides about a submitted case (受理, 不予受理, 补正). A counter-channel case is accepted
# in the same request that submits it, and counts as accepted here too.
DECISIONS = ("accepted", "rejected", "supplement_requested")

CASES = Gauge(
    "doorstep_intake_cases", "Cases in each status, counted in the database by intake's metrics timer", ["status"])
SUBMITTED = Counter(
    "doorstep_intake_cases_submitted_total", "Cases submitted, by matter category and channel",
    ["category", "channel"])
CASE_DECISIONS = Counter(
    "doorstep_intake_case_decisions_total",
    "A worker's decisions on submitted cases: accepted, rejected (不予受理) or supplement requested (补正)",
    ["category", "decision"])
CALLBACKS = Counter(
    "doorstep_intake_callbacks_total", "Callbacks (回访) recorded, by the resident's rating", ["rating"])
# Visits are the in-person visits a worker records (POST /intake/visits) naming the case: the figure behind
# 只跑一次 and the same count GET /intake/metrics/visits reports. Observed once per case, when it is closed
# (closed is final); a case settled without the resident coming in (online, phone) observes 0.
VISITS_PER_CASE = Histogram(
    "doorstep_intake_visits_per_case", "In-person visits a case took, observed when the case is closed",
    ["category"], buckets=(0, 1, 2, 3, 5, 8))

RESIDENTS_ERASED = Counter(
    "doorstep_intake_residents_erased_total",
    "Residents pseudonymised: on their request (PIPL 删除权) or at the end of their record's retention", ["reason"])
# What intake's retention pass handles, in doorstep_retention_records_total.
RETENTION_KINDS = ("cases", "residents", "appointments")


def channels_by_category(catalog) -> dict[str, tuple[str, ...]]:
    """For each category of the catalog, the channels at least one of its matters takes, in CHANNELS order."""
    from services.intake.catalog import CHANNELS

    taken: dict[str, set[str]] = {code: set() for code in catalog.categories}
    for matter in catalog.matters.values():
        taken.setdefault(matter.category, set()).update(matter.channels)
    return {category: tuple(c for c in CHANNELS if c in channels) for category, channels in taken.items()}


def prime(catalog) -> None:
    """Create the series at start-up so dashboards and ratio queries see zeros rather than gaps."""
    for status in STATUSES:
        CASES.labels(status)
    for category, channels in channels_by_category(catalog).items():
        for channel in channels:
            SUBMITTED.labels(category, channel)
        if channels:
            for decision in DECISIONS:
                CASE_DECISIONS.labels(category, decision)
            VISITS_PER_CASE.labels(category)
    for rating in RATINGS:
        CALLBACKS.labels(rating)
    for reason in ERASURE_REASONS:
        RESIDENTS_ERASED.labels(reason)
    for kind in RETENTION_KINDS:
        shared_metrics.RETENTION_RECORDS.labels("intake", kind)
