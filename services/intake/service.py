"""Intake's nameko service: thin entrypoints over :mod:`services.intake.handlers`.

Paths, roles and request schemas come from :data:`services.intake.api.API`, which is also the OpenAPI document.
"""
from shared.consumer import consume
from shared.http import api, json_body
from shared.service import DoorstepService, UnitOfWorkProvider
from services.intake import domain, handlers
from services.intake.api import API
from services.intake.catalog import default_catalog
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


class IntakeService(DoorstepService):
    name = "intake"
    uow = UnitOfWorkProvider(IntakeUnitOfWork)

    @api("GET", API.route("openapi"))
    def openapi(self, request):
        return API.document()

    # -- the catalog ---------------------------------------------------------------------------------------

    @api("GET", API.route("list_matters"))
    def list_matters(self, request):
        return handlers.catalog_view(default_catalog())

    @api("GET", API.route("get_matter"))
    def get_matter(self, request, code):
        return handlers.matter_view(default_catalog(), code)

    # -- cases ---------------------------------------------------------------------------------------------

    @api("POST", API.route("submit_case"), roles=API.roles("submit_case"))
    def submit_case(self, request):
        cmd = domain.parse_submit_case(_body(request, "submit_case"), entered_by=request.principal.role)
        return 201, handlers.submit_case(cmd, self.uow, default_catalog())

    @api("GET", API.route("search_cases"), roles=API.roles("search_cases"))
    def search_cases(self, request):
        return handlers.search_cases(domain.parse_case_filter(request.args), self.uow)

    @api("GET", API.route("get_case"), roles=API.roles("get_case"))
    def get_case(self, request, case_id):
        return handlers.get_case(case_id, self.uow)

    @api("POST", API.route("accept_case"), roles=API.roles("accept_case"))
    def accept_case(self, request, case_id):
        _body(request, "accept_case")
        return handlers.accept_case(case_id, self.uow, default_catalog())

    @api("POST", API.route("reject_case"), roles=API.roles("reject_case"))
    def reject_case(self, request, case_id):
        reason = domain.parse_reason(_body(request, "reject_case"))
        return handlers.reject_case(case_id, reason, self.uow)

    @api("POST", API.route("request_supplement"), roles=API.roles("request_supplement"))
    def request_supplement(self, request, case_id):
        body = _body(request, "request_supplement")
        return handlers.request_supplement(case_id, domain.parse_missing_materials(body), domain.parse_note(body),
                                           self.uow)

    @api("POST", API.route("resubmit_case"), roles=API.roles("resubmit_case"))
    def resubmit_case(self, request, case_id):
        return handlers.resubmit_case(case_id, domain.parse_note(_body(request, "resubmit_case")), self.uow)

    @api("POST", API.route("settle_case"), roles=API.roles("settle_case"))
    def settle_case(self, request, case_id):
        return handlers.settle_case(case_id, domain.parse_answer(_body(request, "settle_case")), self.uow)

    @api("POST", API.route("record_callback"), roles=API.roles("record_callback"))
    def record_callback(self, request, case_id):
        rating, comment = domain.parse_callback(_body(request, "record_callback"))
        return handlers.record_callback(case_id, rating, comment, self.uow)

    @api("POST", API.route("close_case"), roles=API.roles("close_case"))
    def close_case(self, request, case_id):
        _body(request, "close_case")
        return handlers.close_case(case_id, self.uow)

    # -- following routing ---------------------------------------------------------------------------------

    @consume("routing", "case.routed.v1")
    def on_case_routed(self, event):
        handlers.record_routing(event, self.uow)

    @consume("routing", "assignment.signed.v1")
    def on_assignment_signed(self, event):
        handlers.record_signed(event, self.uow)

    @consume("routing", "case.resolved.v1")
    def on_case_resolved(self, event):
        handlers.record_resolution(event, self.uow)
