"""Routing's nameko service: thin entrypoints over :mod:`services.routing.handlers`."""
from shared.auth import ROLES
from shared.consumer import consume
from shared.http import api
from shared.service import DoorstepService, UnitOfWorkProvider
from services.routing import handlers
from services.routing.domain import default_directory
from services.routing.persistence import RoutingUnitOfWork


class RoutingService(DoorstepService):
    name = "routing"
    uow = UnitOfWorkProvider(RoutingUnitOfWork)

    @consume("intake", "case.accepted.v1")
    def on_case_accepted(self, event):
        handlers.route_case(event, self.uow, default_directory())

    @api("GET", "/routing/cases/<string:case_id>/decision", roles=ROLES)
    def decision(self, request, case_id):
        return handlers.case_decision(case_id, self.uow)
