"""Under eventlet a blocking database driver would stall the whole service. With the monkey patch psycopg2
waits cooperatively, so two slow queries in one service overlap instead of queuing."""
import time

import eventlet
import requests
import sqlalchemy as sa

from shared.http import api
from shared.service import DoorstepService, UnitOfWorkProvider


class SlowQueries(DoorstepService):
    name = "funds"
    uow = UnitOfWorkProvider()

    @api("GET", "/slow")
    def slow(self, request):
        with self.uow as uow:
            uow.session.execute(sa.text("SELECT pg_sleep(1)"))
        return {"slept": 1}


def test_two_slow_queries_in_one_service_overlap(infra_settings, start_services):
    settings, _ = start_services(infra_settings, service_class=SlowQueries)
    url = f"http://127.0.0.1:{settings.port('funds')}/slow"

    started = time.perf_counter()
    calls = [eventlet.spawn(requests.get, url, timeout=10) for _ in range(3)]
    responses = [c.wait() for c in calls]
    elapsed = time.perf_counter() - started

    assert all(r.status_code == 200 for r in responses)
    assert elapsed < 1.8, f"three 1 s queries took {elapsed:.2f}s: they queued instead of overlapping"
