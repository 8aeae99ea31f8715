"""A webhook address is https to a public host: notify must not be made to call the machine's own services,
the cluster's or the cloud's metadata endpoint — unless the street allow-lists a receiver of its own."""
import pytest
import requests

from services.notify.domain.recipients import webhook_target_problem
from support.http import base_url
from support.notify import write_notify_config

INTERNAL = ["http://127.0.0.1:8001/intake/cases", "https://127.0.0.1/hook", "https://10.0.0.5/hook",
            "https://192.168.1.1/hook", "https://169.254.169.254/latest/meta-data/", "https://[::1]/hook",
            "https://0.0.0.0/hook", "http://example.org/hook"]


@pytest.fixture
def notify(embedded_settings, start_services, counter_token):
    write_notify_config(embedded_settings, channels={"webhook": {"secret": "k", "allow_private": ["10.20.0.0/16"]}})
    settings, _ = start_services(embedded_settings, ["notify"])
    return settings, counter_token(settings, "admin")


def _register(settings, token, url):
    return requests.put(f"{base_url(settings, 'notify')}/notify/recipients/unit:shixin-pm/contacts",
                        json={"contacts": {"webhook": url}}, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_or_plain_http_targets_are_refused(notify, url):
    settings, token = notify
    answer = _register(settings, token, url)
    assert answer.status_code == 400 and answer.json()["invalid_params"][0]["name"] == "contacts.webhook"


@pytest.mark.parametrize("url", ["https://hooks.example.org/doorstep", "http://10.20.3.4:8080/hook"])
def test_a_public_https_host_or_an_allow_listed_network_is_accepted(notify, url):
    settings, token = notify
    assert _register(settings, token, url).status_code == 200


def test_a_name_that_resolves_inside_is_refused_when_sending():
    inside = lambda host: ["10.0.0.7"]  # noqa: E731  (a public-looking name pointing into the cluster)
    assert webhook_target_problem("https://hooks.example.org/x", (), inside) == "points to an internal address (10.0.0.7)"
    assert webhook_target_problem("https://hooks.example.org/x", (), lambda host: ["93.184.216.34"]) is None
    assert webhook_target_problem("https://hooks.internal/x", ("hooks.internal",), inside) is None
