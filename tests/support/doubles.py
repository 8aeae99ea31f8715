"""Stand-ins for services, for tests of the consumer machinery: routing with a handler that fails on purpose."""
from shared.consumer import consume
from shared.db import utcnow
from shared.service import DoorstepService, UnitOfWorkProvider
from services.routing.domain.assignments import assign
from services.routing.domain.directory import Decision, Unit
from services.routing.persistence import RoutingUnitOfWork

FAILURES: dict[str, int] = {}  # event id -> how many more times FlakyRouting fails on it


class FlakyRouting(DoorstepService):
    """Routing with a handler that fails a set number of times per event before it succeeds."""

    name = "routing"
    uow = UnitOfWorkProvider(RoutingUnitOfWork)

    @consume("intake", "case.accepted.v1")
    def flaky(self, event):
        with self.uow as uow:
            unit = Unit("shixin-pm", "物业", "property-company")
            uow.assignments.add(assign(event.data["case_id"], "shixin", Decision(unit, "test", "test"), utcnow()))
            if FAILURES.get(event.id, 0) > 0:
                FAILURES[event.id] -= 1
                raise RuntimeError("handling unit's directory is unavailable")
            uow.commit()
