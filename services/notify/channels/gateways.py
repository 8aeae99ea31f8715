"""How the SMS and WeChat adapters reach their provider: one small interface, a real HTTP gateway, and a
recording gateway that stands in for a provider that cannot be reached (it keeps every request, and answers
from a script so a test can make the provider fail)."""
from __future__ import annotations

import dataclasses
import threading
from typing import Callable, Protocol

import requests


@dataclasses.dataclass(frozen=True)
class GatewayRequest:
    method: str
    url: str
    params: dict | None = None
    json: dict | None = None


@dataclasses.dataclass(frozen=True)
class GatewayResponse:
    status: int
    body: dict


class GatewayUnreachable(Exception):
    pass


class Gateway(Protocol):
    def request(self, request: GatewayRequest) -> GatewayResponse: ...


class HttpGateway:
    def __init__(self, timeout_s: float = 5.0, session=None):
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    def request(self, request: GatewayRequest) -> GatewayResponse:
        try:
            response = self.session.request(request.method, request.url, params=request.params, json=request.json,
                                            timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise GatewayUnreachable(type(exc).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        return GatewayResponse(response.status_code, body if isinstance(body, dict) else {})


Responder = Callable[[GatewayRequest], GatewayResponse]


class RecordingGateway:
    """Keeps every request; answers with ``responder`` (by default, the provider's success answer)."""

    _named: dict[str, "RecordingGateway"] = {}
    _lock = threading.Lock()

    def __init__(self, responder: Responder | None = None):
        self.requests: list[GatewayRequest] = []
        self.responder = responder

    @classmethod
    def named(cls, name: str) -> "RecordingGateway":
        """One shared instance per name, so a test can reach the gateway a running service uses."""
        with cls._lock:
            return cls._named.setdefault(name, cls())

    def request(self, request: GatewayRequest) -> GatewayResponse:
        self.requests.append(request)
        if self.responder is None:
            raise GatewayUnreachable("recording gateway has no responder")
        return self.responder(request)

    def reset(self, responder: Responder | None = None) -> None:
        self.requests.clear()
        self.responder = responder
