"""The four services as the console reaches them: their public HTTP APIs, with the user's own bearer token.

The console is a client like any other: it holds no service code and no service database. A problem answer
(problem+json) becomes :class:`ApiProblem`, whose reasons per field the forms show beside their fields; a
service that cannot be reached becomes :class:`Unreachable`. Reference data (the matter catalog, the street's
units and areas) is the same for everyone and changes with a deployment, so it is kept for a few minutes.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import requests

from shared.config import Settings

TIMEOUT_S = 10
REFERENCE_TTL_S = 300.0
SERVICE_NAMES = {"intake": "受理服务", "routing": "派单服务", "funds": "资金服务", "notify": "通知服务"}

_http = requests.Session()


class ApiProblem(Exception):
    """A service answered 4xx/5xx; ``fields`` maps each named field to its reason in Chinese."""

    def __init__(self, service: str, status: int, body: dict):
        self.service, self.status, self.body = service, status, body
        self.fields: dict[str, str] = {}
        for param in body.get("invalid_params") or ():
            self.fields.setdefault(str(param.get("name")), chinese(str(param.get("reason", ""))))
        super().__init__(f"{service} answered {status}: {body.get('detail') or body.get('title')}")

    @property
    def message(self) -> str:
        """One line for the page: the first field's reason, or the service's own words."""
        if self.status in (401, 403):
            return "无权进行此操作（服务拒绝了当前账号）"
        if self.status == 404:
            return "未找到该记录"
        if self.status == 409:
            return "当前状态下不能进行此操作：" + chinese(str(self.body.get("detail") or ""))
        if self.status >= 500:
            cid = self.body.get("correlation_id")
            return f"{SERVICE_NAMES.get(self.service, self.service)}出错" + (f"（编号 {cid}）" if cid else "")
        if self.fields:
            return "；".join(f"{name}：{reason}" for name, reason in self.fields.items())
        return chinese(str(self.body.get("detail") or self.body.get("title") or ""))


class Unreachable(Exception):
    def __init__(self, service: str, reason: str):
        self.service = service
        super().__init__(f"{service} unreachable: {reason}")


def chinese(reason: str) -> str:
    """A service's bilingual reason (``必填 / is required``) in its Chinese part; English alone stays."""
    return reason.split(" / ", 1)[0] if " / " in reason else reason


class Services:
    """The APIs, called as one user (its bearer token)."""

    def __init__(self, settings: Settings, token: str | None, request_id: str | None = None):
        self.settings, self.token = settings, token
        self.request_id = request_id or uuid.uuid4().hex

    def url(self, service: str, path: str) -> str:
        return self.settings.console_api(service) + path

    def _call(self, method: str, service: str, path: str, *, params=None, body=None,
              headers: dict | None = None) -> Any:
        sent = {"X-Request-ID": self.request_id, "Accept": "application/json", **(headers or {})}
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        try:
            answer = _http.request(method, self.url(service, path), params=params, json=body, headers=sent,
                                   timeout=TIMEOUT_S, allow_redirects=False)
        except requests.RequestException as exc:
            raise Unreachable(service, type(exc).__name__) from None
        if answer.status_code >= 400:
            try:
                problem = answer.json()
            except ValueError:
                problem = {"title": answer.reason}
            raise ApiProblem(service, answer.status_code, problem if isinstance(problem, dict) else {})
        return answer.json() if answer.content else None

    def get(self, service: str, path: str, **params) -> Any:
        return self._call("GET", service, path, params={k: v for k, v in params.items() if v is not None})

    def post(self, service: str, path: str, body: dict | None = None, *, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", service, path, body=body if body is not None else {}, headers=headers)

    # -- reference data, kept a while ---------------------------------------------------------------------

    def catalog(self) -> "Catalog":
        return _reference(("catalog", self.settings.console_api("intake")),
                          lambda: Catalog(self.get("intake", "/intake/catalog")))

    def directory(self) -> "Directory":
        return _reference(("directory", self.settings.console_api("routing")),
                          lambda: Directory(self.get("routing", "/routing/units")))


_cache: dict[tuple, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _reference(key: tuple, load):
    with _cache_lock:
        found = _cache.get(key)
    if found and time.monotonic() - found[0] < REFERENCE_TTL_S:
        return found[1]
    value = load()
    with _cache_lock:
        _cache[key] = (time.monotonic(), value)
    return value


def forget_reference_data() -> None:
    with _cache_lock:
        _cache.clear()


class Catalog:
    """The matter catalog, by code, with its categories' names."""

    def __init__(self, raw: dict):
        self.categories = {c["code"]: c["name"] for c in raw["categories"]}
        self.matters = {m["code"]: m for m in raw["matters"]}

    def name(self, code: str) -> str:
        return self.matters.get(code, {}).get("name", code)

    def search(self, text: str = "", category: str = "", channel: str = "counter") -> list[dict]:
        text = text.strip()
        return [m for m in self.matters.values()
                if channel in m["channels"] and (not category or m["category"] == category)
                and (not text or text in m["name"] or text in m["category_name"] or text == m["code"])]


class Directory:
    """The street's units and residential areas, by code."""

    def __init__(self, raw: dict):
        self.units = {u["code"]: u for u in raw["units"]}
        self.areas = raw["areas"]
        self.triage_unit = raw.get("triage_unit")

    def unit_name(self, code: str | None) -> str:
        return self.units.get(code, {}).get("name", code or "")

    def area_name(self, code: str | None) -> str:
        return self.areas.get(code, {}).get("name", code or "")

    def recipient_name(self, recipient: str) -> str:
        """notify's recipient (``unit:shixin-pm``, ``resident:<id>``) as a person reads it."""
        kind, _, code = recipient.partition(":")
        if kind == "unit":
            return self.unit_name(code)
        if kind == "subscribers":
            return "订阅者"
        return {"resident": "居民", "donor": "捐赠人"}.get(kind, recipient)
