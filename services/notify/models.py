"""Notify's HTTP contract: the body, query and path of every request and the answer of every status, declared once.

:mod:`shared.http` parses requests into these models before a worker runs (a wrong field is a 400 naming it) and
``/notify/openapi.json`` is generated from them. Addresses are personal data: no rule here echoes one back.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, model_validator

from shared.fields import AnswerModel, ApiModel, Clock, Instant, Mobile, Text, invalid, matching
from services.notify.domain.delivery import STATUSES
from services.notify.domain.recipients import (CATEGORY_PATTERN, CHANNELS, RECIPIENT_KINDS, RECIPIENT_PATTERN,
                                               STREET_QUIET_HOURS, TOPIC_PATTERN, ChangeContacts, ChangePreferences,
                                               QuietHours)

# -- the pieces -----------------------------------------------------------------------------------------------

Channel = Annotated[Literal[CHANNELS], Field(description="a channel: email, webhook, sms, wechat, file or console")]
Status = Annotated[Literal[STATUSES], Field(description="queued, deferred (quiet hours, rate limit), sent or failed")]

_RECIPIENT_FORMS = ", ".join(f"{kind}:<code>" if kind == "unit" else f"{kind}:<id>" for kind in RECIPIENT_KINDS)
Recipient = Annotated[str, matching(RECIPIENT_PATTERN, "recipient", f"收件人应为 {_RECIPIENT_FORMS} 之一",
                                    f"must be one of {_RECIPIENT_FORMS}"),
                      WithJsonSchema({"type": "string", "pattern": RECIPIENT_PATTERN, "example": "unit:shixin-pm",
                                      "description": f"a recipient (收件人): {_RECIPIENT_FORMS}"})]
Topic = Annotated[str, matching(TOPIC_PATTERN, "topic", "主题应为 unit:<code>、area:<code>、team:<id> 或 project:<id>",
                                "must be unit:<code>, area:<code>, team:<id> or project:<id>"),
                  WithJsonSchema({"type": "string", "pattern": TOPIC_PATTERN, "example": "area:shixin",
                                  "description": "a topic (订阅主题): a unit's handlers, a residential area's hearing "
                                                 "notices, a team, a project"})]
Category = Annotated[str, matching(CATEGORY_PATTERN, "category", "类别应为小写代码，如 hearing",
                                   "must be a lower-case category code like hearing"),
                     WithJsonSchema({"type": "string", "pattern": CATEGORY_PATTERN, "example": "hearing",
                                     "description": "a category of notices (通知类别)"})]

# Contact addresses (联系方式), each as its channel takes it.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[A-Za-z0-9.\-]{1,190}\.[A-Za-z]{2,}$"
OPENID_PATTERN = r"^[A-Za-z0-9_\-]{10,64}$"
WEBHOOK_PATTERN = r"^https?://[^\s/]+(/\S*)?$"

Email = Annotated[Text(254), matching(EMAIL_PATTERN, "email", "电子邮件地址无效", "must be an e-mail address"),
                  WithJsonSchema({"type": "string", "maxLength": 254, "pattern": EMAIL_PATTERN,
                                  "example": "wang@example.org", "description": "e-mail address (personal data)"})]
OpenId = Annotated[str, matching(OPENID_PATTERN, "openid", "微信 openid 无效", "must be a WeChat openid"),
                   WithJsonSchema({"type": "string", "pattern": OPENID_PATTERN, "example": "oABCD1234567890xyz",
                                   "description": "the recipient's openid with the street's WeChat Official Account"})]
WebhookUrl = Annotated[Text(500), matching(WEBHOOK_PATTERN, "webhook", "应为 http(s) 网址", "must be an http(s) URL"),
                       WithJsonSchema({"type": "string", "maxLength": 500, "pattern": WEBHOOK_PATTERN,
                                       "example": "https://hotline.example.gov/hooks/doorstep",
                                       "description": "where signed webhook requests are posted"})]

# -- requests -------------------------------------------------------------------------------------------------


class RecipientPath(ApiModel):
    recipient: Recipient


class SubscriptionPath(ApiModel):
    topic: Topic
    recipient: Recipient


def _blank_is_absent(value: Any) -> Any:
    return None if value == "" else value


class DeliveriesQuery(ApiModel):
    # ?case_id=&recipient= (empty) has always meant no filter.
    case_id: Annotated[UUID | None, BeforeValidator(_blank_is_absent)] = Field(
        None, description="only the deliveries about this case (办件)")
    recipient: Annotated[Recipient | None, BeforeValidator(_blank_is_absent)] = Field(
        None, description="only the deliveries to this recipient (收件人)")
    status: Status | None = None


class RecipientDeliveriesQuery(ApiModel):
    status: Status | None = None


def _distinct(channels: list[str]) -> list[str]:
    if len(set(channels)) != len(channels):
        raise invalid("distinct", "渠道不能重复", "must not name a channel twice")
    return channels


class QuietHoursBody(ApiModel):
    start: Clock = Field(description="when quiet hours (免打扰时段) begin")
    end: Clock = Field(description="when they end (the next morning if before start)")


class PreferencesBody(ApiModel):
    """A recipient's preferences (通知偏好); the quiet hours left out are the street's."""

    channels: Annotated[list[Channel], AfterValidator(_distinct)] = Field(
        [], description="channels in order of preference; those without a registered address are passed over")
    opt_out: list[Category] = Field([], max_length=100, description="categories the recipient does not want "
                                                                    "(mandatory notices are sent anyway)")
    quiet_hours: QuietHoursBody | None = Field(None, description="null: none; left out: the street's")

    def command(self, recipient: str) -> ChangePreferences:
        quiet = STREET_QUIET_HOURS
        if "quiet_hours" in self.model_fields_set:
            quiet = self.quiet_hours and QuietHours(self.quiet_hours.start, self.quiet_hours.end)
        return ChangePreferences(recipient, tuple(self.channels), frozenset(self.opt_out), quiet)


class ContactAddresses(ApiModel):
    """A recipient's addresses (联系方式) by channel: null removes one, a channel left out keeps its address."""

    email: Email | None = None
    sms: Mobile | None = None
    wechat: OpenId | None = None
    webhook: WebhookUrl | None = None

    @model_validator(mode="after")
    def _names_a_channel(self):
        if not self.model_fields_set:
            raise invalid("contacts_empty", "至少填写一个渠道", "must name at least one channel")
        return self


class ContactsBody(ApiModel):
    contacts: ContactAddresses

    def command(self, recipient: str) -> ChangeContacts:
        said = sorted(self.contacts.model_fields_set)
        return ChangeContacts(recipient, {channel: getattr(self.contacts, channel) for channel in said})

# -- answers --------------------------------------------------------------------------------------------------


class DeliveryView(AnswerModel):
    """One message (通知) to one recipient about one event, or a unit's daily digest."""

    id: UUID
    cause_event_id: str = Field(description="the event it is about (or digest:<unit>:<date>)")
    cause_type: str = Field(description="that event's type, or digest.unit")
    case_id: UUID | None = Field(None, description="the case (办件) the event is about")
    recipient: str
    channel: Channel = Field(description="the channel it is (or was last) tried on")
    template: str
    category: str
    urgent: bool = Field(description="urgent notices ignore quiet hours and the rate limit")
    subject: str
    body: str
    status: Status
    deferred_reason: str | None = Field(None, description="quiet hours or rate limit")
    attempts: int = Field(description="attempts on the current channel")
    total_attempts: int = Field(description="attempts over all channels")
    address_masked: str | None = Field(None, description="where it was sent, masked (138****5678)")
    last_error: str | None = None
    created_at: Instant
    sent_at: Instant | None = None
    next_attempt_at: Instant | None = None
    failed_at: Instant | None = None
    resent_at: Instant | None = None
    redacted_at: Instant | None = Field(None, description="when its wording was redacted (its recipient erased, "
                                                          "or DOORSTEP_RETENTION_DELIVERY_BODY_DAYS past)")


class AttemptView(AnswerModel):
    channel: Channel
    attempt: int = Field(description="1 for the first attempt on this channel")
    outcome: Literal["sent", "failed"]
    error: str | None = None
    attempted_at: Instant


class DeliveryDetail(DeliveryView):
    channel_plan: list[Channel] = Field(description="the channels to try, in order")
    channel_index: int = Field(description="the plan's channel being tried (from 0)")
    attempt_log: list[AttemptView]


class Resent(AnswerModel):
    id: UUID
    status: Literal["queued"]
    channel: Channel = Field(description="the plan's first channel, with the recipient's current contacts")


class QuietHoursView(AnswerModel):
    start: Clock
    end: Clock


class PreferencesView(AnswerModel):
    recipient: str
    channels: list[Channel]
    opt_out: list[str]
    quiet_hours: QuietHoursView | None = Field(None, description="null: none")


class MaskedContacts(AnswerModel):
    email: str | None = Field(None, description="masked: w***@example.org")
    sms: str | None = Field(None, description="masked: 138****5678")
    wechat: str | None = Field(None, description="masked: the openid's first characters")
    webhook: str | None = Field(None, description="masked: the URL's scheme and host")


class ContactsView(AnswerModel):
    recipient: str
    contacts: MaskedContacts = Field(description="the registered channels only")


class Subscription(AnswerModel):
    topic: str
    recipient: str


class Unsubscribed(Subscription):
    removed: bool


class DeadLetter(AnswerModel):
    """A delivery given up (死信) after every channel of its plan failed."""

    id: int
    delivery_id: UUID
    recipient: str
    channels: list[Channel] = Field(description="the channels tried")
    reason: str = Field(description="the last error, addresses masked")
    created_at: Instant
