"""Twilio's transport through the real SDK against tests/fake_twilio.py: errors, timeouts, and exactly once.

Twilio has no idempotency key. These tests make the outcome of a send unknown (a timeout, a connection
closed after the message was taken, an answer Twilio gave but nobody recorded) and check that the
dispatcher looks the message up before sending again, sends it again only when Twilio does not have
it, and records the SID it finds.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery.dispatcher import Dispatcher, next_due_at
from bot.delivery.ratelimit import TokenBucket
from bot.delivery.transport import SendError
from bot.delivery.twilio_transport import TwilioTransport, delivery_state
from bot.settings import load_settings
from bot.storage import lifecycle
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.models import Consent, ConsentState, Contact, DeliveryState, Kind, Reminder, Status
from bot.timeutil import utc_now
from tests.conftest import ALICE, BOB, BOT_NUMBER, wait_until
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, MESSAGING_SERVICE_SID, Reply, error_reply

CAROL = "+13105550123"


def _transport(fake, **options: Any) -> TwilioTransport:
    options = {"phone_number": BOT_NUMBER, "timeout": 0.5, **options}
    transport = TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, base_url=fake.url, **options)
    assert wait_until(lambda: transport.ready, timeout=30), "the Twilio SDK did not load"
    return transport


def _send(transport: TwilioTransport, to: str = BOB, text: str = "hello") -> Any:
    return transport.send(from_number=BOT_NUMBER, to=to, text=text, idempotency_key="unused")


@pytest.mark.parametrize("reply, permanent, opted_out, retry_after", [
    (error_reply(21610), True, True, None),
    (error_reply(21211), True, False, None),
    (error_reply(21612), True, False, None),
    (error_reply(21614), True, False, None),
    (error_reply(20429, 429, {"Retry-After": "7"}), False, False, 7.0),
    (Reply(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), False, False, 0.0),
    (Reply(500), False, False, None),
    (Reply(503, headers={"Retry-After": "2"}), False, False, 2.0),
    (error_reply(20003, 401), False, False, None),  # a token being rotated: worth another try
], ids=["21610 opted out", "21211 invalid", "21612 unreachable", "21614 not mobile", "20429 retry-after",
        "429 retry-after date", "500", "503 retry-after", "401"])
def test_twilios_refusals_map_to_permanent_or_retried(fake_twilio, reply, permanent, opted_out, retry_after):
    transport = _transport(fake_twilio)
    fake_twilio.push(reply)
    with pytest.raises(SendError) as raised:
        _send(transport)
    error = raised.value
    assert (error.permanent, error.opted_out, error.retry_after) == (permanent, opted_out, retry_after)
    assert error.reason.startswith(f"Twilio {reply.status}")


def test_a_refusal_quoting_the_number_is_masked(fake_twilio):
    fake_twilio.push(error_reply(21211))
    with pytest.raises(SendError) as raised:
        _send(_transport(fake_twilio))
    assert BOB not in raised.value.reason and "+*******0199" in raised.value.reason


def test_the_sdk_gets_a_timeout_and_a_slow_twilio_is_a_retryable_error(fake_twilio):
    transport = _transport(fake_twilio, timeout=0.3)
    fake_twilio.push(Reply(201, delay=2.0))
    started = time.monotonic()
    with pytest.raises(SendError) as raised:
        _send(transport)
    assert time.monotonic() - started < 1.5  # the SDK's own default would wait forever
    assert raised.value.reason == "timeout talking to Twilio" and not raised.value.permanent
    assert len(fake_twilio.delivered(BOB)) == 1  # and yet Twilio took it: the reason for find_sent


def test_a_messaging_service_sends_without_a_from_and_is_found_by_its_sid(fake_twilio):
    transport = _transport(fake_twilio, phone_number=None, messaging_service_sid=MESSAGING_SERVICE_SID)
    since = utc_now() - timedelta(seconds=1)
    sid = _send(transport, text="service hello").provider_message_id
    [taken] = fake_twilio.messages
    assert (taken.from_number, taken.messaging_service_sid, taken.status_callback) == (None, MESSAGING_SERVICE_SID,
                                                                                        None)
    assert [found.provider_message_id for found in transport.find_sent(to=BOB, text="service hello", since=since)] \
        == [sid]
    assert fake_twilio.lookups[-1] == {"To": BOB, "PageSize": "50"}  # no From: the service picks the number


def test_find_sent_matches_recipient_body_and_time(fake_twilio):
    transport = _transport(fake_twilio)
    before = utc_now() - timedelta(seconds=1)
    quoted = _send(transport, text="Don\u2019t forget \u201cthe keys\u201d").provider_message_id
    _send(transport, text="something else")
    _send(transport, to=CAROL, text="Don\u2019t forget \u201cthe keys\u201d")
    fake_twilio.set_status(quoted, "delivered")
    # A Messaging Service's smart encoding may have stored the body with plain quotes: still the same message.
    found = transport.find_sent(to=BOB, text="Don't forget \"the keys\"", since=before)
    assert [(f.provider_message_id, f.delivery_report) for f in found] == [(quoted, DeliveryState.DELIVERED)]
    assert transport.find_sent(to=BOB, text="Don't forget \"the keys\"", since=utc_now() + timedelta(seconds=5)) == []
    assert fake_twilio.lookups[0] == {"To": BOB, "From": BOT_NUMBER, "PageSize": "50"}


def test_the_fake_filters_the_list_by_date_sent_as_twilio_documents(fake_twilio):
    # What the SDK's date_sent_after sends ("DateSent>=2026-01-01T00:00:00Z"): compared by day.
    transport = _transport(fake_twilio)
    _send(transport)
    messages = transport._messages()
    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    assert len(messages.list(to=BOB, date_sent_after=today)) == 1
    assert len(messages.list(to=BOB, date_sent_after=today + timedelta(days=1))) == 0
    assert len(messages.list(to=BOB, date_sent_before=today - timedelta(days=1))) == 0
    assert len(messages.list(to=ALICE)) == 0


@pytest.mark.parametrize("status, state", [("queued", "queued"), ("accepted", "queued"), ("sending", "sending"),
                                           ("sent", "sent"), ("delivered", "delivered"),
                                           ("undelivered", "delivery_failed"), ("failed", "sending_failed"),
                                           ("receiving", None), ("Delivered ", "delivered")])
def test_twilio_statuses_map_to_the_bots_delivery_states(status, state):
    assert delivery_state(status) == state


# --- the dispatcher: exactly once without an idempotency key ------------------------------------------

class Clock:
    """The dispatcher's time: real time plus an offset the test moves to the next due row (no sleeping)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self):  # type: ignore[no-untyped-def]
        return utc_now() + self.offset


@pytest.fixture
def make_dispatcher(tmp_path, fake_twilio):
    made = []

    def make(**overrides: Any) -> Dispatcher:
        settings = load_settings(overrides={
            "DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}", "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_PHONE_NUMBER": BOT_NUMBER, "TWILIO_BASE_URL": fake_twilio.url,
            "RETRY_BASE_SECONDS": 0.05, "RETRY_MAX_SECONDS": 0.2, "MAX_SEND_ATTEMPTS": 4,
            "SEND_TIMEOUT_SECONDS": 0.5, "OUTBOUND_RATE_PER_SECOND": 0, **overrides})
        engine = make_engine(settings.database_url)
        upgrade_database(engine)
        from bot.service import make_transport

        transport = make_transport(settings)
        assert wait_until(lambda: transport.ready, timeout=30)
        dispatcher = Dispatcher(make_session_factory(engine), transport, settings, Clock(),
                                rate=TokenBucket(0))
        made.append((dispatcher, engine))
        return dispatcher

    yield make
    for dispatcher, engine in made:
        dispatcher.stop()
        engine.dispose()


def _run(dispatcher: Dispatcher, condition, timeout: float = 10.0) -> bool:
    """Tick until ``condition()``; when nothing was due, move the clock to the next due row."""
    def step() -> bool:
        if dispatcher.tick() == 0:
            soonest = next_due_at(dispatcher.session_factory)
            if soonest is not None and soonest > dispatcher.clock():
                dispatcher.clock.offset += soonest - dispatcher.clock()
        return bool(condition())

    return wait_until(step, timeout=timeout)


def _queue(dispatcher: Dispatcher, text: str = "hello", recipient: str = BOB, owner: str | None = ALICE,
           **options: Any) -> str:
    now = dispatcher.clock()
    with dispatcher.session_factory() as session, session.begin():
        return lifecycle.schedule(session, owner=owner, recipient=recipient, text=text, send_at=now, now=now,
                                  **options).id


def _row(dispatcher: Dispatcher, reminder_id: str) -> Reminder:
    with dispatcher.session_factory() as session:
        return session.get(Reminder, reminder_id)


@pytest.mark.parametrize("uncertain", [Reply(201, delay=1.5), Reply(drop=True)],
                         ids=["timeout after Twilio took it", "connection closed after Twilio took it"])
def test_an_uncertain_send_twilio_took_is_found_and_not_sent_again(make_dispatcher, fake_twilio, uncertain):
    dispatcher = make_dispatcher()
    fake_twilio.push(uncertain)
    reminder_id = _queue(dispatcher)
    assert _run(dispatcher, lambda: _row(dispatcher, reminder_id).status == Status.SENT)
    [taken] = fake_twilio.delivered(BOB)
    assert len(fake_twilio.lookups) == 1  # the retry asked first, and did not send
    row = _row(dispatcher, reminder_id)
    assert (row.provider_message_id, row.delivery_status) == (taken.provider_id, DeliveryState.ACCEPTED_EARLIER)


def test_an_uncertain_send_twilio_never_got_is_sent_again(make_dispatcher, fake_twilio):
    dispatcher = make_dispatcher()
    fake_twilio.push(Reply(500))  # refused: nothing taken
    reminder_id = _queue(dispatcher)
    assert _run(dispatcher, lambda: _row(dispatcher, reminder_id).status == Status.SENT)
    assert [m.status for m in fake_twilio.messages] == [500, 201]
    assert len(fake_twilio.lookups) == 1
    assert _row(dispatcher, reminder_id).provider_message_id == fake_twilio.delivered(BOB)[0].provider_id


def test_what_twilio_says_of_the_found_message_is_stored(make_dispatcher, fake_twilio):
    dispatcher = make_dispatcher()
    fake_twilio.push(Reply(drop=True))
    reminder_id = _queue(dispatcher)
    assert wait_until(lambda: dispatcher.tick() and len(fake_twilio.delivered(BOB)) == 1)
    # Its delivery report came while the bot did not know the SID, and was lost; the list still says it.
    fake_twilio.set_status(fake_twilio.delivered(BOB)[0].provider_id, "delivered")
    assert _run(dispatcher, lambda: _row(dispatcher, reminder_id).status == Status.DELIVERED)
    assert _row(dispatcher, reminder_id).delivery_status == DeliveryState.DELIVERED


def test_the_same_body_sent_by_another_row_is_not_taken_for_this_ones(make_dispatcher, fake_twilio):
    dispatcher = make_dispatcher()
    first = _queue(dispatcher, text="same words", owner=None, kind=Kind.REPLY)
    assert _run(dispatcher, lambda: _row(dispatcher, first).status == Status.SENT)
    fake_twilio.push(Reply(503))  # the second's first attempt fails: its retry looks up and finds the first's
    second = _queue(dispatcher, text="same words", owner=None, kind=Kind.REPLY)
    assert _run(dispatcher, lambda: _row(dispatcher, second).status == Status.SENT)
    assert len(fake_twilio.lookups) == 1
    assert len(fake_twilio.delivered(BOB)) == 2  # the first's SID is recorded on the first: the second went out
    assert _row(dispatcher, first).provider_message_id != _row(dispatcher, second).provider_message_id


def test_when_twilio_cannot_be_asked_nothing_is_sent_blind(make_dispatcher, fake_twilio):
    dispatcher = make_dispatcher(MAX_SEND_ATTEMPTS=3)
    fake_twilio.push(Reply(201, delay=1.5))  # taken, but the answer is lost
    reminder_id = _queue(dispatcher)
    assert wait_until(lambda: dispatcher.tick() and _row(dispatcher, reminder_id).attempts == 1)
    fake_twilio.stop()  # and now Twilio does not answer at all
    assert _run(dispatcher, lambda: _row(dispatcher, reminder_id).status == Status.FAILED)
    assert len(fake_twilio.messages) == 1 and "looking up earlier attempts" in _row(dispatcher, reminder_id).error


def test_a_claim_taken_over_after_its_sender_died_is_looked_up_first(make_dispatcher, fake_twilio):
    from bot.delivery.dispatcher import claim_due

    dispatcher = make_dispatcher()
    reminder_id = _queue(dispatcher, text="your code is 1234", owner=None, kind=Kind.REPLY)
    # Another instance claimed the row and sent it, then died before it recorded Twilio's answer.
    assert len(claim_due(dispatcher.session_factory, dispatcher.clock(), 10, timedelta(seconds=1))) == 1
    _send(dispatcher.transport, text="your code is 1234")
    dispatcher.clock.offset += timedelta(seconds=2)  # its lease runs out; this instance takes the row over
    assert _run(dispatcher, lambda: _row(dispatcher, reminder_id).status == Status.SENT)
    assert len(fake_twilio.delivered(BOB)) == 1 and len(fake_twilio.lookups) == 1
    assert _row(dispatcher, reminder_id).provider_message_id == fake_twilio.delivered(BOB)[0].provider_id


def test_21610_opts_the_recipient_out_and_tells_the_owners_once(make_dispatcher, fake_twilio):
    dispatcher = make_dispatcher(THIRD_PARTY_CONSENT="notice")
    later = dispatcher.clock() + timedelta(hours=1)
    with dispatcher.session_factory() as session, session.begin():
        session.add(Consent(sender=CAROL, recipient=BOB, state=ConsentState.GRANTED, requested_at=later))
        waiting = lifecycle.schedule(session, owner=CAROL, recipient=BOB, text="later one", send_at=later,
                                     now=dispatcher.clock()).id
    fake_twilio.rule = lambda request: error_reply(21610) if request["to"] == BOB else None
    now_id = _queue(dispatcher, text="now one")
    assert _run(dispatcher, lambda: _row(dispatcher, now_id).status == Status.FAILED)
    assert _row(dispatcher, now_id).error == "opted_out"
    with dispatcher.session_factory() as session:
        assert session.get(Contact, BOB).opted_out_at is not None
        assert session.get(Consent, (CAROL, BOB)).state == ConsentState.REFUSED
    # Alice is told her reminder failed; Carol that Bob opted out (her reminder will not go either).
    assert _run(dispatcher, lambda: len(fake_twilio.delivered(ALICE)) == 1 and len(fake_twilio.delivered(CAROL)) == 1)
    assert _run(dispatcher, lambda: _row(dispatcher, waiting).status == Status.FAILED)
    assert _row(dispatcher, waiting).error == "opted_out"
    assert len([m for m in fake_twilio.messages if m.to == BOB]) == 1  # the later one was not even tried
    dispatcher.tick()
    assert len(fake_twilio.delivered(CAROL)) == 1  # told once
    with dispatcher.session_factory() as session:
        assert session.scalars(select(Reminder.status).where(Reminder.recipient == BOB)).all() == [Status.FAILED] * 2
