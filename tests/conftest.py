"""Shared fixtures: a clean environment, the fake Telnyx and Twilio servers, webhook signers, apps.

A test runs against Telnyx; marked ``@both_providers`` it runs once for each provider, and its
``fake_sms``, ``signer`` and app (``base_config``) are that provider's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.settings import Settings
from bot.timeutil import Clock, utc_now
from tests.fake_telnyx import FakeTelnyx
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TwilioSigner
from tests.signing import WebhookSigner, encode

BOT_NUMBER = "+13125550100"
ALICE = "+12125550147"  # New York
BOB = "+16465550199"  # New York
LONDON = "+447400123456"

_ENV_NAMES = [f.name.upper() for f in dataclasses.fields(Settings)] + [
    "TELNYX_CLIENT_ID", "TELNYX_CLIENT_SECRET", "TELNYX_CUSTOM_HEADERS"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own settings (or .env) out of the tests."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_telnyx() -> Iterator[FakeTelnyx]:
    server = FakeTelnyx().start()
    yield server
    server.stop()


PROVIDERS = ("telnyx", "twilio")
both_providers = pytest.mark.parametrize("provider", PROVIDERS, indirect=True)


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> str:
    """The SMS provider the test runs against: telnyx, unless the test is marked ``@both_providers``."""
    return getattr(request, "param", "telnyx")


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def fake_sms(provider: str, request: pytest.FixtureRequest) -> FakeTelnyx | FakeTwilio:
    """The fake of the provider the test runs against; both record ``messages`` and answer ``push``/``rule``."""
    return request.getfixturevalue(f"fake_{provider}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database with the schema applied; dropped afterwards."""
    from bot.storage.db import make_engine, upgrade_database
    from tests.databases import postgres_database

    with postgres_database() as url:
        engine = make_engine(url)
        upgrade_database(engine)
        engine.dispose()
        yield url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[Any]:
    """Sessions on a migrated ``database_url`` (each engine in turn), for tests below the HTTP layer."""
    from bot.storage.db import make_engine, make_session_factory, upgrade_database

    engine = make_engine(database_url)
    upgrade_database(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty database on each engine in turn: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'any.db'}"
    else:
        from tests.databases import postgres_database

        with postgres_database() as url:
            yield url


@pytest.fixture
def signer(provider: str) -> WebhookSigner | TwilioSigner:
    """Signs webhooks as the provider the test runs against does (``send_sms`` posts to its webhook)."""
    return TwilioSigner() if provider == "twilio" else WebhookSigner()


@pytest.fixture
def base_config(tmp_path: Any, fake_telnyx: FakeTelnyx, signer: WebhookSigner | TwilioSigner, provider: str,
                request: pytest.FixtureRequest) -> dict[str, Any]:
    # Telnyx stays configured under Twilio: SMS_PROVIDER must choose, and Telnyx must then get nothing.
    twilio = {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
              "TWILIO_PHONE_NUMBER": BOT_NUMBER, "TWILIO_BASE_URL": request.getfixturevalue("fake_twilio").url,
              "PUBLIC_BASE_URL": signer.public_base_url} if isinstance(signer, TwilioSigner) else {}
    return {
        **twilio,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "TELNYX_API_KEY": "KEY_TEST_0123",
        "TELNYX_PHONE_NUMBER": BOT_NUMBER,
        "TELNYX_BASE_URL": fake_telnyx.url,
        "TELNYX_PUBLIC_KEY": getattr(signer, "public_key", WebhookSigner().public_key),
        "BOT_TIMEZONE": "UTC",
        "API_TOKEN": "test-token-0123456789",
        "DISPATCH_INTERVAL_SECONDS": 0.5,
        "RETRY_BASE_SECONDS": 0.05,
        "RETRY_MAX_SECONDS": 0.2,
        "LOAD_DOTENV": False,
    }


@pytest.fixture
def app_factory(base_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    from app import create_app

    def make(*, clock: Clock | None = None, **overrides: Any) -> Flask:
        """Make an app from ``base_config`` and ``overrides``; with ``clock``, around a Bot on that clock."""
        config = {**base_config, **overrides}
        bot = None
        if clock is not None:  # the dispatcher and the requests then share the one clock
            from bot.service import Bot
            from bot.settings import load_settings

            settings = load_settings(os.environ, {k: v for k, v in config.items() if k != "LOAD_DOTENV"})
            bot = Bot(settings, clock=clock)
        app = create_app(config, bot=bot)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["bot"].shutdown()
        app.extensions["bot"].engine.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def post_signed(client: FlaskClient, signer: WebhookSigner, event: Any, timestamp: int | None = None):
    """POST a webhook signed with the test key."""
    body = event if isinstance(event, bytes) else encode(event)
    return client.post("/webhooks/telnyx", data=body, headers=signer.headers(body, timestamp))


def local_redis(database: int, *, flush: bool = True) -> Any:
    """A client of the machine's Redis (127.0.0.1:6379) on ``database``, emptied; the test fails if Redis is away."""
    import redis

    connection = redis.Redis.from_url(f"redis://127.0.0.1:6379/{database}")
    try:
        connection.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable on 127.0.0.1:6379 ({exc})", pytrace=False)
    if flush:
        connection.flushdb()
    return connection


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def json_of(response: Any) -> Any:
    return json.loads(response.get_data(as_text=True))


def send_sms(client: FlaskClient, signer: WebhookSigner | TwilioSigner, text: str, sender: str = ALICE,
             **ids: Any) -> Any:
    """Text the bot through a signed webhook, wait until the bot has read it, and say what it made of it.

    The webhook answers ``accepted`` once the message is stored; this returns the inbox's outcome
    after handling (``{"status": "handled", "command": "list"}``), or the webhook's answer when it
    was not ``accepted`` (a ``duplicate``).
    """
    from tests.signing import message_received

    if isinstance(signer, TwilioSigner):  # through /webhooks/twilio; its answer is TwiML, its outcome a header
        answer, message_id = signer.text_bot(client, text, sender, **ids)
    else:
        event = message_received(text, sender, **ids)
        response = post_signed(client, signer, event)
        assert response.status_code == 200, response.get_data(as_text=True)
        answer, message_id = json_of(response), event["data"]["payload"]["id"]
    if answer.get("status") != "accepted":
        return answer
    return handled(client.application, message_id)


def handled(app: Flask, message_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """Wait until the inbox has handled ``message_id``; return its outcome and command.

    An app that only accepts requests (RUN_DISPATCHER false) handles nothing itself: the inbox is
    worked here instead, as another instance would.
    """
    from bot.storage import inbox_queries
    from bot.storage.models import InboxStatus

    bot = app.extensions["bot"]

    def record() -> Any:
        with bot.session_factory() as session:
            return inbox_queries.find(session, message_id)

    if not bot.inbox_timer.running:
        bot.inbox.tick()
    assert wait_until(lambda: getattr(record(), "status", None) == InboxStatus.DONE, timeout=timeout), \
        f"inbound {message_id} was not handled: {record()}"
    done = record()
    return {"status": done.outcome, "command": done.command}


def nth_message_to(fake: FakeTelnyx, number: str, n: int = 1, timeout: float = 10.0) -> Any:
    """Wait for the n-th message delivered to ``number`` and return it."""
    assert fake.wait_for(lambda sent: len([m for m in sent if m.to == number]) >= n, timeout=timeout), \
        f"no message #{n} to {number}; got {[m.text for m in fake.delivered(number)]}"
    return fake.delivered(number)[n - 1]


def settle(app: Flask, timeout: float = 10.0) -> None:
    """Wait until nothing is due (by the bot's clock) or in flight, so every send the app will make now is made."""
    from sqlalchemy import func, or_, select

    from bot.storage import inbox_queries
    from bot.storage.models import Reminder, Status

    bot = app.extensions["bot"]

    def idle() -> bool:
        with bot.session_factory() as session:
            busy = session.scalar(select(func.count()).select_from(Reminder).where(or_(
                Reminder.status == Status.SENDING,
                (Reminder.status == Status.SCHEDULED) & (Reminder.due_at <= bot.clock()))))
            busy += inbox_queries.count_waiting(session)  # inbound messages whose replies are still to come
        return busy == 0

    assert wait_until(idle, timeout=timeout), "the dispatcher did not settle"


class SetClock:
    """A clock the test sets (``clock.now = ...``); the dispatcher reads it for "now"."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ShiftedClock:
    """The real time plus an offset a test moves forward: "two hours later" without waiting for it.

    Pass it to ``app_factory(clock=...)``. The dispatch timer still wakes on real time, and its
    interval poll claims what is due by this clock.
    """

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta
