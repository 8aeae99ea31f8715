"""How the services log: one format, and no personal data in any line.

A log line can carry what a person typed (a problem's detail, an error from a driver quoting a row), and logs
travel to log stores that other people read; every line is masked on its way out
(:func:`shared.personal_data.mask_text`), whatever wrote it.
"""
from __future__ import annotations

import logging

from shared.personal_data import mask_text

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskPersonalData(logging.Filter):
    """Masks phone and ID numbers in a record's message and in its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def configure(level: int = logging.INFO) -> None:
    """The process's logging: lines to stderr in one format, each masked."""
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskPersonalData) for f in handler.filters):
            handler.addFilter(MaskPersonalData())
