"""Notify's own settings: channels, delivery policy, digest time. A YAML file, read once at start-up.

The file is the street's (``DOORSTEP_NOTIFY_CONFIG``, or ``notify.yaml`` in ``DOORSTEP_STREET_DIR``), else
``<data_dir>/notify.yaml`` if it exists; without any, the embedded default applies (messages go to
``<data_dir>/notifications.jsonl``). Its format is :class:`NotifyFile`. Secrets are not written in the file: a key
ending in ``_env`` names the environment variable holding the value (``password_env: SMTP_PASSWORD``). A wrong
value stops start-up with a message naming the file and each wrong entry.

Example::

    default_channel: file          # for recipients with no registered contact
    quiet_hours: {start: "22:00", end: "08:00"}
    rate_limit_per_hour: 20
    retry: {attempts_per_channel: 3, base_delay_s: 30, max_delay_s: 3600}
    sender: {interval_s: 1.0, batch_size: 50, lease_s: 120}
    digest: {enabled: true, at: "08:30"}
    templates: /etc/doorstep/templates.yaml
    channels:
      email: {host: smtp.example.org, port: 587, starttls: true, sender: "家门口服务站 <noreply@example.org>",
              username: doorstep, password_env: SMTP_PASSWORD}
      webhook: {secret_env: DOORSTEP_WEBHOOK_SECRET, timeout_s: 5}
      sms: {provider: aliyun, sign_name: 陆家嘴街道, access_key_id: LTAI…, access_key_secret_env: SMS_SECRET}
      wechat: {app_id: wx…, app_secret_env: WECHAT_SECRET}
"""
from __future__ import annotations

import dataclasses
import os
from datetime import time, timedelta
from pathlib import Path
from typing import Literal, Mapping

import yaml
from pydantic import Field, ValidationError, model_validator

from shared import street_files
from shared.config import ConfigError
from shared.fields import Clock, Form, invalid
from shared.street_files import StreetModel
from services.notify.domain.delivery import RateLimit, RetryPolicy
from services.notify.domain.recipients import CHANNELS, QuietHours


@dataclasses.dataclass(frozen=True)
class NotifySettings:
    default_channel: str
    quiet_hours: QuietHours | None
    rate_limit: RateLimit
    retry: RetryPolicy
    sender_interval_s: float
    sender_batch_size: int
    sender_lease: timedelta
    digest_enabled: bool
    digest_at: time
    templates: str | None
    channels: Mapping[str, Mapping]


# -- the file's format --------------------------------------------------------------------------------------

EnvVar = Form(r"^[A-Za-z_][A-Za-z0-9_]*$", "env", "应为环境变量名", "must be the name of an environment variable",
              "the environment variable holding the value (a secret is never written in the file)")
Transport = Literal["http", "recording"]
_TRANSPORT = "http: the provider; recording: a recording gateway stands in for it (tests, staging)"


class ChannelOptions(StreetModel):
    """A channel's options; ``<key>_env`` names the environment variable holding a secret's value."""

    @model_validator(mode="after")
    def _each_value_once(self):
        given = self.model_fields_set
        twice = sorted(key[:-4] for key in given if key.endswith("_env") and key[:-4] in given)
        if twice:
            raise invalid("env_twice", f"{twice[0]} 与 {twice[0]}_env 只能给一个", f"give {twice[0]} or {twice[0]}_env, "
                                                                                 "not both")
        return self


class EmailOptions(ChannelOptions):
    """E-mail (电子邮件) over SMTP."""

    host: str = Field(None, description="the SMTP server; default 127.0.0.1")
    port: int = Field(None, gt=0, lt=65536, description="default 25")
    sender: str = Field(None, description='the From header, e.g. "家门口服务站 <noreply@example.org>"')
    starttls: bool = None
    ssl: bool = Field(None, description="SMTP over TLS from the start")
    username: str = None
    username_env: EnvVar = None
    password: str = Field(None, description="better given as password_env")
    password_env: EnvVar = None
    timeout_s: float = Field(None, gt=0)


class WebhookOptions(ChannelOptions):
    """Signed HTTP POSTs to each recipient's URL."""

    secret: str = Field(None, description="the HMAC key requests are signed with; better given as secret_env")
    secret_env: EnvVar = None
    timeout_s: float = Field(None, gt=0)
    allow_private: list[str] = Field(None, description=(
        "hosts or networks (CIDR) inside the street's own network that may receive webhooks, plain http "
        "included; every other target must be https to a public address"))


class SmsOptions(ChannelOptions):
    """SMS (短信) through Aliyun's SendSms."""

    provider: Literal["aliyun"] = None
    transport: Transport = Field(None, description=_TRANSPORT)
    sign_name: str = Field(None, description="the registered signature (短信签名), e.g. 陆家嘴街道")
    access_key_id: str = None
    access_key_id_env: EnvVar = None
    access_key_secret: str = Field(None, description="better given as access_key_secret_env")
    access_key_secret_env: EnvVar = None
    endpoint: str = None
    region: str = None
    timeout_s: float = Field(None, gt=0)


class WechatOptions(ChannelOptions):
    """Template messages of the street's WeChat Official Account (公众号)."""

    app_id: str = None
    app_id_env: EnvVar = None
    app_secret: str = Field(None, description="better given as app_secret_env")
    app_secret_env: EnvVar = None
    api: str = None
    transport: Transport = Field(None, description=_TRANSPORT)
    timeout_s: float = Field(None, gt=0)


class FileOptions(ChannelOptions):
    """A JSON line per message, in a file."""

    path: str = Field(None, description="default <data_dir>/notifications.jsonl")


class ChannelsEntry(StreetModel):
    """The channels and their options; file and console are always there. A channel written with no options
    takes its defaults."""

    email: EmailOptions | None = None
    webhook: WebhookOptions | None = None
    sms: SmsOptions | None = None
    wechat: WechatOptions | None = None
    file: FileOptions | None = None
    console: ChannelOptions | None = None


class QuietHoursEntry(StreetModel):
    """免打扰时段: only urgent notices are sent in them; the rest wait for their end."""

    start: Clock
    end: Clock = Field(description="the next morning if before start")


class RetryEntry(StreetModel):
    """How often a failed delivery is tried again on a channel before the next channel (backing off)."""

    attempts_per_channel: int = Field(RetryPolicy.attempts_per_channel, ge=1)
    base_delay_s: float = Field(RetryPolicy.base_delay.total_seconds(), ge=0, description="the first wait; doubled "
                                                                                          "each time")
    max_delay_s: float = Field(RetryPolicy.max_delay.total_seconds(), ge=0)


class SenderEntry(StreetModel):
    """The rounds that send queued deliveries."""

    interval_s: float = Field(1.0, ge=0.01, description="between rounds")
    batch_size: int = Field(50, ge=1, description="deliveries a round takes")
    lease_s: float = Field(120, ge=1, description="how long a round holds a delivery before another may take it")


class DigestEntry(StreetModel):
    """The daily digest of each unit's open cases (每日待办)."""

    enabled: bool = True
    at: Clock = time(8, 30)


class NotifyFile(StreetModel):
    """``notify.yaml``: notify's channels, quiet hours, rate limit, retries, sender and digest. A key left out
    keeps its default."""

    default_channel: Literal[CHANNELS] = Field("file", description="for recipients with no registered contact")
    quiet_hours: QuietHoursEntry | None = Field(QuietHoursEntry(start=QuietHours.start, end=QuietHours.end),
                                                description="null: none")
    rate_limit_per_hour: int = Field(RateLimit.per_hour, ge=1, description="notices a recipient gets in an hour; "
                                                                           "urgent ones are not counted")
    retry: RetryEntry = RetryEntry()
    sender: SenderEntry = SenderEntry()
    digest: DigestEntry = DigestEntry()
    templates: str = Field(None, min_length=1, description="a templates file over the defaults and the street's")
    channels: ChannelsEntry = ChannelsEntry()


# -- loading --------------------------------------------------------------------------------------------------

def _refused(origin: str, problems: list[str]) -> ConfigError:
    """One error for all the problems, a line each, each naming the file."""
    return ConfigError(origin, "\n".join(problems).removeprefix(f"{origin}: "))


def parse(raw, environ: Mapping[str, str] | None = None, origin: str = "notify") -> NotifySettings:
    environ = os.environ if environ is None else environ
    raw = {} if raw is None else raw
    try:
        file = NotifyFile.model_validate(raw)
    except ValidationError as exc:
        raise _refused(origin, street_files.problems(exc, origin, raw)) from None
    channels, unset = {}, []
    for channel, options in file.channels.given().items():
        channels[channel] = {}
        for key, value in (options.given() if options else {}).items():
            if not key.endswith("_env"):
                channels[channel][key] = value
            elif value in environ:
                channels[channel][key[:-4]] = environ[value]
            else:
                unset.append(f"{origin}: channels.{channel}.{key}: environment variable {value} is not set")
    if unset:
        raise _refused(origin, unset)
    quiet, retry, sender = file.quiet_hours, file.retry, file.sender
    return NotifySettings(
        default_channel=file.default_channel, quiet_hours=QuietHours(quiet.start, quiet.end) if quiet else None,
        rate_limit=RateLimit(per_hour=file.rate_limit_per_hour),
        retry=RetryPolicy(retry.attempts_per_channel, timedelta(seconds=retry.base_delay_s),
                          timedelta(seconds=retry.max_delay_s)),
        sender_interval_s=sender.interval_s, sender_batch_size=sender.batch_size,
        sender_lease=timedelta(seconds=sender.lease_s), digest_enabled=file.digest.enabled,
        digest_at=file.digest.at, templates=file.templates, channels=channels,
    )


def load_file(path: Path, environ: Mapping[str, str] | None = None) -> NotifySettings:
    """A notify.yaml; :class:`ConfigError` names the file and each wrong entry."""
    return parse(yaml.safe_load(path.read_text("utf-8")), environ, origin=str(path))


def load(settings, environ: Mapping[str, str] | None = None) -> NotifySettings:
    """Notify's settings for a deployment (:class:`shared.config.Settings`); secrets from ``environ``."""
    path = settings.street_file("notify_config")
    if path is None:
        path = Path(settings.data_dir) / "notify.yaml"
        if not path.is_file():
            return parse({}, environ)
    return load_file(path, environ)
