"""Funds' HTTP contract: the body, query and path of every request and the answer of every status, declared once.

:mod:`shared.http` parses requests into these models before a worker runs (a wrong field is a 400 naming it,
without its value) and ``/funds/openapi.json`` is generated from them. Each request model hands the use case a
command of the domain (``body.command()``); what a model cannot know — whether a donor is registered, what a
project's state allows, whether a fund can afford a grant — is the domain's to say.

Money is integer fen inside and a decimal string of yuan at the edge (``"49028.10"``), never a float.
"""
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import (BeforeValidator, Field, StrictBool, StrictInt, TypeAdapter, ValidationError, ValidationInfo,
                      WithJsonSchema, field_validator, model_validator)
from pydantic_core import PydanticUseDefault

from shared.fields import (SHANGHAI, AnswerModel, ApiModel, Code, Day, Instant, PositiveFen, Required, Text,
                           invalid)
from shared.problems import Problem, validation_problem
from services.funds.domain.autonomy import (DECISIONS, PROJECT_STATUSES, Allocation, Cofunding, Coordination,
                                            Evaluation, Hearing, ProposeProject, RecordExpense)
from services.funds.domain.foundation import (DONATION_KINDS, DONOR_KINDS, LOT_STATUSES, SOURCE_KINDS, FoundFund,
                                              FundSource, Grant, MarketSale, NewEvent, NewLot, RecordDonation,
                                              RegisterDonor)
from services.funds.domain.ledger import KINDS, Leg, ManualTransfer, credit, debit

# -- the pieces -----------------------------------------------------------------------------------------------

# Codes of events, special funds, purposes and areas are kept in columns of 24 characters.
ShortCode = Annotated[Code, Field(max_length=24)]
ProjectId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", examples=["shixin-2026-001"],
                                 description="a project: <area>-<year>-<n>")]
BOOK_PATTERN = r"^(foundation|area:[a-z0-9][a-z0-9-]{0,23})$"
Book = Annotated[str, Field(pattern=BOOK_PATTERN, examples=["foundation", "area:shixin"],
                            description="a ledger book: foundation (社区公益基金会) or area:<area> (an area's 自治金)")]
AccountCode = Annotated[str, Field(
    pattern=r"^(foundation|area:[a-z0-9][a-z0-9-]{0,23})(:[a-z0-9][a-z0-9-]*)+$", max_length=80,
    examples=["foundation:bank", "area:shixin:unrestricted"], description="an account: <book>:<account>")]
Year = Annotated[StrictInt, Field(ge=2009, le=2100, description="a year (年度) of the autonomy funds")]
Attendees = Annotated[list[Required(50)], Field(min_length=1, max_length=500,
                                                 description="who attended (参会人员), by name")]
Minutes = Required(5000)
DonorKind = Literal[DONOR_KINDS]  # type: ignore[valid-type]
DonationKind = Literal[DONATION_KINDS]  # type: ignore[valid-type]
LotStatus = Literal[LOT_STATUSES]  # type: ignore[valid-type]
SourceKind = Literal[SOURCE_KINDS]  # type: ignore[valid-type]
ProjectStatus = Literal[PROJECT_STATUSES]  # type: ignore[valid-type]
Decision = Literal[DECISIONS]  # type: ignore[valid-type]
Kind = Literal[KINDS]  # type: ignore[valid-type]

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9:._/-]{0,119}$"
IdempotencyKey = Annotated[str, Field(pattern=KEY_PATTERN, examples=["gift/2018-11-29/museum"], description=(
    "names the request, so that a retry posts nothing twice: the first answer is 201, a retry with the same key "
    "gets the same answer with 200, the same key with another request is 409. The Idempotency-Key header, when "
    "sent, is used instead"))]


def _whole_yuan(value: Any) -> Any:
    # A whole number of yuan has always been taken as a JSON integer too; a fraction only as a string.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Amount = Annotated[PositiveFen, BeforeValidator(_whole_yuan), WithJsonSchema({
    "type": "string", "pattern": r"^(?!0*(\.0*)?$)[0-9]{1,12}(\.[0-9]{1,2})?$", "examples": ["49028.10"],
    "description": "yuan, a decimal string with at most two decimals, more than zero"})]


def _blank_is_absent(value: Any) -> Any:
    # A form sends a field left empty as "": the same as not sending it.
    if value == "":
        raise PydanticUseDefault()
    return value


BlankIsAbsent = BeforeValidator(_blank_is_absent)


def _end_of_day(value: Any) -> Any:
    """A date alone means the end of that day in Shanghai."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            return value  # the instant's own rule words the error
        return datetime.combine(day, time.max, SHANGHAI)
    return value


AsOf = Annotated[Instant, BeforeValidator(_end_of_day), WithJsonSchema({
    "type": "string", "format": "date-time", "examples": ["2018-11-29T21:00:00+08:00"],
    "description": "the figures as of this instant (ISO 8601; without an offset, Asia/Shanghai); a date alone means "
                   "the end of that day in Shanghai. Left out: now"})]

_KEY = TypeAdapter(IdempotencyKey)


def idempotency_key(header: str | None, in_body: str | None, *, required: bool = True) -> str | None:
    """The request's idempotency key: the ``Idempotency-Key`` header, else the body's ``idempotency_key``."""
    if header:
        try:
            return _KEY.validate_python(header)
        except ValidationError as exc:
            raise validation_problem(exc, prefix="Idempotency-Key") from None
    if in_body is None and required:
        reason = ("必填（请求体字段 idempotency_key 或请求头 Idempotency-Key） / is required: the body field "
                  "idempotency_key or the Idempotency-Key header")
        raise Problem(400, "Invalid request", f"idempotency_key: {reason}",
                      invalid_params=[{"name": "idempotency_key", "reason": reason}])
    return in_body


class Keyed(ApiModel):
    """A request that may move money: it names itself (or sends the ``Idempotency-Key`` header)."""

    idempotency_key: IdempotencyKey | None = None


def _missing() -> Exception:
    return invalid("missing", "必填", "is required")


def _one_of(model, first: str, second: str):
    """A model that takes exactly one of two fields."""
    if (getattr(model, first) is None) == (getattr(model, second) is None):
        raise invalid("one_of", f"须填且只填 {first} 或 {second} 之一", f"give exactly one of {first} or {second}")
    return model


# -- paths ----------------------------------------------------------------------------------------------------

class BookPath(ApiModel):
    book: Book


class AccountPath(ApiModel):
    code: AccountCode


class EventPath(ApiModel):
    event_code: ShortCode = Field(description="a charity event (慈善活动), by its code")


class FundPath(ApiModel):
    fund_code: ShortCode = Field(description="a special fund (专项基金), by its code")


class AreaPath(ApiModel):
    area: ShortCode = Field(description="a residential area (居民区), by its code")


class ProjectPath(ApiModel):
    project_id: ProjectId


# -- the ledger: requests -------------------------------------------------------------------------------------

class LegBody(ApiModel):
    """One side of a transfer: an account debited or credited."""

    account: AccountCode = Field(description="an account of the transfer's book, already in its chart")
    debit: Amount | None = Field(None, description="debited (借方); give debit or credit")
    credit: Amount | None = Field(None, description="credited (贷方); give debit or credit")

    @model_validator(mode="after")
    def _one_side(self):
        return _one_of(self, "debit", "credit")

    def leg(self) -> Leg:
        return debit(self.account, self.debit) if self.debit is not None else credit(self.account, self.credit)


class TransferBody(Keyed):
    """A treasurer's own transfer (e.g. a bank fee) between accounts of one book; debits equal credits."""

    book: Book
    memo: Required(300) = Field(description="what the transfer is for (摘要)")
    legs: list[LegBody] = Field(max_length=200, description="at least two; debits and credits balance")
    occurred_at: Instant | None = Field(None, description="when it happened; not before the book's last entry "
                                                          "(left out: now)")

    def command(self) -> ManualTransfer:
        return ManualTransfer(self.book, self.memo, tuple(leg.leg() for leg in self.legs), self.occurred_at)


class ReversalBody(Keyed):
    reason: Required(250) = Field(description="why the transfer is corrected (冲正)")


class AsOfQuery(ApiModel):
    as_of: Annotated[AsOf | None, BlankIsAbsent] = None


class TransfersQuery(ApiModel):
    after: Annotated[int, Field(ge=0, le=10**15)] = Field(
        0, description="the last entry number already read; the page (at most 500) starts after it")


# -- the ledger: answers --------------------------------------------------------------------------------------

Yuan = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["49028.10"],
                            description="yuan, a decimal string")]
Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, hex")]


class LegView(AnswerModel):
    account: str
    amount_fen: int = Field(description="fen, signed: + debit, − credit")
    balance_after_fen: int = Field(description="the account's running balance after this leg, on its normal side")
    debit: Yuan | None = Field(None, description="present on a debit leg")
    credit: Yuan | None = Field(None, description="present on a credit leg")


class TransferView(AnswerModel):
    """An entry of a book's hash chain; never changed, corrected by a reversal."""

    id: UUID
    book: str
    sequence: int = Field(description="the entry number in its book, from 1")
    idempotency_key: str
    kind: str = Field(description="manual, reversal, donation, auction, payment, market, fund-founding, grant, "
                                  "allocation, budget-reservation, expense, budget-release, cofunding")
    memo: str
    occurred_at: datetime
    recorded_at: datetime
    reverses: UUID | None = Field(description="the transfer this one reverses")
    prev_hash: Hash
    hash: Hash = Field(description="SHA-256 of the canonical entry and prev_hash")
    legs: list[LegView]


class TransfersPage(AnswerModel):
    book: str
    transfers: list[TransferView]
    next_after: int = Field(description="pass as after= for the next page")


class TrialBalanceLine(AnswerModel):
    account: str
    name: str
    kind: Kind
    debit: Yuan
    credit: Yuan


class TrialBalance(AnswerModel):
    """试算平衡表: every account's balance in the debit or the credit column."""

    book: str
    as_of: datetime | None
    through_entry: int = Field(description="the last entry counted")
    accounts: list[TrialBalanceLine]
    total_debit: Yuan
    total_credit: Yuan
    balanced: bool


class ChainHead(AnswerModel):
    sequence: int
    hash: Hash


class Verification(AnswerModel):
    """The book's hash chain and balances recomputed from its entries."""

    book: str
    ok: bool
    entries: int = Field(description="entries verified")
    head: ChainHead = Field(description="the book's recorded head")
    first_breach: str | None = Field(description="the first broken entry, and what is wrong with it")
    breach_sequence: int | None


class AccountBalance(AnswerModel):
    account: str
    name: str
    kind: Kind
    normal_side: Literal["debit", "credit"]
    balance: Yuan = Field(description="on the account's normal side")
    as_of: datetime | None
    available: Yuan | None = Field(None, description="a fund or budget: its balance plus what its revenue and "
                                                     "expense accounts brought in or spent (current figures only)")


# -- the foundation: requests ---------------------------------------------------------------------------------

class DonorBody(Keyed):
    kind: DonorKind = Field(description="company (企业), individual (个人) or anonymous (匿名)")
    name: Text(100) = Field("", validate_default=True, description="required unless anonymous; not kept for an "
                                                                   "anonymous donor")

    @field_validator("name")
    @classmethod
    def _named(cls, name: str, info: ValidationInfo) -> str:
        if not name and info.data.get("kind") in ("company", "individual"):
            raise _missing()
        return name

    def command(self) -> RegisterDonor:
        return RegisterDonor(self.kind, self.name)


class DonationBody(Keyed):
    """A gift to the community foundation (社区公益基金会): cash, or in kind at a stated valuation."""

    donor_id: UUID = Field(description="a registered donor")
    kind: DonationKind = "cash"
    amount: Amount | None = Field(None, validate_default=True, description="cash received; required for cash")
    valuation: Amount | None = Field(None, validate_default=True,
                                     description="what an in-kind gift is worth; required in kind")
    description: Text(500) = Field("", validate_default=True, description="what was given; required in kind")
    valuation_basis: Text(200) = Field("", validate_default=True,
                                       description="how an in-kind gift was valued (an invoice, a quote); required "
                                                   "in kind")
    event_code: Annotated[ShortCode | None, BlankIsAbsent] = Field(None, description="the charity event it was "
                                                                                     "given at")
    received_at: Instant | None = Field(None, description="when it was received (left out: now)")

    @field_validator("amount")
    @classmethod
    def _cash_has_amount(cls, value, info: ValidationInfo):
        if value is None and info.data.get("kind") == "cash":
            raise _missing()
        return value

    @field_validator("valuation", "description", "valuation_basis")
    @classmethod
    def _in_kind_is_described(cls, value, info: ValidationInfo):
        if not value and info.data.get("kind") == "in_kind":
            raise _missing()
        return value

    def command(self) -> RecordDonation:
        in_kind = self.kind == "in_kind"
        return RecordDonation(str(self.donor_id), self.kind, self.valuation if in_kind else self.amount,
                              self.description, self.valuation_basis if in_kind else "", self.event_code,
                              self.received_at)


class EventBody(ApiModel):
    """A charity event (慈善活动): its auction, market and gifts are reported together."""

    code: ShortCode
    name: Required(120)
    held_on: Day
    place: Text(120) = ""

    def command(self) -> NewEvent:
        return NewEvent(self.code, self.name, self.held_on, self.place)


class LotBody(ApiModel):
    """A donated lot (拍品) of the event's charity auction."""

    lot_number: StrictInt = Field(ge=1, le=999)
    title: Required(120)
    donor_id: UUID = Field(description="the registered donor who gave it")

    def command(self) -> NewLot:
        return NewLot(self.lot_number, self.title, str(self.donor_id))


class BidBody(ApiModel):
    bidder: Required(100)
    amount: Amount = Field(description="more than the highest bid so far")


class HammerBody(Keyed):
    at: Instant | None = Field(None, description="when the hammer fell (落槌); left out: now")


class PaymentBody(Keyed):
    paid_at: Instant | None = Field(None, description="when the buyer paid; left out: now")


class MarketSaleBody(Keyed):
    """Takings of the event's charity market (公益市集)."""

    description: Required(200)
    amount: Amount
    sold_at: Instant | None = Field(None, description="left out: now")

    def command(self) -> MarketSale:
        return MarketSale(self.description, self.amount, self.sold_at)


class FundSourceBody(ApiModel):
    """Where a special fund's money comes from: an event's proceeds (auction and market), or a donation."""

    event: ShortCode | None = Field(None, description="a charity event, by code")
    donation: UUID | None = Field(None, description="a donation, by id")

    @model_validator(mode="after")
    def _one_source(self):
        return _one_of(self, "event", "donation")

    def source(self) -> FundSource:
        return FundSource("event", self.event) if self.event is not None else FundSource("donation", str(self.donation))


class FundBody(Keyed):
    """A restricted special fund (专项基金), founded with what its sources raised."""

    code: ShortCode
    name: Required(100)
    purpose: ShortCode = Field(description="what the fund may pay for; its grants must name the same purpose")
    sources: list[FundSourceBody] = Field(min_length=1, max_length=100, description="each source founds one fund")
    founded_at: Instant | None = Field(None, description="left out: now")

    @field_validator("sources")
    @classmethod
    def _distinct(cls, sources: list[FundSourceBody]) -> list[FundSourceBody]:
        if len({source.source() for source in sources}) != len(sources):
            raise invalid("distinct", "来源不能重复", "must not name a source twice")
        return sources

    def command(self) -> FoundFund:
        return FoundFund(self.code, self.name, self.purpose, tuple(s.source() for s in self.sources),
                         self.founded_at)


class GrantBody(Keyed):
    """A grant (资助) out of a special fund, only for its purpose."""

    purpose: ShortCode = Field(description="must be the fund's purpose")
    recipient: Required(100)
    project: ShortCode = Field(description="the project granted to, by code")
    amount: Amount
    granted_at: Instant | None = Field(None, description="left out: now")

    def command(self) -> Grant:
        return Grant(self.purpose, self.recipient, self.project, self.amount, self.granted_at)


class TotalsQuery(ApiModel):
    year: Annotated[int, Field(ge=1900, le=2199)] | None = Field(
        None, description="only donations received (by receipt year) and events held in this year")


# -- the foundation: answers ----------------------------------------------------------------------------------

class DonorView(AnswerModel):
    id: UUID
    kind: DonorKind
    name: str = Field(description="the display name: 匿名捐赠人 for an anonymous donor")


class DonationView(AnswerModel):
    id: UUID
    donor_id: UUID
    kind: DonationKind
    amount: Yuan = Field(description="cash received, or the in-kind valuation")
    receipt_number: str = Field(description="捐赠票据号 YYYY-NNNNNN, numbered per year without gaps")
    event_code: str | None
    received_at: datetime
    transfer_id: UUID


class EventView(AnswerModel):
    code: str
    name: str
    held_on: date
    place: str


class LotView(AnswerModel):
    id: UUID
    event_code: str
    lot_number: int
    title: str
    donor_id: UUID
    status: LotStatus = Field(description="open → sold (hammer) → paid; open → unsold")
    bids: int = Field(description="bids placed")
    highest_bid: Yuan | None
    hammer_price: Yuan | None = Field(description="落槌价")
    buyer: str | None


class SettledLot(LotView):
    transfer_id: UUID | None = Field(description="the posting: the receivable at the hammer, the cash at payment; "
                                                 "none for an unsold lot")


class MarketSaleView(AnswerModel):
    id: UUID
    event_code: str
    description: str
    amount: Yuan
    transfer_id: UUID


class SourceView(AnswerModel):
    kind: SourceKind
    ref: str = Field(description="the event's code or the donation's id")
    amount: Yuan = Field(description="what it raised")


class FundView(AnswerModel):
    code: str
    name: str
    purpose: str
    amount: Yuan = Field(description="the founding amount, from every source")
    account: str = Field(description="the fund's restricted account")
    sources: list[SourceView]
    founded_at: datetime
    transfer_id: UUID


class GrantView(AnswerModel):
    id: UUID
    fund_code: str
    purpose: str
    recipient: str
    project: str
    amount: Yuan
    transfer_id: UUID


class EventHeader(AnswerModel):
    code: str
    name: str
    held_on: date
    place: str


class ReportedLot(AnswerModel):
    lot_number: int
    title: str
    status: LotStatus
    donor: str = Field(description="the donor's display name")
    hammer_price: Yuan | None


class EventReport(AnswerModel):
    """What a charity event raised: auction, market and the gifts given at it."""

    event: EventHeader
    lots: list[ReportedLot]
    lots_sold: int
    lots_paid: int
    auction_total: Yuan
    market_sales: int
    market_total: Yuan
    proceeds_total: Yuan = Field(description="auction and market")
    donations_total: Yuan
    total: Yuan


class FundGrantView(AnswerModel):
    id: UUID
    recipient: str
    project: str | None
    amount: Yuan
    granted_at: datetime


class FundReport(AnswerModel):
    """A special fund (专项基金): where its money came from, what it granted, what it still holds."""

    code: str
    name: str
    purpose: str
    account: str
    founded_at: datetime
    founding_amount: Yuan
    sources: list[SourceView]
    grants: list[FundGrantView]
    granted_total: Yuan
    available: Yuan


class StatementDonor(AnswerModel):
    id: UUID
    kind: DonorKind
    name: str


class StatementDonation(AnswerModel):
    id: UUID
    kind: DonationKind
    amount: Yuan
    description: str
    event_code: str | None
    receipt_number: str
    received_at: datetime


class DonatedLot(AnswerModel):
    event_code: str
    lot_number: int
    title: str
    status: LotStatus
    hammer_price: Yuan | None


class DonorStatement(AnswerModel):
    donor: StatementDonor
    donations: list[StatementDonation]
    lots_donated: list[DonatedLot]
    donations_total: Yuan
    lots_raised_total: Yuan = Field(description="hammer prices of the donor's lots that sold")


class EventTotals(AnswerModel):
    code: str
    name: str
    auction: Yuan
    market: Yuan
    donations: Yuan
    total: Yuan


class FundTotals(AnswerModel):
    code: str
    name: str
    founded_with: Yuan
    available: Yuan


class DonorTotals(AnswerModel):
    donor_id: UUID
    name: str
    total: Yuan


class FoundationTotals(AnswerModel):
    year: int | None
    donations_total: Yuan
    per_event: list[EventTotals]
    per_fund: list[FundTotals]
    per_donor: list[DonorTotals] = Field(description="largest first")


# -- autonomy funds: requests ---------------------------------------------------------------------------------

class AllocationBody(Keyed):
    """The street's yearly allocation (街道拨款) to an area's autonomy fund (自治金)."""

    year: Year
    amount: Amount
    allocated_at: Instant | None = Field(None, description="left out: now")

    def command(self) -> Allocation:
        return Allocation(self.year, self.amount, self.allocated_at)


class TeamBody(ApiModel):
    name: Required(60) = Field(description="the team (自治团队)")
    lead: Required(50) = Field(description="its lead (负责人), a member of the team")
    members: list[Required(50)] = Field(min_length=1, max_length=500)


class BudgetLineBody(ApiModel):
    name: Required(60) = Field(description="a budget line (预算科目)")
    amount: Amount


class ProjectBody(Keyed):
    """A project proposed by residents, for the area's 事前听证 (hearing) to approve."""

    area: ShortCode
    year: Year
    title: Required(200)
    description: Text(2000) = ""
    team: TeamBody
    budget: list[BudgetLineBody] = Field(min_length=1, max_length=20, description="numbered from 1 as given")

    def command(self) -> ProposeProject:
        return ProposeProject.of(area=self.area, year=self.year, title=self.title, description=self.description,
                                 team_name=self.team.name, lead=self.team.lead, members=self.team.members,
                                 budget=[(line.name, line.amount) for line in self.budget])


Count = Annotated[StrictInt, Field(ge=0, le=10_000)]


class VotesBody(ApiModel):
    for_: Count = Field(alias="for")
    against: Count
    abstain: Count


class HearingBody(Keyed):
    """事前听证: the residents' hearing that approves a project (reserving its budget) or rejects it."""

    held_on: Day
    attendees: Attendees
    votes: VotesBody = Field(description="no more votes than attendees; approval needs more for than against")
    minutes: Minutes = Field(description="会议记录")
    decision: Decision

    def command(self) -> Hearing:
        return Hearing(self.held_on, tuple(self.attendees), self.votes.for_, self.votes.against, self.votes.abstain,
                       self.minutes, self.decision)


class CoordinationBody(Keyed):
    """事中协调: a meeting while the project is carried out."""

    held_on: Day
    attendees: Attendees
    minutes: Minutes

    def command(self) -> Coordination:
        return Coordination(self.held_on, tuple(self.attendees), self.minutes)


def _scores(value: Any) -> Any:
    # Checked here as a whole, so that an unusable criterion is named as "scores", never echoed as a field name.
    if not isinstance(value, dict):
        return value
    scores = {}
    for criterion, score in value.items():
        name = criterion.strip() if isinstance(criterion, str) else ""
        if not 1 <= len(name) <= 40 or "\x00" in name:
            raise invalid("criterion", "评议项目名称应为1至40个字符", "criteria are names of 1 to 40 characters")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid("criterion", "评议项目名称含有无效字符", "a criterion is not valid Unicode text") from None
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100:
            raise invalid("score", "评分应为0至100的整数", "each score must be a whole number from 0 to 100")
        scores[name] = score
    return scores


Score = Annotated[StrictInt, Field(ge=0, le=100)]


class EvaluationBody(Keyed):
    """事后评议: the residents' evaluation after the project, before it is closed."""

    held_on: Day
    attendees: Attendees
    scores: Annotated[dict[str, Score], BeforeValidator(_scores)] = Field(
        min_length=1, max_length=50, description="a score from 0 to 100 per criterion (评议项目)")
    satisfaction: Score = Field(description="resident satisfaction (满意度), percent")
    findings: Minutes = Field(description="评议意见")

    def command(self) -> Evaluation:
        return Evaluation(self.held_on, tuple(self.attendees), dict(self.scores), self.satisfaction, self.findings)


class ExpenseBody(Keyed):
    """Spending against a budget line of an approved project; never beyond what the line has left."""

    line: StrictInt = Field(ge=1, le=20, description="the budget line, from 1")
    amount: Amount
    payee: Required(100)
    receipt_ref: Required(60) = Field(description="the invoice or receipt (票据) number")
    description: Text(500) = ""
    spent_at: Instant | None = Field(None, description="left out: now")

    def command(self) -> RecordExpense:
        return RecordExpense(self.line, self.amount, self.payee, self.receipt_ref, self.description, self.spent_at)


class ClosingBody(Keyed):
    """Closing an evaluated project: what its budget lines have left goes back to the area's fund."""


class CofundingBody(Keyed):
    """A partner's money for a budget line (共建资助); from the foundation, posted in both books."""

    partner: Required(100)
    amount: Amount
    line: StrictInt = Field(ge=1, le=20, description="the budget line, from 1")
    from_foundation: StrictBool = Field(False, description="the community foundation pays it, out of a special "
                                                           "fund (fund_code) or its unrestricted money")
    fund_code: Annotated[ShortCode | None, BlankIsAbsent] = Field(None, description="the special fund (专项基金) "
                                                                                    "it comes from")
    purpose: ShortCode | None = Field(None, validate_default=True,
                                      description="the special fund's purpose; required with fund_code")
    funded_at: Instant | None = Field(None, description="left out: now")

    @field_validator("purpose")
    @classmethod
    def _fund_has_purpose(cls, purpose: str | None, info: ValidationInfo) -> str | None:
        if purpose is None and info.data.get("fund_code"):
            raise _missing()
        return purpose

    def command(self) -> Cofunding:
        return Cofunding(self.partner, self.amount, self.line, self.from_foundation, self.fund_code,
                         self.purpose if self.fund_code else None, self.funded_at)


# -- autonomy funds: answers ----------------------------------------------------------------------------------

class AllocationView(AnswerModel):
    area: str
    year: int
    amount: Yuan
    transfer_id: UUID


class ProjectProposed(AnswerModel):
    id: str = Field(description="<area>-<year>-<n>")
    status: Literal["proposed"]
    budget_total: Yuan


class HearingHeld(AnswerModel):
    id: str
    status: Literal["approved", "rejected"]
    transfer_id: UUID | None = Field(description="the budget's reservation from the area's fund, once approved")


class CoordinationHeld(AnswerModel):
    id: str
    status: ProjectStatus
    meeting: Literal["coordination"]
    held_on: date


class EvaluationHeld(AnswerModel):
    id: str
    status: Literal["evaluated"]


class ExpenseView(AnswerModel):
    id: UUID
    project_id: str
    line: int
    amount: Yuan
    line_available: Yuan = Field(description="what the budget line has left")
    transfer_id: UUID


class ProjectClosed(AnswerModel):
    id: str
    status: Literal["closed"]
    spent: Yuan
    released: Yuan = Field(description="unspent budget, back to the area's fund")
    transfer_id: UUID | None


class CofundingView(AnswerModel):
    id: UUID
    project_id: str
    partner: str
    amount: Yuan
    line: int
    area_transfer_id: UUID
    foundation_transfer_id: UUID | None = Field(description="the foundation's grant, when it pays")


class TeamView(AnswerModel):
    name: str
    lead: str
    members: list[str]


class BudgetLineView(AnswerModel):
    line: int
    name: str
    planned: Yuan
    spent: Yuan
    available: Yuan


class CofundingLine(AnswerModel):
    partner: str
    line: int
    amount: Yuan
    fund_code: str | None


class VotesView(AnswerModel):
    for_: int = Field(alias="for")
    against: int
    abstain: int


class HearingView(AnswerModel):
    kind: Literal["hearing"] = Field(description="事前听证")
    held_on: date
    attendees: list[str]
    votes: VotesView
    minutes: str
    decision: Decision


class CoordinationView(AnswerModel):
    kind: Literal["coordination"] = Field(description="事中协调")
    held_on: date
    attendees: list[str]
    minutes: str


class EvaluationView(AnswerModel):
    kind: Literal["evaluation"] = Field(description="事后评议")
    held_on: date
    attendees: list[str]
    scores: dict[str, int]
    satisfaction: int
    findings: str


Meeting = Annotated[Union[HearingView, CoordinationView, EvaluationView], Field(discriminator="kind")]


class ProjectExpense(AnswerModel):
    line: int
    amount: Yuan
    payee: str
    receipt_ref: str
    description: str
    spent_at: datetime


class ProjectView(AnswerModel):
    """An autonomy-fund project through the three meetings (三会制度), its budget and what it spent."""

    id: str
    area: str
    year: int
    title: str
    description: str
    status: ProjectStatus
    team: TeamView
    budget: list[BudgetLineView]
    budget_total: Yuan = Field(description="as proposed")
    cofunding: list[CofundingLine]
    spent: Yuan
    released: Yuan | None = Field(description="unspent budget returned at closing")
    meetings: list[Meeting]
    expenses: list[ProjectExpense]


# -- disclosure -----------------------------------------------------------------------------------------------

class DisclosureBody(Keyed):
    """A year's disclosure (公示): the foundation's, or with area an area's autonomy fund."""

    year: Year
    area: Annotated[ShortCode | None, BlankIsAbsent] = Field(None, description="an area's autonomy fund (left "
                                                                               "out: the foundation)")


class DisclosedChain(AnswerModel):
    book: str
    sequence: int = Field(description="the last entry the report was drawn from")
    head: Hash = Field(description="that entry's hash: the ledger export must end here")


class _Disclosure(AnswerModel):
    id: UUID
    book: str
    year: int
    published_at: datetime
    published_at_local: datetime = Field(description="the same instant in Asia/Shanghai")
    chain: DisclosedChain


class AreaDisclosure(_Disclosure):
    """An area's autonomy fund (自治金) for a year: allocation, projects, spending, what is left."""

    kind: Literal["autonomy-fund"]
    area: str
    allocation: Yuan
    projects: list[ProjectView]
    spent_total: Yuan
    unreserved_fund: Yuan = Field(description="the area's fund not reserved for projects")
    bank: Yuan


class FoundationDisclosure(_Disclosure):
    """The community foundation (社区公益基金会) for a year: donations, events, special funds, donors."""

    kind: Literal["foundation"]
    donations_total: Yuan
    per_event: list[EventTotals]
    per_fund: list[FundTotals]
    per_donor: list[DonorTotals]
    events: list[EventReport]
    funds: list[FundReport]


Disclosure = Annotated[Union[AreaDisclosure, FoundationDisclosure], Field(discriminator="kind")]


class ExportedAccount(AnswerModel):
    code: str
    name: str
    kind: Kind
    normal_side: Literal["debit", "credit"]


class ExportedChain(AnswerModel):
    sequence: int
    head: Hash


class LedgerExport(AnswerModel):
    """A book's entries up to a disclosure's chain head, with its chart: everything needed to verify it offline
    (``doorstep ledger verify --export FILE``)."""

    book: str
    chain: ExportedChain
    accounts: list[ExportedAccount]
    transfers: list[TransferView]
