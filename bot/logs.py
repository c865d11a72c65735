"""Logging set-up: plain lines, or one JSON object per line with LOG_FORMAT=json.

Every line our handler writes has its phone numbers masked, message and traceback alike, so
free text from Telnyx, the network or an exception cannot leak a number whoever logged it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from bot.phones import mask_numbers_in


class MaskNumbersFilter(logging.Filter):
    """Mask phone numbers in a record's final message, exception text and stack."""

    _traceback_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        # Python 3.11 filters cannot hand back a copy, so the record itself is rewritten; handlers
        # after this one see it masked too. The masked traceback goes into exc_text, which every
        # logging.Formatter prints instead of formatting exc_info again.
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: let emit() report it as logging does
            return True
        record.msg, record.args = mask_numbers_in(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_numbers_in(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_numbers_in(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text  # masked by MaskNumbersFilter, like the message
        return json.dumps(entry)


class TextFormatter(logging.Formatter):
    """One plain line per event, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(process)d] %(name)s rid=%(request_id)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "request_id", None):
            record.request_id = "-"
        return super().format(record)


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    """Configure the root logger once (later calls only adjust the level)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if any(getattr(handler, "_bot_handler", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler()
    handler._bot_handler = True  # type: ignore[attr-defined]
    handler.addFilter(MaskNumbersFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root.addHandler(handler)
    # The Telnyx SDK logs request bodies (numbers, texts) at DEBUG: keep it at WARNING whatever LOG_LEVEL says.
    for noisy in ("werkzeug", "httpx", "telnyx", "twilio", "urllib3", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
