"""The console's pages, a module per person's job: signing in, the counter (全岗通), the case page, the unit's
handler, the resident's callback (回访), the foundation's treasurer and the auditor. Importing this package
registers them all (:func:`console.web.page`)."""
from console.apis import SERVICE_NAMES
from console.pages import auth, callbacks, cases, counter, funds, handler
from console.pages.auth import HOME

__all__ = ["auth", "callbacks", "cases", "counter", "funds", "handler", "HOME", "service_name"]


def service_name(service: str) -> str:
    return SERVICE_NAMES.get(service, service)
