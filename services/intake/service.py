"""Intake's nameko service: thin entrypoints over the use cases in :mod:`services.intake.handlers`.

Paths, roles and request schemas come from :data:`services.intake.api.API`, which is also the OpenAPI document.
"""
import json
from datetime import date

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from shared.consumer import consume
from shared.db import utcnow
from shared.errors import InvalidInput, NotFound
from shared.http import PROBLEM_JSON, ApiHandler, Problem, Tokens, api, bad_input, json_body, json_response
from shared.service import DoorstepService, SettingsTimer, UnitOfWorkProvider
from services.intake import domain, metrics, open311
from services.intake.api import API, WORKERS
from services.intake.appointments import find_station, street_stations
from services.intake.catalog import street_catalog
from services.intake.handlers import appointments, cases, reads, visits
from services.intake.persistence import IntakeUnitOfWork

def _body(request, operation_id: str) -> dict:
    """The JSON body checked against the operation's schema; an action without fields may send none."""
    if not request.get_data() and API.operations[operation_id].request.get("required") is None:
        body = {}
    else:
        body = json_body(request)
    API.check(operation_id, body)
    return body


def _worker(request) -> str:
    principal = request.principal
    return principal.label or principal.token_id


# -- Open311 GeoReport v2 (see README-open311.md): GeoReport parameters and error lists ------------------------

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _open311_params(request) -> dict:
    """The query and, for a POST, the form or JSON body as GeoReport parameters (read once per request)."""
    params = request.environ.get("doorstep.open311")
    if params is None:
        request.shallow = False  # the api_key is read from the body before the worker starts, as nameko would
        params = open311.params_from_pairs(request.args.items(multi=True))
        if request.method == "POST":
            if request.mimetype == "application/json":
                try:
                    body = json.loads(request.get_data(as_text=True) or "null")
                except ValueError:
                    raise Problem(400, "Malformed JSON", "the body is not valid JSON", field="(body)") from None
                try:
                    extra = open311.params_from_json(body)
                except InvalidInput as exc:
                    raise bad_input(exc.field, exc.reason) from None
            elif request.mimetype in _FORMS or not request.get_data():
                extra = open311.params_from_pairs(request.form.items(multi=True))
            else:
                raise Problem(415, "Unsupported media type",
                              "send application/x-www-form-urlencoded (or application/json)", field="Content-Type")
            for key, values in extra.items():
                params.setdefault(key, []).extend(values)
        request.environ["doorstep.open311"] = params
    return params


class ApiKeys(Tokens):
    """GeoReport authenticates a POST with its ``api_key`` parameter: one of the bearer tokens."""

    def authenticate(self, request, roles):
        try:
            key = open311.api_key(_open311_params(request))
        except InvalidInput as exc:
            raise bad_input(exc.field, exc.reason) from None
        if not key:
            raise Problem(401, "Unauthorized", "api_key is required", field="api_key")
        principal = self.file.authenticate(key)
        if principal is None:
            raise Problem(401, "Unauthorized", "api_key is not known", field="api_key")
        if principal.role != "admin" and principal.role not in roles:
            raise Problem(403, "Forbidden", f"api_key of role {principal.role!r} may not submit requests",
                          field="api_key")
        return principal


class Open311Handler(ApiHandler):
    """``api`` with the GeoReport error format: every problem+json answer becomes ``[{code, description}]``."""
    tokens = ApiKeys()

    def handle_request(self, request):
        response = super().handle_request(request)
        if response.mimetype == PROBLEM_JSON:
            problem = json.loads(response.get_data(as_text=True))
            response = json_response(open311.errors_from_problem(problem), response.status_code)
        return response


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


class IntakeService(DoorstepService):
    name = "intake"
    uow = UnitOfWorkProvider(IntakeUnitOfWork)
    street = StreetData()

    # -- the catalog ---------------------------------------------------------------------------------------

    @api("GET", API.route("list_matters"))
    def list_matters(self, request):
        return reads.catalog_view(self.street.catalog)

    @api("GET", API.route("get_matter"))
    def get_matter(self, request, code):
        return reads.matter_view(self.street.catalog, code)

    # -- cases ---------------------------------------------------------------------------------------------

    # The busiest write: submissions arriving together share one transaction (a few inserts each).
    @api("POST", API.route("submit_case"), roles=API.roles("submit_case"), commit_group=True)
    def submit_case(self, request):
        cmd = domain.parse_submit_case(_body(request, "submit_case"), entered_by=request.principal.role)
        return 201, cases.submit_case(cmd, self.uow, self.street.catalog)

    @api("GET", API.route("search_cases"), roles=API.roles("search_cases"))
    def search_cases(self, request):
        return reads.search_cases(domain.parse_case_filter(request.args), self.uow)

    @api("GET", API.route("get_case"), roles=API.roles("get_case"))
    def get_case(self, request, case_id):
        return reads.get_case(case_id, self.uow)

    @api("POST", API.route("accept_case"), roles=API.roles("accept_case"))
    def accept_case(self, request, case_id):
        _body(request, "accept_case")
        return cases.accept_case(case_id, self.uow, self.street.catalog)

    @api("POST", API.route("reject_case"), roles=API.roles("reject_case"))
    def reject_case(self, request, case_id):
        reason = domain.parse_reason(_body(request, "reject_case"))
        return cases.reject_case(case_id, reason, self.uow)

    @api("POST", API.route("request_supplement"), roles=API.roles("request_supplement"))
    def request_supplement(self, request, case_id):
        body = _body(request, "request_supplement")
        return cases.request_supplement(case_id, domain.parse_missing_materials(body), domain.parse_note(body),
                                        self.uow)

    @api("POST", API.route("resubmit_case"), roles=API.roles("resubmit_case"))
    def resubmit_case(self, request, case_id):
        return cases.resubmit_case(case_id, domain.parse_note(_body(request, "resubmit_case")), self.uow)

    @api("POST", API.route("settle_case"), roles=API.roles("settle_case"))
    def settle_case(self, request, case_id):
        return cases.settle_case(case_id, domain.parse_answer(_body(request, "settle_case")), self.uow)

    @api("POST", API.route("record_callback"), roles=API.roles("record_callback"))
    def record_callback(self, request, case_id):
        rating, comment = domain.parse_callback(_body(request, "record_callback"))
        return cases.record_callback(case_id, rating, comment, self.uow)

    @api("POST", API.route("close_case"), roles=API.roles("close_case"))
    def close_case(self, request, case_id):
        _body(request, "close_case")
        return cases.close_case(case_id, self.uow)

    # -- Open311 GeoReport v2 ------------------------------------------------------------------------------

    @open311_api("GET", open311.ROUTES["services"])
    def open311_services(self, request):
        open311.check_jurisdiction(_open311_params(request), self.uow.street)
        return open311.services_view(self.street.catalog)

    @open311_api("GET", open311.ROUTES["service_definition"])
    def open311_service_definition(self, request, service_code):
        open311.check_jurisdiction(_open311_params(request), self.uow.street)
        return open311.definition_view(self.street.catalog, service_code)

    @open311_api("POST", open311.ROUTES["post_request"], roles=WORKERS)
    def open311_post_request(self, request):
        params = _open311_params(request)
        open311.check_jurisdiction(params, self.uow.street)
        catalog = self.street.catalog
        body = open311.submit_body(params, catalog)
        API.check("submit_case", body)
        created = cases.submit_case(domain.parse_submit_case(body, entered_by=request.principal.role), self.uow,
                                    catalog)
        return 201, open311.submitted_view(catalog, reads.get_case(created["id"], self.uow))

    @open311_api("GET", open311.ROUTES["get_requests"])
    def open311_get_requests(self, request):
        params = _open311_params(request)
        open311.check_jurisdiction(params, self.uow.street)
        catalog = self.street.catalog
        rows = reads.find_cases(open311.request_query(params, utcnow()), self.uow)
        return [open311.request_view(catalog, row) for row in rows]

    @open311_api("GET", open311.ROUTES["get_request"])
    def open311_get_request(self, request, service_request_id):
        open311.check_jurisdiction(_open311_params(request), self.uow.street)
        rows = reads.find_cases({"ids": [service_request_id], "limit": 1}, self.uow)
        if not rows:
            raise NotFound(f"service_request_id {service_request_id!r} not found")
        return [open311.request_view(self.street.catalog, rows[0])]

    @open311_api("GET,POST", open311.ROUTES["unknown"])
    def open311_unknown(self, request, rest):
        raise NotFound(f"no resource {rest!r} for {request.method}; this endpoint serves the GeoReport v2 "
                       "resources in JSON (.json)")

    # -- visits and video sessions -------------------------------------------------------------------------

    @api("POST", API.route("record_visit"), roles=API.roles("record_visit"))
    def record_visit(self, request):
        body = _body(request, "record_visit")
        return 201, visits.record_visit(body["station"], body["case_ids"], _worker(request), self.uow)

    @api("GET", API.route("visit_metrics"), roles=API.roles("visit_metrics"))
    def visit_metrics(self, request):
        return visits.visit_metrics(self.uow)

    @api("POST", API.route("start_video"), roles=API.roles("start_video"))
    def start_video(self, request, case_id):
        body = _body(request, "start_video")
        return 201, visits.start_video(case_id, body["kind"], _worker(request), self.uow)

    @api("POST", API.route("end_video"), roles=API.roles("end_video"))
    def end_video(self, request, session_id):
        _body(request, "end_video")
        return visits.end_video(session_id, self.uow)

    # -- appointments --------------------------------------------------------------------------------------

    @api("GET", API.route("list_slots"))
    def list_slots(self, request, station):
        day = request.args.get("date", "")
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            raise InvalidInput("date", "is required: a date like 2026-10-12") from None
        return appointments.list_slots(find_station(self.street.stations, station), parsed, self.uow)

    @api("POST", API.route("book_appointment"), roles=API.roles("book_appointment"))
    def book_appointment(self, request):
        body = _body(request, "book_appointment")
        station = find_station(self.street.stations, body["station"])
        return 201, appointments.book_appointment(station, domain.parse_moment(body, "starts_at"),
                                                  body["matter_code"], domain.parse_resident(body["resident"]),
                                                  self.uow, self.street.catalog)

    @api("POST", API.route("cancel_appointment"), roles=API.roles("cancel_appointment"))
    def cancel_appointment(self, request, appointment_id):
        note = domain.parse_note({"note": _body(request, "cancel_appointment").get("reason")})
        return appointments.cancel_appointment(appointment_id, note, self.uow)

    @api("POST", API.route("no_show"), roles=API.roles("no_show"))
    def no_show(self, request, appointment_id):
        _body(request, "no_show")
        return appointments.record_no_show(appointment_id, self.uow)

    @timer(interval=60)
    def remind_appointments(self):
        appointments.send_reminders(self.uow, self.street.stations, self.street.catalog)

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
