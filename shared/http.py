"""HTTP entrypoints: typed bodies, queries and answers, problem+json (RFC 9457) errors, bearer-token roles.

``@api("POST", "/intake/cases", roles=("counter",), body=SubmitCase, answers={201: CaseView})`` is nameko's
``@http`` plus:

* a body over ``http_max_body_bytes`` is refused with 413 before anything reads it or asks for a token
  (:class:`ProblemWebServer`); an unknown route answers 404 and a wrong method 405 with ``Allow``, as problems;
* authentication before any worker runs — 401 without a valid token, 403 for a role not admitted;
* the body (JSON, or a form with ``form=True``), the query string and the path's segments are parsed into
  their pydantic models before the worker runs, and handed to the method as ``body=``, ``query=`` and ``path=``
  (in place of the raw segments): the method receives typed
  values, and a wrong field is a 400 naming it, in Chinese and English, without echoing the value;
* a method returns a model, a dict or list (200), or ``(status, value)``; with ``check_answers`` set, a dict
  answer is checked against the model ``answers`` documents for its status (the tests run so);
* :class:`~shared.problems.Problem` or a :class:`~shared.errors.DomainError` raised anywhere becomes its 4xx,
  logged as one line; anything unexpected becomes a 500 carrying a correlation id, logged with its traceback;
* request count and latency per route template (not per URL, so ids never become labels).

What an endpoint declares is also what its OpenAPI document says (:mod:`shared.openapi`).
"""
from __future__ import annotations

import io
import json
import logging
import re
import time
import uuid
from functools import cached_property
from types import UnionType
from typing import Any, Union, get_args, get_origin

from nameko.extensions import SharedExtension
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from pydantic import BaseModel, TypeAdapter, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from shared import metrics
from shared.auth import FailedAttempts, Principal, TokenFile
from shared.commit_groups import GroupAborted, GroupMembership
from shared.errors import DomainError, InvalidInput
from shared.problems import PROBLEM_JSON, Problem, bad_input, validation_problem

log = logging.getLogger("doorstep.http")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


def json_response(body, status: int = 200, content_type: str = "application/json",
                  headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type=content_type,
                    headers=headers)


# Every HTML answer: no framing, no sniffing, scripts and styles only from the service itself.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def html_response(text: str, status: int = 200, csp: str = PAGE_CSP) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer"})


def problem_response(problem: Problem, correlation_id: str | None = None) -> Response:
    body = problem.to_dict()
    if correlation_id and problem.status >= 500:
        body["correlation_id"] = correlation_id
    headers = {**problem.headers, **({"X-Request-ID": correlation_id} if correlation_id else {})}
    response = json_response(body, problem.status, PROBLEM_JSON, headers)
    response.problem_field = problem.field or (problem.invalid_params or [{}])[0].get("name")  # for the log
    return response


class _WorkerErrorsLoggedHere(logging.Filter):
    """nameko logs every error a worker raises, a 4xx with its traceback; an HTTP entrypoint logs its own
    (one line for a 4xx, the traceback and correlation id for a 500), so nameko's record is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(("(expected) error handling worker", "error handling worker")):
            return True
        worker_ctx = record.args[0] if record.args else None
        return not isinstance(getattr(worker_ctx, "entrypoint", None), ApiHandler)


def correlation_id(request) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new one; kept on the request."""
    found = getattr(request, "correlation_id", None)
    if found is None:
        given = request.headers.get("X-Request-ID", "")
        found = given if _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        request.correlation_id = found
    return found


class Tokens(SharedExtension):
    """Bearer tokens: who is calling, and whether their role is admitted. A source that keeps failing is
    refused for a while (429 with ``Retry-After``) before its credential is looked at."""

    def setup(self):
        settings = self.container.config["DOORSTEP"]
        self.file = TokenFile(settings.tokens_file)
        self.attempts = FailedAttempts(settings.auth_failure_limit, settings.auth_failure_window_s)
        self.service = self.container.service_name

    def credential(self, request) -> str:
        """The secret the request presents; a problem if it presents none in the accepted form."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'",
                          field="Authorization", headers={"WWW-Authenticate": "Bearer"})
        return token.strip()

    def refused(self, detail: str, field: str = "Authorization") -> Problem:
        return Problem(401, "Unauthorized", detail, field=field, headers={"WWW-Authenticate": "Bearer"})

    def authenticate(self, request, roles) -> Principal:
        source = request.remote_addr or "unknown"
        wait = self.attempts.retry_after(source)
        if wait:
            metrics.AUTH_FAILURES.labels(self.service, "throttled").inc()
            raise Problem(429, "Too many requests", f"too many failed attempts; try again in {wait} s",
                          headers={"Retry-After": str(wait)})
        try:
            secret = self.credential(request)
        except Problem:
            metrics.AUTH_FAILURES.labels(self.service, "missing").inc()
            raise
        principal = self.file.authenticate(secret)
        if principal is None:
            self.attempts.failed(source)
            metrics.AUTH_FAILURES.labels(self.service, "unknown").inc()
            raise self.refused("the credential is not known")
        if principal.role != "admin" and principal.role not in roles:
            raise Problem(403, "Forbidden", f"role {principal.role!r} may not do this; needs one of {list(roles)}")
        return principal


# -- the web server: limits and routing failures as problems ------------------------------------------------

class ProblemWebServer(WebServer):
    """nameko's web server, answering what no endpoint handles as problem+json instead of werkzeug's HTML:
    404 for an unknown route, 405 (with ``Allow``) for a wrong method, 413 for a body over the limit.

    The size is checked from ``Content-Length`` before routing, so a huge body is refused before it is read
    or a token is looked at; a body sent without a length (chunked) is cut off while it is read.
    """

    def get_wsgi_app(self):
        return _ProblemWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=None, debug=False):
        from eventlet import wsgi
        from nameko.web.server import HttpOnlyProtocol

        # The access log would print query strings (an api_key, a phone); requests are logged by the handler.
        return wsgi.Server(sock, sock.getsockname(), wsgi_app, protocol=protocol or HttpOnlyProtocol,
                           debug=False, log=logging.getLogger("nameko.web.server"), log_output=False)

    @property
    def max_body_bytes(self) -> int:
        return self.container.config["DOORSTEP"].http_max_body_bytes


class _ProblemWsgiApp:
    def __init__(self, server: ProblemWebServer):
        self.server = server
        self.url_map = server.make_url_map()

    def __call__(self, environ, start_response):
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # eventlet decodes a chunked body but does not say so, and werkzeug would read it as empty; said so,
            # werkzeug reads whatever comes. Limited here, reading past the limit raises 413.
            environ["wsgi.input"] = _CappedInput(environ["wsgi.input"], self.server.max_body_bytes)
            environ["wsgi.input_terminated"] = True
        request = Request(environ, shallow=True)
        try:
            length = request.content_length
            if length is not None and length > self.server.max_body_bytes:
                raise RequestEntityTooLarge()
            provider, values = self.url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except NotFound:
            response = problem_response(Problem(404, "Not found", f"no endpoint at {request.path}"))
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            response = problem_response(Problem(405, "Method not allowed", f"{request.path} answers {allowed}",
                                                headers={"Allow": allowed}))
        except RequestEntityTooLarge:
            response = problem_response(_too_large(self.server.max_body_bytes))
            # The body was not read: close the connection rather than read it to reach the next request.
            response.headers["Connection"] = "close"
        except HTTPException as exc:
            response = problem_response(Problem(exc.code or 400, exc.name, exc.description or ""))
        return response(environ, start_response)


class _CappedInput(io.RawIOBase):
    """A request body that raises 413 as soon as more than ``limit`` bytes have come."""

    def __init__(self, stream, limit: int):
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise RequestEntityTooLarge()
        self._left -= len(data)
        buffer[:len(data)] = data
        return len(data)


def _too_large(limit: int) -> Problem:
    return Problem(413, "Payload too large", f"the body is larger than {limit} bytes", field="(body)")


# -- the entrypoint ---------------------------------------------------------------------------------------

class ApiHandler(HttpRequestHandler):
    """An HTTP entrypoint with typed input and problem+json errors (see the module's docstring).

    With ``commit_group=True`` the requests being handled at the same moment share one transaction (their units
    of work join a commit group, as event consumers' do; see :mod:`shared.commit_groups`): for a busy write
    endpoint whose work is a few inserts. If another member of the group fails, the request is handled again on
    its own, so every request is answered for its own work only.
    """

    server = ProblemWebServer()
    tokens = Tokens()

    def __init__(self, method, url, roles: tuple[str, ...] | None = None, *, body: type[BaseModel] | None = None,
                 form: bool = False, query: type[BaseModel] | None = None, path: type[BaseModel] | None = None,
                 answers: dict[int, Any] | None = None,
                 problems: tuple[int, ...] = (), summary: str = "", tags: tuple[str, ...] = (),
                 commit_group: bool = False, **kwargs):
        self.roles = roles
        self.body_model, self.form, self.query_model, self.path_model = body, form, query, path
        # An endpoint not yet typed documents its answer as some JSON value.
        self.answers = answers if answers is not None else {200: Content("application/json", {})}
        self.problems, self.summary, self.tags = problems, summary, tags
        self.group_membership = GroupMembership(takes_part=commit_group)  # a request is known by its object
        super().__init__(method, url, expected_exceptions=(Problem, DomainError, GroupAborted), **kwargs)

    def setup(self):
        super().setup()
        self.check_answers = self.container.config["DOORSTEP"].check_answers

    @cached_property
    def _answer_checks(self) -> dict[int, TypeAdapter]:
        return {status: TypeAdapter(model) for status, model in self.answers.items()
                if model is not None and not isinstance(model, Content)}

    def handle_request(self, request):
        """Authenticate, parse, run a worker, answer; a request whose commit group was rolled back is run once
        more.

        A grouped request shares its transaction with requests it has nothing to do with. When one of them
        fails, the group rolls back and this request's ``commit()`` raises :class:`GroupAborted`: its work is
        undone, and not by its own fault. Rather than answer 503 and leave the retry to the client, the request
        is handled again here, before anything is sent, marked to run alone: the answer is then for its own work
        only, and alone it cannot be aborted by a neighbour a second time. nameko's ``handle_request`` turns the
        worker's exception into a response, so :meth:`handle_result`, which still sees the exception, flags the
        request for this.
        """
        started = time.perf_counter()
        request.shallow = False  # the server reads nothing before routing; from here the body may be read
        cid = correlation_id(request)
        try:
            if self.roles is not None:
                request.principal = self.tokens.authenticate(request, self.roles)
            request.typed = self._parse(request)
            response = super().handle_request(request)
            if getattr(request, "group_aborted", False):  # not this request's failure: once more, alone
                request.group_aborted = False
                with self.group_membership.alone(request):
                    response = super().handle_request(request)
        except Problem as problem:
            response = problem_response(problem, cid)
        except RequestEntityTooLarge:  # a body sent without its length, read past the limit
            response = problem_response(_too_large(self.container.config["DOORSTEP"].http_max_body_bytes), cid)
        response.headers.setdefault("X-Request-ID", cid)
        elapsed = time.perf_counter() - started
        self._log(request, response, elapsed)
        service = self.container.service_name
        metrics.HTTP_REQUESTS.labels(service, self.method, self.url, str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(service, self.method, self.url).observe(elapsed)
        return response

    def _log(self, request, response, elapsed: float) -> None:
        status = response.status_code
        field = getattr(response, "problem_field", None)
        if status >= 500:
            return  # logged with its traceback where it happened
        level = logging.INFO if status < 400 else logging.WARNING
        log.log(level, "%s %s %d %.1fms%s request_id=%s", self.method, self.url, status, elapsed * 1000,
                f" field={field}" if field else "", request.correlation_id)

    # -- typed input --------------------------------------------------------------------------------------

    def _parse(self, request) -> dict:
        typed = {}
        if self.path_model is not None:  # the path's segments, typed, in place of the raw strings
            try:
                typed["path"] = self.path_model.model_validate(request.path_values)
            except ValidationError as exc:
                raise validation_problem(exc) from None
        if self.query_model is not None:
            typed["query"] = parse_query(self.query_model, request.args)
        if self.body_model is not None:
            raw = read_form(request) if self.form else read_json(request)
            try:
                typed["body"] = self.body_model.model_validate(raw)
            except ValidationError as exc:
                raise validation_problem(exc) from None
        return typed

    def get_entrypoint_parameters(self, request):
        args, kwargs = super().get_entrypoint_parameters(request)
        if self.path_model is not None:
            kwargs = {}
        return args, {**kwargs, **request.typed}

    # -- answers ------------------------------------------------------------------------------------------

    def handle_result(self, event, worker_ctx, result, exc_info):
        """Flag a request whose commit group was rolled back, for :meth:`handle_request` to run it again."""
        if exc_info is not None and isinstance(exc_info[1], GroupAborted):
            worker_ctx.args[0].group_aborted = True
        return super().handle_result(event, worker_ctx, result, exc_info)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, body = result if isinstance(result, tuple) else (200, result)
        body = _plain(body)
        if self.check_answers and status in self._answer_checks:
            try:
                self._answer_checks[status].validate_python(body)
            except ValidationError as exc:
                raise AnswerMismatch(f"{self.method} {self.url} answered {status} off its model: {exc}") from None
        return json_response(body, status)

    def response_from_exception(self, exc):
        if isinstance(exc, GroupAborted):  # never sent: handle_request runs the request again, alone
            return problem_response(Problem(503, "Try again", "the request's transaction was rolled back"))
        if isinstance(exc, Problem):
            problem = exc
        elif isinstance(exc, InvalidInput):
            problem = bad_input(exc.field, exc.reason)
        elif isinstance(exc, DomainError):
            problem = Problem(exc.status, exc.title, str(exc))
        elif isinstance(exc, RequestEntityTooLarge):
            problem = _too_large(self.container.config["DOORSTEP"].http_max_body_bytes)
        elif isinstance(exc, HTTPException) and (exc.code or 500) < 500:  # werkzeug's own 4xx
            problem = Problem(exc.code or 400, exc.name, exc.description or "")
        else:
            cid = uuid.uuid4().hex
            log.error("%s %s failed (correlation id %s)", self.method, self.url, cid, exc_info=exc)
            return problem_response(Problem(500, "Internal error", "the error was logged; quote the "
                                            "correlation id when reporting it"), cid)
        return problem_response(problem)


class AnswerMismatch(Exception):
    """An endpoint answered something its documented model does not allow (a bug, raised only in checks)."""


class Content:
    """A documented non-JSON answer (``Content("text/html")``)."""

    def __init__(self, media_type: str, schema: dict | None = None, description: str = ""):
        self.media_type, self.schema, self.description = media_type, schema or {"type": "string"}, description


def _plain(value):
    """Models (and lists of them) as JSON-ready data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return [item.model_dump(mode="json") for item in value]
    return value


def read_json(request) -> Any:
    """The request's JSON value, or a problem saying what is wrong with it (415, 413, 400)."""
    if request.mimetype != "application/json":
        raise Problem(415, "Unsupported media type", "send the body as application/json", field="Content-Type")
    try:
        text = request.get_data(as_text=False).decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "Malformed JSON", "the body is not UTF-8 text", field="(body)") from None
    try:
        return json.loads(text or "null")
    except ValueError as exc:
        raise Problem(400, "Malformed JSON", f"the body is not valid JSON: {exc}", field="(body)") from None


def json_body(request) -> dict:
    """The request's JSON object (for endpoints that do not declare a body model yet)."""
    body = read_json(request)
    if not isinstance(body, dict):
        raise Problem(400, "Invalid request", "the body must be a JSON object", field="(body)")
    return body


def read_form(request) -> dict:
    """A form body (``application/x-www-form-urlencoded`` or multipart) as a dict of its fields."""
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise Problem(415, "Unsupported media type", "send the body as application/x-www-form-urlencoded",
                      field="Content-Type")
    return _multi(request.form)


def parse_query(model: type[BaseModel], args) -> BaseModel:
    try:
        return model.model_validate(_multi(args, {n for n, f in model.model_fields.items() if _is_list(f)}))
    except ValidationError as exc:
        raise validation_problem(exc) from None


def _multi(values, lists: set[str] = frozenset()) -> dict:
    """A werkzeug MultiDict as a dict: a field given twice is a list only where the model expects a list."""
    out = {}
    for key in values.keys():
        many = values.getlist(key)
        out[key] = many if key in lists or len(many) > 1 else many[0]
    return out


def _is_list(field) -> bool:
    annotation = field.annotation
    candidates = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return any(get_origin(c) in (list, tuple, set) for c in candidates)


api = ApiHandler.decorator
logging.getLogger("nameko.containers").addFilter(_WorkerErrorsLoggedHere())
