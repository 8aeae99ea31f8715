"""Events are declared once: each service emits only what its builders (``services/<service>/events.py``)
make, and names an event type nowhere else. What each builder makes is checked against the frozen schemas in
``test_<service>_events.py``."""
import pytest

from shared.config import SERVICES
from support.contract import emitted_by_hand


@pytest.mark.parametrize("service", SERVICES)
def test_use_cases_emit_only_what_a_builder_made(service):
    assert emitted_by_hand(service) == []
