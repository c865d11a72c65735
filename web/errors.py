"""Errors of the pages answered with a page (a missing CSRF token, someone else's reminder), not JSON."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from bot.language import wording


def render_errors_as_pages(blueprint: Blueprint) -> None:
    """Answer every HTTP error raised in ``blueprint``'s views with the error page and its status."""

    @blueprint.errorhandler(HTTPException)
    def _error(error: HTTPException) -> ResponseReturnValue:
        if error.response is not None:  # already answered (a rate limit: webhooks.limits)
            return error.response
        message = error.description
        if isinstance(error, CSRFError):  # what to do about it, then what was wrong
            message = f"{wording.web_form_expired()} ({error.description})"
        return render_template("web/error.html", status=error.code, title=error.name,
                               message=message), error.code or 500
