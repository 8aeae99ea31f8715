"""The embedded default's channels: a JSON-lines file (what ``make run`` shows) and the log."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from services.notify.channels import Outgoing

log = logging.getLogger("doorstep.notify")


class FileChannel:
    name = "file"

    def __init__(self, path: Path):
        self.path = Path(path)

    def send(self, outgoing: Outgoing) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"delivery_id": outgoing.delivery_id, "recipient": outgoing.recipient,
                           "template": outgoing.template, "subject": outgoing.rendered.subject,
                           "body": outgoing.rendered.body}, ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        log.info("notification to %s: %s", outgoing.recipient, outgoing.rendered.subject)


class ConsoleChannel:
    name = "console"

    def send(self, outgoing: Outgoing) -> None:
        log.info("notification to %s: %s\n%s", outgoing.recipient, outgoing.rendered.subject, outgoing.rendered.body)
