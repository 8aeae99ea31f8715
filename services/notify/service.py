"""Notify's nameko service: thin entrypoints over the use cases in :mod:`services.notify.handlers`.

It subscribes to every event type that has templates in ``data/templates.yaml`` (or a street's file) or feeds
the assignment read model, so mapping a new event type is a change of data only.
"""
from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

from shared.auth import ROLES
from shared.consumer import consume
from shared.db import utcnow
from shared.events import registry
from shared.http import api
from shared.service import DeploymentSettings, DoorstepService, SettingsTimer, UnitOfWorkProvider
from services.notify import metrics, models
from services.notify import settings as notify_settings
from services.notify.channels import build_channels
from services.notify.domain.templates import (STREET_TEMPLATES, event_types_with_templates, load_templates,
                                              template_files)
from services.notify.handlers import deliveries, privacy, recipients, recording, sending
from services.notify.handlers.context import NotifyContext
from services.notify.persistence import NotifyUnitOfWork

log = logging.getLogger("doorstep.notify")




class NotifyRuntime(DependencyProvider):
    """Notify's settings, templates (checked at start-up: a broken template stops the service) and channels;
    the clock is injectable so tests can put the service in the middle of the night."""

    def __init__(self, clock=None):
        self.clock = clock

    def setup(self):
        settings = self.container.config["DOORSTEP"]
        own = notify_settings.load(settings)
        templates = load_templates(template_files(settings.street, settings.street_file("notify_templates"),
                                                  own.templates))
        self.context = NotifyContext(templates, own, build_channels(own.channels, settings.data_dir),
                                     self.clock or utcnow)
        metrics.prime()

    def get_dependency(self, worker_ctx):
        return self.context


class ImmediateSends(DependencyProvider):
    """The send rounds of this service (see :class:`sending.SendRounds`), shared by its workers."""

    def setup(self):
        self.rounds = sending.SendRounds()

    def get_dependency(self, worker_ctx):
        return self.rounds


class SendingUnitOfWork(UnitOfWorkProvider):
    """Fresh units of work on demand for sending; unlike the consumer's, never tied to the inbox."""

    def get_dependency(self, worker_ctx):
        return lambda: self.uow_class(self.session_factory, self.settings.street, None, on_commit=self.relay.wake)


def _subscribed_types() -> list[str]:
    files = [*template_files("-"), *sorted(STREET_TEMPLATES.glob("*.yaml"))]
    types = set(event_types_with_templates(load_templates(files))) | set(recording.READ_MODEL_FEEDS)
    return sorted(types)


def _consumer_name(type_name: str, taken: set[str]) -> str:
    event_type = registry().get(type_name)
    entity, verb = event_type.name.split(".")
    name = f"on_{entity}_{verb}" + (f"_v{event_type.version}" if event_type.version > 1 else "")
    if name in taken:
        name = f"on_{event_type.service}_{entity}_{verb}_v{event_type.version}"
    return name


class NotifyService(DoorstepService):
    name = "notify"
    uow = UnitOfWorkProvider(NotifyUnitOfWork)
    sending = SendingUnitOfWork(NotifyUnitOfWork)
    runtime = NotifyRuntime()
    sends = ImmediateSends()
    settings = DeploymentSettings()

    def _on_events(self, events):
        due = recording.record_events(events, self.uow, self.runtime)
        if due:
            # Committed; send at once rather than at the next tick. A failure here is retried by the timer.
            try:
                self.sends.send(self.sending, self.runtime, due)
            except Exception:
                log.exception("immediate send after %s failed; the sender will retry", events[0].id)

    @SettingsTimer.decorator(interval_from=lambda settings: notify_settings.load(settings).sender_interval_s)
    def send_due(self):
        while sending.dispatch_due(self.sending, self.runtime) == self.runtime.settings.sender_batch_size:
            pass
        recording.queue_digests(self.sending, self.runtime)
        sending.measure_backlog(self.sending)

    @consume("intake", "resident.erased.v1", batch=True)
    def on_resident_erased(self, events):
        privacy.forget_residents(events, self.uow, self.runtime.clock())

    # Every replica runs it; each takes the deliveries the others do not hold (SKIP LOCKED).
    @SettingsTimer.decorator(interval_from=lambda settings: settings.retention_timer_s)
    def apply_retention(self):
        privacy.apply_retention(self.sending, self.settings, self.runtime.clock())

    @api("GET", "/notify/deliveries", roles=ROLES, query=models.DeliveriesQuery,
         answers={200: list[models.DeliveryView]}, summary="deliveries, newest first (at most 100)",
         tags=("deliveries",))
    def deliveries(self, request, query: models.DeliveriesQuery):
        return deliveries.list_deliveries(self.uow, str(query.case_id) if query.case_id else None, query.recipient,
                                          query.status)

    @api("GET", "/notify/deliveries/<uuid:delivery_id>", roles=ROLES, answers={200: models.DeliveryDetail},
         summary="one delivery with its channel plan and attempt log", tags=("deliveries",))
    def delivery(self, request, delivery_id):
        return deliveries.delivery_detail(self.uow, str(delivery_id))

    @api("POST", "/notify/deliveries/<uuid:delivery_id>/resend", roles=("admin",), answers={202: models.Resent},
         problems=(409,), summary="queue a sent or failed delivery again, from the first preferred channel",
         tags=("deliveries",))
    def resend(self, request, delivery_id):
        return 202, deliveries.resend(self.uow, self.runtime, str(delivery_id))

    @api("GET", "/notify/recipients/<string:recipient>/deliveries", roles=ROLES, path=models.RecipientPath,
         query=models.RecipientDeliveriesQuery, answers={200: list[models.DeliveryView]},
         summary="a recipient's deliveries, newest first (at most 100)", tags=("deliveries", "recipients"))
    def recipient_deliveries(self, request, path: models.RecipientPath, query: models.RecipientDeliveriesQuery):
        return deliveries.list_deliveries(self.uow, recipient=path.recipient, status=query.status)

    @api("GET", "/notify/recipients/<string:recipient>/preferences", roles=ROLES, path=models.RecipientPath,
         answers={200: models.PreferencesView},
         summary="a recipient's channels, opt-outs and quiet hours (the street's until set)", tags=("recipients",))
    def preferences(self, request, path: models.RecipientPath):
        return recipients.get_preferences(self.uow, self.runtime, path.recipient)

    @api("PUT", "/notify/recipients/<string:recipient>/preferences", roles=("counter", "handler"),
         path=models.RecipientPath,
         body=models.PreferencesBody, answers={200: models.PreferencesView},
         summary="set a recipient's channels, opt-outs and quiet hours", tags=("recipients",))
    def set_preferences(self, request, path: models.RecipientPath, body: models.PreferencesBody):
        return recipients.set_preferences(self.uow, self.runtime, body.command(path.recipient))

    @api("GET", "/notify/recipients/<string:recipient>/contacts", roles=("counter", "handler"),
         path=models.RecipientPath,
         answers={200: models.ContactsView}, summary="a recipient's addresses, masked",
         tags=("recipients",))
    def contacts(self, request, path: models.RecipientPath):
        return recipients.get_contacts(self.uow, path.recipient)

    @api("PUT", "/notify/recipients/<string:recipient>/contacts", roles=("counter", "handler"),
         path=models.RecipientPath,
         body=models.ContactsBody, answers={200: models.ContactsView},
         summary="register or (with null) remove a recipient's addresses; answers them masked", tags=("recipients",))
    def set_contacts(self, request, path: models.RecipientPath, body: models.ContactsBody):
        return recipients.set_contacts(self.uow, self.runtime, body.command(path.recipient))

    @api("PUT", "/notify/topics/<string:topic>/subscribers/<string:recipient>", roles=("counter", "handler"),
         path=models.SubscriptionPath,
         answers={200: models.Subscription, 201: models.Subscription},
         summary="subscribe a recipient to a topic (201; 200 if subscribed already)", tags=("topics",))
    def subscribe(self, request, path: models.SubscriptionPath):
        return recipients.subscribe(self.uow, self.runtime, path.topic, path.recipient)

    @api("DELETE", "/notify/topics/<string:topic>/subscribers/<string:recipient>", roles=("counter", "handler"),
         path=models.SubscriptionPath,
         answers={200: models.Unsubscribed}, summary="unsubscribe a recipient from a topic",
         tags=("topics",))
    def unsubscribe(self, request, path: models.SubscriptionPath):
        return recipients.unsubscribe(self.uow, path.topic, path.recipient)

    @api("GET", "/notify/dead-letters", roles=("auditor",), answers={200: list[models.DeadLetter]},
         summary="deliveries given up, newest first (at most 100), with the reason", tags=("deliveries",))
    def dead_letters(self, request):
        return deliveries.list_dead_letters(self.uow)


def _add_consumers(service_class) -> None:
    """One ``consume`` entrypoint per subscribed type, all running the same handler."""
    taken: set[str] = set()
    for type_name in _subscribed_types():
        event_type = registry().get(type_name)
        method_name = _consumer_name(type_name, taken)
        taken.add(method_name)

        def on_events(self, events):
            self._on_events(events)

        on_events.__name__ = method_name
        setattr(service_class, method_name, consume(event_type.service, event_type.routing_key, batch=True)(on_events))


_add_consumers(NotifyService)
