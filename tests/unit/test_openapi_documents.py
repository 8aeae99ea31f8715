"""Each service's OpenAPI document is made from its endpoints: every route it registers is documented, every
problem it can answer is listed, and the checked-in copies under docs/openapi/ are current."""
import pytest

from doorstep import api as api_docs
from doorstep.runner import service_class
from support import ROOT
from shared.config import SERVICES
from shared.openapi import entrypoints, openapi_path
from shared.service import api_document


@pytest.mark.parametrize("service", SERVICES)
def test_every_registered_route_is_documented_and_nothing_else(service):
    cls = service_class(service)
    registered = {(openapi_path(e.url), m.lower()) for e in entrypoints(cls) for m in e.method.split(",")}
    document = api_document(cls)
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert registered == documented
    assert len(registered) == sum(len(e.method.split(",")) for e in entrypoints(cls))  # no route twice


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_lists_the_problems_the_machinery_can_answer(service):
    document = api_document(service_class(service))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert "500" in statuses, (method, path)
            if "security" in operation:
                assert {"401", "403", "429"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
            for status, response in operation["responses"].items():
                if status in ("400", "401", "403", "404", "409", "413", "415", "429", "500"):
                    assert "application/problem+json" in response["content"] or path.startswith("/open311"), \
                        (method, path, status)


def test_the_checked_in_documents_are_current():
    assert api_docs.stale(ROOT / "docs" / "openapi") == [], "run 'doorstep api docs'"
