"""What notify's use cases need besides a unit of work."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Callable, Mapping

from services.notify.channels import Channel
from services.notify.domain.templates import Templates
from services.notify.persistence import NotifyUnitOfWork
from services.notify.settings import NotifySettings

UnitOfWorkFactory = Callable[[], NotifyUnitOfWork]


@dataclasses.dataclass
class NotifyContext:
    """What the use cases need besides a unit of work: templates, settings, channels and the clock."""
    templates: Templates
    settings: NotifySettings
    channels: Mapping[str, Channel]
    clock: Callable[[], datetime]
    # Outcomes of deliveries sent while the database was away, waiting to be recorded (see sending).
    unrecorded: list = dataclasses.field(default_factory=list)
