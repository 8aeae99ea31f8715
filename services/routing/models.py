"""Routing's HTTP contract: every body, query and answer of its endpoints, declared once.

The endpoints in :mod:`services.routing.service` name these models; the HTTP edge parses requests into them
before a use case runs (a wrong field is a 400 naming it) and the OpenAPI document is generated from them.
What the models cannot know — whether a unit belongs to this street, what an assignment's state allows — is the
domain's to say.
"""
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import BeforeValidator, Field, StrictBool, StrictInt, ValidationInfo, field_validator
from pydantic_core import PydanticUseDefault

from shared.fields import AnswerModel, ApiModel, Code, Day, PerPage, Required, Text, invalid
from services.routing.domain.assignments import MAX_EXTENSION_DAYS, RETURN_REASONS

# The 退单 reason codes are the domain's (RETURN_REASONS, with their Chinese names).
ReturnReason = Literal[tuple(RETURN_REASONS)]  # type: ignore[valid-type]
Role = Literal["lead", "assist"]
AssignmentStatus = Literal["dispatched", "signed", "in_progress", "done", "transferred", "returned", "superseded"]
CaseStatus = Literal["open", "arbitration", "resolved"]
WorklistState = Literal["open", "overdue", "escalated", "supervising", "arbitration", "closed", "all"]


def _blank_is_absent(value):
    # A form sends a filter left empty as "role=": the same as not sending it.
    if value == "":
        raise PydanticUseDefault()
    return value


BlankIsAbsent = BeforeValidator(_blank_is_absent)


# -- requests ---------------------------------------------------------------------------------------------

class ReportBody(ApiModel):
    answer: Required(2000) = Field(description="what was done: the lead's answer to the resident, or an "
                                               "assisting unit's (协办) part of it")


class TransferBody(ApiModel):
    to_unit: Code = Field(description="the unit that takes the case over (转办 transfer), a code of this street's "
                                      "directory")
    reason: Required(500) = Field(description="why the case belongs to that unit")


class ReturnBody(ApiModel):
    reason_code: ReturnReason = Field(description="why the case is not this unit's (退单 return): wrong-area 属地不符, "
                                                  "unclear-ownership 权属不清, overlapping-duties 职能交叉")
    note: Text(500) = Field("", description="anything the arbitration unit should know")


class ArbitrateBody(ApiModel):
    unit: Code = Field(description="the unit that handles the returned case from now on (仲裁 arbitration)")
    decision: Required(500) = Field(description="why this unit handles it")


class ExtensionBody(ApiModel):
    working_days: StrictInt = Field(ge=1, le=MAX_EXTENSION_DAYS,
                                    description="working days to add to the deadline (延期 extension)")
    reason: Required(500) = Field(description="why the unit needs longer")


class ExtensionDecisionBody(ApiModel):
    approve: StrictBool = Field(description="true approves the extension, false refuses it")


class WorklistQuery(ApiModel):
    state: WorklistState = Field("open", description=(
        "open: the unit's open assignments; overdue: open and past a deadline; escalated: open and escalated "
        "(督办); supervising: open assignments escalated to this unit; arbitration: returned cases waiting for "
        "this unit, the arbitration unit (仲裁); closed: done, transferred, returned or superseded; all"))
    role: Annotated[Role | None, BlankIsAbsent] = Field(
        None, description="only lead assignments, or only assisting (协办) ones")
    area: Annotated[Code | None, BlankIsAbsent] = Field(
        None, description="only assignments in this residential area (居民区)")
    page: Annotated[int, Field(ge=1, le=10_000), BlankIsAbsent] = Field(1, description="page number, from 1")
    per_page: Annotated[PerPage, BlankIsAbsent] = 20


class ScoresQuery(ApiModel):
    from_: Day = Field(alias="from", description="first day of the period, inclusive (Asia/Shanghai)")
    to: Day = Field(description="last day of the period, inclusive (Asia/Shanghai)")

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to: date, info: ValidationInfo) -> date:
        start = info.data.get("from_")
        if start is not None and to < start:
            raise invalid("period", "结束日期不能早于开始日期", "must not be before from")
        return to


# -- answers ----------------------------------------------------------------------------------------------

class AssignmentView(AnswerModel):
    """One unit's part in a case: the lead's, or an assisting unit's (协办)."""

    id: UUID
    case_id: UUID
    unit_code: str = Field(description="the handling unit")
    rule: str = Field(description="the routing rule, or transfer, arbitration, warning")
    reason: str = Field(description="why this unit has it")
    area: str = Field(description="the case's residential area (居民区); empty if routing never knew it")
    status: AssignmentStatus
    created_at: datetime = Field(description="dispatched at")
    role: Role
    required: bool = Field(description="an assisting unit whose part the case waits for")
    handle_limit: str = Field(description="the handling time limit, as unit:amount (working_days:15)")
    sign_due_at: datetime | None = Field(None, description="sign for it (签收) by then")
    signed_at: datetime | None = None
    contact_due_at: datetime | None = Field(None, description="first contact with the resident (先行联系) by then")
    contacted_at: datetime | None = None
    due_at: datetime | None = Field(None, description="handle it by then")
    reported_at: datetime | None = None
    result: str | None = Field(None, description="what the unit reported")
    closed_at: datetime | None = None
    close_reason: str | None = Field(None, description="reported, to <unit>, a return reason code, case resolved")
    extension_days: int | None = Field(None, description="working days of an extension (延期) waiting for a decision")
    extension_reason: str | None = None
    extensions: int = Field(description="extensions approved so far")
    escalated_to: str | None = Field(None, description="the supervising unit it was escalated to (督办)")
    escalated_at: datetime | None = None
    overdue: bool = Field(description="past its sign-for or handling deadline now")


class RuleCheck(AnswerModel):
    """Why a rule did not place the case: a condition that failed, or its unit missing in the case's area."""

    condition: str | None = None
    expected: Any = None
    actual: Any = None
    unit: str | None = None
    problem: str | None = None


class ExplanationStep(AnswerModel):
    rule: str = Field(description="the rule's id, or triage")
    matched: bool
    conditions: dict[str, Any] | None = Field(None, description="the facts a matching rule held")
    failed: RuleCheck | None = None


class CaseFacts(AnswerModel):
    matter_code: str
    category: str
    area: str
    kind: str
    urgency: str


class HistoryEntry(AnswerModel):
    """Something that happened to a case and who did it; the other fields depend on the action."""

    at: datetime
    action: Literal["transfer", "transfer-refused", "escalation", "return", "arbitration", "extension-requested",
                    "extension-approved", "extension-refused", "warning"]
    unit: str | None = Field(None, description="the unit that acted or held the case")
    actor: str | None = Field(None, description="role:token id, timer, or intake")
    to_unit: str | None = None
    reason: str | None = None
    escalated_to: str | None = None
    reason_code: ReturnReason | None = None
    note: str | None = None
    decision: str | None = None
    working_days: int | None = None
    approver: str | None = None
    rating: str | None = Field(None, description="the resident's rating of a reopened case (预警工单)")


class CaseDecision(AnswerModel):
    """Why a case went where it went, every rule tried before, and what happened to it since."""

    case_id: UUID
    assignments: list[AssignmentView]
    history: list[HistoryEntry]
    status: CaseStatus | None = None
    lead_unit: str | None = None
    rule: str | None = Field(None, description="the rule that matched")
    reason: str | None = None
    facts: CaseFacts | None = Field(None, description="what the case was routed on")
    explanation: list[ExplanationStep] | None = Field(None, description="every rule tried, in order")
    escalation_chain: list[str] | None = Field(None, description="where the case escalates (督办), in order")
    transfers: int | None = None
    escalations: int | None = None
    warning: bool | None = Field(None, description="reopened as a warning case (预警工单)")
    answer: str | None = Field(None, description="the merged answer, once resolved")
    resolved_at: datetime | None = None


class UnitView(AnswerModel):
    code: str
    name: str
    kind: str = Field(description="department, residents-committee, owners-committee, property-company, …")
    area: str | None = Field(None, description="its residential area (居民区); none for a street department")
    handlers: list[str] = Field(description="who handles its assignments")
    working_hours: str = Field(description="HH:MM-HH:MM, Asia/Shanghai")
    supervisor: str | None = Field(None, description="the unit that supervises it (督办) and approves extensions")


class AreaView(AnswerModel):
    """A residential area (居民区); further attributes are the street's, for its rules (area.<attribute>)."""

    name: str
    has_owners_committee: bool = Field(description="whether it has an owners' committee (业委会)")
    police: str | None = None
    partners: list[str] | None = None


class DirectoryView(AnswerModel):
    units: list[UnitView]
    areas: dict[str, AreaView]
    triage_unit: str = Field(description="where a case no rule places goes")


class Worklist(AnswerModel):
    unit: str
    state: WorklistState
    page: int
    per_page: int
    total: int = Field(description="assignments in the list, over every page")
    items: list[AssignmentView]


Rate = Annotated[float, Field(ge=0, le=1)] | None  # a share; none when there is nothing to count


class Scores(AnswerModel):
    """三率 of a unit over a period."""

    unit: str
    from_: date = Field(alias="from")
    to: date
    assignments: int = Field(description="assignments dispatched in the period, not transferred, returned or "
                                         "superseded")
    response_rate: Rate = Field(description="响应率: signed for in time")
    resolution_rate: Rate = Field(description="办结率: lead assignments resolved")
    satisfaction_rate: Rate = Field(description="满意率: resolved and not reopened as a warning case")
    resolved_on_time: int


class Reported(AnswerModel):
    assignment: AssignmentView
    case_status: CaseStatus
    answer: str | None = Field(description="the merged answer, once the case is resolved")


class Transferred(AnswerModel):
    outcome: Literal["transferred"]
    assignment: AssignmentView = Field(description="the new unit's assignment")


class TransferEscalated(AnswerModel):
    """Past the street's limit of transfers the case is escalated (督办) instead of transferred."""

    outcome: Literal["escalated"]
    escalated_to: str
    detail: str


TransferOutcome = Annotated[Union[Transferred, TransferEscalated], Field(discriminator="outcome")]


class Returned(AnswerModel):
    case_id: UUID
    status: CaseStatus
    arbitration_unit: str = Field(description="the unit that arbitrates (仲裁)")


class Arbitrated(AnswerModel):
    case_id: UUID
    status: CaseStatus
    assignment: AssignmentView


class ExtensionRequested(AnswerModel):
    assignment: AssignmentView
    approver: str = Field(description="the unit that approves or refuses it")


class ExtensionDecided(AnswerModel):
    approved: bool
    assignment: AssignmentView
