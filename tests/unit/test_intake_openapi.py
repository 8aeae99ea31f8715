"""The checked-in docs/openapi/intake.json is the document intake serves, made from its entrypoints' models
(regenerate it with `doorstep api docs`)."""
from pathlib import Path

from doorstep.api import render

OUT = Path(__file__).resolve().parents[2] / "docs" / "openapi"


def test_checked_in_intake_document_is_current():
    path = OUT / "intake.json"
    assert path.read_text("utf-8") == render(OUT)[path], "docs/openapi/intake.json is out of date: run " \
                                                         "'doorstep api docs'"
