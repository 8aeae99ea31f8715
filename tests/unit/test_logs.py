"""Log lines leave with phone and ID numbers masked, in the message and in a traceback."""
import io
import logging

from shared.logs import FORMAT, MaskPersonalData


def test_messages_and_tracebacks_are_masked():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(MaskPersonalData())
    log = logging.getLogger("test.logs.masking")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("resident %s called about %s", "138 1234 5678", "身份证 310115199001011234")
        try:
            raise ValueError("duplicate key (phone)=(13912345678)")
        except ValueError:
            log.exception("insert failed")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "138****5678" in text and "310115***********4" in text and "139****5678" in text
    assert "1234 5678" not in text and "13912345678" not in text and "199001011234" not in text
