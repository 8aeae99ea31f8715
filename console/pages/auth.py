"""Signing in and out, and where each role starts."""
from __future__ import annotations

from werkzeug.wrappers import Response

from console import security, users
from console.web import LOGIN_COOKIE, Visit, new_login_secret, page, safe_next

# Where each role starts its day.
HOME = {"counter": "/counter", "handler": "/handler", "treasurer": "/treasurer", "auditor": "/auditor",
        "admin": "/counter"}


def _login_form(visit: Visit, status: int = 200, error: str = "", name: str = "") -> Response:
    secret = visit.request.cookies.get(LOGIN_COOKIE) or new_login_secret()
    minutes = visit.settings.console_lockout_minutes
    response = visit.render("login.html", status, error=error, name=name,
                            lockout=(visit.settings.console_lockout_failures,
                                     int(minutes) if minutes == int(minutes) else minutes),
                            login_csrf=security.csrf_token(secret.encode(), "login"),
                            next=safe_next(visit.request.args.get("next")) or "")
    # The login form's CSRF secret, for this path only; a page of another site can neither read nor set it.
    response.set_cookie(LOGIN_COOKIE, secret, path="/login", httponly=True, samesite="Strict",
                        secure=visit.console.secure(visit.request))
    return response


@page("/login", public=True)
def login_page(visit: Visit):
    if visit.user is not None:
        return visit.redirect(HOME.get(visit.user.role, "/"))
    return _login_form(visit)


@page("/login", methods=("POST",), public=True)
def login(visit: Visit):
    name, password = visit.form.get("name", "").strip(), visit.form.get("password", "")
    settings = visit.settings
    try:
        user, cookie = users.log_in(visit.console.store, name, password, now=visit.now,
                                    session_hours=settings.console_session_hours,
                                    lockout_failures=settings.console_lockout_failures,
                                    lockout_minutes=settings.console_lockout_minutes)
    except users.LoginRefused as refused:
        if refused.locked_until:
            from console.formatting import local_time

            response = _login_form(visit, 429, f"登录失败次数过多，该账号已暂时锁定，请于 "
                                               f"{local_time(refused.locked_until)} 后再试。", name)
            seconds = int((refused.locked_until - visit.now).total_seconds()) + 1
            response.headers["Retry-After"] = str(max(seconds, 1))
            return response
        return _login_form(visit, 403, "用户名或密码不正确。", name)
    target = safe_next(visit.form.get("next")) or HOME.get(user.role, "/")
    response = visit.redirect(target)
    visit.console.set_session(response, visit.request, cookie)
    return response


@page("/logout", methods=("POST",))
def logout(visit: Visit):
    visit.console.store.end_session(visit.cookie.lookup)
    response = visit.redirect("/login")
    visit.console.clear_session(response)
    return response


@page("/")
def home(visit: Visit):
    return visit.redirect(HOME.get(visit.user.role, "/login"))
