"""What every Doorstep service is made of, besides its own domain: a unit of work, health and metrics.

A service class subclasses :class:`DoorstepService`, names itself and its unit of work::

    class IntakeService(DoorstepService):
        name = "intake"
        uow = UnitOfWorkProvider(IntakeUnitOfWork)

and gets ``/healthz``, ``/readyz`` and ``/metrics`` on its HTTP port, and an outbox relay.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

import kombu
from importlib.metadata import PackageNotFoundError, version
from pydantic import Field
import sqlalchemy as sa
from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import sessionmaker
from werkzeug.wrappers import Response

from shared import metrics, workdays
from shared.broker import dead_letters_waiting
from shared.commit_groups import Grouping
from shared.consumer import EventConsumer
from shared.db import engine_for
from shared.events import registry
from shared import openapi
from shared.fields import AnswerModel
from shared.http import Content, api, html_response
from shared.problems import Problem
from shared.migrations import is_current
from shared.outbox import OutboxRelay
from shared.unit_of_work import UnitOfWork

log = logging.getLogger("doorstep.service")

try:
    VERSION = version("doorstep")
except PackageNotFoundError:  # running from a checkout that was not installed
    VERSION = "0.0.0"


class UnitOfWorkProvider(DependencyProvider):
    """Injects a fresh unit of work per worker; for an event consumer it carries the inbox key.

    Whether the unit joins a commit group (the units working at the same moment share one transaction) or runs
    alone is :class:`shared.commit_groups.Grouping`'s decision; ``commit_groups = False`` switches groups off.
    """

    relay = OutboxRelay()
    commit_groups = True

    def __init__(self, uow_class: type[UnitOfWork] = UnitOfWork):
        self.uow_class = uow_class

    def setup(self):
        self.settings = self.container.config["DOORSTEP"]
        service = self.container.service_name
        self.engine = engine_for(self.settings.db_url(service), pool_size=self.settings.max_workers + 2)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        self.grouping = Grouping(self.engine, self.session_factory, on_commit=self.relay.wake,
                                 enabled=self.commit_groups)
        metrics.prime(service, published_types=[t.type for t in registry() if t.service == service])

    def get_dependency(self, worker_ctx):
        inbox_key = None
        entrypoint = worker_ctx.entrypoint
        if isinstance(entrypoint, EventConsumer):
            inbox_key = (entrypoint.consumer_name, worker_ctx.args[0])  # an event, or a batch of them
        return self.uow_class(self.session_factory, self.settings.street, inbox_key, on_commit=self.relay.wake,
                              group=self.grouping.group_for(worker_ctx))


class SettingsTimer(Timer):
    """nameko's timer with its interval taken from the settings at start-up, not fixed in the class::

        @SettingsTimer.decorator(interval_from=lambda settings: settings.routing_timer_s)
    """

    def __init__(self, interval_from, **kwargs):
        self.interval_from = interval_from
        super().__init__(interval=None, **kwargs)

    def setup(self):
        self.interval = self.interval_from(self.container.config["DOORSTEP"])
        super().setup()


class DeploymentSettings(DependencyProvider):
    """The deployment's :class:`shared.config.Settings`, for an entrypoint that reads one (a pass's batch size)."""

    def get_dependency(self, worker_ctx):
        return self.container.config["DOORSTEP"]


class WorkingCalendar(DependencyProvider):
    """The street's holiday calendar (``holidays.yaml`` over the package), in force for every working-day rule
    of the process from start-up; a bad file stops the service naming the entry."""

    def setup(self):
        path = self.container.config["DOORSTEP"].street_file("holidays")
        calendar = workdays.load_holidays(path) if path else workdays.HolidayCalendar()
        workdays.use_calendar(calendar)
        end = datetime.combine(calendar.covered_until() + timedelta(days=1), time(0), workdays.SHANGHAI)
        metrics.HOLIDAY_CALENDAR_COVERED_UNTIL.set(end.timestamp())

    def stop(self):
        workdays.use_calendar(workdays.HolidayCalendar())  # the next container of this process starts afresh

    def get_dependency(self, worker_ctx):
        return workdays.calendar()


class HealthCheck(DependencyProvider):
    """Readiness: the database answers and is migrated to head, the broker accepts a connection."""

    def setup(self):
        self.settings = self.container.config["DOORSTEP"]
        self.service = self.container.service_name

    def get_dependency(self, worker_ctx):
        return self

    def problems(self) -> dict[str, str]:
        found = {}
        engine = engine_for(self.settings.db_url(self.service))
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            if not is_current(self.service, engine):
                found["migrations"] = "database is not at the latest migration; run 'doorstep migrate'"
        except sa.exc.SQLAlchemyError as exc:
            found["database"] = f"unreachable: {type(exc).__name__}"
        if not self.settings.embedded_broker:
            try:
                with kombu.Connection(self.settings.broker_uri, connect_timeout=2) as conn:
                    conn.ensure_connection(max_retries=1)
            except Exception as exc:
                found["broker"] = f"unreachable: {type(exc).__name__}"
        return found

    def count_dead_letters(self) -> None:
        try:
            waiting = dead_letters_waiting(self.settings.broker_uri, self.service)
        except Exception as exc:  # the broker is down: /readyz says so; keep the last figure
            log.warning("%s: cannot count dead letters: %s", self.service, exc)
            return
        metrics.DEAD_LETTERS_WAITING.labels(self.service).set(waiting)


class Health(AnswerModel):
    status: str = Field(description="alive, ready or not ready")
    service: str
    problems: dict[str, str] | None = Field(None, description="what keeps the service from being ready")


class DoorstepService:
    """A Doorstep service: its ``name``, a ``title`` and ``description`` for its API document, and the
    endpoints every service has: health, metrics, ``/<name>/openapi.json`` and the explorer at ``/<name>/docs``."""

    name: str
    title: str = ""
    description: str = ""
    health = HealthCheck()
    calendar = WorkingCalendar()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            _add_document_endpoints(cls)

    @api("GET", "/healthz", answers={200: Health}, summary="liveness", tags=("operations",))
    def healthz(self, request):
        return {"status": "alive", "service": self.name}

    @api("GET", "/readyz", answers={200: Health, 503: Health}, summary="readiness: database migrated, broker up",
         tags=("operations",))
    def readyz(self, request):
        problems = self.health.problems()
        if problems:
            return 503, {"status": "not ready", "service": self.name, "problems": problems}
        return {"status": "ready", "service": self.name}

    # "Dead letters present" means waiting in the queue, not recently sent: read the queue's depth.
    @SettingsTimer.decorator(interval_from=lambda settings: settings.metrics_refresh_s, eager=True)
    def count_dead_letters(self):
        self.health.count_dead_letters()

    @api("GET", "/metrics", answers={200: Content("text/plain", description="Prometheus exposition")},
         summary="Prometheus metrics", tags=("operations",))
    def metrics(self, request):
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def api_document(service_cls) -> dict:
    """The service's OpenAPI document (what ``/<name>/openapi.json`` answers)."""
    return openapi.document(service_cls, service_cls.title or f"Doorstep {service_cls.name}", VERSION,
                            service_cls.description)


def _add_document_endpoints(cls) -> None:
    """``/<name>/openapi.json``, ``/<name>/docs`` and the explorer's files, for a service class named ``name``."""
    name = cls.name

    @api("GET", f"/{name}/openapi.json", answers={200: Content("application/json", {"type": "object"},
                                                              "the OpenAPI 3.1 document of this service")},
         summary="this document", tags=("documentation",))
    def openapi_document(self, request):
        return api_document(type(self))

    @api("GET", f"/{name}/docs", answers={200: Content("text/html", description="the API explorer")},
         summary="the API explorer (Swagger UI, served locally)", tags=("documentation",))
    def api_explorer(self, request):
        page = openapi.EXPLORER_PAGE.format(title=f"{self.title or self.name} API", service=self.name)
        return html_response(page, csp=openapi.EXPLORER_CSP)

    @api("GET", f"/{name}/docs/<string:asset>", answers={200: Content("application/octet-stream",
                                                                      description="a file of the explorer")},
         summary="the explorer's scripts and styles", tags=("documentation",))
    def api_explorer_asset(self, request, asset):
        if asset == "explorer.js":
            return Response(openapi.EXPLORER_SCRIPT.format(service=self.name), content_type="application/javascript",
                            headers={"X-Content-Type-Options": "nosniff"})
        try:
            data = openapi.explorer_asset(asset)
        except KeyError:
            raise Problem(404, "Not found", f"no file {asset} in the explorer") from None
        return Response(data, content_type=openapi.EXPLORER_ASSETS[asset],
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})

    cls.openapi_document = openapi_document
    cls.api_explorer = api_explorer
    cls.api_explorer_asset = api_explorer_asset
