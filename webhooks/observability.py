"""Request ids on every log line, and the Prometheus endpoint."""

from __future__ import annotations

import logging
import re
import secrets

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST

blueprint = Blueprint("metrics", __name__)

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Attach the current request's id to log records made while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and not hasattr(record, "request_id"):
            record.request_id = g.get("request_id")
        return True


def install_request_ids(app: Flask) -> None:
    """Give each request an id (the caller's X-Request-Id if sane) and echo it back."""

    @app.before_request
    def _assign() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        # A fresh one as 32 hex digits (as uuid4().hex was), from one call.
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(16)

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    request_filter = RequestIdFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(request_filter)


@blueprint.get("/metrics")
def metrics() -> Response:
    return Response(current_app.extensions["bot"].metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)
