"""Routing's nameko service: thin entrypoints over the use cases in :mod:`services.routing.handlers`."""
from nameko.extensions import DependencyProvider

from shared.auth import ROLES
from shared.consumer import consume
from shared.http import api
from shared.service import DeploymentSettings, DoorstepService, SettingsTimer, UnitOfWorkProvider
from services.routing import metrics, models
from services.routing.domain.assignments import RETURN_REASONS
from services.routing.domain.directory import DEFAULT_DIRECTORY, load_directory
from services.routing.handlers import assignments, cases, deadlines, erasure, reads
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
    settings = DeploymentSettings()

    @consume("intake", "case.accepted.v1", batch=True)
    def on_case_accepted(self, events):
        cases.route_cases(events, self.uow, self.directory)

    @consume("intake", "case.reopened.v1")
    def on_case_reopened(self, event):
        cases.reopen_case(event, self.uow, self.directory)

    @consume("intake", "resident.erased.v1", batch=True)
    def on_resident_erased(self, events):
        erasure.forget_residents(events, self.uow)

    # Every replica runs it; each takes the cases the others do not hold (SKIP LOCKED).
    @SettingsTimer.decorator(interval_from=lambda settings: settings.retention_timer_s)
    def apply_retention(self):
        erasure.apply_retention(lambda: self.uow, self.settings)

    # Every replica looks for breaches (DOORSTEP_ROUTING_TIMER_S); each breach is acted on once.
    @SettingsTimer.decorator(interval_from=lambda settings: settings.routing_timer_s)
    def deadline_timer(self):
        # The timer worker has no inbox key, so its unit of work can be entered once per assignment.
        deadlines.check_deadlines(lambda: self.uow, self.directory)

    # Ids in paths are UUIDs: anything else is no route (404) and never reaches the database.

    @api("GET", "/routing/cases/<uuid:case_id>/decision", roles=ROLES, answers={200: models.CaseDecision},
         summary="why a case went to its unit (the rule and every rule tried), and what happened since",
         tags=("cases",))
    def decision(self, request, case_id):
        return reads.case_decision(str(case_id), self.uow)

    @api("GET", "/routing/units", roles=ROLES, answers={200: models.DirectoryView},
         summary="the street's handling units (1+3+N) and residential areas (居民区)", tags=("units",))
    def units(self, request):
        return {"units": [u.to_dict() for u in self.directory.units.values()], "areas": self.directory.areas,
                "triage_unit": self.directory.triage_unit}

    @api("GET", "/routing/units/<string:unit_code>/assignments", roles=READERS, query=models.WorklistQuery,
         answers={200: models.Worklist}, summary="a unit's worklist: its assignments in one state, a page at a time",
         tags=("units",))
    def worklist(self, request, unit_code, query: models.WorklistQuery):
        return reads.worklist(unit_code, query.state, request.principal, self.uow, self.directory, role=query.role,
                              area=query.area, page=query.page, per_page=query.per_page)

    @api("GET", "/routing/units/<string:unit_code>/scores", roles=ROLES, query=models.ScoresQuery,
         answers={200: models.Scores}, summary="a unit's scores (三率) over a period of days", tags=("units",))
    def scores(self, request, unit_code, query: models.ScoresQuery):
        return reads.scores(unit_code, query.from_, query.to, self.uow, self.directory)

    @api("POST", "/routing/assignments/<uuid:assignment_id>/sign", roles=WRITERS,
         answers={200: models.AssignmentView}, problems=(409,), summary="sign for an assignment (签收)",
         tags=("assignments",))
    def sign(self, request, assignment_id):
        return assignments.sign_assignment(str(assignment_id), request.principal, self.uow, self.directory)

    @api("POST", "/routing/assignments/<uuid:assignment_id>/contact", roles=WRITERS,
         answers={200: models.AssignmentView}, problems=(409,),
         summary="record the first contact with the resident (先行联系)", tags=("assignments",))
    def contact(self, request, assignment_id):
        return assignments.record_contact(str(assignment_id), request.principal, self.uow, self.directory)

    @api("POST", "/routing/assignments/<uuid:assignment_id>/report", roles=WRITERS, body=models.ReportBody,
         answers={200: models.Reported}, problems=(409,),
         summary="report the result (办结), or an assisting unit's part (协办)", tags=("assignments",))
    def report(self, request, assignment_id, body: models.ReportBody):
        return assignments.report_result(str(assignment_id), body.answer, request.principal, self.uow,
                                         self.directory)

    @api("POST", "/routing/assignments/<uuid:assignment_id>/transfer", roles=WRITERS, body=models.TransferBody,
         answers={200: models.TransferOutcome}, problems=(409,),
         summary="transfer the case to another unit (转办); past the street's limit it is escalated (督办) instead",
         tags=("assignments",))
    def transfer(self, request, assignment_id, body: models.TransferBody):
        return assignments.transfer_assignment(str(assignment_id), body.to_unit, body.reason, request.principal,
                                               self.uow, self.directory)

    @api("POST", "/routing/assignments/<uuid:assignment_id>/return", roles=WRITERS, body=models.ReturnBody,
         answers={200: models.Returned}, problems=(409,),
         summary="return a misrouted case (退单) for the operations centre to arbitrate", tags=("assignments",))
    def return_(self, request, assignment_id, body: models.ReturnBody):
        return assignments.return_assignment(str(assignment_id), body.reason_code, body.note, request.principal,
                                             self.uow, self.directory)

    @api("POST", "/routing/cases/<uuid:case_id>/arbitrate", roles=WRITERS, body=models.ArbitrateBody,
         answers={200: models.Arbitrated}, problems=(409,),
         summary="arbitrate a returned case (仲裁): who handles it, and why", tags=("cases",))
    def arbitrate(self, request, case_id, body: models.ArbitrateBody):
        return assignments.arbitrate_case(str(case_id), body.unit, body.decision, request.principal, self.uow,
                                          self.directory)

    @api("POST", "/routing/assignments/<uuid:assignment_id>/extension", roles=WRITERS, body=models.ExtensionBody,
         answers={200: models.ExtensionRequested}, problems=(409,),
         summary="ask the supervising unit for more working days (延期)", tags=("assignments",))
    def extension(self, request, assignment_id, body: models.ExtensionBody):
        return assignments.request_extension(str(assignment_id), body.working_days, body.reason, request.principal,
                                             self.uow, self.directory)

    @api("POST", "/routing/assignments/<uuid:assignment_id>/extension/decision", roles=WRITERS,
         body=models.ExtensionDecisionBody, answers={200: models.ExtensionDecided}, problems=(409,),
         summary="approve or refuse an extension (延期), as the supervising unit", tags=("assignments",))
    def extension_decision(self, request, assignment_id, body: models.ExtensionDecisionBody):
        return assignments.decide_extension(str(assignment_id), body.approve, request.principal, self.uow,
                                            self.directory)
