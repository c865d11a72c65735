"""Signing in by text: one-time links stored as hashes, sessions, "web off", cookies, CSRF and headers (no browser)."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
from sqlalchemy import MetaData, select

from bot.settings import SettingsError, load_settings
from bot.storage import web_access
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.models import Kind, Reminder
from bot.timeutil import utc_now
from tests.conftest import ALICE, BOB, ShiftedClock, nth_message_to, send_sms, wait_until
from tests.web_support import (SECRET_KEY, csrf_of, page_csrf, sign_in, signed_in_client, text_for_link,
                               transport_ready, web_config)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def web_app(app_factory, clock):
    return transport_ready(app_factory(clock=clock, **web_config()))


def _every_stored_value(app) -> str:
    """Every value of every row of every table, as one text: where a raw token must never be found."""
    engine = app.extensions["bot"].engine
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return "\n".join(repr(tuple(row)) for table in metadata.sorted_tables
                         for row in connection.execute(select(table)))


def test_web_texts_a_one_time_link_whose_token_is_kept_only_as_a_hash(web_app, signer, fake_telnyx):
    client = web_app.test_client()
    url, token = text_for_link(client, signer, fake_telnyx, ALICE)

    assert url == f"http://localhost/w/{token}"
    assert len(token) == 43  # token_urlsafe(32): 256 bits, over the 128 asked for
    assert "2125550147" not in url and "%2B" not in url
    bot = web_app.extensions["bot"]

    def reply_scrubbed() -> bool:
        with bot.session_factory() as session:
            reply = session.scalars(select(Reminder).where(Reminder.recipient == ALICE, Reminder.kind == Kind.REPLY)
                                    ).one()
            return reply.sent_at is not None and "/w/(used)" in reply.text

    assert wait_until(reply_scrubbed)
    stored = _every_stored_value(web_app)
    assert token not in stored  # not in the reply row's text or stored body, nor anywhere else
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    assert sign_in(client, token).status_code == 303  # the hash is enough to sign in


def test_opening_the_link_uses_nothing_and_the_button_signs_in_once(web_app, signer, fake_telnyx):
    client = web_app.test_client()
    _, token = text_for_link(client, signer, fake_telnyx, ALICE)
    preview_bot = web_app.test_client()
    for _ in range(3):  # a messaging app fetching the link for its preview, several times
        assert preview_bot.get(f"/w/{token}").status_code == 200

    page = client.get(f"/w/{token}")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.get_data(as_text=True).count("<button") == 1
    answer = client.post(f"/w/{token}", data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert answer.status_code == 303 and answer.headers["Location"] == "/me"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http here
    assert client.get("/me").status_code == 200

    again = preview_bot.get(f"/w/{token}")  # used: the page says so, with no button
    assert again.status_code == 410 and "<button" not in again.get_data(as_text=True)
    assert "works once" in again.get_data(as_text=True)


def test_a_used_link_cannot_sign_in_a_second_browser(web_app, signer, fake_telnyx):
    first, second = web_app.test_client(), web_app.test_client()
    _, token = text_for_link(first, signer, fake_telnyx, ALICE)
    page = second.get(f"/w/{token}")  # opened before the first browser used it
    assert sign_in(first, token).status_code == 303
    late = second.post(f"/w/{token}", data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert late.status_code == 410
    assert second.get("/me").status_code == 401


def test_a_link_expires_after_15_minutes(web_app, signer, fake_telnyx, clock):
    client = web_app.test_client()
    _, token = text_for_link(client, signer, fake_telnyx, ALICE)
    page = client.get(f"/w/{token}")
    clock.advance(timedelta(minutes=15, seconds=1))
    assert client.get(f"/w/{token}").status_code == 410
    answer = client.post(f"/w/{token}", data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert answer.status_code == 410
    assert client.get("/me").status_code == 401


def test_links_are_rate_limited_per_number(app_factory, signer, fake_telnyx):
    app = transport_ready(app_factory(WEB_LINKS_PER_HOUR=2, **web_config()))
    client = app.test_client()
    text_for_link(client, signer, fake_telnyx, ALICE, 1)
    text_for_link(client, signer, fake_telnyx, ALICE, 2)
    send_sms(client, signer, "link", sender=ALICE)
    assert "at most 2 sign-in links an hour" in nth_message_to(fake_telnyx, ALICE, 3).text
    text_for_link(client, signer, fake_telnyx, BOB)  # another number has its own count


def test_web_off_signs_every_browser_of_that_number_out(web_app, signer, fake_telnyx):
    phone, laptop = signed_in_client(web_app, ALICE), signed_in_client(web_app, ALICE)
    bob = signed_in_client(web_app, BOB)
    send_sms(web_app.test_client(), signer, "web off", sender=ALICE)
    assert "2 browsers signed out" in nth_message_to(fake_telnyx, ALICE).text
    assert phone.get("/me").status_code == 401 and laptop.get("/me").status_code == 401
    assert bob.get("/me").status_code == 200


def test_without_public_base_url_web_says_the_page_is_not_set_up(app_factory, signer, fake_telnyx):
    app = transport_ready(app_factory(SECRET_KEY=SECRET_KEY))
    send_sms(app.test_client(), signer, "web", sender=ALICE)
    reply = nth_message_to(fake_telnyx, ALICE).text
    assert "isn't set up" in reply and "/w/" not in reply


def test_the_session_cookie_is_secure_over_https(web_app):
    from bot.storage import web_access as access

    bot = web_app.extensions["bot"]
    with bot.session_factory() as session, session.begin():
        token = access.issue_sign_in(session, ALICE, bot.clock(), 5)
    client = web_app.test_client()
    page = client.get(f"/w/{token}", base_url="https://localhost")
    answer = client.post(f"/w/{token}", base_url="https://localhost",
                         data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert answer.status_code == 303
    assert "Secure" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")


def test_only_the_pages_open_a_session_and_a_browsers_cookie_changes_nothing_elsewhere(web_app):
    from flask import Flask

    def opens_a_session(app: Flask, path: str, method: str = "GET") -> bool:
        with app.test_request_context(path, method=method) as context:
            return not app.session_interface.is_null_session(context._session)

    for path, method in (("/sms/schedule", "POST"), ("/v1/message/schedule", "POST"), ("/webhooks/telnyx", "POST"),
                         ("/healthz", "GET"), ("/readyz", "GET")):
        assert not opens_a_session(web_app, path, method), path
    for path in ("/me", "/admin", "/w/" + "x" * 43, "/no-such-page"):  # an error page may render a form
        assert opens_a_session(web_app, path), path
    client = signed_in_client(web_app, ALICE)
    answer = client.get("/healthz")
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers and "Cookie" not in answer.vary
    assert client.get("/me").status_code == 200  # still signed in


def test_the_pages_send_a_strict_content_security_policy_and_no_store(web_app):
    client = signed_in_client(web_app, ALICE)
    for path in ("/me", "/w/" + "x" * 43, "/admin", "/web-static/web.css"):
        answer = client.get(path)
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
    assert client.get("/me").headers["Cache-Control"] == "no-store"
    page = client.get("/me").get_data(as_text=True)
    assert "<script>" not in page and " style=" not in page and "onclick" not in page  # nothing inline


def test_a_post_from_another_site_is_refused_even_with_a_token(web_app):
    client = signed_in_client(web_app, ALICE)
    answer = client.post("/me/zone", data={"csrf_token": page_csrf(client), "zone": "pacific"},
                         headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403


def test_settings_refuse_a_generated_secret_key_in_production():
    with pytest.raises(SettingsError, match="SECRET_KEY is not set in production mode"):
        load_settings({}, {"PRODUCTION": "true", "PUBLIC_BASE_URL": "https://reminders.example"})
    with pytest.raises(SettingsError, match="SECRET_KEY"):  # real Telnyx credentials make it production
        load_settings({}, {"TELNYX_API_KEY": "KEY0123", "TELNYX_PHONE_NUMBER": "+13125550100",
                           "ADMIN_TOKEN": "Adm1n-8qZ4kP2vX9mR7tL5wN3cB6yH1gJ0sD"})
    with pytest.raises(SettingsError, match="characters long"):
        load_settings({}, {"SECRET_KEY": "too-short"})
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings({}, {"SECRET_KEY": "change-me-change-me-change-me-change-me"})
    settings = load_settings({}, {"PRODUCTION": "true", "PUBLIC_BASE_URL": "https://reminders.example",
                                  "SECRET_KEY": SECRET_KEY})
    assert settings.production_mode and settings.web_enabled
    # Production without the page or the console needs no key: nothing signs a session.
    assert not load_settings({}, {"PRODUCTION": "true"}).secret_key


def test_in_development_a_key_is_generated_and_said_so(app_factory, caplog):
    caplog.set_level(logging.WARNING, logger="web.security")
    app = app_factory(PUBLIC_BASE_URL="http://localhost")
    assert len(app.config["SECRET_KEY"]) >= 32
    assert "SECRET_KEY is not set: generated one" in caplog.text


def test_sign_in_tokens_are_single_use_on_both_databases(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        factory = make_session_factory(engine)
        now = utc_now()
        with factory() as session, session.begin():
            token = web_access.issue_sign_in(session, ALICE, now, 5)
        with factory() as session, session.begin():
            signed = web_access.redeem_sign_in(session, token, now, timedelta(days=30))
        with factory() as session, session.begin():
            assert web_access.redeem_sign_in(session, token, now, timedelta(days=30)) is None
        assert signed is not None and signed.number == ALICE
        with factory() as session, session.begin():
            assert web_access.session_number(session, signed.session_token, now) == ALICE
            assert web_access.end_sessions(session, ALICE, now) == 1
            assert web_access.session_number(session, signed.session_token, now) is None
            feed = web_access.issue_feed(session, ALICE, now)
            assert web_access.feed_number(session, feed) == ALICE
            newer = web_access.issue_feed(session, ALICE, now)
            assert web_access.feed_number(session, feed) is None and web_access.feed_number(session, newer) == ALICE
    finally:
        engine.dispose()


def test_the_lifecycle_forgets_a_sent_link_but_never_touches_a_reminders_text(database_url):
    from bot.storage import lifecycle

    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        factory = make_session_factory(engine)
        now = utc_now()
        token = web_access.new_token()
        link_text = f"Your sign-in link: https://reminders.example/w/{token}"
        with factory() as session, session.begin():
            reply = lifecycle.schedule(session, recipient=ALICE, text=link_text, send_at=now, now=now,
                                       kind=Kind.REPLY)
            reminder = lifecycle.schedule(session, owner=ALICE, recipient=ALICE, text=link_text, send_at=now,
                                          now=now)
        with factory() as session, session.begin():
            claims = lifecycle.claim_due(session, now, 10, timedelta(seconds=60))
            for claim in claims:
                assert lifecycle.renew(session, claim, now + timedelta(seconds=60), claim.text) is not None
                assert lifecycle.mark_sent(session, claim, now, "provider-id", None)
        with factory() as session:
            sent_reply, sent_reminder = session.get(Reminder, reply.id), session.get(Reminder, reminder.id)
        assert token not in sent_reply.text and token not in sent_reply.outbound_text
        assert sent_reply.text == "Your sign-in link: https://reminders.example/w/(used)"
        assert sent_reply.outbound_text == sent_reply.text
        assert sent_reminder.text == link_text  # a person's own words are theirs
    finally:
        engine.dispose()
