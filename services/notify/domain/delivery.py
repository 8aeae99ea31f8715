"""The delivery policy: whether a notice goes out now, is deferred (quiet hours, the rate limit per recipient) or
skipped (opted out); and after a failed attempt, whether to retry later, fall back to the next channel, or give
up."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.notify.domain.recipients import SHANGHAI, Preferences
from services.notify.domain.templates import Notice

STATUSES = ("queued", "deferred", "sent", "failed")


@dataclasses.dataclass(frozen=True)
class RateLimit:
    per_hour: int = 20
    window: timedelta = timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class Decision:
    status: str  # queued | deferred | skipped
    next_attempt_at: datetime | None
    reason: str = ""


def reads_recent_sends(notice: Notice, preferences: Preferences) -> bool:
    """Whether :func:`decide` needs the recipient's recent sends for this notice: only the rate limit reads
    them, and it does not apply to urgent or mandatory notices, nor to one that is skipped (opted out)."""
    if notice.category in preferences.opted_out and not notice.mandatory:
        return False
    return not notice.urgent and not notice.mandatory


def decide(notice: Notice, preferences: Preferences, now: datetime, recent_sends: list[datetime],
           rate_limit: RateLimit = RateLimit(), tz: ZoneInfo = SHANGHAI) -> Decision:
    """Whether a notice is sent now, deferred (quiet hours, rate limit) or skipped (opted out).

    ``recent_sends``: when this recipient's other messages were scheduled within the rate-limit window (the
    latest ``rate_limit.per_hour`` of them are enough; none are needed where :func:`reads_recent_sends` says so).
    """
    if notice.category in preferences.opted_out and not notice.mandatory:
        return Decision("skipped", None, f"opted out of {notice.category}")
    if notice.urgent:
        return Decision("queued", now)
    not_before = now
    reason = ""
    if preferences.quiet_hours is not None:
        until = preferences.quiet_hours.until(now, tz)
        if until is not None:
            not_before, reason = until, "quiet hours"
    window = sorted(t for t in recent_sends if t > not_before - rate_limit.window)
    # The limit protects people from chatter; a mandatory notice (a unit's new assignment) is work, not chatter.
    if not notice.mandatory and len(window) >= rate_limit.per_hour:
        # Free a slot: the send that leaves the window first makes room.
        released = window[len(window) - rate_limit.per_hour] + rate_limit.window
        if released > not_before:
            not_before, reason = released, "rate limit"
    if not_before > now:
        return Decision("deferred", not_before, reason)
    return Decision("queued", now)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    attempts_per_channel: int = 3
    base_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(hours=1)

    def delay(self, attempt: int) -> timedelta:
        """Wait after failed attempt ``attempt`` (1-based): base, 2×base, 4×base … capped."""
        return min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)


@dataclasses.dataclass(frozen=True)
class AfterFailure:
    action: str  # retry | fallback | give_up
    channel_index: int
    attempts: int  # attempts made on the channel at channel_index
    next_attempt_at: datetime | None


def after_failure(plan: tuple[str, ...], channel_index: int, attempts: int, permanent: bool, now: datetime,
                  policy: RetryPolicy) -> AfterFailure:
    """Attempt ``attempts`` on ``plan[channel_index]`` failed: retry later, try the next channel, or give up.
    A permanent failure (refused address, rejected request) is not retried on the same channel."""
    if not permanent and attempts < policy.attempts_per_channel:
        return AfterFailure("retry", channel_index, attempts, now + policy.delay(attempts))
    if channel_index + 1 < len(plan):
        return AfterFailure("fallback", channel_index + 1, 0, now)
    return AfterFailure("give_up", channel_index, attempts, None)
