"""The API explorer at /<service>/docs works in a browser with no network: Swagger UI's files come from the
service itself, and it renders the service's operations from its own document."""
from urllib.parse import urlparse

import pytest

from helpers import base_url
from support_browser import chromium_page


@pytest.mark.parametrize("service", ["routing", "funds"])
def test_the_explorer_opens_with_no_network(embedded_settings, start_services, service):
    settings, _ = start_services(embedded_settings, [service])
    url = base_url(settings, service)
    with chromium_page() as (page, requested):
        page.goto(f"{url}/{service}/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert any(p.startswith(f"/{service}/") for p in paths)
        assert page.locator(".info .title").inner_text().startswith("Doorstep")
    hosts = {urlparse(r).hostname for r in requested}
    assert hosts == {"127.0.0.1"}, hosts
