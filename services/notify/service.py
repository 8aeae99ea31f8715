"""Notify's nameko service: thin entrypoints over :mod:`services.notify.handlers`."""
from pathlib import Path

from nameko.extensions import DependencyProvider

from shared.auth import ROLES
from shared.consumer import consume
from shared.http import api
from shared.service import DoorstepService, UnitOfWorkProvider
from services.notify import handlers
from services.notify.channels import FileChannel
from services.notify.domain import default_templates
from services.notify.persistence import NotifyUnitOfWork


class DefaultChannel(DependencyProvider):
    def setup(self):
        settings = self.container.config["DOORSTEP"]
        self.channel = FileChannel(Path(settings.data_dir) / "notifications.jsonl")

    def get_dependency(self, worker_ctx):
        return self.channel


class NotifyService(DoorstepService):
    name = "notify"
    uow = UnitOfWorkProvider(NotifyUnitOfWork)
    channel = DefaultChannel()

    @consume("routing", "case.routed.v1")
    def on_case_routed(self, event):
        handlers.notify(event, self.uow, default_templates(), self.channel)

    @api("GET", "/notify/deliveries", roles=ROLES)
    def deliveries(self, request):
        return handlers.list_deliveries(self.uow, request.args.get("case_id"), request.args.get("recipient"))
