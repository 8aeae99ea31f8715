"""Settings from the environment (and an optional YAML file), validated once at start-up.

Every setting has one environment variable; a YAML file named by ``DOORSTEP_CONFIG`` may provide the same keys
(lower-case, without the prefix). The environment wins over the file. A wrong or missing value raises
:class:`ConfigError` naming the setting, so a pod that is misconfigured stops with a readable message.
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Mapping

import yaml
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS

SERVICES = ("intake", "routing", "funds", "notify")

# Each service's HTTP port when all four run in one process; a pod sets DOORSTEP_HTTP_PORT instead.
DEFAULT_PORTS = {"intake": 8001, "routing": 8002, "funds": 8003, "notify": 8004}

_STREET_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}$")

# A street's own reference data: optional files in DOORSTEP_STREET_DIR (in a pod, the mounted street ConfigMap).
# A file's own path setting wins over the directory; without either, the service's packaged default applies.
STREET_FILES = {
    "catalog": "catalog.yaml",              # intake's matter catalog (may `extends: default`)
    "stations": "stations.yaml",            # intake's stations, opening hours and appointment slots
    "routing_directory": "directory.yaml",  # routing's 1+3+N directory and rules
    "notify_config": "notify.yaml",         # notify's channels, quiet hours, retries, digest
    "notify_templates": "templates.yaml",   # notify's message templates, over the defaults
}


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""

    def __init__(self, setting: str, problem: str):
        self.setting = setting
        super().__init__(f"{setting}: {problem}")


@dataclasses.dataclass(frozen=True)
class Settings:
    street: str = "lujiazui"
    broker_uri: str = "memory://"
    # ``{service}`` is replaced by the service name: one database per service.
    db_template: str = "sqlite:///var/{service}.db"
    db_overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)
    http_host: str = "127.0.0.1"
    http_port: int | None = None  # None: each service on its own port (DEFAULT_PORTS, or ports below)
    ports: Mapping[str, int] = dataclasses.field(default_factory=dict)
    tokens_file: str = "var/tokens.yaml"
    data_dir: str = "var"
    handler_attempts: int = 3
    handler_backoff_s: float = 0.5
    # Events a batch consumer takes in one handler call and one transaction (see shared.consumer).
    consumer_batch_size: int = 50
    relay_batch_size: int = 200
    # The poll of the outbox table is only the safety net: committed events are handed to the relay in memory.
    relay_poll_s: float = 1.0
    relay_linger_s: float = 0.005
    # The relay's poll of the outbox leaves rows this young to the in-memory path (see shared.outbox).
    relay_grace_s: float = 3.0
    outbox_retention_days: int = 30
    max_workers: int = 10
    street_dir: str = ""
    catalog: str = ""
    stations: str = ""
    routing_directory: str = ""
    routing_timer_s: float = 60.0
    # How often gauges counted from a database (intake's cases by status, funds' balances) are refreshed.
    metrics_refresh_s: float = 60.0
    notify_config: str = ""
    notify_templates: str = ""
    # The largest request body read, checked before authentication: a bigger one is refused with 413 unread.
    http_max_body_bytes: int = 256 * 1024
    # Check every JSON answer against the model its endpoint documents (tests do; it costs a validation).
    check_answers: bool = False

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
        if service in self.db_overrides:
            return self.db_overrides[service]
        return self.db_template.format(service=service)

    def port(self, service: str) -> int:
        if self.http_port is not None:
            return self.http_port
        return self.ports.get(service, DEFAULT_PORTS[service])

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
    "max_workers": "DOORSTEP_MAX_WORKERS",
    "street_dir": "DOORSTEP_STREET_DIR",
    "catalog": "DOORSTEP_CATALOG",
    "stations": "DOORSTEP_STATIONS",
    "routing_directory": "DOORSTEP_ROUTING_DIRECTORY",
    "routing_timer_s": "DOORSTEP_ROUTING_TIMER_S",
    "metrics_refresh_s": "DOORSTEP_METRICS_REFRESH_S",
    "notify_config": "DOORSTEP_NOTIFY_CONFIG",
    "notify_templates": "DOORSTEP_NOTIFY_TEMPLATES",
    "http_max_body_bytes": "DOORSTEP_HTTP_MAX_BODY_BYTES",
    "check_answers": "DOORSTEP_CHECK_ANSWERS",
}


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
        unknown = set(loaded) - set(_ENV) - {"databases"}
        if unknown:
            raise ConfigError("DOORSTEP_CONFIG", f"unknown keys {sorted(unknown)} in {config_file}")
        raw.update(loaded)
    for key, var in _ENV.items():
        if var in environ and environ[var] != "":
            raw[key] = environ[var]
    db_overrides = dict(raw.pop("databases", None) or {})
    for service in SERVICES:
        var = f"DOORSTEP_DB_{service.upper()}"
        if environ.get(var):
            db_overrides[service] = environ[var]
    ports = overrides.pop("ports", None) or {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return _validate(raw, db_overrides, ports)


def _validate(raw: dict, db_overrides: dict, ports: Mapping[str, int]) -> Settings:
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict = {}
    for key, value in raw.items():
        setting = _ENV.get(key, key)
        kind = fields[key].type
        try:
            if kind == "bool":
                values[key] = _flag(value, setting)
            elif kind == "int" or kind == "int | None":
                values[key] = int(value)
            elif kind == "float":
                values[key] = float(value)
            else:
                values[key] = str(value)
        except (TypeError, ValueError):
            raise ConfigError(setting, f"expected a number, got {value!r}") from None
    settings = Settings(**values, db_overrides=db_overrides, ports=dict(ports))

    if not _STREET_RE.match(settings.street):
        raise ConfigError("DOORSTEP_STREET", f"{settings.street!r} is not a street code (lower-case letters, digits, '-')")
    if not re.match(r"^(memory|amqp|pyamqp|amqps)://", settings.broker_uri):
        raise ConfigError("DOORSTEP_BROKER", f"{settings.broker_uri!r} is not a memory:// or amqp:// URI")
    if "{service}" not in settings.db_template and set(db_overrides) != set(SERVICES):
        raise ConfigError(
            "DOORSTEP_DB",
            f"{settings.db_template!r} must contain '{{service}}' (one database per service), "
            "e.g. postgresql://host/doorstep_{service}",
        )
    for service in SERVICES:
        url = settings.db_url(service)
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
            name = f"DOORSTEP_DB_{service.upper()}" if service in db_overrides else "DOORSTEP_DB"
            raise ConfigError(name, f"{url!r} is not a sqlite:// or postgresql:// URL")
    if settings.http_port is not None and not 0 < settings.http_port < 65536:
        raise ConfigError("DOORSTEP_HTTP_PORT", f"{settings.http_port} is not a TCP port")
    for key in ("handler_attempts", "consumer_batch_size", "relay_batch_size", "max_workers", "http_max_body_bytes"):
        if getattr(settings, key) < 1:
            raise ConfigError(_ENV[key], "must be at least 1")
    for key in ("routing_timer_s", "metrics_refresh_s"):
        if getattr(settings, key) <= 0:
            raise ConfigError(_ENV[key], "must be a positive number of seconds")
    _check_street_files(settings)
    return settings


def _flag(value, setting: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("1", "true", "yes", "on"):
        return True
    if str(value).lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(setting, f"expected true or false, got {value!r}")


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
