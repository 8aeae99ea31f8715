"""The event catalog and the AsyncAPI document are generated from the schemas, and the AsyncAPI document
passes the AsyncAPI project's own parser (npm @asyncapi/parser)."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared import contract_docs
from shared.events import registry

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_event_type_has_a_channel_a_message_and_a_valid_example():
    document = contract_docs.asyncapi()
    types = {t.type for t in registry()}
    assert set(document["components"]["messages"]) == types
    assert len(document["channels"]) == len(types)
    for event_type in registry():
        event_type.validate(contract_docs.example_data(event_type))
    routed = document["channels"]["routing.case.routed.v1"]
    assert routed["bindings"]["amqp"]["exchange"]["name"] == "routing.events"
    assert "intake.on_case_routed" in document["operations"]["publish.routing.case.routed.v1"]["summary"]


@pytest.mark.tooling("node")
def test_generated_asyncapi_document_is_valid_for_the_asyncapi_parser(tmp_path):
    node = shutil.which("node")
    assert node, "node is needed to run @asyncapi/parser (make test installs docs/node_modules)"
    assert (DOCS / "node_modules" / "@asyncapi" / "parser").is_dir(), "run 'make test' (it runs npm ci in docs/)"
    document = tmp_path / "asyncapi.yaml"
    document.write_text(yaml.safe_dump(contract_docs.asyncapi(), allow_unicode=True, sort_keys=False), "utf-8")
    result = subprocess.run([node, str(DOCS / "validate-asyncapi.mjs"), str(document)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid AsyncAPI 3.0.0" in result.stdout

    # and the parser does reject a broken document, so the check above means something
    broken = yaml.safe_load(document.read_text("utf-8"))
    broken["operations"]["publish.routing.case.routed.v1"]["action"] = "shout"
    document.write_text(yaml.safe_dump(broken, allow_unicode=True), "utf-8")
    assert subprocess.run([node, str(DOCS / "validate-asyncapi.mjs"), str(document)], capture_output=True,
                          timeout=120).returncode == 1


def test_checked_in_catalog_and_asyncapi_document_are_current():
    stale = contract_docs.stale(DOCS)
    assert not stale, f"{[p.name for p in stale]} out of date: run 'doorstep events docs' (or 'make docs')"

    # the checked-in AsyncAPI document is the generated one, so the parser check above covers it too
    assert yaml.safe_load((DOCS / "asyncapi.yaml").read_text("utf-8")) == contract_docs.asyncapi()
