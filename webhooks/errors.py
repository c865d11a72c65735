"""One JSON error shape for every endpoint: {"error": {"code", "message", "field"}}.

``Retry-After`` goes only on answers that waiting cures: a 429 (set where the limit
is known) and the 503 of a database that does not answer. A 503 for a missing
setting (API_TOKEN, TELNYX_PUBLIC_KEY) has none: no wait makes it go away.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from bot.service import database_unavailable

# Telnyx retries a webhook answered 5xx; a client of the API should wait this long before trying again.
DATABASE_RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error to answer with ``status`` and the JSON error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra or {}


def json_response(body: dict, status: int = 200) -> Response:
    """Return ``body`` as JSON, as ``jsonify`` writes it (compact, ASCII, keys in order), for a hot path.

    jsonify goes through the app's JSON provider and cost about a tenth of a webhook's or a POST's
    own time (profiled); the bytes are the same.
    """
    return current_app.response_class(json.dumps(body, separators=(",", ":")) + "\n", status=status,
                                      mimetype="application/json")


def error_response(status: int, code: str, message: str, field: str | None = None,
                   extra: dict | None = None) -> ResponseReturnValue:
    """Return the JSON error body with ``status``."""
    body: dict = {"error": {"code": code, "message": message}}
    if field is not None:
        body["error"]["field"] = field
    body.update(extra or {})
    return jsonify(body), status


def register_error_handlers(app: Flask | Blueprint) -> None:
    """Answer every error, including Werkzeug's own, in the JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> ResponseReturnValue:
        return error_response(error.status, error.code, error.message, error.field, error.extra)

    @app.errorhandler(SQLAlchemyError)
    def _database_error(error: SQLAlchemyError) -> ResponseReturnValue:
        if not database_unavailable(error):
            raise error  # a bug, not an outage: Flask logs it in full and answers 500
        current_app.extensions["bot"].note_database_down(error)  # logged once per outage, not per request
        body, status = error_response(  # type: ignore[misc]
            503, "database_unavailable", "The database is not answering just now; try again in a few seconds.")
        body.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return body, status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        if error.response is not None:  # already answered in this shape (a rate limit: webhooks.limits)
            return error.response
        code = (error.name or "error").lower().replace(" ", "_")
        body, status = error_response(error.code or 500, code, error.description or error.name)
        # Keep Werkzeug's own headers (Allow on a 405), but not its content type.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                body.headers[name] = value
        return body, status
