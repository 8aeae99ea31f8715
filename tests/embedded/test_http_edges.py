"""What the HTTP edge answers before any endpoint's own work: unknown routes, wrong methods, bodies too large or
of the wrong type, an unexpected failure — each a problem+json, never werkzeug's HTML page, and a 4xx is one
log line without the rejected value."""
import http.client
import logging
import resource
import time

import requests
from nameko.extensions import DependencyProvider

from support.http import base_url, submit_case
from shared.http import api
from shared.service import DoorstepService


def test_unknown_routes_and_wrong_methods_are_problems(embedded_settings, start_services):
    settings, _ = start_services(embedded_settings, ["routing"])
    url = base_url(settings, "routing")
    missing = requests.get(f"{url}/routing/no-such-thing", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    assert missing.json()["status"] == 404
    wrong = requests.delete(f"{url}/routing/units", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["Content-Type"] == "application/problem+json"
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET"}


def _post_with_length(port: int, path: str, length: int, sent: bytes, content_type="application/json"):
    """Announce ``length`` bytes, send only ``sent``, and read the answer: a server that waited for the body
    would hang here."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", content_type)
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    conn.send(sent)
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


def test_a_huge_body_is_refused_before_it_is_read_or_a_token_is_asked_for(embedded_settings, start_services):
    settings, _ = start_services(embedded_settings, ["intake"])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    # 300 MB announced to the public Open311 form, no api_key: 413, not 401, at once.
    status, content_type, _ = _post_with_length(settings.port("intake"), "/open311/v2/requests.json", 300 * 2**20,
                                                b"service_code=x&", "application/x-www-form-urlencoded")
    assert status == 413 and content_type == "application/problem+json"
    assert time.monotonic() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 20 * 1024  # KiB: nothing buffered


def test_a_body_over_the_limit_without_a_length_is_cut_off_while_read(embedded_settings, start_services,
                                                                      counter_token):
    settings, _ = start_services(embedded_settings.replace(http_max_body_bytes=4096), ["intake"])
    token = counter_token(settings)

    def chunks():
        yield b'{"description": "'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}'

    answer = requests.post(f"{base_url(settings, 'intake')}/intake/cases", data=chunks(), timeout=10,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["status"] == 413


def test_a_body_of_another_type_is_415(embedded_settings, start_services, counter_token):
    settings, _ = start_services(embedded_settings, ["intake"])
    answer = requests.post(f"{base_url(settings, 'intake')}/intake/cases", data="matter_code=x", timeout=10,
                           headers={"Authorization": f"Bearer {counter_token(settings)}",
                                    "Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 415 and answer.json()["invalid_params"][0]["name"] == "Content-Type"


class Exploding(DependencyProvider):
    def get_dependency(self, worker_ctx):
        raise RuntimeError("secret internals: postgresql://user:password@db/intake")


class FailingService(DoorstepService):
    """A stand-in service whose one endpoint fails unexpectedly."""
    name = "intake"
    boom = Exploding()

    @api("GET", "/intake/explode")
    def explode(self, request):
        return {}


def test_an_unexpected_failure_is_a_500_with_a_correlation_id_and_no_internals(embedded_settings, start_services,
                                                                               caplog):
    settings, _ = start_services(embedded_settings, service_class=FailingService)
    with caplog.at_level(logging.ERROR):
        answer = requests.get(f"{base_url(settings, 'intake')}/intake/explode", timeout=10,
                              headers={"X-Request-ID": "req-0123456789"})
    assert answer.status_code == 500
    body = answer.json()
    assert body["correlation_id"] and "password" not in answer.text and "RuntimeError" not in answer.text
    assert answer.headers["X-Request-ID"] == body["correlation_id"]
    logged = [r for r in caplog.records if body["correlation_id"] in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None  # the traceback is in the log, once


def test_a_4xx_is_one_log_line_naming_the_field_not_the_value(embedded_settings, start_services, counter_token,
                                                              caplog):
    settings, _ = start_services(embedded_settings, ["intake"])
    token = counter_token(settings)
    with caplog.at_level(logging.INFO):
        answer = submit_case(settings, token, resident={"name": "王阿姨", "phone": "12345678901", "area": "shixin"})
    assert answer.status_code == 400
    about = [r for r in caplog.records if "/intake/cases" in r.getMessage() or "12345678901" in r.getMessage()]
    assert len(about) == 1, [r.getMessage() for r in about]
    line = about[0].getMessage()
    assert "400" in line and "field=resident.phone" in line and "12345678901" not in line
    assert about[0].exc_info is None
