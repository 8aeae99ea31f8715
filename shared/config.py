"""Settings from the environment (and an optional YAML file), validated once at start-up.

Every setting has one environment variable; a YAML file named by ``DOORSTEP_CONFIG`` may provide the same keys
(lower-case, without the prefix). The environment wins over the file. A wrong or missing value raises
:class:`ConfigError` naming the setting, so a pod that is misconfigured stops with a readable message.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

from typing import Annotated

import yaml
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS
from pydantic import AfterValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.fields import invalid
from shared.problems import reason

SERVICES = ("intake", "routing", "funds", "notify")

# Each service's HTTP port when all four run in one process; a pod sets DOORSTEP_HTTP_PORT instead.
DEFAULT_PORTS = {"intake": 8001, "routing": 8002, "funds": 8003, "notify": 8004}
# The staff console's port (`doorstep run console`, a process of its own).
CONSOLE_PORT = 8000

# A street's own reference data: optional files in DOORSTEP_STREET_DIR (in a pod, the mounted street ConfigMap).
# A file's own path setting wins over the directory; without either, the service's packaged default applies.
STREET_FILES = {
    "catalog": "catalog.yaml",              # intake's matter catalog (may `extends: default`)
    "stations": "stations.yaml",            # intake's stations, opening hours and appointment slots
    "routing_directory": "directory.yaml",  # routing's 1+3+N directory and rules
    "notify_config": "notify.yaml",         # notify's channels, quiet hours, retries, digest
    "notify_templates": "templates.yaml",   # notify's message templates, over the defaults
    "holidays": "holidays.yaml",            # each year's statutory holidays and adjusted working days
}


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        super().__init__(f"{setting}: {problem}")


# The environment variable of each setting; a YAML file (DOORSTEP_CONFIG) may use the setting's name or the
# variable's name in lower case without the prefix (``broker_uri`` or ``broker``).
_ENV = {
    "street": "DOORSTEP_STREET",
    "broker_uri": "DOORSTEP_BROKER",
    "db_template": "DOORSTEP_DB",
    "http_host": "DOORSTEP_HTTP_HOST",
    "http_port": "DOORSTEP_HTTP_PORT",
    "tokens_file": "DOORSTEP_TOKENS_FILE",
    "data_dir": "DOORSTEP_DATA_DIR",
    "handler_attempts": "DOORSTEP_HANDLER_ATTEMPTS",
    "handler_backoff_s": "DOORSTEP_HANDLER_BACKOFF_S",
    "consumer_batch_size": "DOORSTEP_CONSUMER_BATCH_SIZE",
    "relay_batch_size": "DOORSTEP_RELAY_BATCH_SIZE",
    "relay_poll_s": "DOORSTEP_RELAY_POLL_S",
    "relay_linger_s": "DOORSTEP_RELAY_LINGER_S",
    "relay_grace_s": "DOORSTEP_RELAY_GRACE_S",
    "outbox_retention_days": "DOORSTEP_OUTBOX_RETENTION_DAYS",
    "retention_closed_case_days": "DOORSTEP_RETENTION_CLOSED_CASE_DAYS",
    "retention_resident_days": "DOORSTEP_RETENTION_RESIDENT_DAYS",
    "retention_appointment_days": "DOORSTEP_RETENTION_APPOINTMENT_DAYS",
    "retention_delivery_body_days": "DOORSTEP_RETENTION_DELIVERY_BODY_DAYS",
    "retention_timer_s": "DOORSTEP_RETENTION_TIMER_S",
    "retention_batch_size": "DOORSTEP_RETENTION_BATCH_SIZE",
    "max_workers": "DOORSTEP_MAX_WORKERS",
    "street_dir": "DOORSTEP_STREET_DIR",
    "catalog": "DOORSTEP_CATALOG",
    "stations": "DOORSTEP_STATIONS",
    "routing_directory": "DOORSTEP_ROUTING_DIRECTORY",
    "routing_timer_s": "DOORSTEP_ROUTING_TIMER_S",
    "metrics_refresh_s": "DOORSTEP_METRICS_REFRESH_S",
    "notify_config": "DOORSTEP_NOTIFY_CONFIG",
    "notify_templates": "DOORSTEP_NOTIFY_TEMPLATES",
    "holidays": "DOORSTEP_HOLIDAYS",
    "http_max_body_bytes": "DOORSTEP_HTTP_MAX_BODY_BYTES",
    "check_answers": "DOORSTEP_CHECK_ANSWERS",
    "auth_failure_limit": "DOORSTEP_AUTH_FAILURE_LIMIT",
    "auth_failure_window_s": "DOORSTEP_AUTH_FAILURE_WINDOW_S",
    "console_port": "DOORSTEP_CONSOLE_PORT",
    "console_db": "DOORSTEP_DB_CONSOLE",
    "console_intake_url": "DOORSTEP_CONSOLE_INTAKE_URL",
    "console_routing_url": "DOORSTEP_CONSOLE_ROUTING_URL",
    "console_funds_url": "DOORSTEP_CONSOLE_FUNDS_URL",
    "console_notify_url": "DOORSTEP_CONSOLE_NOTIFY_URL",
    "console_https": "DOORSTEP_CONSOLE_HTTPS",
    "console_session_hours": "DOORSTEP_CONSOLE_SESSION_HOURS",
    "console_lockout_failures": "DOORSTEP_CONSOLE_LOCKOUT_FAILURES",
    "console_lockout_minutes": "DOORSTEP_CONSOLE_LOCKOUT_MINUTES",
}


def _positive_seconds(value: float) -> float:
    if value <= 0:
        raise invalid("seconds", "应为正数的秒数", "must be a positive number of seconds")
    return value


Seconds = Annotated[float, AfterValidator(_positive_seconds)]
AtLeastOne = Annotated[int, Field(ge=1)]


class Settings(BaseSettings):
    """A deployment's settings. Built by :func:`load_settings`; frozen (``replace`` makes a changed copy)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    street: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,31}$",
                                 description="street code (lower-case letters, digits, '-')")] = "lujiazui"
    broker_uri: Annotated[str, Field(pattern=r"^(memory|amqp|pyamqp|amqps)://",
                                     description="memory:// or amqp://user:pass@host:5672/vhost")] = "memory://"
    # ``{service}`` is replaced by the service name: one database per service.
    db_template: str = Field("sqlite:///var/{service}.db", description="database URL template with {service}")
    databases: dict[str, str] = Field(default_factory=dict, description="a full URL for a service, over the template")
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Field(gt=0, lt=65536)] | None = Field(
        None, description="one port for a one-service process; else each service on its own port")
    ports: dict[str, Annotated[int, Field(gt=0, lt=65536)]] = Field(
        default_factory=dict, description="each service's port when several run in one process")
    tokens_file: str = "var/tokens.yaml"
    data_dir: str = "var"
    handler_attempts: AtLeastOne = 3
    handler_backoff_s: Annotated[float, Field(ge=0)] = 0.5
    # Events a batch consumer takes in one handler call and one transaction (see shared.consumer).
    consumer_batch_size: AtLeastOne = 50
    relay_batch_size: AtLeastOne = 200
    # The poll of the outbox table is only the safety net: committed events are handed to the relay in memory.
    relay_poll_s: Seconds = 1.0
    relay_linger_s: Annotated[float, Field(ge=0)] = 0.005
    # The relay's poll of the outbox leaves rows this young to the in-memory path (see shared.outbox).
    relay_grace_s: Annotated[float, Field(ge=0)] = 3.0
    outbox_retention_days: AtLeastOne = 30
    # How long personal records are kept once their purpose is served; then the service owning them
    # pseudonymises or redacts them (a timer, a batch at a time). Archives keep case files for years; a
    # message's wording is of no use once it was read.
    retention_closed_case_days: AtLeastOne = 1825
    retention_resident_days: AtLeastOne = 1825
    retention_appointment_days: AtLeastOne = 365
    retention_delivery_body_days: AtLeastOne = 180
    retention_timer_s: Seconds = 600.0
    retention_batch_size: AtLeastOne = 500
    max_workers: AtLeastOne = 10
    street_dir: str = ""
    catalog: str = ""
    stations: str = ""
    routing_directory: str = ""
    routing_timer_s: Seconds = 60.0
    # How often gauges counted from a database (intake's cases by status, funds' balances) are refreshed.
    metrics_refresh_s: Seconds = 60.0
    notify_config: str = ""
    notify_templates: str = ""
    holidays: str = ""
    # The largest request body read, checked before authentication: a bigger one is refused with 413 unread.
    http_max_body_bytes: AtLeastOne = 256 * 1024
    # Failed authentications from one source within the window before it is refused for a while (429).
    auth_failure_limit: AtLeastOne = 10
    auth_failure_window_s: Seconds = 60.0
    # Check every JSON answer against the model its endpoint documents (tests do; it costs a validation).
    check_answers: bool = False
    # The staff console (`doorstep run console`), a process of its own that calls the four services' public APIs.
    console_port: Annotated[int, Field(gt=0, lt=65536)] = CONSOLE_PORT
    console_db: str = Field("", description="the console's users and sessions; default: the template with "
                                            "{service} = console")
    console_intake_url: str = Field("", description="intake's API as the console reaches it; default: this host "
                                                    "at intake's port")
    console_routing_url: str = ""
    console_funds_url: str = ""
    console_notify_url: str = ""
    # Reached over https (a TLS-terminating proxy in front): the session cookie is then sent only over https.
    console_https: bool = False
    console_session_hours: Annotated[float, Field(gt=0, le=24 * 7)] = 12.0
    # A login name that fails this many times in a row is refused for this long, whatever password comes next.
    console_lockout_failures: AtLeastOne = 5
    console_lockout_minutes: Annotated[float, Field(gt=0)] = 15.0

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *_others, **_named):
        # Only what load_settings gathers (file, environment, overrides, in that order of precedence).
        return (init_settings,)

    @property
    def db_overrides(self) -> Mapping[str, str]:
        return self.databases

    def replace(self, **changes) -> "Settings":
        """A copy with ``changes``, validated like the original."""
        return type(self).model_validate({**self.model_dump(), **changes})

    def street_file(self, kind: str) -> Path | None:
        """The street's file for ``kind`` (a key of :data:`STREET_FILES`), or None for the packaged default."""
        explicit = getattr(self, kind)
        if explicit:
            return Path(explicit)
        if self.street_dir:
            candidate = Path(self.street_dir) / STREET_FILES[kind]
            if candidate.is_file():
                return candidate
        return None

    def db_url(self, service: str) -> str:
        if service in self.databases:
            return self.databases[service]
        return self.db_template.format(service=service)

    def port(self, service: str) -> int:
        if self.http_port is not None:
            return self.http_port
        return self.ports.get(service, DEFAULT_PORTS[service])

    @property
    def console_db_url(self) -> str:
        return self.console_db or self.db_template.format(service="console")

    def console_api(self, service: str) -> str:
        """The base URL the console calls ``service`` at: its setting, else this host at the service's port."""
        explicit = getattr(self, f"console_{service}_url")
        if explicit:
            return explicit.rstrip("/")
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::", "") else self.http_host
        return f"http://{host}:{self.ports.get(service, DEFAULT_PORTS[service])}"

    @property
    def embedded_broker(self) -> bool:
        return self.broker_uri.startswith("memory://")

    def nameko_config(self, service: str) -> dict:
        """The dict a nameko container is started with."""
        config = {
            "AMQP_URI": self.broker_uri,
            "WEB_SERVER_ADDRESS": f"{self.http_host}:{self.port(service)}",
            "max_workers": self.max_workers,
            "DOORSTEP": self,
        }
        if self.embedded_broker:
            # kombu's in-memory transport polls its queues; its default 1 s would add a second per hop.
            config["TRANSPORT_OPTIONS"] = {**DEFAULT_TRANSPORT_OPTIONS, "polling_interval": 0.01}
        return config


_FILE_KEYS = {**{name: name for name in Settings.model_fields},
              **{var.removeprefix("DOORSTEP_").lower(): name for name, var in _ENV.items()}}


def load_settings(environ: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Build :class:`Settings` from defaults < YAML file < environment < explicit overrides."""
    environ = os.environ if environ is None else environ
    raw: dict = {}
    config_file = environ.get("DOORSTEP_CONFIG")
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError("DOORSTEP_CONFIG", f"file {config_file} does not exist")
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError("DOORSTEP_CONFIG", f"{config_file} must hold a mapping of settings")
        unknown = set(loaded) - set(_FILE_KEYS)
        if unknown:
            raise ConfigError("DOORSTEP_CONFIG", f"unknown keys {sorted(unknown)} in {config_file}")
        raw.update({_FILE_KEYS[k]: v for k, v in loaded.items()})
    for key, var in _ENV.items():
        if var in environ and environ[var] != "":
            raw[key] = environ[var]
    databases = dict(raw.pop("databases", None) or {})
    for service in SERVICES:
        var = f"DOORSTEP_DB_{service.upper()}"
        if environ.get(var):
            databases[service] = environ[var]
    raw.update({k: v for k, v in overrides.items() if v is not None})
    raw["databases"] = {**databases, **(raw.get("databases") or {})}
    try:
        settings = Settings(**raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        key = str(error["loc"][0]) if error["loc"] else "DOORSTEP_CONFIG"
        if key == "databases" and len(error["loc"]) > 1:
            name = f"DOORSTEP_DB_{str(error['loc'][1]).upper()}"
        else:
            name = _ENV.get(key, key)
        raise ConfigError(name, f"{reason(error)} (got {raw.get(key)!r})") from None
    return _check(settings)


def _check(settings: Settings) -> Settings:
    """What a field's own type cannot say: rules across fields, and files that must exist."""
    databases = settings.databases
    unknown = set(databases) - set(SERVICES)
    if unknown:
        raise ConfigError("databases", f"no service named {', '.join(sorted(unknown))}")
    if "{service}" not in settings.db_template and set(databases) != set(SERVICES):
        raise ConfigError(
            "DOORSTEP_DB",
            f"{settings.db_template!r} must contain '{{service}}' (one database per service), "
            "e.g. postgresql://host/doorstep_{service}",
        )
    for service in SERVICES:
        url = settings.db_url(service)
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
            name = f"DOORSTEP_DB_{service.upper()}" if service in databases else "DOORSTEP_DB"
            raise ConfigError(name, f"{url!r} is not a sqlite:// or postgresql:// URL")
    for name in ("retention_closed_case_days", "retention_resident_days"):
        # The retention passes leave the outbox alone: what they redact must be older than anything it keeps.
        if getattr(settings, name) <= settings.outbox_retention_days:
            raise ConfigError(_ENV[name], f"must be longer than DOORSTEP_OUTBOX_RETENTION_DAYS "
                                          f"({settings.outbox_retention_days}): the outbox keeps events for replay "
                                          "that long, and retention does not rewrite them")
    if settings.console_db and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", settings.console_db):
        raise ConfigError("DOORSTEP_DB_CONSOLE", f"{settings.console_db!r} is not a sqlite:// or postgresql:// URL")
    for service in SERVICES:
        url = getattr(settings, f"console_{service}_url")
        if url and not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"DOORSTEP_CONSOLE_{service.upper()}_URL", f"{url!r} is not an http:// or https:// URL")
    _check_street_files(settings)
    return settings


def _check_street_files(settings: Settings) -> None:
    for kind in STREET_FILES:
        path = getattr(settings, kind)
        if path and not Path(path).is_file():
            raise ConfigError(_ENV[kind], f"file {path} does not exist")
    if not settings.street_dir:
        return
    directory = Path(settings.street_dir)
    if not directory.is_dir():
        raise ConfigError("DOORSTEP_STREET_DIR", f"{directory} is not a directory")
    # A misspelt file would silently leave the default in force. Dot-names are the ConfigMap volume's own links.
    unexpected = sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")
                        and p.name not in STREET_FILES.values())
    if unexpected:
        raise ConfigError("DOORSTEP_STREET_DIR", f"unexpected file(s) {', '.join(unexpected)} in {directory}; "
                                                 f"a street directory holds {', '.join(STREET_FILES.values())}")
