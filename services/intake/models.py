"""Intake's HTTP contract: every body, query and answer of its endpoints, declared once.

The entrypoints (:mod:`services.intake.service`) name these models; the HTTP layer parses requests into them
before a worker runs (a wrong field is a 400 naming it) and the OpenAPI document at ``/intake/openapi.json`` is
made from them. A body model turns itself into the domain's command (:meth:`SubmitCaseBody.command`); the use
cases never see a request.
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import (AfterValidator, BeforeValidator, ConfigDict, Field, PlainValidator, StrictBool, TypeAdapter,
                      ValidationError, ValidationInfo, WithJsonSchema, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from shared.fields import (AnswerModel, ApiModel, Code, Day, IdCard, Instant, Mobile, PerPage, Required, Text,
                           invalid)
from services.intake import domain
from services.intake.catalog import CHANNELS, DATATYPES, HANDLINGS

# -- the pieces -------------------------------------------------------------------------------------------

AREA_PATTERN = r"^[a-z0-9-]{1,40}$"
Area = Annotated[str, Field(pattern=AREA_PATTERN,
                            description="residential area (居民区) code: lower-case letters, digits, '-'",
                            examples=["shixin"])]
Channel = Literal[CHANNELS]
Kind = Literal[domain.KINDS]
Urgency = Literal[domain.URGENCIES]
Status = Literal[domain.STATUSES]
Rating = Literal[domain.RATINGS]
Handling = Literal[HANDLINGS]
VideoKind = Literal["consultation", "remote_assistance"]


def example(**values) -> ConfigDict:
    """A body's example, in the document (and the first request a contract test sends)."""
    return ConfigDict(json_schema_extra={"examples": [values]})


def _blank_is_absent(value):
    # A form or a link leaves a filter empty (?status=) to mean "any".
    return None if value == "" else value


def _unique(what_zh: str, what_en: str):
    def check(values: list) -> list:
        if len(set(values)) != len(values):
            raise invalid("unique", f"{what_zh}重复", f"names {what_en} twice")
        return values
    return AfterValidator(check), Field(json_schema_extra={"uniqueItems": True})


_ATTRIBUTE_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ATTRIBUTE_SCHEMA = {"anyOf": [{"type": "string", "maxLength": 2000}, {"type": "number"},
                               {"type": "array", "items": {"type": "string", "maxLength": 2000}}]}
_TEXT, _TEXTS = TypeAdapter(Text(2000)), TypeAdapter(list[Text(2000)])


def _attribute_value(value):
    """Text, a number or a list of texts; which one the matter's attribute takes is the matter's rule."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, list)):
        raise invalid("attribute_value", "应为文本、数字或文本列表", "must be text, a number or a list of texts")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):  # the JSON reader takes NaN and Infinity
            raise invalid("attribute_value", "应为有限的数字", "must be a finite number")
        return value
    try:
        return (_TEXTS if isinstance(value, list) else _TEXT).validate_python(value)
    except ValidationError as exc:  # the text rule's own wording, at the attribute
        error = exc.errors(include_url=False)[0]
        raise PydanticCustomError(error["type"], error["msg"], error.get("ctx")) from None


def _attribute_codes(value):
    # Checked here, before pydantic would name a bad key in the field's path (and so echo it back).
    if isinstance(value, dict) and not all(isinstance(k, str) and _ATTRIBUTE_CODE_RE.match(k) for k in value):
        raise invalid("attribute_code", "含有无效的字段代码", "has a field code that is not a-z, 0-9, '_'")
    return value


AttributeValue = Annotated[Any, PlainValidator(_attribute_value), WithJsonSchema(_ATTRIBUTE_SCHEMA)]
Attributes = Annotated[dict[str, AttributeValue], BeforeValidator(_attribute_codes), Field(
    description="the matter's form fields (see GET /intake/catalog/{code}), checked against the matter")]

# -- bodies -----------------------------------------------------------------------------------------------


class Resident(ApiModel):
    """The minimal resident record; the resident is found again by the mobile number."""

    name: Required(50) = Field(description="the resident's name")
    phone: Mobile
    area: Area
    building: Text(20) = Field("", description="building (楼号)")
    room: Text(20) = Field("", description="room (室号)")
    id_card: Annotated[IdCard | None, BeforeValidator(_blank_is_absent)] = Field(
        None, description="resident ID number (身份证号), optional; stored as a keyed hash and a mask, never shown")

    def details(self) -> domain.ResidentDetails:
        return domain.ResidentDetails(name=self.name, phone=self.phone, area=self.area, building=self.building,
                                      room=self.room, id_card=self.id_card)


class SubmitCaseBody(ApiModel):
    """A resident's matter, entered at the counter (受理 at once) or arriving by another channel."""

    model_config = example(matter_code="property-repair", channel="online", description="楼道灯不亮",
                           resident={"name": "王阿姨", "phone": "13812345678", "area": "shixin"},
                           attributes={"location": "stairwell"})

    matter_code: Code = Field(description="a matter of the catalog (事项目录)")
    channel: Channel = Field("counter", description="how it arrived; a counter case is accepted at once (一口受理)")
    kind: Kind = Field("request", description="咨询 consultation, 投诉 complaint, 求助 request, 建议 suggestion")
    urgency: Urgency = Field("normal", description="一般 normal, 紧急 urgent, 特急 critical")
    description: Text(2000) = Field("", description="what the resident says")
    resident: Resident
    proxy: StrictBool = Field(False, description="a worker enters the case for the resident (代办)")
    reporter: Text(50) = Field("", description="who reported it, if not the resident (a neighbour, 楼组长)")
    attributes: Attributes = {}

    def command(self, entered_by: str) -> domain.SubmitCase:
        return domain.SubmitCase(matter_code=self.matter_code, channel=self.channel, kind=self.kind,
                                 urgency=self.urgency, description=self.description,
                                 resident=self.resident.details(), entered_by=entered_by, proxy=self.proxy,
                                 reporter=self.reporter, attributes=dict(self.attributes))


class CaseAction(ApiModel):
    """A worker's action on a case (受理 … 结案): the case and the body's fields make the domain's command."""

    command_type: ClassVar[type]

    def command(self, case_id: str):
        return self.command_type(case_id=case_id, **{name: tuple(value) if isinstance(value, list) else value
                                                     for name, value in self})


class RejectBody(CaseAction):
    command_type = domain.RejectCase
    model_config = example(reason="不属于本站事项")

    reason: Required(500) = Field(description="why the case is not accepted (不予受理); told to the resident")


class SupplementBody(CaseAction):
    command_type = domain.RequestSupplement
    model_config = example(missing_materials=["房屋产权证明"], note="请带原件")

    missing_materials: Annotated[list[Required(100)], Field(min_length=1), *_unique("材料", "a material")] = Field(
        description="the materials the resident must still bring (补正材料)")
    note: Text(500) = Field("", description="a note for the resident")


class ResubmitBody(CaseAction):
    command_type = domain.ResubmitCase
    model_config = example(note="材料已补齐")

    note: Text(500) = Field("", description="what the resident brought")


class SettleBody(CaseAction):
    command_type = domain.SettleCase
    model_config = example(answer="已当场打印医保账单")

    answer: Required(2000) = Field(description="the answer given on the spot (当场办结)")


class CallbackBody(CaseAction):
    command_type = domain.RecordCallback
    model_config = example(rating="satisfied", comment="处理及时")

    rating: Rating = Field(description="好差评: 非常满意 very_satisfied, 满意 satisfied, 基本满意 neutral, 不满意 "
                                       "dissatisfied, 非常不满意 very_dissatisfied; the last two reopen the case "
                                       "as a warning case (预警工单)")
    comment: Text(1000) = Field("", description="what the resident said at callback (回访)")


class VisitBody(ApiModel):
    station: Code = Field(description="the service station (服务站) visited")
    case_ids: Annotated[list[UUID], Field(min_length=1, max_length=20), *_unique("工单", "a case")] = Field(
        description="the resident's cases handled in this one visit (一口受理)")

    def command(self, worker: str) -> domain.RecordVisit:
        return domain.RecordVisit(self.station, tuple(str(case_id) for case_id in self.case_ids), worker)


class VideoBody(ApiModel):
    model_config = example(kind="consultation")

    kind: VideoKind = Field(description="可视化咨询 consultation or 远程协助 remote_assistance")

    def command(self, case_id: str, worker: str) -> domain.StartVideo:
        return domain.StartVideo(case_id, self.kind, worker)


class BookBody(ApiModel):
    station: Code = Field(description="the service station (服务站)")
    starts_at: Instant = Field(description="the start of one of the station's slots (GET …/slots)")
    matter_code: Code = Field(description="a matter of the catalog that takes appointments (网上预约)")
    resident: Resident

    def command(self) -> domain.BookAppointment:
        return domain.BookAppointment(self.station, self.starts_at, self.matter_code, self.resident.details())


class CancelBody(ApiModel):
    model_config = example(reason="改期")

    reason: Text(500) = Field("", description="why the booking is cancelled")

    def command(self, appointment_id: str) -> domain.CancelAppointment:
        return domain.CancelAppointment(appointment_id, self.reason)


# -- queries ----------------------------------------------------------------------------------------------

def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def _no_null(schema: dict) -> None:
    """A query string has no null: the document shows the parameter's own type."""
    schema.pop("default", None)
    kinds = [kind for kind in schema.pop("anyOf", ()) if kind.get("type") != "null"]
    schema.update({**kinds[0], **schema} if len(kinds) == 1 else {"anyOf": kinds})


def Filter(kind):  # noqa: N802 (a type, spelt as one)
    """An optional query parameter: left out (or blank), it does not filter."""
    return Annotated[kind | None, BeforeValidator(_blank_is_absent), Field(None, json_schema_extra=_no_null)]


class CaseSearch(ApiModel):
    status: Filter(Status) = Field(description="the case's status")
    matter_code: Filter(Code) = Field(description="a matter of the catalog")
    category: Filter(Code) = Field(description="a category of the catalog")
    area: Filter(Area) = Field(description="residential area (居民区)")
    channel: Filter(Channel) = Field(description="how the case arrived")
    submitted_from: Filter(Instant) = Field(alias="from", description="submitted at or after (ISO 8601; a date "
                                                                        "alone is midnight, Asia/Shanghai)")
    submitted_to: Filter(Instant) = Field(alias="to", description="submitted at or before")
    page: int = Field(1, ge=1, le=100000, description="page number, from 1")
    per_page: PerPage = 20

    @field_validator("submitted_to")
    @classmethod
    def _after_from(cls, value, info: ValidationInfo):
        start = info.data.get("submitted_from")
        if value is not None and start is not None and start > value:
            raise invalid("window", "不能早于 from", "must not be before 'from'")
        return value

    def filter(self) -> domain.CaseFilter:
        return domain.CaseFilter(status=self.status, matter_code=self.matter_code, category=self.category,
                                 area=self.area, channel=self.channel, submitted_from=self.submitted_from,
                                 submitted_to=self.submitted_to, page=self.page, per_page=self.per_page)


class SlotsQuery(ApiModel):
    date: Day = Field(description="the day (Asia/Shanghai)")


# -- answers ----------------------------------------------------------------------------------------------

class HistoryEntry(AnswerModel):
    status: Status
    at: datetime
    note: str


class CaseView(AnswerModel):
    """A case as intake keeps it, with its whole history; the resident is referred to by id."""

    id: UUID
    matter_code: str
    category: str
    channel: Channel
    kind: Kind
    urgency: Urgency
    description: str
    area: str = Field(description="residential area (居民区)")
    resident_id: UUID
    status: Status
    entered_by: str = Field(description="the role that entered the case")
    proxy: bool = Field(description="entered for the resident (代办)")
    reporter: str
    handling: Handling = Field(description="station: settled at the station (当场办结); routed: handled by a unit "
                                           "(收受分离)")
    attributes: dict[str, Any] = Field(description="the matter's form fields")
    missing_materials: list[str] = Field(description="what the resident must still bring (补正)")
    lead_unit: str = Field(description="the unit routing assigned it to (承办单位), once routed")
    answer: str = Field(description="the answer given to the resident (办结)")
    rating: Literal[("", *domain.RATINGS)] = Field(description="the rating at callback (回访), once given")
    reason: str = Field(description="why it was not accepted, or why it was reopened")
    submitted_at: datetime
    updated_at: datetime
    closed_at: datetime | None = Field(description="when it was closed (结案)")
    history: list[HistoryEntry]


class CaseSubmitted(AnswerModel):
    id: UUID
    status: Literal["submitted", "accepted"] = Field(description="accepted at once at the counter (一口受理)")
    submitted_at: datetime


class CaseRow(AnswerModel):
    id: UUID
    matter_code: str
    category: str
    channel: Channel
    kind: Kind
    urgency: Urgency
    area: str
    status: Status
    submitted_at: datetime
    updated_at: datetime


class CasePage(AnswerModel):
    total: int = Field(description="how many cases match")
    page: int
    per_page: int
    items: list[CaseRow] = Field(description="newest first")


class ResidentErased(AnswerModel):
    """A resident pseudonymised (PIPL 删除权): the record and its cases stay for statistics and history; name,
    phone, ID number, building and room are gone, and so is the free text of the cases."""
    resident_id: UUID
    pseudonym: str = Field(description="the name the record keeps, made from its id")
    erased_at: datetime = Field(description="when it was erased (the first request; a repeated one changes nothing)")
    case_ids: list[UUID] = Field(description="the resident's cases, their free text redacted")


class VisitRecorded(AnswerModel):
    id: UUID
    resident_id: UUID
    case_ids: list[UUID]
    visited_at: datetime


class VisitMetrics(AnswerModel):
    cases_done: int = Field(description="cases resolved, settled, called back or closed")
    visits: int = Field(description="in-person visits those cases took")
    visits_per_done_case: float | None = Field(description="none while no case is done")
    share_done_in_one_visit: float | None = Field(description="the share done in at most one visit (只跑一次)")


class VideoStarted(AnswerModel):
    id: UUID
    case_id: UUID
    kind: VideoKind
    worker: str
    started_at: datetime


class VideoEnded(AnswerModel):
    id: UUID
    ended_at: datetime


class Slot(AnswerModel):
    starts_at: datetime
    ends_at: datetime
    capacity: int
    free: int = Field(description="places not yet booked")


class StationDay(AnswerModel):
    station: str
    date: Day
    open: bool = Field(description="false on a weekend or statutory holiday (no slots)")
    slots: list[Slot]


class Booked(AnswerModel):
    id: UUID
    status: Literal["booked"]
    station: str
    starts_at: datetime
    resident_id: UUID


class AppointmentChanged(AnswerModel):
    id: UUID
    status: Literal["cancelled", "no_show"]


class CategoryView(AnswerModel):
    code: str
    name: str


class AttributeChoice(AnswerModel):
    key: str
    name: str


class MatterAttribute(AnswerModel):
    code: str
    datatype: Literal[DATATYPES] = Field(description="as Open311 GeoReport's attribute datatypes")
    required: bool
    description: str
    values: list[AttributeChoice] = Field(description="the choices of a list datatype")


class MatterView(AnswerModel):
    """A matter of the catalog (事项): what it needs and how it is handled."""

    code: str
    name: str
    category: str
    category_name: str
    channels: list[Channel]
    materials: list[str] = Field(description="the materials to bring (所需材料)")
    handling: Handling
    unit: str = Field(description="the default unit, or a role of the area like '{area}-pm'")
    time_limit_days: int = Field(description="working days to settle it (办理时限); 0: at once (即办)")
    appointment: bool = Field(description="needs an appointment (网上预约)")
    attributes: list[MatterAttribute] = Field(description="the form's fields")


class CatalogView(AnswerModel):
    categories: list[CategoryView]
    matters: list[MatterView]



# -- Open311 GeoReport v2 (see README-open311.md) -----------------------------------------------------------

def _georeport_phone(value):
    # GeoReport clients send a phone as people write it: spaces, dashes, +86.
    if isinstance(value, str):
        value = re.sub(r"[\s-]", "", value)
        if value.startswith("+86"):
            value = value[3:]
        elif value.startswith("86") and len(value) == 13:
            value = value[2:]
    return value


GeoReportPhone = Annotated[Mobile, BeforeValidator(_georeport_phone), WithJsonSchema({
    "type": "string", "maxLength": 20, "example": "+86 138 1234 5678",
    "description": "mainland mobile number; spaces, dashes and +86 are allowed (personal data: never shown)"})]
Email = Annotated[str, Field(max_length=100, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
_ATTRIBUTE_KEY_RE = re.compile(r"^attribute\[([^\]]*)\](\[\])?$")


def _comma_separated(value):
    """``a,b`` or the key repeated (``?status=open&status=closed``): the items, blanks and repeats dropped."""
    parts = value if isinstance(value, list) else [value]
    if not all(isinstance(part, str) for part in parts):
        return value
    return tuple(dict.fromkeys(item.strip() for part in parts for item in part.split(",") if item.strip()))


def CommaSeparated(item, most: int):  # noqa: N802 (a type, spelt as one)
    """Items given as ``a,b`` (or the key repeated); documented as the comma-separated text it is sent as."""
    return Annotated[tuple[item, ...], BeforeValidator(_comma_separated),
                     Field((), max_length=most, json_schema_extra=_no_default), WithJsonSchema({"type": "string"})]


GeoReportStatus = Literal["open", "closed"]


class GeoReportQuery(ApiModel):
    """The parameters every GeoReport read takes."""

    jurisdiction_id: Filter(Text(80)) = Field(description="the street code; optional (one street per endpoint), "
                                                            "and if given it must be this one")


class GeoReportRequestsQuery(GeoReportQuery):
    service_request_id: CommaSeparated(Text(80), 100) = Field(
        description="ids, comma-separated (at most 100); then the other filters are ignored")
    service_code: CommaSeparated(Code, 200) = Field(description="service codes, comma-separated")
    status: CommaSeparated(GeoReportStatus, 2) = Field(description="open, closed, or open,closed")
    start_date: Filter(Instant) = Field(description="submitted at or after (ISO 8601; without an offset, "
                                                      "Asia/Shanghai); without dates, the last 90 days")
    end_date: Filter(Instant) = Field(description="submitted at or before")

    @field_validator("end_date")
    @classmethod
    def _after_start(cls, value, info: ValidationInfo):
        start = info.data.get("start_date")
        if value is not None and start is not None and start > value:
            raise invalid("window", "不能早于 start_date", "must not be before start_date")
        return value


class GeoReportRequest(ApiModel):
    """POST requests.json: a resident's request, form-encoded as the spec says (or a JSON object of the same
    keys, with ``"attribute": {"code": value}``). It becomes an online case (channel ``online``)."""

    model_config = example(service_code="property-repair", last_name="王", first_name="阿姨",
                           phone="13812345678", area="shixin", description="楼道灯不亮")

    api_key: Text(200) | None = Field(None, description="the client's key (a token of role open311 or counter); "
                                                        "in the form, never in the URL")
    jurisdiction_id: Text(80) | None = Field(None, description="the street code; optional")
    service_code: Code = Field(description="an online matter of the catalog")
    last_name: Text(50) = Field("", description="姓")
    first_name: Text(50) = Field("", validate_default=True, description="名; first_name or last_name is required")
    phone: GeoReportPhone
    email: Email | None = Field(None, description="checked for its form, not kept")
    description: Text(1700) = Field("", description="what the resident says")
    address_string: Text(255) = Field("", description="where; kept for the workers, never shown publicly")
    area: Area | None = Field(None, description="residential area (居民区), or as attribute[area]")
    building: Text(20) = Field("", description="building (楼号), an extension")
    room: Text(20) = Field("", description="room (室号), an extension")
    attribute: Annotated[dict[str, list[AttributeValue]], BeforeValidator(_attribute_codes)] = Field(
        {}, description="attribute[CODE]=value, the service's attributes (GET services/{code}.json); a "
                        "multivaluelist repeats the key (attribute[CODE][]) or separates values with commas")
    lat: Any = Field(None, description="ignored: the place is the residential area")
    long: Any = Field(None, description="ignored")
    address_id: Any = Field(None, description="ignored")
    device_id: Any = Field(None, description="ignored")
    account_id: Any = Field(None, description="ignored")
    media_url: Any = Field(None, description="ignored")

    @model_validator(mode="before")
    @classmethod
    def _parameters(cls, data):
        """Blank parameters as absent, a key repeated with one value as that value, and the ``attribute[CODE]``
        keys (or a JSON ``attribute`` object) gathered as CODE → values."""
        if not isinstance(data, dict):
            return data
        found, attributes = {}, {}
        for key, value in data.items():
            match = _ATTRIBUTE_KEY_RE.match(key) if isinstance(key, str) else None
            if match:
                attributes.setdefault(match.group(1), []).extend(_values(value))
            elif key in ("attribute", "attributes") and isinstance(value, dict):
                for code, inner in value.items():
                    attributes.setdefault(code, []).extend(_values(inner))
            elif value not in ("", None, []):
                if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(set(value)) == 1:
                    value = value[0]
                found[key] = value
        if attributes:
            found["attribute"] = {code: values for code, values in attributes.items() if values}
        return found

    @field_validator("first_name")
    @classmethod
    def _named(cls, first: str, info: ValidationInfo) -> str:
        last = info.data.get("last_name", "")
        if not first and not last:
            raise invalid("missing", "first_name 或 last_name 必填", "first_name or last_name is required")
        if len(_full_name(first, last)) > 50:
            raise invalid("name_too_long", "姓名过长（最多 50 个字符）", "makes a name longer than 50 characters")
        return first

    @property
    def name(self) -> str:
        return _full_name(self.first_name, self.last_name)


def _values(value) -> list:
    return [v for v in (value if isinstance(value, list) else [value]) if v not in ("", None)]


def _full_name(first: str, last: str) -> str:
    if (first + last).isascii():
        return " ".join(p for p in (first, last) if p)
    return last + first  # 姓 then 名


class GeoReportError(AnswerModel):
    code: int = Field(description="the HTTP status")
    description: str = Field(description="what is wrong; a field is named as the client sent it "
                                         "(attribute[location], service_code)")


class GeoReportService(AnswerModel):
    service_code: str
    service_name: str
    description: str = Field(description="materials (所需材料) and time limit (办理时限)")
    metadata: bool = Field(description="always true: every service asks for the residential area")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str = Field(description="the catalog's category")


class GeoReportAttributeValue(AnswerModel):
    key: str
    name: str


class GeoReportAttribute(AnswerModel):
    variable: bool
    code: str
    datatype: Literal[DATATYPES]
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[GeoReportAttributeValue]


class GeoReportDefinition(AnswerModel):
    service_code: str
    attributes: list[GeoReportAttribute] = Field(description="area (居民区) first, then the matter's form fields")


class GeoReportReceipt(AnswerModel):
    service_request_id: UUID = Field(description="the case's id")
    service_notice: str = Field(description="the time limit once accepted")
    account_id: UUID | None = Field(description="the resident's id")


class GeoReportServiceRequest(AnswerModel):
    """A case as anyone may read it: no name, phone, resident id, building, room or address_string."""

    service_request_id: UUID
    status: GeoReportStatus = Field(description="closed once resolved, settled, called back, closed or rejected")
    status_notes: str
    service_name: str
    service_code: str
    description: str = Field(description="the resident's words, phone and ID numbers masked")
    agency_responsible: str = Field(description="the lead unit once routed")
    service_notice: str
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str = Field(description="the residential area (居民区) only")
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None
