"""Intake's nameko service: thin entrypoints over :mod:`services.intake.handlers`."""
from shared.consumer import consume
from shared.http import api, json_body
from shared.service import DoorstepService, UnitOfWorkProvider
from shared.auth import ROLES
from services.intake import handlers
from services.intake.catalog import default_catalog
from services.intake.domain import parse_submit_case
from services.intake.persistence import IntakeUnitOfWork


class IntakeService(DoorstepService):
    name = "intake"
    uow = UnitOfWorkProvider(IntakeUnitOfWork)

    @api("POST", "/intake/cases", roles=("counter",))
    def submit_case(self, request):
        cmd = parse_submit_case(json_body(request), entered_by=request.principal.role)
        return 201, handlers.submit_case(cmd, self.uow, default_catalog())

    @api("GET", "/intake/cases/<string:case_id>", roles=ROLES)
    def get_case(self, request, case_id):
        return handlers.get_case(case_id, self.uow)

    @consume("routing", "case.routed.v1")
    def on_case_routed(self, event):
        handlers.record_routing(event, self.uow)
