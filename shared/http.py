"""HTTP entrypoints: JSON in and out, problem+json (RFC 9457) errors, bearer-token roles, RED metrics.

``@api("POST", "/intake/cases", roles=("counter",))`` is nameko's ``@http`` plus:

* authentication before any worker runs — 401 without a valid token, 403 for a role not admitted;
* a handler returns a dict or list (200), or ``(status, body)``; bodies are JSON;
* :class:`Problem` raised anywhere becomes its 4xx response; anything unexpected becomes a 500 problem
  (logged), never an HTML error page;
* request count and latency per route template (not per URL, so ids never become labels).
"""
from __future__ import annotations

import json
import logging
import time

from nameko.extensions import SharedExtension
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared import metrics
from shared.auth import Principal, TokenFile
from shared.commit_groups import GroupAborted, GroupMembership
from shared.errors import DomainError, InvalidInput

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An HTTP problem the client can fix; ``field`` names the offending input."""

    def __init__(self, status: int, title: str, detail: str = "", *, field: str | None = None, **extra):
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.field, self.extra = status, title, detail, field, extra

    def to_dict(self) -> dict:
        body = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if self.field:
            body["invalid_params"] = [{"name": self.field, "reason": self.detail or self.title}]
        body.update(self.extra)
        return body


def bad_input(field: str, reason: str) -> Problem:
    return Problem(400, "Invalid request", f"{field}: {reason}", field=field)


def json_response(body, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, content_type=content_type)


def problem_response(problem: Problem) -> Response:
    return json_response(problem.to_dict(), problem.status, PROBLEM_JSON)


def json_body(request) -> dict:
    """The request's JSON object, or a 400 problem saying what is wrong with it."""
    if not request.mimetype or request.mimetype != "application/json":
        raise Problem(415, "Unsupported media type", "send the body as application/json", field="Content-Type")
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise Problem(400, "Malformed JSON", f"the body is not valid JSON: {exc}", field="(body)") from None
    if not isinstance(body, dict):
        raise Problem(400, "Invalid request", "the body must be a JSON object", field="(body)")
    return body


class Tokens(SharedExtension):
    def setup(self):
        self.file = TokenFile(self.container.config["DOORSTEP"].tokens_file)

    def authenticate(self, request, roles) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'",
                          field="Authorization")
        principal = self.file.authenticate(token.strip())
        if principal is None:
            raise Problem(401, "Unauthorized", "the bearer token is not known", field="Authorization")
        if principal.role != "admin" and principal.role not in roles:
            raise Problem(403, "Forbidden", f"role {principal.role!r} may not do this; needs one of {list(roles)}")
        return principal


class ApiHandler(HttpRequestHandler):
    """An HTTP entrypoint answering problem+json.

    With ``commit_group=True`` the requests being handled at the same moment share one transaction (their units
    of work join a commit group, as event consumers' do; see :mod:`shared.commit_groups`): for a busy write
    endpoint whose work is a few inserts. If another member of the group fails, the request is handled again on
    its own, so every request is answered for its own work only.
    """

    tokens = Tokens()

    def __init__(self, method, url, roles: tuple[str, ...] | None = None, commit_group: bool = False, **kwargs):
        self.roles = roles
        self.group_membership = GroupMembership(takes_part=commit_group)  # a request is known by its object
        super().__init__(method, url, expected_exceptions=(Problem, DomainError, GroupAborted), **kwargs)

    def handle_request(self, request):
        """Authenticate, run a worker, answer; a request whose commit group was rolled back is run once more.

        A grouped request shares its transaction with requests it has nothing to do with. When one of them
        fails, the group rolls back and this request's ``commit()`` raises :class:`GroupAborted`: its work is
        undone, and not by its own fault. Rather than answer 503 and leave the retry to the client, the request
        is handled again here, before anything is sent, marked to run alone: the answer is then for its own work
        only, and alone it cannot be aborted by a neighbour a second time. nameko's ``handle_request`` turns the
        worker's exception into a response, so :meth:`handle_result`, which still sees the exception, flags the
        request for this.
        """
        started = time.perf_counter()
        try:
            if self.roles is not None:
                request.principal = self.tokens.authenticate(request, self.roles)
            response = super().handle_request(request)
            if getattr(request, "group_aborted", False):  # not this request's failure: once more, alone
                request.group_aborted = False
                with self.group_membership.alone(request):
                    response = super().handle_request(request)
        except Problem as problem:
            response = problem_response(problem)
        service = self.container.service_name
        metrics.HTTP_REQUESTS.labels(service, self.method, self.url, str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(service, self.method, self.url).observe(time.perf_counter() - started)
        return response

    def handle_result(self, event, worker_ctx, result, exc_info):
        """Flag a request whose commit group was rolled back, for :meth:`handle_request` to run it again."""
        if exc_info is not None and isinstance(exc_info[1], GroupAborted):
            worker_ctx.args[0].group_aborted = True
        return super().handle_result(event, worker_ctx, result, exc_info)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        status, body = result if isinstance(result, tuple) else (200, result)
        return json_response(body, status)

    def response_from_exception(self, exc):
        if isinstance(exc, GroupAborted):  # never sent: handle_request runs the request again, alone
            return problem_response(Problem(503, "Try again", "the request's transaction was rolled back"))
        if isinstance(exc, Problem):
            return problem_response(exc)
        if isinstance(exc, InvalidInput):
            return problem_response(bad_input(exc.field, exc.reason))
        if isinstance(exc, DomainError):
            return problem_response(Problem(exc.status, exc.title, str(exc)))
        if isinstance(exc, HTTPException):  # werkzeug's own 4xx, e.g. a body it cannot read
            return problem_response(Problem(exc.code or 400, exc.name, exc.description or ""))
        log.error("unhandled error in %s %s", self.method, self.url, exc_info=exc)
        return problem_response(Problem(500, "Internal error", "the error was logged"))


api = ApiHandler.decorator
