"""The write path behaves the same on SQLite and PostgreSQL.

The inbound pipeline and ``queries.add_message`` use ``INSERT ... ON CONFLICT DO NOTHING`` and
read the row count to tell a new row from a duplicate; drivers report that count differently,
so each behaviour is checked on both databases (against a real PostgreSQL).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.storage import lifecycle
from bot.storage import queries
from bot.storage.models import Contact, InboundMessage, Kind, Reminder
from bot.timeutil import utc_now
from tests.conftest import ALICE, BOB, send_sms


@pytest.fixture(params=["sqlite", "postgresql"])
def database_app(request: pytest.FixtureRequest, app_factory: Callable[..., Flask]) -> Flask:
    if request.param == "postgresql":
        return app_factory(DATABASE_URL=request.getfixturevalue("pg_url"), RUN_DISPATCHER=False)
    return app_factory(RUN_DISPATCHER=False)


def _count(app: Flask, model: Any, *conditions: Any) -> int:
    with app.extensions["bot"].session_factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0


def test_each_new_message_is_handled_and_answered_once(database_app, signer):
    client = database_app.test_client()
    assert send_sms(client, signer, "list")["status"] == "handled"
    assert send_sms(client, signer, "remind me in 2 hours: stretch")["status"] == "handled"
    assert send_sms(client, signer, "list", sender=BOB)["status"] == "handled"
    assert _count(database_app, InboundMessage) == 3
    assert _count(database_app, Reminder, Reminder.kind == Kind.REPLY) == 3
    assert _count(database_app, Reminder, Reminder.kind == Kind.REMINDER, Reminder.owner == ALICE) == 1
    assert _count(database_app, Contact) == 2  # one contact per number, made on its first message


def test_a_repeated_message_or_event_is_a_duplicate(database_app, signer):
    client = database_app.test_client()
    first = send_sms(client, signer, "remind me in 1 hour: x", message_id="msg-1", event_id="evt-1")
    same_message = send_sms(client, signer, "remind me in 1 hour: x", message_id="msg-1", event_id="evt-2")
    same_event = send_sms(client, signer, "remind me in 1 hour: x", message_id="msg-2", event_id="evt-1")
    assert (first["status"], same_message["status"], same_event["status"]) == ("handled", "duplicate", "duplicate")
    assert _count(database_app, Reminder, Reminder.kind == Kind.REMINDER) == 1
    assert _count(database_app, Reminder, Reminder.kind == Kind.REPLY) == 1


def test_a_change_to_a_new_contact_is_stored(database_app, signer):
    # The contact row is written with a Core INSERT and handed to the handler as a persistent
    # object: a handler's change to it (STOP here) must reach the database.
    client = database_app.test_client()
    assert send_sms(client, signer, "STOP", sender=BOB)["command"] == "stop"
    with database_app.extensions["bot"].session_factory() as session:
        contact = session.get(Contact, BOB)
        assert contact is not None and contact.opted_out_at is not None


def test_a_queued_message_can_be_changed_in_its_transaction(database_app):
    session_factory = database_app.extensions["bot"].session_factory
    now = utc_now()
    with session_factory() as session, session.begin():
        reminder = lifecycle.schedule(session, owner=ALICE, recipient=ALICE, text="first",
                                     send_at=now + timedelta(hours=1), now=now)
        reminder.text = "changed"
        reminder_id = reminder.id
    with session_factory() as session:
        stored = session.get(Reminder, reminder_id)
        assert stored is not None and stored.text == "changed" and stored.status == "scheduled"


def test_a_second_message_under_one_idempotency_key_is_refused(database_app):
    session_factory = database_app.extensions["bot"].session_factory
    now = utc_now()
    with session_factory() as session, session.begin():
        lifecycle.schedule(session, recipient=BOB, text="once", send_at=now, now=now, source="api",
                          idempotency_key="key-1")
    with pytest.raises(IntegrityError):
        with session_factory() as session, session.begin():
            lifecycle.schedule(session, recipient=BOB, text="twice", send_at=now, now=now, source="api",
                              idempotency_key="key-1")
    assert _count(database_app, Reminder, Reminder.idempotency_key == "key-1") == 1


def test_adding_a_contact_that_exists_returns_the_stored_one(database_app):
    session_factory = database_app.extensions["bot"].session_factory
    with session_factory() as session, session.begin():
        session.add(Contact(number=BOB, timezone="Europe/London"))
    with session_factory() as session, session.begin():
        assert queries.add_contact(session, BOB).timezone == "Europe/London"
    assert _count(database_app, Contact) == 1
