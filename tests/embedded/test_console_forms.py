"""Every form of the console refuses a request without a session (401), from a user whose job is not the page's
(403), and without this session's CSRF token or from another site (403) — before anything reaches a service.
The services are not running here: a request that got through would be answered 503, not 401 or 403.

Also what every page carries (security headers, the session cookie's attributes), signing in and out, and the
lockout after repeated failures, through the application itself (werkzeug's test client, SQLite)."""
import re
from datetime import timedelta

import pytest
from werkzeug.test import Client

from console import security
from console.app import Console
from console.store import Store, migrate
from console.users import UserProblem, create_user
from console.web import SESSION_COOKIE, form_routes
from doorstep.runner import free_ports
from shared.auth import ROLES, TokenFile
from shared.config import SERVICES, load_settings
from shared.db import dispose_engines, utcnow

PASSWORD = "correct horse battery"
HOST = "http://console.test"


class Clock:
    def __init__(self):
        self.now = utcnow()

    def __call__(self):
        return self.now


def _console(folder, roles=ROLES):
    # Nothing listens at the APIs' ports: whatever reached a service would fail as unreachable (503).
    nowhere = {f"console_{s}_url": f"http://127.0.0.1:{p}" for s, p in free_ports(SERVICES).items()}
    settings = load_settings(environ={}, db_template=f"sqlite:///{folder}/{{service}}.db",
                             tokens_file=str(folder / "tokens.yaml"), **nowhere)
    migrate(settings.console_db_url)
    store, tokens = Store(settings.console_db_url), TokenFile(settings.tokens_file)
    for role in roles:
        create_user(store, tokens, f"user-{role}", role, PASSWORD, unit="shixin-pm" if role == "handler" else "",
                    now=utcnow())
    clock = Clock()
    return Console(settings, clock=clock), clock


@pytest.fixture
def console(tmp_path):
    """A console of its own, for a test that moves its clock or locks a name."""
    yield _console(tmp_path, roles=("counter", "auditor"))
    dispose_engines()


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """One console for the walk over every form, with a signed-in session per role (a login costs argon2's
    time twice, on purpose)."""
    app, clock = _console(tmp_path_factory.mktemp("console"))
    sessions = {role: sign_in(app, role) for role in ROLES}
    yield app, sessions
    dispose_engines()


def client(app) -> Client:
    return Client(app)


def sign_in(app, role) -> tuple[Client, str]:
    """A client signed in as the user of ``role``, and its session's CSRF token."""
    browser = client(app)
    page = browser.get("/login", base_url=HOST)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    answer = browser.post("/login", base_url=HOST, data={"name": f"user-{role}", "password": PASSWORD,
                                                         "csrf_token": token, "next": ""})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    cookie = browser.get_cookie(SESSION_COOKIE, domain="console.test")
    return browser, security.csrf_token(security.SessionCookie.parse(cookie.value).key)


def concrete(path: str) -> str:
    """A route's path with its parameters filled in."""
    path = re.sub(r"<uuid:[a-z_]+>", "7b1f7c4e-3a8e-4b7e-9c55-2f0d2c1f9e11", path)
    return re.sub(r"<[a-z_]+>", "property-repair", path)


FORMS = [spec for spec in form_routes() if not spec.public]


def test_the_walk_covers_every_form():
    assert {spec.path for spec in FORMS} >= {
        "/logout", "/counter/matters/<code>", "/cases/<uuid:case_id>/callback", "/handler/assignments/<uuid:assignment_id>/sign",
        "/handler/assignments/<uuid:assignment_id>/contact", "/handler/assignments/<uuid:assignment_id>/report",
        "/treasurer/donations", "/auditor/verification"}
    assert all(spec.roles for spec in FORMS if spec.path != "/logout")


@pytest.mark.parametrize("spec", FORMS, ids=lambda spec: spec.path)
def test_a_form_without_a_session_is_refused(walked, spec):
    app, _ = walked
    answer = client(app).post(concrete(spec.path), base_url=HOST, data={"csrf_token": "x"})
    assert answer.status_code == 401
    assert "请先登录" in answer.get_data(as_text=True)


@pytest.mark.parametrize("spec", [s for s in FORMS if s.roles], ids=lambda spec: spec.path)
def test_a_form_of_another_job_is_refused(walked, spec):
    app, sessions = walked
    for role in ROLES:
        if role in spec.roles or role == "admin":
            continue
        browser, csrf = sessions[role]
        answer = browser.post(concrete(spec.path), base_url=HOST, data={"csrf_token": csrf},
                              headers={"Origin": HOST})
        assert answer.status_code == 403, (role, answer.status_code)
        assert "无权访问" in answer.get_data(as_text=True)


@pytest.mark.parametrize("spec", FORMS, ids=lambda spec: spec.path)
def test_a_form_without_the_sessions_csrf_token_or_from_another_site_is_refused(walked, spec):
    app, sessions = walked
    role = (spec.roles or ("counter",))[0]
    browser, csrf = sessions[role]
    other = sessions["admin"][1]  # another session's token is no good either
    for data, headers in (({}, {}), ({"csrf_token": ""}, {}), ({"csrf_token": "forged"}, {}),
                          ({"csrf_token": other}, {}),
                          ({"csrf_token": csrf}, {"Origin": "https://evil.example"}),
                          ({"csrf_token": csrf}, {"Sec-Fetch-Site": "cross-site"}),
                          ({"csrf_token": csrf}, {"Origin": "null"})):
        answer = browser.post(concrete(spec.path), base_url=HOST, data=data, headers=headers)
        assert answer.status_code == 403, (data, headers, answer.status_code)
    if spec.path == "/logout":
        return  # signing out would end the session the other walks use
    # With its token, from this site, the same request gets past the checks (and finds no service running).
    answer = browser.post(concrete(spec.path), base_url=HOST, data={"csrf_token": csrf, "answer": "好",
                                                                    "book": "foundation", "rating": "satisfied"},
                          headers={"Origin": HOST})
    assert answer.status_code == 503, answer.status_code


def test_the_login_form_needs_its_own_csrf_token(walked):
    app, _ = walked
    browser = client(app)
    browser.get("/login", base_url=HOST)
    answer = browser.post("/login", base_url=HOST, data={"name": "user-counter", "password": PASSWORD})
    assert answer.status_code == 403
    # A page of another site has no login cookie to pair its token with.
    stranger = client(app).post("/login", base_url=HOST, data={"name": "user-counter", "password": PASSWORD,
                                                                "csrf_token": security.csrf_token(b"x", "login")})
    assert stranger.status_code == 403


def test_a_page_asks_for_a_login_and_comes_back_after_it(walked):
    app, _ = walked
    browser = client(app)
    answer = browser.get("/treasurer", base_url=HOST)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/login?next=/treasurer")
    page = browser.get("/login?next=/treasurer", base_url=HOST).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed = browser.post("/login", base_url=HOST, data={"name": "user-treasurer", "password": PASSWORD,
                                                         "csrf_token": token, "next": "/treasurer"})
    assert (signed.status_code, signed.headers["Location"]) == (303, "/treasurer")
    cookie = signed.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here; DOORSTEP_CONSOLE_HTTPS or an https request makes it Secure
    # Another site as the place to go back to is dropped.
    other = client(app)
    page = other.get("/login?next=//evil.example/x", base_url=HOST).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    evil = other.post("/login", base_url=HOST, data={"name": "user-treasurer", "password": PASSWORD,
                                                     "csrf_token": token, "next": "//evil.example/x"})
    assert evil.headers["Location"] == "/treasurer"


def test_signing_out_ends_the_session(walked):
    app, _ = walked
    browser, csrf = sign_in(app, "auditor")
    kept = browser.get_cookie(SESSION_COOKIE, domain="console.test").value
    assert browser.post("/logout", base_url=HOST, data={"csrf_token": csrf}).status_code == 303
    replayed = client(app)
    replayed.set_cookie(SESSION_COOKIE, kept, domain="console.test")
    assert replayed.get("/auditor", base_url=HOST).status_code == 303  # the old cookie opens nothing


def test_a_session_cookie_altered_or_expired_opens_nothing(console):
    app, clock = console
    browser, _ = sign_in(app, "auditor")
    cookie = security.SessionCookie.parse(browser.get_cookie(SESSION_COOKIE, domain="console.test").value)
    forged = client(app)
    forged.set_cookie(SESSION_COOKIE, security.SessionCookie(cookie.session_id, bytes(32)).value(),
                      domain="console.test")
    assert forged.get("/auditor", base_url=HOST).status_code == 303
    clock.now += timedelta(hours=app.settings.console_session_hours, seconds=1)
    assert browser.get("/auditor", base_url=HOST).status_code == 303


def test_five_failures_lock_the_name_for_fifteen_minutes(console):
    app, clock = console
    browser = client(app)

    def attempt(password, name="user-counter"):
        page = browser.get("/login", base_url=HOST).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return browser.post("/login", base_url=HOST, data={"name": name, "password": password, "csrf_token": token})

    for _ in range(4):
        assert attempt("wrong password").status_code == 403
    locked = attempt("wrong password")
    assert locked.status_code == 429 and "暂时锁定" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) == 15 * 60 + 1
    assert attempt(PASSWORD).status_code == 429  # the right password too, while locked
    # A name nobody has locks the same way: the answers do not tell which names exist.
    for _ in range(4):
        assert attempt("wrong", name="nobody").status_code == 403
    assert attempt("wrong", name="nobody").status_code == 429
    clock.now += timedelta(minutes=15)
    assert attempt(PASSWORD).status_code == 303


def test_every_page_carries_the_security_headers_and_is_not_cached(walked):
    app, _ = walked
    browser, _ = sign_in(app, "auditor")
    for path in ("/login", "/auditor", "/counter", "/no-such-page"):
        answer = browser.get(path, base_url=HOST)
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Referrer-Policy"] == "same-origin"


def test_scripts_and_styles_come_from_the_console_itself(walked):
    app, _ = walked
    page = client(app).get("/login", base_url=HOST).get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("htmx-2.0.11.min.js" in s for s in sources)
    assert all(s.startswith(("/", "#")) for s in sources), sources  # nothing from another host
    assert "<script>" not in page and " style=" not in page and "onclick" not in page  # no inline script or style
    for source in sources:
        if source.startswith("/static/"):
            served = client(app).get(source, base_url=HOST)
            assert served.status_code == 200 and served.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name, role, password, unit, problem", [
    ("zhang", "handler", PASSWORD, "", "--unit"),
    ("li", "auditor", "short", "", "10"),
    ("Li Lei", "auditor", PASSWORD, "", "登录名"),
    ("user-counter", "counter", PASSWORD, "", "already exists"),
    ("zhao", "mayor", PASSWORD, "", "unknown role"),
])
def test_a_user_is_refused_saying_why(walked, tmp_path, name, role, password, unit, problem):
    app, _ = walked
    tokens = TokenFile(app.settings.tokens_file)
    before = tokens.path.read_text("utf-8")
    with pytest.raises(UserProblem, match=problem):
        create_user(app.store, tokens, name, role, password, unit=unit, now=utcnow())
    assert tokens.path.read_text("utf-8") == before  # no token issued for a user that was not made
