"""One description of a service's HTTP API, from which both the routes and the OpenAPI 3 document come.

A service lists its :class:`Operation` s once (method, path, roles, the request body's JSON Schema, query
parameters, the answer's schema). The entrypoints take their path and roles from that list
(``API.route("submit_case")``), request bodies are checked against the same schema (:func:`check_body`,
a 400 problem naming the field), and ``API.document()`` is the OpenAPI document the service serves — so the
document cannot drift from what the service does.
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
import json

import jsonschema

from shared.errors import InvalidInput

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
