"""Browser steps of the explorer test (run in a process of their own, see support_browser)."""


def operations_shown(page, url: str, service: str) -> dict:
    page.goto(f"{url}/{service}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    return {"paths": page.locator(".opblock-summary-path").all_inner_texts(),
            "title": page.locator(".info .title").inner_text()}
