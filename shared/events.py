"""The public event contract: CloudEvents 1.0 JSON envelopes and the registry of event types.

Other district systems build on these events, so the contract lives in data, once: each type has a JSON
Schema file ``schemas/<service>/<entity>.<verb>.v<N>.json``. A type's full name is
``doorstep.<service>.<entity>.<verb>.v<N>``; it is published to the topic exchange ``<service>.events``
(nameko's convention) with the routing key ``<entity>.<verb>.v<N>``, so a subscriber can bind to one version
(``case.submitted.v1``), to every version (``case.submitted.*``) or to everything (``#``).
"""
from __future__ import annotations

import dataclasses
import json
import re
import uuid
from datetime import date, datetime, timezone
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Iterable

import fastjsonschema
import jsonschema

from shared.personal_data import mask_data

SCHEMA_DIR = Path(__file__).parent / "contract" / "schemas"
ENVELOPE_SCHEMA = json.loads((Path(__file__).parent / "contract" / "envelope.schema.json").read_text("utf-8"))
_TYPE_RE = re.compile(r"^doorstep\.(?P<service>[a-z]+)\.(?P<name>[a-z_]+\.[a-z_]+)\.v(?P<version>[1-9][0-9]*)$")


class SchemaViolation(Exception):
    """Publishing an event whose data does not match its schema: a programming error, never user input."""


class InvalidEnvelope(Exception):
    """An incoming message is not a valid envelope of a known type; the message says why."""


@dataclasses.dataclass(frozen=True, eq=False)
class EventType:
    service: str
    name: str  # "<entity>.<verb>"
    version: int
    schema: dict

    @property
    def type(self) -> str:
        return f"doorstep.{self.service}.{self.name}.v{self.version}"

    @property
    def routing_key(self) -> str:
        return f"{self.name}.v{self.version}"

    @property
    def exchange(self) -> str:
        return f"{self.service}.events"

    @property
    def dataschema(self) -> str:
        return f"urn:doorstep:schema:{self.type}"

    @cached_property
    def validator(self):
        return _compile(self.schema)

    def validate(self, data: Any) -> None:
        errors = sorted(self.validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(root)"
            raise jsonschema.ValidationError(f"{self.type} data at {where}: {first.message}")


def _compile(schema: dict):
    """A validator built once per schema: checking the schema itself costs far more than using it."""
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return _Validator(cls(schema, format_checker=cls.FORMAT_CHECKER), _compile_fast(schema))


def _is_date(value: str) -> bool:
    """As jsonschema checks ``date``."""
    try:
        return bool(_DATE.fullmatch(value) and date.fromisoformat(value))
    except ValueError:
        return False


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _is_uuid(value: str) -> bool:
    """As jsonschema checks ``uuid``."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return all(value[position] == "-" for position in (8, 13, 18, 23))


def _compile_fast(schema: dict):
    """The schema compiled to Python code by fastjsonschema, or None where it cannot take it.

    Every event is validated where it is published and where it is consumed, several times per case, and
    jsonschema's interpreter took more CPU than the database statements did. Our schemas use only keywords that
    draft 7 has too; fastjsonschema is at least as strict on them (it checks ``date-time``, which jsonschema
    does not without an extra package, and integers must not be floats), and ``date`` and ``uuid`` (not in draft
    7) are checked as jsonschema checks them. So what it accepts jsonschema accepts; what it rejects is judged (and explained) by jsonschema.
    """
    try:
        return fastjsonschema.compile({k: v for k, v in schema.items() if k != "$schema"},
                                      formats={"date": _is_date, "uuid": _is_uuid})
    except fastjsonschema.JsonSchemaDefinitionException:
        return None


@dataclasses.dataclass(frozen=True)
class _Validator:
    full: Any  # the jsonschema validator: the judge, and the source of error messages
    fast: Any

    def iter_errors(self, data):
        if self.fast is not None:
            try:
                self.fast(data)
                return iter(())
            except fastjsonschema.JsonSchemaValueException:
                pass
        return self.full.iter_errors(data)


_ENVELOPE_VALIDATOR = _compile(ENVELOPE_SCHEMA)


class Registry:
    """Every event type the system publishes, loaded from the schema files."""

    def __init__(self, types: Iterable[EventType]):
        self._by_type = {t.type: t for t in types}

    @classmethod
    def load(cls, schema_dir: Path = SCHEMA_DIR) -> "Registry":
        types = []
        for path in sorted(schema_dir.glob("*/*.json")):
            full = f"doorstep.{path.parent.name}.{path.stem}"
            match = _TYPE_RE.match(full)
            if not match:
                raise ValueError(f"{path}: file name does not give an event type of the form <entity>.<verb>.v<N>")
            schema = json.loads(path.read_text("utf-8"))
            types.append(EventType(match["service"], match["name"], int(match["version"]), schema))
        return cls(types)

    def __iter__(self):
        return iter(sorted(self._by_type.values(), key=lambda t: t.type))

    def get(self, type_name: str) -> EventType:
        try:
            return self._by_type[type_name]
        except KeyError:
            raise KeyError(f"unknown event type {type_name!r}") from None

    def find(self, service: str, routing_key: str) -> EventType:
        return self.get(f"doorstep.{service}.{routing_key}")


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry.load()


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """An event a use case emits, before it has an envelope: made only by its service's builder
    (``services/<service>/events.py``, one function per event type), so each event's shape is built in one
    place. The unit of work gives it its envelope and writes it to the outbox."""

    type: str
    subject: str
    data: dict


@dataclasses.dataclass(frozen=True)
class Envelope:
    id: str
    source: str
    type: str
    time: str
    subject: str
    data: dict
    street: str
    dataschema: str
    specversion: str = "1.0"
    datacontenttype: str = "application/json"
    # Set on re-published copies so subscribers can tell a replay from a first delivery.
    replay: bool = False

    @property
    def service(self) -> str:
        return self.type.split(".")[1]

    @property
    def routing_key(self) -> str:
        return self.type.split(".", 2)[2]

    def to_dict(self) -> dict:
        # Not dataclasses.asdict: it deep-copies ``data``, and this runs for every event published.
        body = {field: getattr(self, field) for field in _ENVELOPE_FIELDS}
        if not self.replay:
            del body["replay"]
        return body

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes | str, reg: Registry | None = None) -> "Envelope":
        """Parse and check an incoming message: envelope shape, known type, data against its schema."""
        reg = reg or registry()
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidEnvelope(f"body is not JSON: {exc}") from None
        error = jsonschema.exceptions.best_match(_ENVELOPE_VALIDATOR.iter_errors(raw))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            raise InvalidEnvelope(f"not a CloudEvents envelope at {where}: {error.message}")
        try:
            event_type = reg.get(raw["type"])
            event_type.validate(raw["data"])
        except (KeyError, jsonschema.ValidationError) as exc:
            raise InvalidEnvelope(str(exc.args[0] if exc.args else exc)) from None
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in fields})


_ENVELOPE_FIELDS = tuple(field.name for field in dataclasses.fields(Envelope))


def new_event(type_name: str, *, street: str, subject: str, data: dict, reg: Registry | None = None,
              now: datetime | None = None) -> Envelope:
    """Build an outgoing event, refusing data that breaks its schema.

    Every string of the data leaves masked (:func:`shared.personal_data.mask_data`): a phone or ID number typed
    into a description, a reason or a donor's name is never published, and the event is not refused for it."""
    reg = reg or registry()
    try:
        event_type = reg.get(type_name)
    except KeyError as exc:
        raise SchemaViolation(str(exc.args[0])) from None
    data = mask_data(data)
    try:
        event_type.validate(data)
    except jsonschema.ValidationError as exc:
        raise SchemaViolation(exc.message) from None
    now = now or datetime.now(timezone.utc)
    return Envelope(
        id=str(uuid.uuid4()),
        source=f"/doorstep/{street}/{event_type.service}",
        type=event_type.type,
        time=now.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        subject=subject,
        data=data,
        street=street,
        dataschema=event_type.dataschema,
    )
