"""Delivery channels behind one interface. The embedded default writes to a file and the log."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Protocol

from services.notify.domain import Message

log = logging.getLogger("doorstep.notify")


class Channel(Protocol):
    name: str

    def send(self, message: Message, delivery_id: str) -> None: ...


class FileChannel:
    """Appends each message as a JSON line (and logs it): what ``make run`` shows on the console."""

    name = "file"

    def __init__(self, path: Path):
        self.path = Path(path)

    def send(self, message: Message, delivery_id: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"delivery_id": delivery_id, "recipient": message.recipient, "subject": message.subject,
                           "body": message.body}, ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        log.info("notification to %s: %s", message.recipient, message.subject)
