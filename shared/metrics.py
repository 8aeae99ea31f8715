"""Every Prometheus metric of the messaging and HTTP layers, declared once.

All four services may share one process (the embedded default), so each series carries a ``service`` label.
Labels are bounded: event types, routes and consumers come from code, never from ids in requests.
"""
from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "doorstep_events_published_total", "Events confirmed by the broker, by type", ["service", "type"])
EVENTS_PUBLISH_FAILED = Counter(
    "doorstep_events_publish_failed_total", "Publishes the broker refused (nack); retried later", ["service"])
RELAY_ERRORS = Counter(
    "doorstep_outbox_relay_errors_total", "Relay cycles that failed on the broker or database", ["service"])
OUTBOX_BACKLOG = Gauge(
    "doorstep_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "doorstep_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row", ["service"])

EVENTS_CONSUMED = Counter(
    "doorstep_events_consumed_total",
    "Events handled by a consumer; outcome is handled or duplicate (already handled, no second effect)",
    ["service", "consumer", "type", "outcome"])
EVENTS_FAILED = Counter(
    "doorstep_events_failed_total", "Handler attempts that raised", ["service", "consumer", "type"])
EVENTS_DEAD_LETTERED = Counter(
    "doorstep_events_dead_lettered_total", "Messages sent to the dead-letter queue, by reason",
    ["service", "consumer", "type", "reason"])
DEAD_LETTERS_WAITING = Gauge(
    "doorstep_dead_letter_messages", "Messages waiting in the service's dead-letter queue (until replayed or removed)",
    ["service"])
HANDLER_DURATION = Histogram(
    "doorstep_event_handler_duration_seconds", "Time spent in an event handler", ["service", "consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

CONSUMER_BATCH_SIZE = Histogram(
    "doorstep_consumer_batch_events", "Events a batch consumer handled in one call and transaction",
    ["service", "consumer"], buckets=(1, 2, 4, 8, 16, 32, 64, 128))

RETENTION_RECORDS = Counter(
    "doorstep_retention_records_total",
    "Personal records the retention pass pseudonymised, redacted or deleted, by kind of record",
    ["service", "kind"])

HOLIDAY_CALENDAR_COVERED_UNTIL = Gauge(
    "doorstep_holiday_calendar_covered_until",
    "End of the last year whose statutory holidays are known (Unix time): after it, Monday-Friday are worked")
AUTH_FAILURES = Counter(
    "doorstep_auth_failures_total", "Requests refused for their credential, by reason (missing, unknown, throttled)",
    ["service", "reason"])
HTTP_REQUESTS = Counter(
    "doorstep_http_requests_total", "HTTP requests by route and status", ["service", "method", "route", "status"])
HTTP_DURATION = Histogram(
    "doorstep_http_request_duration_seconds", "HTTP request latency by route", ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

# The reasons shared.consumer passes when it dead-letters a message.
AUTH_FAILURE_REASONS = ("missing", "unknown", "throttled")
DEAD_LETTER_REASONS = ("invalid-envelope", "handler-failed")


def prime(service: str, consumers=(), published_types=()) -> None:
    """Create labelled series at start-up so rate and ratio queries have data before the first event."""
    OUTBOX_BACKLOG.labels(service)
    OUTBOX_OLDEST_AGE.labels(service)
    DEAD_LETTERS_WAITING.labels(service)
    RELAY_ERRORS.labels(service)
    EVENTS_PUBLISH_FAILED.labels(service)
    for reason in AUTH_FAILURE_REASONS:  # the guessing alert takes increase(): the series must exist at 0
        AUTH_FAILURES.labels(service, reason)
    for type_name in published_types:
        EVENTS_PUBLISHED.labels(service, type_name)
    for consumer, type_name in consumers:
        for outcome in ("handled", "duplicate"):
            EVENTS_CONSUMED.labels(service, consumer, type_name, outcome)
        EVENTS_FAILED.labels(service, consumer, type_name)
        # The dead-letter alert takes increase() of this counter: a series born at 1 would hide the first one.
        for reason in DEAD_LETTER_REASONS:
            EVENTS_DEAD_LETTERED.labels(service, consumer, type_name, reason)
