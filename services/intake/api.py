"""Intake's HTTP API, described once: the entrypoints take their paths and roles from here, request bodies are
checked against these schemas, and ``GET /intake/openapi.json`` serves the document made from them."""
from __future__ import annotations

from shared.auth import ROLES
import dataclasses
import json
import re
from functools import lru_cache

import jsonschema

from shared.errors import InvalidInput
from services.intake.catalog import CHANNELS
from services.intake.domain import KINDS, RATINGS, STATUSES, URGENCIES

# -- (being replaced by typed models) --
_PARAM_RE = re.compile(r"\{([a-z_]+)\}")

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; invalid_params names the offending field",
    "required": ["title", "status"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "invalid_params": {"type": "array", "items": {
            "type": "object", "properties": {"name": {"type": "string"}, "reason": {"type": "string"}}}},
    },
}


@dataclasses.dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict
    description: str = ""
    required: bool = False


@dataclasses.dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str  # OpenAPI form: /intake/cases/{case_id}
    summary: str
    roles: tuple[str, ...] | None = None  # None: no token needed
    request: dict | None = None  # JSON Schema of the body
    query: tuple[QueryParam, ...] = ()
    response: dict | None = None
    status: int = 200
    tag: str = ""
    problems: tuple[int, ...] = (400,)

    @property
    def route(self) -> str:
        """The path as werkzeug routes it: /intake/cases/<string:case_id>."""
        return _PARAM_RE.sub(r"<string:\1>", self.path)


class Api:
    def __init__(self, title: str, version: str, operations: list[Operation], description: str = ""):
        self.title, self.version, self.description = title, version, description
        self.operations = {op.id: op for op in operations}
        if len(self.operations) != len(operations):
            raise ValueError("two operations share an id")

    def route(self, operation_id: str) -> str:
        return self.operations[operation_id].route

    def roles(self, operation_id: str) -> tuple[str, ...] | None:
        return self.operations[operation_id].roles

    def check(self, operation_id: str, body) -> None:
        schema = self.operations[operation_id].request
        if schema is not None:
            check_body(schema, body)

    def document(self) -> dict:
        paths: dict = {}
        for op in self.operations.values():
            item = paths.setdefault(op.path, {})
            entry = {"operationId": op.id, "summary": op.summary}
            if op.tag:
                entry["tags"] = [op.tag]
            parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                          for name in _PARAM_RE.findall(op.path)]
            parameters += [{"name": q.name, "in": "query", "required": q.required, "schema": q.schema,
                            **({"description": q.description} if q.description else {})} for q in op.query]
            if parameters:
                entry["parameters"] = parameters
            if op.request is not None:
                entry["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": op.request}}}
            responses = {str(op.status): {"description": "success", **(
                {"content": {"application/json": {"schema": op.response}}} if op.response else {})}}
            problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for status in sorted(set(op.problems) | ({401, 403} if op.roles is not None else set())):
                responses[str(status)] = {"description": _REASONS.get(status, "problem"), **problem}
            entry["responses"] = responses
            if op.roles is not None:
                entry["security"] = [{"bearer": []}]
                entry["description"] = f"roles: {', '.join(op.roles)} (or admin)"
            item[op.method.lower()] = entry
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version,
                     **({"description": self.description} if self.description else {})},
            "paths": paths,
            "components": {
                "schemas": {"Problem": PROBLEM_SCHEMA},
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }


_REASONS = {400: "invalid input; invalid_params names the field", 401: "no valid bearer token",
            403: "the token's role may not do this", 404: "not found", 409: "not allowed in the current state",
            415: "the body is not application/json"}


@lru_cache(maxsize=None)
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check_body(schema: dict, body) -> None:
    """Raise :class:`InvalidInput` naming the first field (``resident.phone``) that breaks ``schema``."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(body), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    error = errors[0]
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = re.match(r"'([^']+)'", error.message)
        if missing:
            path.append(missing.group(1))
        reason = "is required"
    elif error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message)
        if extra:
            path.append(extra[0])
        reason = "is not a known field"
    else:
        reason = error.message if len(error.message) <= 200 else error.message[:200] + "…"
    field = ".".join(path) or "(body)"
    raise InvalidInput(field, reason)


WORKERS = ("counter",)
CODE = {"type": "string", "pattern": "^[a-z0-9-]{1,80}$"}
TEXT = {"type": "string", "maxLength": 500}

SUBMIT_CASE = {
    "type": "object",
    "required": ["matter_code", "resident"],
    "properties": {
        "matter_code": {"type": "string", "maxLength": 80, "description": "a code of the matter catalog"},
        "channel": {"enum": list(CHANNELS), "default": "counter"},
        "kind": {"enum": list(KINDS), "default": "request", "description": "咨询 投诉 求助 建议"},
        "urgency": {"enum": list(URGENCIES), "default": "normal", "description": "一般 紧急 特急"},
        "description": {"type": "string", "maxLength": 2000},
        "proxy": {"type": "boolean", "description": "a worker enters the case for the resident (代办)"},
        "reporter": {"type": "string", "maxLength": 50, "description": "who reported it, if not the resident"},
        "attributes": {"type": "object", "description": "the matter's form fields (see GET /intake/catalog/{code})"},
        "resident": {
            "type": "object",
            "required": ["name", "phone", "area"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 50},
                "phone": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
                "area": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$", "description": "residential area (居民区)"},
                "building": {"type": "string", "maxLength": 20},
                "room": {"type": "string", "maxLength": 20},
                "id_card": {"type": "string", "maxLength": 18, "description": "stored protected, never shown"},
            },
        },
    },
}
EMPTY = {"type": "object"}
REJECT = {"type": "object", "required": ["reason"], "properties": {"reason": {**TEXT, "minLength": 1}}}
SUPPLEMENT = {"type": "object", "required": ["missing_materials"], "properties": {
    "missing_materials": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1,
                                                                   "maxLength": 100}},
    "note": TEXT}}
RESUBMIT = {"type": "object", "properties": {"note": TEXT}}
SETTLE = {"type": "object", "required": ["answer"], "properties": {
    "answer": {"type": "string", "minLength": 1, "maxLength": 2000}}}
CALLBACK = {"type": "object", "required": ["rating"], "properties": {
    "rating": {"enum": list(RATINGS), "description": "非常满意 满意 基本满意 不满意 非常不满意"},
    "comment": {"type": "string", "maxLength": 1000}}}
VISIT = {"type": "object", "required": ["case_ids", "station"], "properties": {
    "case_ids": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "string", "format": "uuid"}},
    "station": CODE}}
BOOK = {"type": "object", "required": ["station", "starts_at", "matter_code", "resident"], "properties": {
    "station": CODE, "starts_at": {"type": "string", "format": "date-time"}, "matter_code": CODE,
    "resident": SUBMIT_CASE["properties"]["resident"]}}
CANCEL = {"type": "object", "properties": {"reason": TEXT}}
VIDEO_START = {"type": "object", "required": ["kind"], "properties": {
    "kind": {"enum": ["consultation", "remote_assistance"], "description": "可视化咨询 or 远程协助"}}}

CASE_SUMMARY = {"type": "object", "properties": {"id": {"type": "string"}, "status": {"enum": list(STATUSES)}}}
SEARCH_PARAMS = (
    QueryParam("status", {"enum": list(STATUSES)}),
    QueryParam("matter_code", CODE),
    QueryParam("category", CODE),
    QueryParam("area", CODE, "residential area (居民区)"),
    QueryParam("channel", {"enum": list(CHANNELS)}),
    QueryParam("from", {"type": "string"}, "submitted at or after (ISO 8601; a date is Asia/Shanghai midnight)"),
    QueryParam("to", {"type": "string"}, "submitted at or before"),
    QueryParam("page", {"type": "integer", "minimum": 1, "default": 1}),
    QueryParam("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
)


def _action(op_id, verb, summary, body, problems=(400, 404, 409)):
    return Operation(op_id, "POST", f"/intake/cases/{{case_id}}/{verb}", summary, WORKERS, body,
                     response=CASE_SUMMARY, tag="cases", problems=problems)


API = Api("Doorstep intake (全岗通)", "1.0.0", [
    Operation("submit_case", "POST", "/intake/cases", "Submit a resident's matter (counter cases are accepted at once)",
              WORKERS, SUBMIT_CASE, response=CASE_SUMMARY, status=201, tag="cases", problems=(400, 415)),
    Operation("search_cases", "GET", "/intake/cases", "Search and filter cases, newest first, by page", ROLES,
              query=SEARCH_PARAMS, tag="cases"),
    Operation("get_case", "GET", "/intake/cases/{case_id}", "A case with its full history", ROLES, tag="cases",
              response=CASE_SUMMARY, problems=(404,)),
    _action("accept_case", "accept", "Accept the case (受理)", EMPTY),
    _action("reject_case", "reject", "Do not accept the case (不予受理); the reason is required", REJECT),
    _action("request_supplement", "supplement-request", "Ask for missing materials (补正)", SUPPLEMENT),
    _action("resubmit_case", "resubmit", "The resident supplied what was missing", RESUBMIT),
    _action("settle_case", "settle", "Settle a station matter on the spot (当场办结)", SETTLE),
    _action("record_callback", "callback", "Record the resident's rating at callback (回访)", CALLBACK),
    _action("close_case", "close", "Close the case (结案)", EMPTY),
    Operation("start_video", "POST", "/intake/cases/{case_id}/video-sessions",
              "Start a video consultation or remote assistance", WORKERS, VIDEO_START, status=201, tag="video",
              problems=(400, 404, 409)),
    Operation("end_video", "POST", "/intake/video-sessions/{session_id}/end", "End a video session", WORKERS,
              EMPTY, tag="video", problems=(404, 409)),
    Operation("record_visit", "POST", "/intake/visits", "Record a resident's in-person visit for one or more cases",
              WORKERS, VISIT, status=201, tag="visits", problems=(400, 404, 409)),
    Operation("visit_metrics", "GET", "/intake/metrics/visits",
              "Visits per resolved case and the share settled in one visit (只跑一次)", ROLES, tag="visits"),
    Operation("list_slots", "GET", "/intake/stations/{station}/slots", "Open slots of a station on a day", None,
              query=(QueryParam("date", {"type": "string", "format": "date"}, "Asia/Shanghai date", True),),
              tag="appointments", problems=(400, 404)),
    Operation("book_appointment", "POST", "/intake/appointments", "Book a slot (网上预约)", WORKERS, BOOK,
              status=201, tag="appointments", problems=(400, 404, 409)),
    Operation("cancel_appointment", "POST", "/intake/appointments/{appointment_id}/cancel", "Cancel a booking",
              WORKERS, CANCEL, tag="appointments", problems=(404, 409)),
    Operation("no_show", "POST", "/intake/appointments/{appointment_id}/no-show", "The resident did not come",
              WORKERS, EMPTY, tag="appointments", problems=(404, 409)),
    Operation("list_matters", "GET", "/intake/catalog", "The matter catalog", None, tag="catalog", problems=()),
    Operation("get_matter", "GET", "/intake/catalog/{code}", "One matter with its materials and form", None,
              tag="catalog", problems=(404,)),
    Operation("openapi", "GET", "/intake/openapi.json", "This document", None, problems=()),
], description="One-window intake of a doorstep service station: the matter catalog, cases and their "
               "lifecycle, visits, appointments. Errors are application/problem+json naming the field.")
