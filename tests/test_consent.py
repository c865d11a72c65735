"""Consent known at set time, recipient double opt-in, the API as an owner.

End to end: signed webhooks in, the real Telnyx SDK against the fake out, a real database.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.language.commands import Remind, Start, Stop, Yes
from bot.language.parser import is_opt_out, read_command
from bot.storage import lifecycle
from bot.storage.models import Consent, ConsentState, Contact, Kind, Reminder, Source, Status
from bot.timeutil import utc_now
from tests.conftest import ALICE, BOB, ShiftedClock, nth_message_to, send_sms, settle, wait_until

CAROL = "+13105550123"
DAVE = "+17185550111"
AUTH = {"Authorization": "Bearer test-token-0123456789"}
ALICE_SHOWN, BOB_SHOWN, CAROL_SHOWN = "+1 212-555-0147", "+1 646-555-0199", "+1 310-555-0123"
ID = re.compile(r"#([a-z0-9]{4,8})")
OPT_OUT_CONFIRMATION = "You're unsubscribed"


def _texts(fake_telnyx, number: str) -> list[str]:
    return [m.text for m in fake_telnyx.delivered(number)]


def _wait_for_text(fake_telnyx, number: str, fragment: str, count: int = 1, timeout: float = 10.0) -> list[str]:
    """Wait until ``count`` messages to ``number`` contain ``fragment``; return them (any order)."""
    def matching() -> list[str]:
        return [t for t in _texts(fake_telnyx, number) if fragment in t]

    assert fake_telnyx.wait_for(lambda sent: len(matching()) >= count, timeout=timeout), \
        f"no {count} x {fragment!r} to {number}; got {_texts(fake_telnyx, number)}"
    return matching()


def _reminders(app) -> list[Reminder]:
    with app.extensions["bot"].session_factory() as session:
        return list(session.scalars(select(Reminder).where(Reminder.kind == Kind.REMINDER)
                                    .order_by(Reminder.created_at)))


def _row(app, reminder_id: str) -> Reminder:
    with app.extensions["bot"].session_factory() as session:
        return session.get(Reminder, reminder_id)


def _consents(app) -> dict[tuple[str, str], str]:
    with app.extensions["bot"].session_factory() as session:
        return {(c.sender, c.recipient): c.state for c in session.scalars(select(Consent))}


def _set(client, signer, fake_telnyx, text: str, sender: str = ALICE, nth: int = 1) -> tuple[str, str]:
    """Set a reminder by SMS; return its id and the confirmation (the sender's ``nth`` one)."""
    send_sms(client, signer, text, sender=sender)
    confirmation = _wait_for_text(fake_telnyx, sender, "Got it", count=nth)[nth - 1]
    return ID.search(confirmation).group(1), confirmation


# --- THIRD_PARTY_CONSENT=ask (the default): the recipient is asked once per sender -------------------

@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_ask_then_yes_then_the_reminder_is_delivered(app_factory, signer, fake_telnyx, engine, request):
    overrides = {"DATABASE_URL": request.getfixturevalue("pg_url")} if engine == "postgresql" else {}
    clock = ShiftedClock()
    app = app_factory(BRAND_NAME="Acme Reminders", clock=clock, **overrides)
    client = app.test_client()
    reminder_id, confirmation = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: dinner at 8?")
    assert f"{BOB_SHOWN} will be asked first" in confirmation and "YES" in confirmation
    assert _consents(app) == {(ALICE, BOB): ConsentState.REQUESTED}

    [request_text] = _wait_for_text(fake_telnyx, BOB, "Reply YES")
    assert ALICE_SHOWN in request_text and "Acme Reminders" in request_text and "STOP" in request_text
    assert "dinner" not in request_text  # the reminder's text waits for the YES
    assert send_sms(client, signer, "Yes!", sender=BOB)["command"] == "yes"
    [thanks] = _wait_for_text(fake_telnyx, BOB, "Thanks!")
    assert ALICE_SHOWN in thanks and "STOP" in thanks
    _wait_for_text(fake_telnyx, ALICE, f"{BOB_SHOWN} replied YES")
    assert _consents(app) == {(ALICE, BOB): ConsentState.GRANTED}
    assert _row(app, reminder_id).status == Status.SCHEDULED

    clock.advance(timedelta(hours=1))
    [delivered] = _wait_for_text(fake_telnyx, BOB, "dinner at 8?")
    assert delivered.startswith(f"Reminder from {ALICE_SHOWN}") and delivered.endswith(': dinner at 8?\nReply "snooze 10" or "done".')
    assert wait_until(lambda: _row(app, reminder_id).status == Status.SENT)

    # Consent stands: the next reminder of the pair is confirmed plainly and goes out, unasked.
    _, second = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 second: dessert", nth=2)
    assert "YES" not in second
    _wait_for_text(fake_telnyx, BOB, "dessert")
    settle(app)
    assert len(_wait_for_text(fake_telnyx, BOB, "Reply YES")) == 1


def test_without_a_yes_nothing_is_sent_and_the_owner_is_told_once_per_reminder(app_factory, signer, fake_telnyx):
    clock = ShiftedClock()
    app = app_factory(clock=clock)
    client = app.test_client()
    first, _ = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: first")
    second, confirmation = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 2 hours: second", nth=2)
    assert f"{BOB_SHOWN} was asked to reply YES" in confirmation  # one request per pair, not per reminder
    clock.advance(timedelta(hours=2))

    notices = _wait_for_text(fake_telnyx, ALICE, f"not sent: {BOB_SHOWN} has not replied YES yet", count=2)
    assert {ID.search(notice).group(1) for notice in notices} == {first, second}
    assert {(r.status, r.error) for r in _reminders(app)} == {(Status.FAILED, "awaiting_consent")}
    settle(app)
    [only] = _texts(fake_telnyx, BOB)  # the consent request, once; never a reminder's text
    assert "Reply YES" in only and "first" not in only and "second" not in only
    assert len(_texts(fake_telnyx, ALICE)) == 4  # two confirmations, two notices: no more

    send_sms(client, signer, "list")
    assert "failed: no YES from them yet" in nth_message_to(fake_telnyx, ALICE, 5).text


def test_consent_is_per_pair_and_one_yes_answers_every_sender(app, client, signer, fake_telnyx):
    _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: from alice")
    _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: from carol", sender=CAROL)
    requests = _wait_for_text(fake_telnyx, BOB, "Reply YES", count=2)
    assert sorted(ALICE_SHOWN in text for text in requests) == [False, True]  # one naming each sender
    assert any(CAROL_SHOWN in text for text in requests)

    send_sms(client, signer, "YES", sender=BOB)
    [thanks] = _wait_for_text(fake_telnyx, BOB, "Thanks!")
    assert ALICE_SHOWN in thanks and CAROL_SHOWN in thanks
    assert _consents(app) == {(ALICE, BOB): ConsentState.GRANTED, (CAROL, BOB): ConsentState.GRANTED}
    _wait_for_text(fake_telnyx, ALICE, "replied YES")
    _wait_for_text(fake_telnyx, CAROL, "replied YES")

    # Alice's consent from Bob says nothing about Carol: Carol's reminder to Dave asks Dave.
    _, confirmation = _set(client, signer, fake_telnyx, "remind 718-555-0111 in 1 hour: hi dave", sender=CAROL, nth=2)
    assert "will be asked first" in confirmation
    assert _consents(app)[(CAROL, DAVE)] == ConsentState.REQUESTED


def test_yes_with_nothing_asked_gets_a_polite_answer(client, signer, fake_telnyx):
    assert send_sms(client, signer, "yes", sender=BOB)["command"] == "yes"
    assert "nobody is waiting for your YES" in nth_message_to(fake_telnyx, BOB).text


def test_a_recipient_outside_the_allowlist_can_still_say_yes(app_factory, signer, fake_telnyx):
    app = app_factory(ALLOWED_SENDERS=ALICE)
    client = app.test_client()
    _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: hi")
    send_sms(client, signer, "YES", sender=BOB)
    _wait_for_text(fake_telnyx, BOB, "Thanks!")
    assert _consents(app) == {(ALICE, BOB): ConsentState.GRANTED}


def test_stop_refuses_the_request_and_a_later_start_lets_the_sender_ask_again(app, client, signer, fake_telnyx):
    held, _ = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: one")
    send_sms(client, signer, "STOP", sender=BOB)
    assert _consents(app) == {(ALICE, BOB): ConsentState.REFUSED}
    send_sms(client, signer, "START", sender=BOB)
    _wait_for_text(fake_telnyx, BOB, "Welcome back")
    _, confirmation = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: two", nth=2)
    assert "will be asked first" in confirmation
    assert len(_wait_for_text(fake_telnyx, BOB, "Reply YES", count=2)) == 2
    assert _consents(app) == {(ALICE, BOB): ConsentState.REQUESTED}
    assert _row(app, held).status == Status.SCHEDULED  # waits for the new YES like the new one


def test_a_reminder_set_before_consent_was_asked_for_still_goes_out(app, signer, fake_telnyx):
    # A third-party reminder with no consent row was set under THIRD_PARTY_CONSENT=notice (or before
    # this version): switching to ask does not strand it; it goes out with the introduction.
    bot = app.extensions["bot"]
    with bot.session_factory() as session, session.begin():
        now = utc_now()
        lifecycle.schedule(session, owner=ALICE, recipient=BOB, text="set long ago", send_at=now, now=now)
    bot.wake()
    delivered = nth_message_to(fake_telnyx, BOB).text
    assert delivered.endswith(': set long ago\nReply "snooze 10" or "done".') and "STOP" in delivered


# --- THIRD_PARTY_CONSENT=notice: today's first-message introduction ----------------------------------

def test_notice_mode_sends_at_once_with_the_introduction(app_factory, signer, fake_telnyx):
    app = app_factory(THIRD_PARTY_CONSENT="notice")
    client = app.test_client()
    _, confirmation = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 second: hello")
    assert "YES" not in confirmation
    first = nth_message_to(fake_telnyx, BOB).text
    assert first == (f"Reminder from {ALICE_SHOWN} (set via a reminder service; text STOP to opt out): hello"
                     '\nReply "snooze 10" or "done".')
    assert _consents(app) == {}


# --- consent known at set time ------------------------------------------------------------------------

def test_a_reminder_for_an_opted_out_number_is_refused_when_set(app, client, signer, fake_telnyx):
    send_sms(client, signer, "please stop texting me", sender=BOB)
    send_sms(client, signer, "remind 646-555-0199 tomorrow 9am: party")
    refusal = nth_message_to(fake_telnyx, ALICE).text
    assert f"{BOB_SHOWN} has opted out of messages from this number" in refusal
    assert _reminders(app) == [] and _consents(app) == {}


@pytest.mark.parametrize("path, body, field", [
    ("/sms/schedule", {"to": BOB, "message": "hi", "when": "in 2 hours"}, "to"),
    ("/v1/message/schedule", {"number": BOB, "message": "hi", "minutes": 5}, "number"),
], ids=["sms-schedule", "v1-message-schedule"])
def test_the_api_refuses_an_opted_out_number_with_409(app, client, signer, fake_telnyx, path, body, field):
    send_sms(client, signer, "OPT OUT", sender=BOB)
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("recipient_opted_out", field)
    assert _reminders(app) == []


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_an_opt_out_tells_each_owner_once_at_once(app_factory, signer, fake_telnyx, engine, request):
    overrides = {"DATABASE_URL": request.getfixturevalue("pg_url")} if engine == "postgresql" else {}
    clock = ShiftedClock()
    app = app_factory(clock=clock, **overrides)
    client = app.test_client()
    _set(client, signer, fake_telnyx, "remind 646-555-0199 in 2 hours: later")
    _set(client, signer, fake_telnyx, "remind 646-555-0199 every day at 9am: daily", nth=2)
    _set(client, signer, fake_telnyx, "remind 646-555-0199 in 3 hours: from carol", sender=CAROL)
    _set(client, signer, fake_telnyx, "remind me in 3 hours: alice's own", nth=3)
    soon, _ = _set(client, signer, fake_telnyx, "remind 646-555-0199 in 1 hour: soon", nth=4)
    send_sms(client, signer, "Don't text me anymore", sender=BOB)

    [alice_told] = _wait_for_text(fake_telnyx, ALICE, "has opted out")
    assert alice_told == (f"{BOB_SHOWN} has opted out of messages from this number, so your "
                          "3 pending reminders to them will not be sent.")
    [carol_told] = _wait_for_text(fake_telnyx, CAROL, "has opted out")
    assert "your pending reminder to them" in carol_told
    # At its time the dispatcher fails the due one as opted_out, without telling Alice again.
    clock.advance(timedelta(hours=1))
    assert wait_until(lambda: _row(app, soon).status == Status.FAILED)
    assert _row(app, soon).error == "opted_out"
    settle(app)
    assert len([t for t in _texts(fake_telnyx, ALICE) if "opted out" in t or "not sent" in t]) == 1
    assert len(_texts(fake_telnyx, CAROL)) == 2  # the confirmation and the one notice
    assert OPT_OUT_CONFIRMATION in _texts(fake_telnyx, BOB)[-1]


# --- the opt-out words ----------------------------------------------------------------------------------

OPT_OUTS = ["STOP", "stopall", "UNSUBSCRIBE", "Cancel", "END", "quit", "REVOKE", "OPT OUT", "OptOut", "opt-out",
            "Stop.", "please stop texting me", "Stop sending me messages", "don't text me anymore",
            "unsubscribe me", "remove me from this list", "take me off your list please", "I want to opt out",
            "no more texts", "stop messaging me!", "Please stop."]


@pytest.mark.parametrize("text", OPT_OUTS)
def test_each_opt_out_gets_the_confirmation(app, client, signer, fake_telnyx, text):
    assert send_sms(client, signer, text, sender=BOB)["command"] == "stop"
    assert OPT_OUT_CONFIRMATION in nth_message_to(fake_telnyx, BOB).text
    assert send_sms(client, signer, "help", sender=BOB)["status"] == "ignored"  # then silence


@pytest.mark.parametrize("text, reply", [
    ("remind me to stop at the store tomorrow at 9am", "Got it"),
    ("remind me in 1 hour: stop texting bob", "Got it"),
    ("stop at the store", "didn't understand"),
    ("stop by the bank at 5pm", "Got it"),
], ids=["remind-to-stop", "remind-text-says-stop", "stop-at", "stop-by"])
def test_reminder_like_texts_with_stop_are_not_opt_outs(app, client, signer, fake_telnyx, text, reply):
    assert send_sms(client, signer, text)["command"] != "stop"
    assert reply in nth_message_to(fake_telnyx, ALICE).text
    with app.extensions["bot"].session_factory() as session:
        assert session.get(Contact, ALICE).opted_out_at is None
    assert send_sms(client, signer, "list")["status"] == "handled"  # and still heard


NOW = datetime(2026, 6, 10, 10, 30, tzinfo=timezone(timedelta(hours=-4)))
SENTENCES = OPT_OUTS + ["STOP ALL", "stop!!!", "stop please", "stop it", "Stop texting me, thanks",
                        "Do not contact me", "do not text me again", "Don’t message me", "i dont want these messages",
                        "leave me alone", "opt me out", "revoke my consent", "cancel my subscription",
                        "Unsubscribe from this list", "stop sending these reminders", "remove my number"]
NOT_OPT_OUTS = ["remind me to stop at the store at 5pm", "remind me in 1 hour: stop texting me", "stop at the bank",
                "stop by the pharmacy tomorrow", "stop 4f7k", "cancel 4f7k", "cancel it", "end of the meeting",
                "quit smoking", "stop texting bob", "take me to the airport", "don't forget the milk",
                "please remind me to stop texting bob", "who is this", "yes", "start", "help"]


@pytest.mark.parametrize("text", SENTENCES)
def test_parser_reads_opt_outs(text):
    assert is_opt_out(text)
    assert isinstance(read_command(text, NOW, "America/New_York", ALICE), Stop)


@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_parser_keeps_reminders_and_other_texts_with_stop(text):
    assert not is_opt_out(text)
    assert not isinstance(read_command(text, NOW, "America/New_York", ALICE), Stop)


@pytest.mark.parametrize("text, expected", [("YES", Yes), ("yes please", Yes), ("Y", Yes), ("Yes!", Yes),
                                            ("yes remind me", None), ("start", Start)])
def test_parser_reads_yes(text, expected):
    command = read_command(text, NOW, "America/New_York", ALICE)
    assert isinstance(command, expected) if expected else not isinstance(command, (Yes, Remind))


# --- the API as an owner ----------------------------------------------------------------------------------

def _post(client, number: str, minutes: int = 60, message: str = "hi"):
    return client.post("/v1/message/schedule", json={"number": number, "minutes": minutes, "message": message},
                       headers=AUTH)


def test_api_messages_are_not_held_and_the_first_names_the_brand_and_stop(app_factory, fake_telnyx):
    app = app_factory(BRAND_NAME="Acme Dental")
    client = app.test_client()
    for n, message in enumerate(("Your table is ready", "Second call"), start=1):
        assert client.post("/sms/schedule", json={"to": BOB, "message": message, "when": "in 1 second"},
                           headers=AUTH).status_code == 201
        nth_message_to(fake_telnyx, BOB, n)
    first, second = _texts(fake_telnyx, BOB)
    assert first == "(Acme Dental: automated message. Reply STOP to opt out.) Your table is ready"
    assert second == "Acme Dental: Second call"  # still labelled after the first
    assert _consents(app) == {}  # the operator's own traffic: no consent request


def test_api_first_message_without_a_brand_still_says_how_to_opt_out(client, fake_telnyx):
    assert client.post("/sms/schedule", json={"to": BOB, "message": "hi", "when": "in 1 second"},
                       headers=AUTH).status_code == 201
    assert nth_message_to(fake_telnyx, BOB).text == "(Automated message. Reply STOP to opt out.) hi"


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_api_new_per_hour_limit_answers_429_with_retry_after(app_factory, engine, request):
    overrides = {"DATABASE_URL": request.getfixturevalue("pg_url")} if engine == "postgresql" else {}
    app = app_factory(API_MAX_NEW_PER_HOUR=2, RUN_DISPATCHER=False, **overrides)
    client = app.test_client()
    assert [_post(client, number).status_code for number in (BOB, CAROL)] == [201, 201]
    refused = _post(client, BOB)
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"]["code"] == "api_limit_reached" and body["limit"] == "API_MAX_NEW_PER_HOUR"
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600  # when the oldest leaves the hour
    assert len(_reminders(app)) == 2


def test_api_pending_limit_clears_when_one_goes(app_factory):
    app = app_factory(API_MAX_PENDING=2, RUN_DISPATCHER=False)
    client = app.test_client()
    jobs = [_post(client, BOB, minutes).get_json()["job_id"] for minutes in (10, 20)]
    refused = _post(client, BOB, 30)
    assert refused.status_code == 429 and refused.get_json()["limit"] == "API_MAX_PENDING"
    assert 540 <= int(refused.headers["Retry-After"]) <= 600  # the soonest pending one is due in 10 minutes
    assert client.delete(f"/sms/scheduled/{jobs[0]}", headers=AUTH).status_code == 200
    assert _post(client, BOB, 30).status_code == 201


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_api_recipient_limit_counts_new_numbers_only(app_factory, signer, fake_telnyx, engine, request):
    overrides = {"DATABASE_URL": request.getfixturevalue("pg_url")} if engine == "postgresql" else {}
    app = app_factory(API_MAX_RECIPIENTS_PER_DAY=1, MAX_RECIPIENTS_PER_DAY=1, **overrides)
    client = app.test_client()
    assert _post(client, BOB).status_code == 201
    assert _post(client, BOB).status_code == 201  # the same number again is fine
    refused = _post(client, CAROL)
    assert refused.status_code == 429 and refused.get_json()["limit"] == "API_MAX_RECIPIENTS_PER_DAY"
    assert 86000 <= int(refused.headers["Retry-After"]) <= 86400
    # The API and SMS senders are separate owners: neither uses up the other's limits.
    _set(client, signer, fake_telnyx, "remind 310-555-0123 in 1 hour: from alice")


def test_the_list_and_the_record_show_the_source(app, client, signer, fake_telnyx):
    sms_id, _ = _set(client, signer, fake_telnyx, "remind me in 1 hour: by text")
    api_id = _post(client, BOB).get_json()["job_id"]
    listing = {item["id"]: item["source"] for item in client.get("/sms/scheduled", headers=AUTH).get_json()}
    assert listing == {sms_id: "sms", api_id: "api"}
    assert client.get(f"/sms/scheduled/{api_id}", headers=AUTH).get_json()["source"] == "api"


def test_the_openapi_document_describes_the_new_answers(client):
    document = client.get("/openapi.json").get_json()
    for path in ("/sms/schedule", "/v1/message/schedule"):
        responses = document["paths"][path]["post"]["responses"]
        assert "recipient_opted_out" in responses["409"]["description"]
        assert "api_limit_reached" in responses["429"]["description"]
        assert "Retry-After" in responses["429"]["headers"]
    summary = document["components"]["schemas"]["Summary"]
    assert "source" in summary["required"] and summary["properties"]["source"]["enum"] == [Source.API, Source.SMS]
