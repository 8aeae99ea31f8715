"""Funds' nameko service: thin HTTP entrypoints over :mod:`services.funds.handlers`.

Treasurers post, auditors (and treasurers) read everything, and disclosures are public. Every request that
moves money needs an idempotency key (``Idempotency-Key`` header or ``idempotency_key`` in the body): the
first answer is 201, a retry with the same key gets the same answer with 200 and changes nothing.
"""
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from shared.errors import InvalidInput
from shared.http import api, json_body
from shared.service import DoorstepService, SettingsTimer, UnitOfWorkProvider
from services.funds import metrics
from services.funds.domain.autonomy import (
    parse_coordination, parse_evaluation, parse_hearing, parse_propose_project, parse_record_expense,
)
from services.funds.domain.fields import idempotency_key
from services.funds.domain.foundation import parse_record_donation, parse_register_donor
from services.funds.pages import disclosure_html
from services.funds.repositories import FundsUnitOfWork
from services.funds.handlers import autonomy, disclosure, foundation, ledger

POST = ("treasurer",)
READ = ("auditor", "treasurer")


class DomainMetrics(DependencyProvider):
    """Funds' own series (posting kinds, project statuses), created at start-up."""

    def setup(self):
        metrics.prime()


def _key(request, body, required=True):
    header = request.headers.get("Idempotency-Key")
    if not required and not header and not body.get("idempotency_key"):
        return None
    return idempotency_key(body, header)


def _year(request):
    value = request.args.get("year")
    if value is None:
        return None
    if not value.isdigit():
        raise InvalidInput("year", "must be a year such as 2018")
    return int(value)


class FundsService(DoorstepService):
    name = "funds"
    uow = UnitOfWorkProvider(FundsUnitOfWork)
    domain_metrics = DomainMetrics()

    # Balances and projects read from the ledger; every replica reads the same rows.
    @SettingsTimer.decorator(interval_from=lambda settings: settings.metrics_refresh_s, eager=True)
    def refresh_metrics(self):
        ledger.refresh_metrics(self.uow)

    # -- ledger ------------------------------------------------------------------------------------------
    @api("POST", "/funds/transfers", roles=POST)
    def post_transfer(self, request):
        body = json_body(request)
        return ledger.post_manual_transfer(body, _key(request, body), self.uow)

    @api("POST", "/funds/transfers/<string:transfer_id>/reversal", roles=POST)
    def reverse_transfer(self, request, transfer_id):
        body = json_body(request)
        return ledger.reverse_transfer(transfer_id, body, _key(request, body), self.uow)

    @api("GET", "/funds/books/<string:book>/transfers", roles=READ)
    def list_transfers(self, request, book):
        after = request.args.get("after", "0")
        if not after.isdigit():
            raise InvalidInput("after", "must be an entry number")
        return ledger.transfers_page(book, int(after), 500, self.uow)

    @api("GET", "/funds/books/<string:book>/trial-balance", roles=READ)
    def trial_balance(self, request, book):
        return ledger.trial_balance(book, ledger.parse_as_of(request.args.get("as_of")), self.uow)

    @api("GET", "/funds/books/<string:book>/verification", roles=READ)
    def verify_book(self, request, book):
        return ledger.verify_book(book, self.uow)

    @api("GET", "/funds/accounts/<string:code>", roles=READ)
    def account_balance(self, request, code):
        return ledger.account_balance(code, ledger.parse_as_of(request.args.get("as_of")), self.uow)

    # -- the foundation ----------------------------------------------------------------------------------
    @api("POST", "/funds/donors", roles=POST)
    def register_donor(self, request):
        body = json_body(request)
        return foundation.register_donor(parse_register_donor(body), _key(request, body, False), self.uow)

    @api("GET", "/funds/donors/<string:donor_id>/statement", roles=READ)
    def donor_statement(self, request, donor_id):
        return foundation.donor_statement(donor_id, self.uow)

    @api("POST", "/funds/donations", roles=POST)
    def record_donation(self, request):
        body = json_body(request)
        cmd = parse_record_donation(body, _key(request, body))
        return foundation.record_donation(cmd, body, self.uow)

    @api("POST", "/funds/events", roles=POST)
    def create_event(self, request):
        return foundation.create_event(json_body(request), self.uow)

    @api("GET", "/funds/events/<string:event_code>/report", roles=READ)
    def event_report(self, request, event_code):
        return foundation.event_report(event_code, self.uow)

    @api("POST", "/funds/events/<string:event_code>/lots", roles=POST)
    def add_lot(self, request, event_code):
        return foundation.add_lot(event_code, json_body(request), self.uow)

    @api("POST", "/funds/events/<string:event_code>/market-sales", roles=POST)
    def record_market_sale(self, request, event_code):
        body = json_body(request)
        return foundation.record_market_sale(event_code, body, _key(request, body), self.uow)

    @api("POST", "/funds/lots/<string:lot_id>/bids", roles=POST)
    def place_bid(self, request, lot_id):
        return foundation.place_bid(lot_id, json_body(request), self.uow)

    @api("POST", "/funds/lots/<string:lot_id>/hammer", roles=POST)
    def hammer_lot(self, request, lot_id):
        body = json_body(request)
        return foundation.hammer_lot(lot_id, body, _key(request, body), self.uow)

    @api("POST", "/funds/lots/<string:lot_id>/payment", roles=POST)
    def record_lot_payment(self, request, lot_id):
        body = json_body(request)
        return foundation.record_lot_payment(lot_id, body, _key(request, body), self.uow)

    @api("POST", "/funds/special-funds", roles=POST)
    def found_fund(self, request):
        body = json_body(request)
        return foundation.found_fund(body, _key(request, body), self.uow)

    @api("GET", "/funds/special-funds/<string:fund_code>", roles=READ)
    def fund_report(self, request, fund_code):
        return foundation.fund_report(fund_code, self.uow)

    @api("POST", "/funds/special-funds/<string:fund_code>/grants", roles=POST)
    def grant_from_fund(self, request, fund_code):
        body = json_body(request)
        return foundation.grant_from_fund(fund_code, body, _key(request, body), self.uow)

    @api("GET", "/funds/foundation/totals", roles=READ)
    def foundation_totals(self, request):
        return foundation.foundation_totals(_year(request), self.uow)

    # -- autonomy funds ----------------------------------------------------------------------------------
    @api("POST", "/funds/areas/<string:area>/allocations", roles=POST)
    def allocate(self, request, area):
        body = json_body(request)
        return autonomy.allocate(area, body, _key(request, body), self.uow)

    @api("POST", "/funds/projects", roles=POST)
    def propose_project(self, request):
        body = json_body(request)
        return autonomy.propose_project(parse_propose_project(body), body, _key(request, body, False),
                                        self.uow)

    @api("GET", "/funds/projects/<string:project_id>", roles=READ)
    def project(self, request, project_id):
        return autonomy.project_view(project_id, self.uow)

    @api("POST", "/funds/projects/<string:project_id>/hearing", roles=POST)
    def hearing(self, request, project_id):
        body = json_body(request)
        return autonomy.hold_hearing(project_id, parse_hearing(body), body, _key(request, body), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/coordination", roles=POST)
    def coordination(self, request, project_id):
        body = json_body(request)
        return autonomy.hold_coordination(project_id, parse_coordination(body), body,
                                          _key(request, body, False), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/expenses", roles=POST)
    def record_expense(self, request, project_id):
        body = json_body(request)
        cmd = parse_record_expense(body, _key(request, body))
        return autonomy.record_expense(project_id, cmd, body, self.uow)

    @api("POST", "/funds/projects/<string:project_id>/evaluation", roles=POST)
    def evaluation(self, request, project_id):
        body = json_body(request)
        return autonomy.hold_evaluation(project_id, parse_evaluation(body), body,
                                        _key(request, body, False), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/closing", roles=POST)
    def close_project(self, request, project_id):
        body = json_body(request)
        return autonomy.close_project(project_id, body, _key(request, body), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/cofunding", roles=POST)
    def cofund_project(self, request, project_id):
        body = json_body(request)
        return autonomy.cofund_project(project_id, body, _key(request, body), self.uow)

    # -- disclosure (public reads) -----------------------------------------------------------------------
    @api("POST", "/funds/disclosures", roles=POST)
    def publish_disclosure(self, request):
        body = json_body(request)
        return disclosure.publish_disclosure(body, _key(request, body), self.uow)

    @api("GET", "/funds/disclosures/<string:disclosure_id>", roles=None)
    def disclosure(self, request, disclosure_id):
        return disclosure.get_disclosure(disclosure_id, self.uow)

    @api("GET", "/funds/disclosures/<string:disclosure_id>/html", roles=None)
    def disclosure_page(self, request, disclosure_id):
        document = disclosure.get_disclosure(disclosure_id, self.uow)
        return Response(disclosure_html(document), content_type="text/html; charset=utf-8")

    @api("GET", "/funds/disclosures/<string:disclosure_id>/ledger", roles=None)
    def disclosure_ledger(self, request, disclosure_id):
        return disclosure.disclosure_ledger(disclosure_id, self.uow)
