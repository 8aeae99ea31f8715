"""The console's pages: how one is declared, and what every request goes through before a page runs.

``@page("/counter", roles=("counter",))`` declares a page. Before its function runs, the request's session is
resumed from its cookie; without one a GET is sent to the login page and a POST refused (401). A POST must
carry the session's CSRF token and come from this site (``Origin``, ``Sec-Fetch-Site``), else 403; a user whose
role the page does not admit gets 403 (``admin`` is admitted everywhere, as by the services). Every answer
carries the security headers of :func:`shared.http.html_response` and is not cached.
"""
from __future__ import annotations

import dataclasses
import logging
import secrets
from typing import Callable
from urllib.parse import quote, urlsplit

from jinja2 import Environment
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect as werkzeug_redirect
from werkzeug.wrappers import Request, Response

from console import security
from console.apis import ApiProblem, Services, Unreachable
from console.store import User
from shared.config import Settings
from shared.db import utcnow
from shared.http import html_response

log = logging.getLogger("doorstep.console")

SESSION_COOKIE = "doorstep_session"
LOGIN_COOKIE = "doorstep_login"  # the login form's CSRF secret, before there is a session
CSRF_FIELD = "csrf_token"


@dataclasses.dataclass(frozen=True)
class PageSpec:
    path: str
    endpoint: str
    view: Callable
    methods: tuple[str, ...]
    roles: tuple[str, ...] | None  # None: any signed-in user
    public: bool  # no session needed (the login page)


PAGES: list[PageSpec] = []


def page(path: str, *, methods=("GET",), roles: tuple[str, ...] | None = None, public: bool = False):
    """Declare a page: its path (werkzeug's rule syntax), methods, and the roles it admits."""
    def register(view):
        PAGES.append(PageSpec(path, f"{view.__module__}.{view.__name__}", view, tuple(methods), roles, public))
        return view
    return register


def url_map() -> Map:
    return Map([Rule(spec.path, endpoint=spec.endpoint, methods=spec.methods) for spec in PAGES],
               strict_slashes=False)


def form_routes() -> list[PageSpec]:
    """Every page that takes a form (a POST): each must refuse a request without a session, of the wrong role or
    without this session's CSRF token."""
    return [spec for spec in PAGES if "POST" in spec.methods]


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}


@dataclasses.dataclass
class Visit:
    """One request to one page: who asks, with what, and how to answer."""

    request: Request
    settings: Settings
    jinja: Environment
    user: User | None
    services: Services
    cookie: security.SessionCookie | None
    static_url: Callable[[str], str]
    now: object = dataclasses.field(default_factory=utcnow)
    set_cookies: list[tuple[str, str, dict]] = dataclasses.field(default_factory=list)

    @property
    def csrf(self) -> str:
        return security.csrf_token(self.cookie.key) if self.cookie else ""

    @property
    def htmx(self) -> bool:
        """A request made by htmx for a part of a page (the page without JavaScript gets the whole page)."""
        return self.request.headers.get("HX-Request") == "true"

    @property
    def form(self):
        return self.request.form

    def render(self, template: str, status: int = 200, **context) -> Response:
        body = self.jinja.get_template(template).render(
            user=self.user, csrf_token=self.csrf, csrf_field=CSRF_FIELD, static=self.static_url,
            path=self.request.path, **context)
        return html_response(body, status)

    def redirect(self, location: str) -> Response:
        return werkzeug_redirect(location, code=303)

    def catalog(self):
        return self.services.catalog()

    def directory(self):
        return self.services.directory()


# -- the checks before a page runs --------------------------------------------------------------------------

def same_site(request: Request) -> bool:
    """Whether a POST comes from a page of this site: a browser says so in ``Sec-Fetch-Site`` and ``Origin``."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc == request.host
    return origin != "null"


def safe_next(target: str | None) -> str | None:
    """A path of this site to go back to after login; anything else (another host, a scheme) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def login_location(request: Request) -> str:
    return "/login?next=" + quote(request.full_path.rstrip("?"), safe="/")


def check(spec: PageSpec, request: Request, user: User | None, cookie) -> None:
    """Refuse the request before the page runs, or return."""
    if request.method == "POST":
        if not spec.public and user is None:
            raise Refused(401, "请先登录", "登录已失效或尚未登录，请重新登录后再提交。")
        if not same_site(request):
            raise Refused(403, "请求被拒绝", "该表单不是从本系统的页面提交的。")
        key = cookie.key if cookie and not spec.public else request.cookies.get(LOGIN_COOKIE, "").encode()
        given = request.form.get(CSRF_FIELD)
        if not (security.csrf_valid(key, given, "login" if spec.public else "form")):
            raise Refused(403, "表单已失效", "表单已过期或来自其他网站，请返回页面刷新后重新提交。")
    elif not spec.public and user is None:
        raise Refused(303, "请先登录", "", headers={"Location": login_location(request)})
    if spec.roles is not None and user is not None and user.role != "admin" and user.role not in spec.roles:
        raise Refused(403, "无权访问", "当前账号的岗位不能使用此页面。")


def new_login_secret() -> str:
    return secrets.token_urlsafe(24)


__all__ = ["page", "Visit", "Refused", "ApiProblem", "Unreachable", "PAGES", "form_routes", "check", "url_map",
           "safe_next"]
