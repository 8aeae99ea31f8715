"""Notify's Prometheus metrics, declared once. Labels are bounded: channel names and statuses come from
code (``domain.CHANNELS``, the outcomes below), never from recipients or ids."""
from prometheus_client import Counter, Gauge, Histogram

from shared.metrics import RETENTION_RECORDS
from services.notify.domain.recipients import CHANNELS

# queued / deferred when decided; sent / failed (given up) when finished; retried and fell_back on the way.
OUTCOMES = ("queued", "deferred", "skipped", "sent", "retried", "fell_back", "failed")

DELIVERIES = Counter(
    "doorstep_notify_deliveries_total", "Deliveries by channel and status (decisions, then outcomes)",
    ["channel", "status"])
DELIVERY_LATENCY = Histogram(
    "doorstep_notify_delivery_latency_seconds",
    "From the delivery's decision to the channel accepting it (deferred ones included)", ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600))
BACKLOG = Gauge(
    "doorstep_notify_backlog", "Deliveries waiting: queued (due or retrying) and deferred (quiet hours, rate limit)",
    ["status"])


def prime() -> None:
    for channel in CHANNELS:
        for status in OUTCOMES:
            DELIVERIES.labels(channel, status)
        DELIVERY_LATENCY.labels(channel)
    for status in ("queued", "deferred"):
        BACKLOG.labels(status)
    RETENTION_RECORDS.labels("notify", "deliveries")
