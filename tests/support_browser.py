"""Driving Debian's Chromium with Playwright, with every request off this machine refused."""
import contextlib
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Chromium reaches for Google's hosts at start and in the background unless told not to.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 900):
    """A fresh page; yields (page, every URL it requested). Requests to other hosts are aborted."""
    requested: list[str] = []

    def only_local(route):
        requested.append(route.request.url)
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.route("**/*", only_local)
            yield page, requested
        finally:
            browser.close()
