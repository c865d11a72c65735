"""The operator console at /admin: signed in with ADMIN_TOKEN through a form, then a session.

Off (404) without ADMIN_TOKEN. The token is never taken from a URL or a header, only from the
sign-in form; the session then holds an HMAC of it under SECRET_KEY, so changing either ends
every console session. Every action (sign-in, refused sign-in, view, search, retry, sign-out) is
logged on the ``web.admin`` logger with the client's address; numbers are masked.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bot.language import wording
from bot.operator_console import OperatorConsole
from bot.phones import mask_number
from bot.settings import Settings
from web.errors import render_errors_as_pages
from web.forms import ActionForm, AdminSearchForm, AdminSignInForm
from web.security import add_security_headers, protect_forms

blueprint = Blueprint("admin", __name__, template_folder="templates")
add_security_headers(blueprint)
render_errors_as_pages(blueprint)
log = logging.getLogger("web.admin")

ADMIN_SESSION_SECONDS = 12 * 3600


def _console() -> OperatorConsole:
    return current_app.extensions["operator_console"]


def _settings() -> Settings:
    return current_app.extensions["bot"].settings


def _fingerprint(admin_token: str) -> str:
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"admin:" + admin_token.encode(),
                    hashlib.sha256).hexdigest()


def _now() -> float:
    return current_app.extensions["bot"].clock().timestamp()


def _signed_in(admin_token: str) -> bool:
    since = session.get("admin_at")
    return (hmac.compare_digest(str(session.get("admin", "")), _fingerprint(admin_token))
            and isinstance(since, (int, float)) and _now() - since < ADMIN_SESSION_SECONDS)


@blueprint.before_request
def require_admin() -> ResponseReturnValue | None:
    """404 while ADMIN_TOKEN is unset; the sign-in form (401) until signed in."""
    admin_token = _settings().admin_token
    if not admin_token:
        abort(404, "The operator console is off: set ADMIN_TOKEN to turn it on.")
    if request.endpoint == "admin.sign_in" or _signed_in(admin_token):
        return None
    return render_template("web/admin_sign_in.html", form=AdminSignInForm(formdata=None)), 401


protect_forms(blueprint)


@blueprint.post("/admin/sign-in")
def sign_in() -> ResponseReturnValue:
    form = AdminSignInForm()
    admin_token = _settings().admin_token or ""
    given = (form.token.data or "") if form.validate() else ""
    if not given or not hmac.compare_digest(given.encode(), admin_token.encode()):
        log.warning("admin sign-in refused from %s", request.remote_addr)
        flash("That is not the admin token.", "error")
        return render_template("web/admin_sign_in.html", form=AdminSignInForm(formdata=None)), 401
    session["admin"] = _fingerprint(admin_token)
    session["admin_at"] = _now()
    log.info("admin signed in from %s", request.remote_addr)
    return redirect(url_for("admin.overview"), 303)


@blueprint.get("/admin")
def overview() -> ResponseReturnValue:
    search = AdminSearchForm(request.args)
    found = None
    searched = bool(request.args.get("number"))
    if searched and search.validate():
        found = _console().search(search.number.data)
        log.info("admin searched for %s from %s", mask_number(found.e164 if found else "-"), request.remote_addr)
    else:
        log.info("admin viewed the overview from %s", request.remote_addr)
    return render_template("web/admin.html", overview=_console().overview(), search=search, found=found,
                           searched=searched, action_form=ActionForm(formdata=None))


@blueprint.post("/admin/retry/<reminder_id>")
def retry(reminder_id: str) -> ResponseReturnValue:
    ActionForm()  # its CSRF token was checked before this view
    retried = _console().retry(reminder_id[:16])
    log.info("admin retry of %s from %s: %s", reminder_id[:16], request.remote_addr,
             "scheduled" if retried else "not a failed reminder")
    flash(wording.admin_retried(reminder_id[:16]) if retried else wording.admin_not_retried(reminder_id[:16]),
          "ok" if retried else "error")
    number = request.form.get("number", "")[:40]
    return redirect(url_for("admin.overview", number=number) if number else url_for("admin.overview"), 303)


@blueprint.post("/admin/sign-out")
def sign_out() -> ResponseReturnValue:
    session.pop("admin", None)
    session.pop("admin_at", None)
    log.info("admin signed out from %s", request.remote_addr)
    return redirect(url_for("admin.overview"), 303)
