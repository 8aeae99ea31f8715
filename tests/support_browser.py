"""Driving Debian's Chromium with Playwright, with every request off this machine refused.

Playwright's sync API does not run in a process eventlet has monkey-patched (as the test process is), so a
browser step runs in a process of its own: ``in_browser("module:function", **kwargs)`` imports the function
there, calls it with a fresh page and the keyword arguments, and returns what it returned (JSON) together with
every URL the page requested.
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium reaches for Google's hosts at start and in the background unless told not to.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TESTS = Path(__file__).resolve().parent


def in_browser(action: str, timeout: float = 120, **kwargs):
    """Run ``action`` (``module:function`` under tests/, taking ``(page, **kwargs)``) in Chromium; return
    (its result, the URLs the page requested)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, __file__, action, json.dumps(kwargs)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=TESTS.parent)
    assert proc.returncode == 0, f"browser step {action} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    return outcome["result"], outcome["requested"]


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 900):
    """A fresh page; yields (page, every URL it requested). Requests to other hosts are aborted."""
    from playwright.sync_api import sync_playwright

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


if __name__ == "__main__":
    import importlib

    module_name, _, function_name = sys.argv[1].partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    with chromium_page() as (page, requested):
        result = function(page, **json.loads(sys.argv[2]))
    print(json.dumps({"result": result, "requested": requested}, ensure_ascii=False))
