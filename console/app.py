"""The console as a WSGI application: routing, sessions, the checks of :mod:`console.web`, static files, errors.

``Console(settings)`` is what ``doorstep run console`` serves (:mod:`console.server`); tests call it in-process
too. Pages live in :mod:`console.pages`, templates in ``console/templates`` (Jinja2, autoescaped), CSS and
JavaScript (htmx, vendored) in ``console/static``.
"""
from __future__ import annotations

import hashlib
import logging
import mimetypes
import time
import uuid
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from console import formatting, pages, security, users  # noqa: F401  (pages registers every page)
from console.apis import ApiProblem, Services, Unreachable
from console.store import Store
from console.web import LOGIN_COOKIE, PAGES, SESSION_COOKIE, Refused, Visit, check, url_map
from shared.config import Settings
from shared.db import utcnow
from shared.http import html_response

log = logging.getLogger("doorstep.console")

STATIC = Path(__file__).resolve().parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".txt": "text/plain; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}

# The headers shared.http.html_response puts on a page, for the console's answers that are not pages.
_SECURITY_HEADERS = {name: value for name, value in html_response("").headers.items()
                     if name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options")}


def jinja_environment() -> Environment:
    env = Environment(loader=PackageLoader("console", "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(local_time=formatting.local_time, local_date=formatting.local_date,
                       machine_time=formatting.machine_time, yuan=formatting.yuan,
                       amount_in_words=formatting.amount_in_words)
    env.globals.update(fmt=formatting, label=formatting.label)
    return env


class Console:
    def __init__(self, settings: Settings, clock=utcnow):
        self.settings, self.clock = settings, clock
        self.store = Store(settings.console_db_url)
        self.jinja = jinja_environment()
        self.urls = url_map()
        self.views = {spec.endpoint: spec for spec in PAGES}
        # Each static file's URL carries a hash of its content, so a browser may keep it (a new file, a new URL).
        self.static_files = {p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.is_file()}
        self.static_versions = {name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
                                for name, path in self.static_files.items()}

    def static_url(self, name: str) -> str:
        return f"/static/{name}?v={self.static_versions[name]}"

    def __call__(self, environ, start_response):
        request = Request(environ)
        started = time.perf_counter()
        response = self.handle(request)
        for name, value in _SECURITY_HEADERS.items():  # redirects too: every answer the console gives
            response.headers.setdefault(name, value)
        # html_response's no-referrer makes a browser send "Origin: null" with a form: the console's own forms
        # would then look cross-site. Same-origin still sends nothing to another site.
        response.headers["Referrer-Policy"] = "same-origin"
        log.info("%s %s %d %.1fms", request.method, request.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/static/"):
            return self.static(path.removeprefix("/static/"))
        if path == "/healthz":
            return Response("ok", content_type="text/plain")
        if path == "/readyz":
            ready = self.store.ready()
            return Response("ready" if ready else "database not reachable or not migrated",
                            status=200 if ready else 503, content_type="text/plain")
        try:
            endpoint, values = self.urls.bind_to_environ(request.environ).match()
        except NotFound:
            return self.error(request, None, 404, "页面不存在", "找不到这个页面。")
        except MethodNotAllowed as exc:
            response = self.error(request, None, 405, "不支持的请求", "这个页面不接受该请求方式。")
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except HTTPException as exc:  # a redirect to the canonical path, for one
            return exc.get_response(request.environ)
        spec = self.views[endpoint]
        now = self.clock()
        cookie = security.SessionCookie.parse(request.cookies.get(SESSION_COOKIE))
        resumed = users.resume(self.store, cookie, now)
        user, token = resumed if resumed else (None, None)
        try:
            check(spec, request, user, cookie if resumed else None)
        except Refused as refused:
            if refused.status == 303:
                response = Response(status=303, headers=refused.headers)
            else:
                response = self.error(request, user, refused.status, refused.title, refused.detail)
            if cookie and not resumed:
                self.clear_session(response)
            return response
        visit = Visit(request=request, settings=self.settings, jinja=self.jinja, user=user,
                      services=Services(self.settings, token), cookie=cookie if resumed else None,
                      static_url=self.static_url, now=now)
        visit.console = self  # the login and logout pages set and clear the session
        try:
            response = spec.view(visit, **values)
        except Unreachable as exc:
            log.warning("%s unreachable: %s", exc.service, exc)
            response = self.error(request, user, 503, "服务暂时无法访问",
                                  f"{pages.service_name(exc.service)}暂时无法访问，请稍后再试。")
        except ApiProblem as problem:
            log.warning("%s", problem)
            status = problem.status if problem.status in (403, 404, 409) else 502
            response = self.error(request, user, status, "操作未完成", problem.message)
        except Exception:
            cid = uuid.uuid4().hex
            log.exception("%s %s failed (correlation id %s)", request.method, request.path, cid)
            response = self.error(request, user, 500, "系统出错",
                                  f"出错已记录，请稍后再试；报告问题时请提供编号 {cid}。")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    # -- answers ----------------------------------------------------------------------------------------------

    def error(self, request: Request, user, status: int, title: str, detail: str) -> Response:
        body = self.jinja.get_template("error.html").render(
            user=user, csrf_token="", csrf_field="csrf_token", static=self.static_url, path=request.path,
            title=title, detail=detail, status=status)
        response = html_response(body, status)
        response.headers["Cache-Control"] = "no-store"
        return response

    def static(self, name: str) -> Response:
        path = self.static_files.get(name)
        if path is None:
            return html_response("<!doctype html><title>404</title>", 404)
        content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Response(path.read_bytes(), content_type=content_type, headers={
            "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"})

    def secure(self, request: Request) -> bool:
        return self.settings.console_https or request.is_secure

    def set_session(self, response: Response, request: Request, cookie: security.SessionCookie) -> None:
        response.set_cookie(SESSION_COOKIE, cookie.value(), max_age=int(self.settings.console_session_hours * 3600),
                            path="/", httponly=True, samesite="Lax", secure=self.secure(request))
        response.delete_cookie(LOGIN_COOKIE, path="/login")

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")


__all__ = ["Console", "html_response"]
