"""Logging set-up: plain lines, or one JSON object per line with LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone


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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
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
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root.addHandler(handler)
    # The Telnyx SDK logs request bodies (numbers, texts) at DEBUG: keep it at WARNING whatever LOG_LEVEL says.
    for noisy in ("werkzeug", "httpx", "telnyx", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
