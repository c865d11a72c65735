"""What keeps the pages safe: the signed session cookie, CSRF on every form, and the response headers.

- Sessions are Flask's cookie, signed with SECRET_KEY (itsdangerous), HttpOnly and SameSite=Lax,
  and Secure whenever the request came over https (directly or through a proxy that says so).
- CSRF: Flask-WTF's token on every form of these pages, checked before any POST of theirs runs,
  with its same-origin Referer check on https. Only these pages are checked: the JSON API, the
  webhooks and any blueprint added later keep their own authentication and are never touched.
- Headers: a Content-Security-Policy that allows nothing but this origin (no inline script or
  style), no framing, no MIME sniffing, no caching of private pages.
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Flask, Request, Response, abort, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFProtect, validate_csrf
from itsdangerous import URLSafeTimedSerializer
from wtforms import ValidationError

from bot.settings import Settings

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SESSION_COOKIE_NAME = "reminders_session"
# Sec-Fetch-Site values a form of ours is posted with: from one of our pages, or typed by the person.
_SAME_ORIGIN = ("same-origin", "none")

csrf = CSRFProtect()


def is_https(incoming: Request) -> bool:
    """Say whether the person's browser talks https to us (a TLS proxy in front says so in X-Forwarded-Proto)."""
    return incoming.is_secure or incoming.headers.get("X-Forwarded-Proto", "").lower() == "https"


class WebSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure exactly when the request is https, for the pages only.

    A request to a fixed path of another blueprint (``POST /sms/schedule``, the webhooks, the
    probes, and those of any blueprint added later) gets Flask's null session: no cookie is read
    or written for it. Reading and saving the session was 3% of the CPU of a ``POST /sms/schedule``
    (sampled) for a cookie nobody sends there. Flask opens the session before it matches the URL,
    so the request's path decides, against the rules without variables (an id-bearing path of the
    API still opens one, and finds no cookie). Every other path keeps its session, so an error page
    can still render a form.

    The signing serializer is built once per key, not on every request: Flask builds a new one
    for every request of every endpoint, and building it was a tenth of a request to /healthz
    (profiled).
    """

    def __init__(self, page_blueprints: frozenset[str]) -> None:
        self.page_blueprints = page_blueprints
        self._sessionless_paths: frozenset[str] | None = None  # known once every blueprint is registered
        self._serializers: dict[tuple[object, ...], URLSafeTimedSerializer | None] = {}

    def open_session(self, app: Flask, incoming: Request) -> SessionMixin | None:
        if self._sessionless_paths is None:
            self._sessionless_paths = frozenset(
                rule.rule for rule in app.url_map.iter_rules()
                if not rule.arguments and "." in rule.endpoint
                and rule.endpoint.rpartition(".")[0] not in self.page_blueprints)
        if incoming.path in self._sessionless_paths:
            return self.make_null_session(app)
        return super().open_session(app, incoming)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or is_https(request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer


def init_security(app: Flask, settings: Settings, page_blueprints: frozenset[str]) -> None:
    """Sign sessions with SECRET_KEY (a generated one outside production mode) and set up CSRF.

    ``page_blueprints`` (by name) have a session; a fixed path of any other blueprint has none
    (``WebSessionInterface``).
    """
    secret_key = settings.secret_key
    if not secret_key:
        # Production mode refuses to start without one (bot.settings); here it is development.
        secret_key = secrets.token_urlsafe(32)
        if settings.web_enabled or settings.admin_token:
            log.warning("SECRET_KEY is not set: generated one for this process; web sign-ins end when it "
                        "restarts and are not shared between gunicorn workers. Set SECRET_KEY in production.")
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=settings.web_session_days * 86_400,
        WTF_CSRF_CHECK_DEFAULT=False,  # only the pages' blueprints are checked (protect_forms)
        # A token is bound to the session it was issued in; a page left open an hour still submits.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = WebSessionInterface(page_blueprints)
    csrf.init_app(app)


def same_site_request() -> bool:
    """Say whether the browser says this request came from our own pages (Fetch Metadata), when it says."""
    site = request.headers.get("Sec-Fetch-Site")
    return site is None or site in _SAME_ORIGIN


def protect_forms(blueprint: Blueprint, *, referrer_exempt: frozenset[str] = frozenset()) -> None:
    """Check the CSRF token (and the origin) of every POST to ``blueprint`` before its view runs.

    ``referrer_exempt`` endpoints are served with Referrer-Policy: no-referrer (a page whose URL
    holds a token), so their forms are posted without a Referer: they get the token check and
    the Fetch Metadata check, not Flask-WTF's Referer check.
    """

    @blueprint.before_request
    def _check() -> None:
        if request.method != "POST":
            return
        if not same_site_request():
            abort(403, "This form can only be sent from this site's own pages.")
        if request.endpoint in referrer_exempt:
            try:
                validate_csrf(request.form.get("csrf_token"))
            except ValidationError as error:
                from flask_wtf.csrf import CSRFError

                raise CSRFError(error.args[0]) from None
            return
        csrf.protect()


def add_security_headers(blueprint: Blueprint, *, private: bool = True) -> None:
    """Send the strict headers on every answer of ``blueprint``; ``private`` pages are never cached."""

    @blueprint.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if private and request.endpoint and not request.endpoint.endswith(".static"):
            headers["Cache-Control"] = "no-store"
        if is_https(request):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
