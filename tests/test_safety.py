"""Opt-out, consent, abuse limits, allowlist, masking: the rules that keep the number off blocklists."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select

from bot.storage.models import Contact, Kind, Reminder, Status
from tests.conftest import (ALICE, BOB, both_providers, local_redis, nth_message_to, post_signed, send_sms, settle,
                            wait_until)
from tests.signing import message_received

CAROL = "+13105550123"
ID = re.compile(r"#([a-z0-9]{4,8})")


def _any_reply(fake, count: int) -> str:
    """Wait for ``count`` replies to Alice and return them joined (their order is not guaranteed)."""
    nth_message_to(fake, ALICE, count)
    return "\n".join(m.text for m in fake.delivered(ALICE))


def _reminders(app, **filters):
    with app.extensions["bot"].session_factory() as session:
        query = select(Reminder).where(Reminder.kind == Kind.REMINDER)
        for name, value in filters.items():
            query = query.where(getattr(Reminder, name) == value)
        return list(session.scalars(query))


@pytest.mark.parametrize("keyword", ["STOP", "stop", "StopAll", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"])
@both_providers
def test_opt_out_keywords_confirm_once_then_silence(app, client, signer, fake_sms, keyword):
    send_sms(client, signer, keyword)
    confirmation = nth_message_to(fake_sms, ALICE).text
    assert "unsubscribed" in confirmation and "START" in confirmation
    for text in ("help", "list", "remind me in 1 second: x", keyword):
        assert send_sms(client, signer, text)["status"] == "ignored"
    settle(app)
    assert len(fake_sms.messages) == 1
    assert _reminders(app) == []


@both_providers
def test_start_opts_back_in(client, signer, fake_sms):
    send_sms(client, signer, "STOP")
    send_sms(client, signer, "UNSTOP")
    assert "Welcome back" in nth_message_to(fake_sms, ALICE, 2).text
    send_sms(client, signer, "remind me in 1 second: back")
    assert nth_message_to(fake_sms, ALICE, 4).text == 'Reminder: back\nReply "snooze 10" or "done".'


@both_providers
def test_reminders_for_an_opted_out_number_are_refused_when_set(app, client, signer, fake_sms):
    # Consent is known at set time; an opt-out after setting: tests/test_consent.py.
    send_sms(client, signer, "STOP", sender=BOB)
    nth_message_to(fake_sms, BOB)
    send_sms(client, signer, "remind 646-555-0199 in 1 second: one")
    send_sms(client, signer, "remind 646-555-0199 in 1 second: two")
    refusals = _any_reply(fake_sms, 2)
    assert refusals.count("+1 646-555-0199 has opted out of messages from this number") == 2
    assert _reminders(app) == []
    settle(app)
    assert len(fake_sms.delivered(BOB)) == 1  # only the STOP confirmation


@both_providers
def test_opt_out_survives_a_restart(app_factory, signer, fake_sms):
    first = app_factory()
    send_sms(first.test_client(), signer, "STOP")
    nth_message_to(fake_sms, ALICE)
    first.extensions["bot"].shutdown()
    second = app_factory()
    assert send_sms(second.test_client(), signer, "help")["status"] == "ignored"
    with second.extensions["bot"].session_factory() as session:
        assert session.get(Contact, ALICE).opted_out_at is not None


@both_providers
def test_help_says_how_to_opt_out_and_never_suggests_a_bare_cancel(client, signer, fake_sms):
    send_sms(client, signer, "HELP")
    reply = nth_message_to(fake_sms, ALICE).text
    assert "STOP" in reply
    assert not re.search(r'(text|reply)\s+"?cancel"?(\s*[.,]|$)', reply, re.IGNORECASE)


def test_only_the_first_message_to_a_new_recipient_introduces_the_sender(app_factory, signer, fake_telnyx):
    client = app_factory(THIRD_PARTY_CONSENT="notice").test_client()  # ask mode: tests/test_consent.py
    send_sms(client, signer, "remind 646-555-0199 in 1 second: first")
    first = nth_message_to(fake_telnyx, BOB).text
    assert "+1 212-555-0147" in first and "STOP" in first
    send_sms(client, signer, "remind 646-555-0199 in 1 second: second")
    second = nth_message_to(fake_telnyx, BOB, 2).text
    assert second == 'Reminder from +1 212-555-0147: second\nReply "snooze 10" or "done".'


def test_third_party_reminders_can_be_switched_off(app_factory, signer, fake_telnyx):
    app = app_factory(ALLOW_THIRD_PARTY=False)
    send_sms(app.test_client(), signer, "remind 646-555-0199 in 1 hour: hi")
    assert "only sends reminders to you" in nth_message_to(fake_telnyx, ALICE).text
    assert _reminders(app) == []


@pytest.mark.parametrize("setting, refusal, freed_by_cancel", [
    ("MAX_PENDING_PER_SENDER", "2 pending reminders", True),
    ("MAX_NEW_PER_HOUR", "at most 2 reminders an hour", False),
], ids=["pending", "per-hour"])
def test_reminder_count_limits(app_factory, signer, fake_telnyx, setting, refusal, freed_by_cancel):
    app = app_factory(**{setting: 2})
    client = app.test_client()
    for n in range(3):
        send_sms(client, signer, f"remind me in {n + 1} hours: task {n}")
    assert refusal in _any_reply(fake_telnyx, 3)
    assert len(_reminders(app)) == 2
    send_sms(client, signer, f"cancel {_reminders(app)[0].id}")
    send_sms(client, signer, "remind me in 5 hours: after cancel")
    replies = _any_reply(fake_telnyx, 5)
    assert ('"after cancel"' in replies) is freed_by_cancel  # a cancel frees a pending slot, not the hourly budget
    assert replies.count(refusal) == (1 if freed_by_cancel else 2)


def test_distinct_recipient_limit(app_factory, signer, fake_telnyx):
    app = app_factory(MAX_RECIPIENTS_PER_DAY=1)
    client = app.test_client()
    send_sms(client, signer, "remind 646-555-0199 in 1 hour: a")
    send_sms(client, signer, "remind 646-555-0199 in 2 hours: b")  # same recipient: fine
    send_sms(client, signer, "remind 310-555-0123 in 1 hour: c")
    assert "at most 1 other numbers a day" in _any_reply(fake_telnyx, 3)
    assert sorted(r.text for r in _reminders(app)) == ["a", "b"]


def test_allowlist_refuses_outsiders_once_a_day(app_factory, signer, fake_telnyx):
    app = app_factory(ALLOWED_SENDERS=ALICE)
    client = app.test_client()
    send_sms(client, signer, "remind me in 1 hour: ok")
    assert "Got it" in nth_message_to(fake_telnyx, ALICE).text
    for text in ("remind me in 1 hour: no", "help", "list"):
        send_sms(client, signer, text, sender=BOB)
    refusal = nth_message_to(fake_telnyx, BOB).text
    assert "private" in refusal
    settle(app)
    assert len(fake_telnyx.delivered(BOB)) == 1
    assert [r.owner for r in _reminders(app)] == [ALICE]


@both_providers
def test_outsiders_can_still_opt_out_under_an_allowlist(app_factory, signer, fake_sms):
    app = app_factory(ALLOWED_SENDERS=ALICE)
    client = app.test_client()
    send_sms(client, signer, "STOP", sender=BOB)
    assert "unsubscribed" in nth_message_to(fake_sms, BOB).text
    assert send_sms(client, signer, "help", sender=BOB)["status"] == "ignored"  # and then silence
    settle(app)
    assert len(fake_sms.delivered(BOB)) == 1


def test_control_characters_are_stripped_from_stored_text(app, client, signer, fake_telnyx):
    send_sms(client, signer, "remind me in 1 hour: call\x00 mom\x07\u200b now")
    [reminder] = _reminders(app)
    assert not any(ord(ch) < 32 for ch in reminder.text)
    assert "call" in reminder.text and "mom" in reminder.text


def test_cancel_guessing_is_capped(app, client, signer, fake_telnyx):
    from bot.conversation.handlers import MAX_CANCELS_PER_HOUR

    for n in range(MAX_CANCELS_PER_HOUR + 1):
        send_sms(client, signer, f"cancel zz{n:04d}")
    nth_message_to(fake_telnyx, ALICE, MAX_CANCELS_PER_HOUR + 1)
    capped = [m.text for m in fake_telnyx.delivered(ALICE) if "at most" in m.text]
    assert len(capped) == 1 and "cancel" in capped[0]  # replies may arrive in any order


def test_webhook_rate_limit_answers_429_json(app_factory, signer):
    app = app_factory(RATE_LIMIT_WEBHOOK="3/hour")
    client = app.test_client()
    codes = [post_signed(client, signer, message_received("list", ALICE)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = post_signed(client, signer, message_received("list", ALICE))
    assert response.get_json()["error"]["code"] == "too_many_requests"
    assert client.get("/healthz").status_code == 200  # probes are not limited


def test_rate_limit_counters_are_shared_through_redis(app_factory, signer):
    connection = local_redis(15)
    settings = dict(RATE_LIMIT_WEBHOOK="3/hour", REDIS_URL="redis://127.0.0.1:6379/15", RUN_DISPATCHER=False)
    one, two = app_factory(**settings).test_client(), app_factory(**settings).test_client()
    codes = [post_signed(c, signer, message_received("list", ALICE)).status_code for c in (one, two, one, two)]
    assert codes == [200, 200, 200, 429]
    connection.flushdb()


@pytest.mark.parametrize("transport", ["telnyx", "console"])
def test_logs_mask_numbers_and_never_show_secrets(app_factory, signer, fake_telnyx, caplog, transport):
    caplog.set_level(logging.DEBUG)
    console = {"TELNYX_API_KEY": None, "TELNYX_PHONE_NUMBER": None} if transport == "console" else {}
    app = app_factory(LOG_LEVEL="DEBUG", THIRD_PARTY_CONSENT="notice", **console)  # the most talkative setting
    client = app.test_client()
    send_sms(client, signer, "remind 646-555-0199 in 1 second: hi")
    bot = app.extensions["bot"]
    assert wait_until(lambda: bot.dispatcher.sent_count >= 2)
    post_signed(client, signer, b"{bad json")
    logged = caplog.text
    assert "0147" in logged and "0199" in logged  # something about the numbers was logged...
    for secret in (ALICE, BOB, ALICE[2:], BOB[2:], "212-555-0147", "646-555-0199", "KEY_TEST_0123",
                   signer.public_key, "test-token-0123456789"):
        assert secret not in logged  # ...but never a whole number or a secret


def test_a_provider_error_quoting_the_number_is_stored_told_and_logged_masked(app_factory, signer, fake_telnyx,
                                                                             caplog):
    from tests.fake_telnyx import Reply

    app = app_factory(THIRD_PARTY_CONSENT="notice")
    client = app.test_client()

    caplog.set_level(logging.INFO)
    refusal = {"errors": [{"code": "40310", "detail": "+1 646 555 0199 is not a mobile number"}]}
    fake_telnyx.rule = lambda request: Reply(400, body=refusal) if request.get("to") == BOB else None
    send_sms(client, signer, "remind 646-555-0199 in 1 second: hi")
    notice = nth_message_to(fake_telnyx, ALICE, 2).text
    assert "could not be delivered" in notice and "+*******0199 is not a mobile number" in notice
    [reminder] = _reminders(app)
    assert reminder.status == Status.FAILED
    assert reminder.error == "Telnyx 400 40310: +*******0199 is not a mobile number"
    assert "646 555 0199" not in caplog.text and "+*******0199 is not a mobile number" in caplog.text


def test_database_errors_do_not_log_bound_values(app):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    with app.extensions["bot"].session_factory() as session:
        with pytest.raises(DBAPIError) as raised:
            session.execute(text("SELECT * FROM no_such_table WHERE number = :n"), {"n": ALICE})
    assert ALICE not in str(raised.value)
