"""Calling a running service over HTTP, as a station's counter does."""

import requests

CASE = {
    "matter_code": "property-repair",
    "kind": "request",
    "urgency": "normal",
    "description": "楼道灯不亮",
    "resident": {"name": "王阿姨", "phone": "13812345678", "area": "shixin", "building": "12", "room": "301"},
}


def base_url(settings, service):
    return f"http://127.0.0.1:{settings.port(service)}"


def submit_case(settings, token, body=None, **overrides):
    payload = {**CASE, **overrides} if body is None else body
    return requests.post(f"{base_url(settings, 'intake')}/intake/cases", json=payload,
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)


def get(settings, service, path, token):
    return requests.get(f"{base_url(settings, service)}{path}", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def with_free_ports(settings):
    """Give each service a free port so tests never collide with a running `make run`."""
    from doorstep.runner import free_ports
    from shared.config import SERVICES

    return settings.replace(ports=free_ports(SERVICES))
