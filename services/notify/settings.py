"""Notify's own settings: channels, delivery policy, digest time. A YAML file, read once at start-up.

The file is the street's (``DOORSTEP_NOTIFY_CONFIG``, or ``notify.yaml`` in ``DOORSTEP_STREET_DIR``), else
``<data_dir>/notify.yaml`` if it exists; without any, the embedded default applies (messages go to ``<data_dir>/notifications.jsonl``). Secrets are not
written in the file: a key ending in ``_env`` names the environment variable holding the value
(``password_env: SMTP_PASSWORD``). A wrong value stops start-up with a message naming it.

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
from typing import Mapping

import yaml

from shared.config import ConfigError
from services.notify.domain.delivery import RateLimit, RetryPolicy
from services.notify.domain.recipients import CHANNELS, QuietHours


@dataclasses.dataclass(frozen=True)
class NotifySettings:
    default_channel: str = "file"
    quiet_hours: QuietHours | None = QuietHours()
    rate_limit: RateLimit = RateLimit()
    retry: RetryPolicy = RetryPolicy()
    sender_interval_s: float = 1.0
    sender_batch_size: int = 50
    sender_lease: timedelta = timedelta(seconds=120)
    digest_enabled: bool = True
    digest_at: time = time(8, 30)
    templates: str | None = None
    channels: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)


def _clock(value, name: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ConfigError(name, f"expected HH:MM, got {value!r}") from None


def _number(raw: dict, key: str, name: str, kind=float, minimum=0):
    value = raw.get(key)
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"expected a number, got {value!r}") from None
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}")
    return value


def _resolve_secrets(section: Mapping, name: str, environ: Mapping[str, str]) -> dict:
    resolved = {}
    for key, value in section.items():
        if key.endswith("_env"):
            if value not in environ:
                raise ConfigError(f"{name}.{key}", f"environment variable {value} is not set")
            resolved[key[:-4]] = environ[value]
        else:
            resolved[key] = value
    return resolved


def parse(raw: Mapping, environ: Mapping[str, str] | None = None, origin: str = "notify") -> NotifySettings:
    environ = os.environ if environ is None else environ
    raw = dict(raw or {})
    known = {"default_channel", "quiet_hours", "rate_limit_per_hour", "retry", "sender", "digest", "templates",
             "channels"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(origin, f"unknown keys {sorted(unknown)}")
    default_channel = raw.get("default_channel", "file")
    if default_channel not in CHANNELS:
        raise ConfigError(f"{origin}.default_channel", f"{default_channel!r} is not one of {', '.join(CHANNELS)}")
    quiet: QuietHours | None = QuietHours()
    if "quiet_hours" in raw:
        q = raw["quiet_hours"]
        quiet = None if q is None else QuietHours(_clock(q.get("start"), f"{origin}.quiet_hours.start"),
                                                  _clock(q.get("end"), f"{origin}.quiet_hours.end"))
    rate = RateLimit()
    if "rate_limit_per_hour" in raw:
        rate = RateLimit(per_hour=_number(raw, "rate_limit_per_hour", f"{origin}.rate_limit_per_hour", int, 1))
    retry_raw = {"attempts_per_channel": 3, "base_delay_s": 30, "max_delay_s": 3600, **(raw.get("retry") or {})}
    retry = RetryPolicy(
        attempts_per_channel=_number(retry_raw, "attempts_per_channel", f"{origin}.retry.attempts_per_channel", int, 1),
        base_delay=timedelta(seconds=_number(retry_raw, "base_delay_s", f"{origin}.retry.base_delay_s")),
        max_delay=timedelta(seconds=_number(retry_raw, "max_delay_s", f"{origin}.retry.max_delay_s")),
    )
    sender = {"interval_s": 1.0, "batch_size": 50, "lease_s": 120, **(raw.get("sender") or {})}
    digest = {"enabled": True, "at": "08:30", **(raw.get("digest") or {})}
    channels = {}
    for channel, section in (raw.get("channels") or {}).items():
        if channel not in CHANNELS:
            raise ConfigError(f"{origin}.channels.{channel}", "not a channel")
        channels[channel] = _resolve_secrets(section or {}, f"{origin}.channels.{channel}", environ)
    return NotifySettings(
        default_channel=default_channel, quiet_hours=quiet, rate_limit=rate, retry=retry,
        sender_interval_s=_number(sender, "interval_s", f"{origin}.sender.interval_s", float, 0.01),
        sender_batch_size=_number(sender, "batch_size", f"{origin}.sender.batch_size", int, 1),
        sender_lease=timedelta(seconds=_number(sender, "lease_s", f"{origin}.sender.lease_s", float, 1)),
        digest_enabled=bool(digest["enabled"]), digest_at=_clock(digest["at"], f"{origin}.digest.at"),
        templates=raw.get("templates"), channels=channels,
    )


def load(settings, environ: Mapping[str, str] | None = None) -> NotifySettings:
    """Notify's settings for a deployment (:class:`shared.config.Settings`); secrets from ``environ``."""
    environ = os.environ if environ is None else environ
    path = settings.street_file("notify_config")
    if path is None:
        path = Path(settings.data_dir) / "notify.yaml"
        if not path.is_file():
            return NotifySettings()
    raw = yaml.safe_load(path.read_text("utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "must hold a mapping of notify settings")
    return parse(raw, environ, origin=str(path))
