"""The API explorer at /<service>/docs works in a browser with no network: Swagger UI's files come from the
service itself, and it renders the service's operations from its own document."""
from urllib.parse import urlparse

import pytest

from support.http import base_url
from support_browser import in_browser


@pytest.mark.parametrize("service", ["intake", "routing", "funds", "notify"])
def test_the_explorer_opens_with_no_network(embedded_settings, start_services, service):
    settings, _ = start_services(embedded_settings, [service])
    shown, requested = in_browser("browser.explorer_steps:operations_shown", url=base_url(settings, service),
                                  service=service)
    assert any(p.startswith(f"/{service}/") for p in shown["paths"]), shown
    assert shown["title"].startswith("Doorstep")
    assert {urlparse(r).hostname for r in requested} == {"127.0.0.1"}
