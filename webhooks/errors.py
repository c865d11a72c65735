"""One JSON error shape for every endpoint: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException


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

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ResponseReturnValue:
        code = (error.name or "error").lower().replace(" ", "_")
        body, status = error_response(error.code or 500, code, error.description or error.name)
        # Keep Werkzeug's own headers (Allow on a 405, Retry-After on a 429), but not its content type.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                body.headers[name] = value
        return body, status
