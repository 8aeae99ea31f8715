"""Intake's nameko service: thin entrypoints over the use cases in :mod:`services.intake.handlers`.

Each entrypoint declares its body, query and answers with the models of :mod:`services.intake.models`; the
HTTP layer parses them before the worker runs, and the OpenAPI document at ``/intake/openapi.json`` is made
from these declarations.
"""
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from pydantic import ValidationError
from werkzeug.routing import PathConverter, Rule

from shared import openapi
from shared.auth import ROLES
from shared.consumer import consume
from shared.db import utcnow
from shared.errors import NotFound
from shared.http import (PROBLEM_JSON, ApiHandler, Content, Problem, Tokens, api, json_response, read_form,
                         read_json)
from shared.problems import validation_problem
from shared.service import DeploymentSettings, DoorstepService, SettingsTimer, UnitOfWorkProvider
from services.intake import metrics, models, open311
from services.intake.appointments import find_station, street_stations
from services.intake.catalog import street_catalog
from services.intake.domain import EraseResident
from services.intake.handlers import appointments, cases, reads, residents, retention, visits
from services.intake.persistence import IntakeUnitOfWork

WORKERS = ("counter",)


def _worker(request) -> str:
    principal = request.principal
    return principal.label or principal.token_id


# -- Open311 GeoReport v2 (see README-open311.md): the api_key, form or JSON bodies, GeoReport error lists ------

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
GEOREPORT_ERRORS = {"type": "array", "minItems": 1, "items": models.GeoReportError.model_json_schema()}
GEOREPORT_REASONS = {400: "a parameter is wrong: each entry names one as it was sent",
                     500: "an unexpected error; the description carries a correlation id"}


def _body_parameters(request) -> dict:
    """A POST's form or JSON object (a 415 or 400 problem when it is neither)."""
    if request.mimetype == "application/json":
        body = read_json(request)
        return body if isinstance(body, dict) else {}
    if request.mimetype in _FORMS or request.get_data():
        return read_form(request)
    return {}


class ApiKeys(Tokens):
    """GeoReport authenticates a POST with its ``api_key`` form field: one of the tokens. Without one, the
    ``Authorization`` header counts, as at every other endpoint. Never in the URL: a query string ends up in
    proxies' logs and browsers' histories, so a key sent there is refused. Throttling and counting of failures
    are the bearer tokens' (:class:`shared.http.Tokens`)."""

    def credential(self, request) -> str:
        if "api_key" in request.args:
            raise Problem(400, "Invalid request", "api_key: 不能放在网址中 / send it in the form body or the "
                          "Authorization header, never in the URL", field="api_key")
        value = _body_parameters(request).get("api_key") if request.method == "POST" else None
        given = value if isinstance(value, list) else [value]
        keys = {key.strip() for key in given if isinstance(key, str) and key.strip()}
        if len(keys) > 1:
            raise Problem(400, "Invalid request", "api_key: is given more than once with different values",
                          field="api_key")
        if keys:
            return keys.pop()
        if request.headers.get("Authorization"):
            return super().credential(request)
        raise Problem(401, "Unauthorized", "api_key is required", field="api_key")

    def refused(self, detail: str, field: str = "api_key") -> Problem:
        return Problem(401, "Unauthorized", detail, field=field)


class _AnyRest(PathConverter):
    """What follows GeoReport's prefix, whatever it is: werkzeug's ``path`` stops at a line break or a leading
    slash, and such a path would miss the GeoReport 404."""

    regex = "(?s:.*?)"
    part_isolating = False  # it takes the slashes too


class _GeoReportRule(Rule):
    def get_converter(self, variable_name, converter_name, args, kwargs):
        if converter_name == "path":
            return _AnyRest(self.map, *args, **kwargs)
        return super().get_converter(variable_name, converter_name, args, kwargs)


class Open311Handler(ApiHandler):
    """``api`` with GeoReport's ways: every problem+json answer becomes ``[{code, description}]`` (and is so
    documented), and a POST body may be a form (as the spec says) or a JSON object of the same keys."""

    tokens = ApiKeys()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answers = dict(self.answers)
        for status, answer in openapi.statuses(self).items():
            # 413 stays a problem: a body announced too large is refused before any endpoint sees it.
            if answer is None and status != 413:
                reason = GEOREPORT_REASONS.get(status) or openapi.REASONS.get(status, "error")
                self.answers[status] = Content("application/json", GEOREPORT_ERRORS, f"{reason} (GeoReport errors)")

    def get_url_rule(self):
        return _GeoReportRule(self.url, methods=self.method.split(","))

    def handle_request(self, request):
        response = super().handle_request(request)
        if response.mimetype == PROBLEM_JSON and response.status_code != 413:
            problem = response.get_json()
            response = json_response(open311.errors_from_problem(problem), response.status_code,
                                     headers={k: v for k, v in response.headers.items()
                                              if k in ("WWW-Authenticate", "X-Request-ID")})
        return response

    def _parse(self, request) -> dict:
        if self.body_model is not None and request.mimetype == "application/json":
            try:
                return {"body": self.body_model.model_validate(read_json(request))}
            except ValidationError as exc:
                raise validation_problem(exc) from None
        return super()._parse(request)


open311_api = Open311Handler.decorator


class StreetData(DependencyProvider):
    """The street's matter catalog and stations, loaded and checked once at start-up: a bad file stops the
    service with the file, the entry and the reason."""

    def setup(self):
        settings = self.container.config["DOORSTEP"]
        self.catalog = street_catalog(settings)
        self.stations = street_stations(settings)
        # Intake's own series, for every status and the catalog's categories and channels, from start-up.
        metrics.prime(self.catalog)

    def get_dependency(self, worker_ctx):
        return self


CASE = "/intake/cases/<uuid:case_id>"
APPOINTMENT = "/intake/appointments/<uuid:appointment_id>"


class IntakeService(DoorstepService):
    name = "intake"
    title = "Doorstep intake (全岗通)"
    description = ("One-window intake of a doorstep service station: the matter catalog, cases and their "
                   "lifecycle, visits, appointments, and an Open311 GeoReport v2 front door. Errors are "
                   "application/problem+json naming the field (GeoReport error lists under /open311/v2).")
    uow = UnitOfWorkProvider(IntakeUnitOfWork)
    street = StreetData()
    settings = DeploymentSettings()

    # -- the catalog ---------------------------------------------------------------------------------------

    @api("GET", "/intake/catalog", answers={200: models.CatalogView}, summary="The matter catalog (事项目录)",
         tags=("catalog",))
    def list_matters(self, request):
        return reads.catalog_view(self.street.catalog)

    @api("GET", "/intake/catalog/<string:code>", answers={200: models.MatterView},
         summary="One matter with its materials and form", tags=("catalog",))
    def get_matter(self, request, code):
        return reads.matter_view(self.street.catalog, code)

    # -- cases ---------------------------------------------------------------------------------------------

    # The busiest write: submissions arriving together share one transaction (a few inserts each).
    @api("POST", "/intake/cases", roles=WORKERS, body=models.SubmitCaseBody, answers={201: models.CaseSubmitted},
         summary="Submit a resident's matter (a counter case is accepted at once, 一口受理)", tags=("cases",),
         commit_group=True)
    def submit_case(self, request, body: models.SubmitCaseBody):
        return 201, cases.submit_case(body.command(entered_by=request.principal.role), self.uow, self.street.catalog)

    @api("GET", "/intake/cases", roles=ROLES, query=models.CaseSearch, answers={200: models.CasePage},
         summary="Search and filter cases, newest first, by page", tags=("cases",))
    def search_cases(self, request, query: models.CaseSearch):
        return reads.search_cases(query.filter(), self.uow)

    @api("GET", CASE, roles=ROLES, answers={200: models.CaseView}, summary="A case with its full history",
         tags=("cases",))
    def get_case(self, request, case_id):
        return reads.get_case(str(case_id), self.uow)

    @api("POST", f"{CASE}/accept", roles=WORKERS, answers={200: models.CaseView}, problems=(409,),
         summary="Accept the case (受理)", tags=("cases",))
    def accept_case(self, request, case_id):
        return cases.accept_case(str(case_id), self.uow, self.street.catalog)

    @api("POST", f"{CASE}/reject", roles=WORKERS, body=models.RejectBody, answers={200: models.CaseView},
         problems=(409,), summary="Do not accept the case (不予受理); the reason is required", tags=("cases",))
    def reject_case(self, request, case_id, body: models.RejectBody):
        return cases.reject_case(body.command(str(case_id)), self.uow)

    @api("POST", f"{CASE}/supplement-request", roles=WORKERS, body=models.SupplementBody,
         answers={200: models.CaseView}, problems=(409,), summary="Ask for missing materials (补正)",
         tags=("cases",))
    def request_supplement(self, request, case_id, body: models.SupplementBody):
        return cases.request_supplement(body.command(str(case_id)), self.uow)

    @api("POST", f"{CASE}/resubmit", roles=WORKERS, body=models.ResubmitBody, answers={200: models.CaseView},
         problems=(409,), summary="The resident supplied what was missing", tags=("cases",))
    def resubmit_case(self, request, case_id, body: models.ResubmitBody):
        return cases.resubmit_case(body.command(str(case_id)), self.uow)

    @api("POST", f"{CASE}/settle", roles=WORKERS, body=models.SettleBody, answers={200: models.CaseView},
         problems=(409,), summary="Settle a station matter on the spot (当场办结)", tags=("cases",))
    def settle_case(self, request, case_id, body: models.SettleBody):
        return cases.settle_case(body.command(str(case_id)), self.uow)

    @api("POST", f"{CASE}/callback", roles=WORKERS, body=models.CallbackBody, answers={200: models.CaseView},
         problems=(409,), summary="Record the resident's rating at callback (回访)", tags=("cases",))
    def record_callback(self, request, case_id, body: models.CallbackBody):
        return cases.record_callback(body.command(str(case_id)), self.uow)

    @api("POST", f"{CASE}/close", roles=WORKERS, answers={200: models.CaseView}, problems=(409,),
         summary="Close the case (结案)", tags=("cases",))
    def close_case(self, request, case_id):
        return cases.close_case(str(case_id), self.uow)

    # -- residents -----------------------------------------------------------------------------------------

    @api("POST", "/intake/residents/<uuid:resident_id>/erase", roles=("admin",),
         answers={200: models.ResidentErased}, problems=(404, 409),
         summary="Erase a resident's personal data on request (PIPL 删除权): the record is pseudonymised and the "
                 "free text of their cases redacted; resident.erased tells the other services. Refused (409) "
                 "while a case of theirs is open or a booking to come", tags=("residents",))
    def erase_resident(self, request, resident_id):
        return residents.erase_resident(EraseResident(str(resident_id)), self.uow, self.street.catalog)

    # -- Open311 GeoReport v2 ------------------------------------------------------------------------------

    @open311_api("GET", open311.ROUTES["services"], query=models.GeoReportQuery,
                 answers={200: list[models.GeoReportService]}, summary="GeoReport: the services (online matters)",
                 tags=("open311",))
    def open311_services(self, request, query: models.GeoReportQuery):
        open311.check_jurisdiction(query.jurisdiction_id, self.uow.street)
        return open311.services_view(self.street.catalog)

    @open311_api("GET", open311.ROUTES["service_definition"], query=models.GeoReportQuery,
                 answers={200: models.GeoReportDefinition}, summary="GeoReport: a service's attributes",
                 tags=("open311",))
    def open311_service_definition(self, request, service_code, query: models.GeoReportQuery):
        open311.check_jurisdiction(query.jurisdiction_id, self.uow.street)
        return open311.definition_view(self.street.catalog, service_code)

    @open311_api("POST", open311.ROUTES["post_request"], roles=WORKERS, body=models.GeoReportRequest, form=True,
                 answers={201: list[models.GeoReportReceipt]}, problems=(404,),
                 summary="GeoReport: submit a request (it becomes an online case)", tags=("open311",))
    def open311_post_request(self, request, body: models.GeoReportRequest):
        open311.check_jurisdiction(body.jurisdiction_id, self.uow.street)
        catalog = self.street.catalog
        created = cases.submit_case(open311.submit_command(body, catalog, request.principal.role), self.uow, catalog)
        return 201, open311.submitted_view(catalog, reads.get_case(created["id"], self.uow))

    @open311_api("GET", open311.ROUTES["get_requests"], query=models.GeoReportRequestsQuery,
                 answers={200: list[models.GeoReportServiceRequest]},
                 summary="GeoReport: requests, newest first (public: no personal data)", tags=("open311",))
    def open311_get_requests(self, request, query: models.GeoReportRequestsQuery):
        open311.check_jurisdiction(query.jurisdiction_id, self.uow.street)
        catalog = self.street.catalog
        rows = reads.find_cases(open311.request_query(query, utcnow()), self.uow)
        return [open311.request_view(catalog, row) for row in rows]

    @open311_api("GET", open311.ROUTES["get_request"], query=models.GeoReportQuery,
                 answers={200: list[models.GeoReportServiceRequest]},
                 summary="GeoReport: one request (public: no personal data)", tags=("open311",))
    def open311_get_request(self, request, service_request_id, query: models.GeoReportQuery):
        open311.check_jurisdiction(query.jurisdiction_id, self.uow.street)
        rows = reads.find_cases({"ids": [str(service_request_id)], "limit": 1}, self.uow)
        if not rows:
            raise NotFound(f"service_request_id {str(service_request_id)!r} not found")
        return [open311.request_view(self.street.catalog, rows[0])]

    @open311_api("GET,POST", open311.ROUTES["unknown"], answers={},
                 summary="GeoReport: any other resource (404 in the GeoReport error format)", tags=("open311",))
    def open311_unknown(self, request, rest):
        raise NotFound(f"no resource {rest!r} for {request.method}; this endpoint serves the GeoReport v2 "
                       "resources in JSON (.json)")

    # -- visits and video sessions -------------------------------------------------------------------------

    @api("POST", "/intake/visits", roles=WORKERS, body=models.VisitBody, answers={201: models.VisitRecorded},
         problems=(404, 409), summary="Record a resident's in-person visit for one or more cases (一口受理)",
         tags=("visits",))
    def record_visit(self, request, body: models.VisitBody):
        return 201, visits.record_visit(body.command(_worker(request)), self.uow)

    @api("GET", "/intake/metrics/visits", roles=ROLES, answers={200: models.VisitMetrics},
         summary="Visits per done case and the share done in one visit (只跑一次)", tags=("visits",))
    def visit_metrics(self, request):
        return visits.visit_metrics(self.uow)

    @api("POST", f"{CASE}/video-sessions", roles=WORKERS, body=models.VideoBody, answers={201: models.VideoStarted},
         problems=(409,), summary="Start a video consultation (可视化咨询) or remote assistance (远程协助)",
         tags=("video",))
    def start_video(self, request, case_id, body: models.VideoBody):
        return 201, visits.start_video(body.command(str(case_id), _worker(request)), self.uow)

    @api("POST", "/intake/video-sessions/<uuid:session_id>/end", roles=WORKERS, answers={200: models.VideoEnded},
         problems=(409,), summary="End a video session", tags=("video",))
    def end_video(self, request, session_id):
        return visits.end_video(str(session_id), self.uow)

    # -- appointments --------------------------------------------------------------------------------------

    @api("GET", "/intake/stations/<string:station>/slots", query=models.SlotsQuery,
         answers={200: models.StationDay}, summary="A station's slots on a day, with free places",
         tags=("appointments",))
    def list_slots(self, request, station, query: models.SlotsQuery):
        return appointments.list_slots(find_station(self.street.stations, station), query.date, self.uow)

    @api("POST", "/intake/appointments", roles=WORKERS, body=models.BookBody, answers={201: models.Booked},
         problems=(404, 409), summary="Book a slot (网上预约)", tags=("appointments",))
    def book_appointment(self, request, body: models.BookBody):
        station = find_station(self.street.stations, body.station)
        return 201, appointments.book_appointment(body.command(), station, self.uow, self.street.catalog)

    @api("POST", f"{APPOINTMENT}/cancel", roles=WORKERS, body=models.CancelBody,
         answers={200: models.AppointmentChanged}, problems=(409,), summary="Cancel a booking",
         tags=("appointments",))
    def cancel_appointment(self, request, appointment_id, body: models.CancelBody):
        return appointments.cancel_appointment(body.command(str(appointment_id)), self.uow)

    @api("POST", f"{APPOINTMENT}/no-show", roles=WORKERS, answers={200: models.AppointmentChanged},
         problems=(409,), summary="The resident did not come", tags=("appointments",))
    def no_show(self, request, appointment_id):
        return appointments.record_no_show(str(appointment_id), self.uow)

    @timer(interval=60)
    def remind_appointments(self):
        appointments.send_reminders(self.uow, self.street.stations, self.street.catalog)

    # Every replica runs it; each takes rows the others do not hold (SKIP LOCKED).
    @SettingsTimer.decorator(interval_from=lambda settings: settings.retention_timer_s)
    def apply_retention(self):
        retention.apply_retention(lambda: self.uow, self.settings, self.street.catalog)

    # Cases by status, counted from the database; every replica counts the same rows.
    @SettingsTimer.decorator(interval_from=lambda settings: settings.metrics_refresh_s, eager=True)
    def refresh_metrics(self):
        reads.refresh_case_gauges(self.uow)

    # -- following routing ---------------------------------------------------------------------------------

    @consume("routing", "case.routed.v1", batch=True)
    def on_case_routed(self, events):
        cases.record_routing(events, self.uow)

    @consume("routing", "assignment.signed.v1", batch=True)
    def on_assignment_signed(self, events):
        cases.record_signed(events, self.uow)

    @consume("routing", "case.resolved.v1", batch=True)
    def on_case_resolved(self, events):
        cases.record_resolution(events, self.uow)
