"""Routing's nameko service: thin entrypoints over the use cases in :mod:`services.routing.handlers`."""
from nameko.extensions import DependencyProvider

from shared.auth import ROLES
from shared.consumer import consume
from shared.http import api, json_body
from shared.service import DoorstepService, SettingsTimer, UnitOfWorkProvider
from services.routing import metrics
from services.routing.domain.assignments import RETURN_REASONS
from services.routing.domain.directory import DEFAULT_DIRECTORY, load_directory
from services.routing.handlers import assignments, cases, deadlines, reads
from services.routing.persistence import RoutingUnitOfWork

WRITERS = ("handler",)
READERS = ("handler", "auditor")


class DirectoryProvider(DependencyProvider):
    """The street's directory and rules, loaded and validated once at start-up: a bad file stops the service
    with the file, entry and problem named. The street's own file: DOORSTEP_ROUTING_DIRECTORY, or directory.yaml
    in DOORSTEP_STREET_DIR."""

    def setup(self):
        settings = self.container.config["DOORSTEP"]
        self.directory = load_directory(settings.street_file("routing_directory") or DEFAULT_DIRECTORY)
        metrics.prime(self.directory.units, RETURN_REASONS)

    def get_dependency(self, worker_ctx):
        return self.directory


class RoutingService(DoorstepService):
    name = "routing"
    uow = UnitOfWorkProvider(RoutingUnitOfWork)
    directory = DirectoryProvider()

    @consume("intake", "case.accepted.v1", batch=True)
    def on_case_accepted(self, events):
        cases.route_cases(events, self.uow, self.directory)

    @consume("intake", "case.reopened.v1")
    def on_case_reopened(self, event):
        cases.reopen_case(event, self.uow, self.directory)

    # Every replica looks for breaches (DOORSTEP_ROUTING_TIMER_S); each breach is acted on once.
    @SettingsTimer.decorator(interval_from=lambda settings: settings.routing_timer_s)
    def deadline_timer(self):
        # The timer worker has no inbox key, so its unit of work can be entered once per assignment.
        deadlines.check_deadlines(lambda: self.uow, self.directory)

    @api("GET", "/routing/cases/<string:case_id>/decision", roles=ROLES)
    def decision(self, request, case_id):
        return reads.case_decision(case_id, self.uow)

    @api("GET", "/routing/units", roles=ROLES)
    def units(self, request):
        return {"units": [u.to_dict() for u in self.directory.units.values()], "areas": self.directory.areas,
                "triage_unit": self.directory.triage_unit}

    @api("GET", "/routing/units/<string:unit_code>/assignments", roles=READERS)
    def worklist(self, request, unit_code):
        return reads.worklist(unit_code, dict(request.args.items()), request.principal, self.uow,
                              self.directory)

    @api("GET", "/routing/units/<string:unit_code>/scores", roles=ROLES)
    def scores(self, request, unit_code):
        return reads.scores(unit_code, dict(request.args.items()), self.uow, self.directory)

    @api("POST", "/routing/assignments/<string:assignment_id>/sign", roles=WRITERS)
    def sign(self, request, assignment_id):
        return assignments.sign_assignment(assignment_id, request.principal, self.uow, self.directory)

    @api("POST", "/routing/assignments/<string:assignment_id>/contact", roles=WRITERS)
    def contact(self, request, assignment_id):
        return assignments.record_contact(assignment_id, request.principal, self.uow, self.directory)

    @api("POST", "/routing/assignments/<string:assignment_id>/report", roles=WRITERS)
    def report(self, request, assignment_id):
        body = json_body(request)
        return assignments.report_result(assignment_id, body.get("answer", ""), request.principal, self.uow,
                                         self.directory)

    @api("POST", "/routing/assignments/<string:assignment_id>/transfer", roles=WRITERS)
    def transfer(self, request, assignment_id):
        body = json_body(request)
        return assignments.transfer_assignment(assignment_id, body.get("to_unit", ""), body.get("reason", ""),
                                               request.principal, self.uow, self.directory)

    @api("POST", "/routing/assignments/<string:assignment_id>/return", roles=WRITERS)
    def return_(self, request, assignment_id):
        body = json_body(request)
        return assignments.return_assignment(assignment_id, body.get("reason_code", ""), body.get("note", ""),
                                             request.principal, self.uow, self.directory)

    @api("POST", "/routing/cases/<string:case_id>/arbitrate", roles=WRITERS)
    def arbitrate(self, request, case_id):
        body = json_body(request)
        return assignments.arbitrate_case(case_id, body.get("unit", ""), body.get("decision", ""), request.principal,
                                          self.uow, self.directory)

    @api("POST", "/routing/assignments/<string:assignment_id>/extension", roles=WRITERS)
    def extension(self, request, assignment_id):
        body = json_body(request)
        return assignments.request_extension(assignment_id, body.get("working_days"), body.get("reason", ""),
                                             request.principal, self.uow, self.directory)

    @api("POST", "/routing/assignments/<string:assignment_id>/extension/decision", roles=WRITERS)
    def extension_decision(self, request, assignment_id):
        body = json_body(request)
        return assignments.decide_extension(assignment_id, body.get("approve"), request.principal, self.uow,
                                            self.directory)
