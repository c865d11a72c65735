"""Helpers for the web page's tests: sign in through a texted link, read CSRF tokens, serve an app for a browser."""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from tests.conftest import send_sms, nth_message_to

SECRET_KEY = "t3St-kEy_9vQ2mX7pL4rW8nB6cZ1yH5gJ0aF"
ADMIN_TOKEN = "Adm1n-8qZ4kP2vX9mR7tL5wN3cB6yH1gJ0sD"
LINK = re.compile(r"(https?://[^\s]+/w/([A-Za-z0-9_-]{43}))")
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def web_config(base_url: str = "http://localhost") -> dict[str, Any]:
    """Settings that turn the web page and the console on."""
    return {"PUBLIC_BASE_URL": base_url, "SECRET_KEY": SECRET_KEY, "ADMIN_TOKEN": ADMIN_TOKEN}


def transport_ready(app: Flask) -> Flask:
    """Wait until the app's Telnyx SDK has loaded (seconds on a busy machine), so a texted link is not late."""
    from tests.conftest import wait_until

    assert wait_until(lambda: app.extensions["bot"].transport.ready, timeout=90), "the Telnyx SDK did not load"
    return app


def csrf_of(html: str) -> str:
    """Return the first CSRF token in a page."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def text_for_link(client: FlaskClient, signer: Any, fake: Any, number: str, n: int = 1) -> tuple[str, str]:
    """Text "web" as ``number`` and return the link the bot texted back (the n-th message to it) and its token."""
    send_sms(client, signer, "web", sender=number)
    message = nth_message_to(fake, number, n)
    match = LINK.search(message.text)
    assert match, message.text
    return match.group(1), match.group(2)


def sign_in(client: FlaskClient, token: str) -> Any:
    """Open the link page and press its button; return the POST's answer."""
    page = client.get(f"/w/{token}")
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(f"/w/{token}", data={"csrf_token": csrf_of(page.get_data(as_text=True))})


def signed_in_client(app: Flask, number: str) -> FlaskClient:
    """Return a test client signed in as ``number`` (through a sign-in token made for it)."""
    from bot.storage import web_access

    bot = app.extensions["bot"]
    with bot.session_factory() as session, session.begin():
        token = web_access.issue_sign_in(session, number, bot.clock(), 100)
    client = app.test_client()
    assert sign_in(client, token).status_code == 303
    return client


def page_csrf(client: FlaskClient, path: str = "/me") -> str:
    """Return a CSRF token of the signed-in session, from one of its pages."""
    return csrf_of(client.get(path).get_data(as_text=True))


class LiveServer:
    """An app served on 127.0.0.1 in a thread, for a real browser; the app is made once the port is known."""

    def __init__(self, make_app: Callable[[str], Flask]) -> None:
        self._app: Flask | None = None
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.app = self._app = make_app(self.url)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        assert self._app is not None
        return self._app(environ, start_response)

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
