"""A service's OpenAPI 3.1 document, made from what its endpoints declare, and the explorer that shows it.

Every ``@api`` entrypoint names its roles, body, query and answer models (:class:`shared.http.ApiHandler`);
:func:`document` reads them off the service class, so the document cannot drift from what the service does.
Every status an endpoint can answer is listed: its answers, and the problems the machinery can produce (400 for
a body or query, 401/403/429 with a token, 404 with an id in the path, 413/415 with a body, 500 always), with
the problem+json schema. ``/<service>/docs`` is Swagger UI, served from the installed ``swagger_ui`` package.
"""
from __future__ import annotations

import re
from importlib import resources

from pydantic import TypeAdapter

from shared.http import ApiHandler, Content
from shared.problems import ProblemDocument

_RULE_PARAM_RE = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_PARAM_SCHEMAS = {"uuid": {"type": "string", "format": "uuid"}, "int": {"type": "integer"}}

REASONS = {
    400: "invalid input: invalid_params names each field and says what is wrong",
    401: "no valid bearer token", 403: "the token's role may not do this, or not to this record",
    404: "no such record", 405: "method not allowed", 409: "not allowed in the record's current state",
    413: "the body is larger than the service accepts", 415: "the body is not of the declared media type",
    429: "too many failed attempts from this source; retry after Retry-After seconds",
    500: "an unexpected error; the answer carries a correlation id", 503: "not ready, or try again",
}


def entrypoints(service_cls) -> list[ApiHandler]:
    """The service's HTTP entrypoints, in path order."""
    found = []
    for name in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, name, None), "nameko_entrypoints", ()):
            if isinstance(entrypoint, ApiHandler):
                entrypoint.method_name = name
                found.append(entrypoint)
    return sorted(found, key=lambda e: (e.url, e.method))


def openapi_path(rule: str) -> str:
    """werkzeug's ``/intake/cases/<string:case_id>`` as OpenAPI's ``/intake/cases/{case_id}``."""
    return _RULE_PARAM_RE.sub(lambda m: "{" + m.group(2) + "}", rule)


def statuses(entrypoint: ApiHandler) -> dict[int, object]:
    """Every status the entrypoint can answer: its answers (model or Content), then its problems (None)."""
    found: dict[int, object] = dict(entrypoint.answers)
    problems = set(entrypoint.problems) | {500}
    if entrypoint.body_model is not None:
        problems |= {400, 413, 415}
    if entrypoint.query_model is not None or entrypoint.path_model is not None:
        problems.add(400)
    if entrypoint.roles is not None:
        problems |= {401, 403, 429}
    if _RULE_PARAM_RE.search(entrypoint.url):
        problems.add(404)
    for status in sorted(problems - set(found)):
        found[status] = None
    return found


def document(service_cls, title: str, version: str, description: str = "") -> dict:
    handlers = entrypoints(service_cls)
    adapters = []
    for e in handlers:
        if e.body_model is not None:
            adapters.append(((e.method_name, "body"), "validation", TypeAdapter(e.body_model)))
        if e.query_model is not None:
            adapters.append(((e.method_name, "query"), "validation", TypeAdapter(e.query_model)))
        if e.path_model is not None:
            adapters.append(((e.method_name, "path"), "validation", TypeAdapter(e.path_model)))
        for status, model in e.answers.items():
            if model is not None and not isinstance(model, Content):
                adapters.append(((e.method_name, status), "serialization", TypeAdapter(model)))
    adapters.append((("problem", 0), "serialization", TypeAdapter(ProblemDocument)))
    schemas, definitions = TypeAdapter.json_schemas(adapters, ref_template="#/components/schemas/{model}")
    components = definitions.get("$defs", {})
    problem_schema = schemas[("problem", 0), "serialization"]

    paths: dict = {}
    for e in handlers:
        operation = {"operationId": e.method_name, "summary": e.summary or e.method_name.replace("_", " ")}
        if e.tags:
            operation["tags"] = list(e.tags)
        typed = _parameters(schemas[(e.method_name, "path"), "validation"], components, "path") \
            if e.path_model is not None else {}
        parameters = [typed.get(name) or {"name": name, "in": "path", "required": True,
                                          "schema": _PARAM_SCHEMAS.get(converter or "", {"type": "string"})}
                      for converter, name in _RULE_PARAM_RE.findall(e.url)]
        if e.query_model is not None:
            parameters += _parameters(schemas[(e.method_name, "query"), "validation"], components, "query").values()
        if parameters:
            operation["parameters"] = parameters
        if e.body_model is not None:
            media = "application/x-www-form-urlencoded" if e.form else "application/json"
            operation["requestBody"] = {"required": True,
                                        "content": {media: {"schema": schemas[(e.method_name, "body"), "validation"]}}}
        responses = {}
        for status, model in statuses(e).items():
            if model is None:
                content = {"application/problem+json": {"schema": problem_schema}}
                responses[str(status)] = {"description": REASONS.get(status, "problem"), "content": content}
            elif isinstance(model, Content):
                responses[str(status)] = {"description": model.description or "success",
                                          "content": {model.media_type: {"schema": model.schema}}}
            else:
                schema = schemas[(e.method_name, status), "serialization"]
                responses[str(status)] = {"description": "success", "content": {"application/json": {"schema": schema}}}
        operation["responses"] = responses
        if e.roles is not None:
            operation["security"] = [{"bearer": []}]
            operation["description"] = f"roles: {', '.join(e.roles)} (or admin)"
        for method in e.method.split(","):
            paths.setdefault(openapi_path(e.url), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, **({"description": description} if description else {})},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


def _parameters(schema: dict, components: dict, where: str) -> dict[str, dict]:
    """A query or path model's fields as OpenAPI parameters, by name."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    required = set(schema.get("required", ()))
    parameters = {}
    for name, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        # A query string cannot carry null: an optional parameter is simply left out.
        if "anyOf" in prop:
            kept = [p for p in prop["anyOf"] if p.get("type") != "null"]
            if len(kept) == 1:
                prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **kept[0]}
                if prop.get("default", ...) is None:
                    del prop["default"]
        parameter = {"name": name, "in": where, "required": where == "path" or name in required, "schema": prop}
        if "description" in prop:
            parameter["description"] = prop["description"]
        if prop.get("type") == "array" or any(p.get("type") == "array" for p in prop.get("anyOf", ())):
            parameter.update(style="form", explode=True)
        parameters[name] = parameter
    return parameters


# -- the explorer -------------------------------------------------------------------------------------------

EXPLORER_ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "application/javascript",
                   "favicon-32x32.png": "image/png"}

EXPLORER_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/{service}/docs/swagger-ui.css">
<link rel="icon" href="/{service}/docs/favicon-32x32.png">
</head>
<body>
<div id="explorer"></div>
<script src="/{service}/docs/swagger-ui-bundle.js"></script>
<script src="/{service}/docs/explorer.js"></script>
</body>
</html>
"""

EXPLORER_SCRIPT = """window.onload = function () {{
  window.ui = SwaggerUIBundle({{url: "/{service}/openapi.json", dom_id: "#explorer", deepLinking: true,
    persistAuthorization: true}});
}};
"""

# Swagger UI styles its elements inline; scripts, fonts and images come only from this service.
EXPLORER_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def explorer_asset(name: str) -> bytes:
    """One of Swagger UI's files from the installed package (no CDN: the page works with no network)."""
    if name not in EXPLORER_ASSETS:
        raise KeyError(name)
    return (resources.files("swagger_ui") / "static" / name).read_bytes()
