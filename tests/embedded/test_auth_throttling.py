"""Guessing is not free: a source that keeps presenting unknown credentials is refused for a while with 429 and
Retry-After, before its next guess is looked at; every refusal is counted for operators."""
import re

import requests

from support.http import base_url
from shared.auth import FailedAttempts


def _failures(settings, service, reason):
    scrape = requests.get(f"{base_url(settings, service)}/metrics", timeout=10).text
    found = re.search(rf'^doorstep_auth_failures_total{{reason="{reason}",service="{service}"}} (\S+)$', scrape, re.M)
    return float(found.group(1))


def test_a_source_guessing_tokens_is_throttled_and_counted(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings.replace(auth_failure_limit=5, auth_failure_window_s=30),
                                 ["routing"])
    url = f"{base_url(settings, 'routing')}/routing/units"
    before = _failures(settings, "routing", "unknown")
    answers = [requests.get(url, headers={"Authorization": f"Bearer guess-{i}"}, timeout=10) for i in range(8)]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 31
    assert answers[-1].headers["Content-Type"] == "application/problem+json"
    assert _failures(settings, "routing", "unknown") - before == 5
    assert _failures(settings, "routing", "throttled") >= 3
    # while throttled, the source is refused whatever it presents: its guesses are not looked at
    good = requests.get(url, headers={"Authorization": f"Bearer {counter_token(settings)}"}, timeout=10)
    assert good.status_code == 429


def test_failures_age_out_of_the_window():
    now = [0.0]
    attempts = FailedAttempts(limit=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        attempts.failed("10.0.0.9")
    assert attempts.retry_after("10.0.0.9") == 61 and attempts.retry_after("10.0.0.8") == 0
    now[0] = 59.0
    assert attempts.retry_after("10.0.0.9") == 2
    now[0] = 60.5
    assert attempts.retry_after("10.0.0.9") == 0
