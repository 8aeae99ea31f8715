"""Funds' nameko service: thin HTTP entrypoints over :mod:`services.funds.handlers`.

Treasurers post, auditors (and treasurers) read everything, and disclosures are public. Every request that
moves money needs an idempotency key (``Idempotency-Key`` header or ``idempotency_key`` in the body): the
first answer is 201, a retry with the same key gets the same answer with 200 and changes nothing. Bodies, queries
and paths arrive typed (:mod:`services.funds.models`); ids in paths are UUIDs, anything else is no route (404).
"""
from nameko.extensions import DependencyProvider

from shared.http import Content, api, html_response
from shared.service import DoorstepService, SettingsTimer, UnitOfWorkProvider
from services.funds import metrics, models
from services.funds.pages import PAGE_CSP, disclosure_html
from services.funds.repositories import FundsUnitOfWork
from services.funds.handlers import autonomy, disclosure, foundation, ledger

POST = ("treasurer",)
READ = ("auditor", "treasurer")
# A request with its idempotency key answers 201 the first time and the same answer with 200 on a retry.
CREATED = (201, 200)


class DomainMetrics(DependencyProvider):
    """Funds' own series (posting kinds, project statuses), created at start-up."""

    def setup(self):
        metrics.prime()


def _key(request, body: models.Keyed, required: bool = True) -> str | None:
    return models.idempotency_key(request.headers.get("Idempotency-Key"), body.idempotency_key, required=required)


def _answers(model, statuses=CREATED) -> dict:
    return {status: model for status in statuses}


class FundsService(DoorstepService):
    name = "funds"
    description = ("The community foundation's (社区公益基金会) and the residential areas' autonomy funds' (自治金) "
                   "double-entry ledgers, charity events, special funds (专项基金), the three meetings (三会制度) and "
                   "public disclosures (公示). Money is a decimal string of yuan, never a float.")
    uow = UnitOfWorkProvider(FundsUnitOfWork)
    domain_metrics = DomainMetrics()

    # Balances and projects read from the ledger; every replica reads the same rows.
    @SettingsTimer.decorator(interval_from=lambda settings: settings.metrics_refresh_s, eager=True)
    def refresh_metrics(self):
        ledger.refresh_metrics(self.uow)

    # -- ledger ------------------------------------------------------------------------------------------
    @api("POST", "/funds/transfers", roles=POST, body=models.TransferBody, answers=_answers(models.TransferView),
         problems=(404, 409), summary="post a treasurer's own transfer between accounts of one book",
         tags=("ledger",))
    def post_transfer(self, request, body: models.TransferBody):
        return ledger.post_manual_transfer(body.command(), _key(request, body), self.uow)

    @api("POST", "/funds/transfers/<uuid:transfer_id>/reversal", roles=POST, body=models.ReversalBody,
         answers=_answers(models.TransferView), problems=(409,),
         summary="correct a transfer by a reversal (冲正) that mirrors its legs", tags=("ledger",))
    def reverse_transfer(self, request, transfer_id, body: models.ReversalBody):
        return ledger.reverse_transfer(str(transfer_id), body.reason, _key(request, body), self.uow)

    @api("GET", "/funds/books/<string:book>/transfers", roles=READ, path=models.BookPath,
         query=models.TransfersQuery, answers={200: models.TransfersPage},
         summary="a book's entries in order, 500 at a time", tags=("ledger",))
    def list_transfers(self, request, path: models.BookPath, query: models.TransfersQuery):
        return ledger.transfers_page(path.book, query.after, 500, self.uow)

    @api("GET", "/funds/books/<string:book>/trial-balance", roles=READ, path=models.BookPath,
         query=models.AsOfQuery, answers={200: models.TrialBalance},
         summary="a book's trial balance (试算平衡表), now or as of an instant", tags=("ledger",))
    def trial_balance(self, request, path: models.BookPath, query: models.AsOfQuery):
        return ledger.trial_balance(path.book, query.as_of, self.uow)

    @api("GET", "/funds/books/<string:book>/verification", roles=READ, path=models.BookPath,
         answers={200: models.Verification},
         summary="recompute a book's hash chain and balances; names the first broken entry", tags=("ledger",))
    def verify_book(self, request, path: models.BookPath):
        return ledger.verify_book(path.book, self.uow)

    @api("GET", "/funds/accounts/<string:code>", roles=READ, path=models.AccountPath, query=models.AsOfQuery,
         answers={200: models.AccountBalance}, summary="an account's balance, now or as of an instant",
         tags=("ledger",))
    def account_balance(self, request, path: models.AccountPath, query: models.AsOfQuery):
        return ledger.account_balance(path.code, query.as_of, self.uow)

    # -- the foundation ----------------------------------------------------------------------------------
    @api("POST", "/funds/donors", roles=POST, body=models.DonorBody, answers=_answers(models.DonorView),
         problems=(409,), summary="register a donor (捐赠人); the idempotency key is optional", tags=("foundation",))
    def register_donor(self, request, body: models.DonorBody):
        return foundation.register_donor(body.command(), _key(request, body, False), self.uow)

    @api("GET", "/funds/donors/<uuid:donor_id>/statement", roles=READ, answers={200: models.DonorStatement},
         summary="a donor's gifts with their receipts, and the lots they gave", tags=("foundation",))
    def donor_statement(self, request, donor_id):
        return foundation.donor_statement(str(donor_id), self.uow)

    @api("POST", "/funds/donations", roles=POST, body=models.DonationBody, answers=_answers(models.DonationView),
         problems=(409,), summary="record a donation in cash or in kind; its receipt is numbered per year",
         tags=("foundation",))
    def record_donation(self, request, body: models.DonationBody):
        return foundation.record_donation(body.command(), _key(request, body), self.uow)

    @api("POST", "/funds/events", roles=POST, body=models.EventBody, answers={201: models.EventView},
         problems=(409,), summary="create a charity event (慈善活动)", tags=("foundation",))
    def create_event(self, request, body: models.EventBody):
        return foundation.create_event(body.command(), self.uow)

    @api("GET", "/funds/events/<string:event_code>/report", roles=READ, path=models.EventPath,
         answers={200: models.EventReport}, summary="what a charity event raised: auction, market, gifts",
         tags=("foundation",))
    def event_report(self, request, path: models.EventPath):
        return foundation.event_report(path.event_code, self.uow)

    @api("POST", "/funds/events/<string:event_code>/lots", roles=POST, path=models.EventPath, body=models.LotBody,
         answers={201: models.LotView}, problems=(409,), summary="add a donated lot (拍品) to the event's auction",
         tags=("foundation",))
    def add_lot(self, request, path: models.EventPath, body: models.LotBody):
        return foundation.add_lot(path.event_code, body.command(), self.uow)

    @api("POST", "/funds/events/<string:event_code>/market-sales", roles=POST, path=models.EventPath,
         body=models.MarketSaleBody, answers=_answers(models.MarketSaleView), problems=(409,),
         summary="record takings of the event's charity market (公益市集)", tags=("foundation",))
    def record_market_sale(self, request, path: models.EventPath, body: models.MarketSaleBody):
        return foundation.record_market_sale(path.event_code, body.command(), _key(request, body), self.uow)

    @api("POST", "/funds/lots/<uuid:lot_id>/bids", roles=POST, body=models.BidBody, answers={201: models.LotView},
         problems=(409,), summary="bid on an open lot, more than the highest bid", tags=("foundation",))
    def place_bid(self, request, lot_id, body: models.BidBody):
        return foundation.place_bid(str(lot_id), body.bidder, body.amount, self.uow)

    @api("POST", "/funds/lots/<uuid:lot_id>/hammer", roles=POST, body=models.HammerBody,
         answers=_answers(models.SettledLot), problems=(409,),
         summary="the hammer falls (落槌): the highest bid buys the lot, a receivable", tags=("foundation",))
    def hammer_lot(self, request, lot_id, body: models.HammerBody):
        return foundation.hammer_lot(str(lot_id), body.at, _key(request, body), self.uow)

    @api("POST", "/funds/lots/<uuid:lot_id>/payment", roles=POST, body=models.PaymentBody,
         answers=_answers(models.SettledLot), problems=(409,), summary="the buyer pays for a sold lot",
         tags=("foundation",))
    def record_lot_payment(self, request, lot_id, body: models.PaymentBody):
        return foundation.record_lot_payment(str(lot_id), body.paid_at, _key(request, body), self.uow)

    @api("POST", "/funds/special-funds", roles=POST, body=models.FundBody, answers=_answers(models.FundView),
         problems=(409,), summary="found a special fund (专项基金) from events' proceeds and donations",
         tags=("foundation",))
    def found_fund(self, request, body: models.FundBody):
        return foundation.found_fund(body.command(), _key(request, body), self.uow)

    @api("GET", "/funds/special-funds/<string:fund_code>", roles=READ, path=models.FundPath,
         answers={200: models.FundReport}, summary="a special fund: its sources, grants and what it holds",
         tags=("foundation",))
    def fund_report(self, request, path: models.FundPath):
        return foundation.fund_report(path.fund_code, self.uow)

    @api("POST", "/funds/special-funds/<string:fund_code>/grants", roles=POST, path=models.FundPath,
         body=models.GrantBody, answers=_answers(models.GrantView), problems=(409,),
         summary="grant (资助) out of a special fund, for its purpose only", tags=("foundation",))
    def grant_from_fund(self, request, path: models.FundPath, body: models.GrantBody):
        return foundation.grant_from_fund(path.fund_code, body.command(), _key(request, body), self.uow)

    @api("GET", "/funds/foundation/totals", roles=READ, query=models.TotalsQuery,
         answers={200: models.FoundationTotals}, summary="the foundation's totals per event, special fund and donor",
         tags=("foundation",))
    def foundation_totals(self, request, query: models.TotalsQuery):
        return foundation.foundation_totals(query.year, self.uow)

    # -- autonomy funds ----------------------------------------------------------------------------------
    @api("POST", "/funds/areas/<string:area>/allocations", roles=POST, path=models.AreaPath,
         body=models.AllocationBody, answers=_answers(models.AllocationView), problems=(409,),
         summary="the street's yearly allocation (街道拨款) to an area's autonomy fund (自治金)",
         tags=("autonomy funds",))
    def allocate(self, request, path: models.AreaPath, body: models.AllocationBody):
        return autonomy.allocate(path.area, body.command(), _key(request, body), self.uow)

    @api("POST", "/funds/projects", roles=POST, body=models.ProjectBody, answers=_answers(models.ProjectProposed),
         problems=(409,), summary="propose a project with its team and budget; the idempotency key is optional",
         tags=("autonomy funds",))
    def propose_project(self, request, body: models.ProjectBody):
        return autonomy.propose_project(body.command(), _key(request, body, False), self.uow)

    @api("GET", "/funds/projects/<string:project_id>", roles=READ, path=models.ProjectPath,
         answers={200: models.ProjectView}, summary="a project: its meetings, budget, spending and co-funding",
         tags=("autonomy funds",))
    def project(self, request, path: models.ProjectPath):
        return autonomy.project_view(path.project_id, self.uow)

    @api("POST", "/funds/projects/<string:project_id>/hearing", roles=POST, path=models.ProjectPath,
         body=models.HearingBody, answers=_answers(models.HearingHeld), problems=(409,),
         summary="事前听证: approve (reserving the budget from the area's fund) or reject a proposed project",
         tags=("autonomy funds",))
    def hearing(self, request, path: models.ProjectPath, body: models.HearingBody):
        return autonomy.hold_hearing(path.project_id, body.command(), _key(request, body), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/coordination", roles=POST, path=models.ProjectPath,
         body=models.CoordinationBody, answers=_answers(models.CoordinationHeld), problems=(409,),
         summary="事中协调: record a meeting while an approved project is carried out", tags=("autonomy funds",))
    def coordination(self, request, path: models.ProjectPath, body: models.CoordinationBody):
        return autonomy.hold_coordination(path.project_id, body.command(), _key(request, body, False), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/expenses", roles=POST, path=models.ProjectPath,
         body=models.ExpenseBody, answers=_answers(models.ExpenseView), problems=(409,),
         summary="spend against a budget line of an approved project, never beyond it", tags=("autonomy funds",))
    def record_expense(self, request, path: models.ProjectPath, body: models.ExpenseBody):
        return autonomy.record_expense(path.project_id, body.command(), _key(request, body), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/evaluation", roles=POST, path=models.ProjectPath,
         body=models.EvaluationBody, answers=_answers(models.EvaluationHeld), problems=(409,),
         summary="事后评议: scores, satisfaction and findings of an approved project", tags=("autonomy funds",))
    def evaluation(self, request, path: models.ProjectPath, body: models.EvaluationBody):
        return autonomy.hold_evaluation(path.project_id, body.command(), _key(request, body, False), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/closing", roles=POST, path=models.ProjectPath,
         body=models.ClosingBody, answers=_answers(models.ProjectClosed), problems=(409,),
         summary="close an evaluated project; what its budget has left goes back to the area's fund",
         tags=("autonomy funds",))
    def close_project(self, request, path: models.ProjectPath, body: models.ClosingBody):
        return autonomy.close_project(path.project_id, _key(request, body), self.uow)

    @api("POST", "/funds/projects/<string:project_id>/cofunding", roles=POST, path=models.ProjectPath,
         body=models.CofundingBody, answers=_answers(models.CofundingView), problems=(404, 409),
         summary="a partner's, or the foundation's, money for a budget line (共建资助)", tags=("autonomy funds",))
    def cofund_project(self, request, path: models.ProjectPath, body: models.CofundingBody):
        return autonomy.cofund_project(path.project_id, body.command(), _key(request, body), self.uow)

    # -- disclosure (public reads) -----------------------------------------------------------------------
    @api("POST", "/funds/disclosures", roles=POST, body=models.DisclosureBody, answers=_answers(models.Disclosure),
         problems=(409,), summary="publish a year's disclosure (公示) with the chain head it was drawn from",
         tags=("disclosure",))
    def publish_disclosure(self, request, body: models.DisclosureBody):
        return disclosure.publish_disclosure(body.year, body.area, _key(request, body), self.uow)

    @api("GET", "/funds/disclosures/<uuid:disclosure_id>", roles=None, answers={200: models.Disclosure},
         summary="a published disclosure (公示), public", tags=("disclosure",))
    def disclosure(self, request, disclosure_id):
        return disclosure.get_disclosure(str(disclosure_id), self.uow)

    @api("GET", "/funds/disclosures/<uuid:disclosure_id>/html", roles=None,
         answers={200: Content("text/html", description="the disclosure laid out for a notice board")},
         summary="a published disclosure as a printable page, public", tags=("disclosure",))
    def disclosure_page(self, request, disclosure_id):
        return html_response(disclosure_html(disclosure.get_disclosure(str(disclosure_id), self.uow)), csp=PAGE_CSP)

    @api("GET", "/funds/disclosures/<uuid:disclosure_id>/ledger", roles=None, answers={200: models.LedgerExport},
         summary="the ledger export a disclosure's chain head verifies, public", tags=("disclosure",))
    def disclosure_ledger(self, request, disclosure_id):
        return disclosure.disclosure_ledger(str(disclosure_id), self.uow)
