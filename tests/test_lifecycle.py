"""A reminder's life cycle on both engines: races end in one truthful state, retries send the same bytes.

Every state change is one conditional UPDATE (bot.storage.lifecycle). These tests race the
changes against each other with real threads, replay every order of cancel, claim, send and
delivery report, and check the promises that rest on them: nothing cancelled is sent unless the
cancel was refused, a report never moves a row backwards, a retry or a takeover sends the body
of the first attempt under the same Idempotency-Key, and a row that keeps failing stops.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.delivery.dispatcher import Dispatcher, claim_due
from bot.delivery.transport import SendResult, TelnyxTransport
from bot.settings import load_settings
from bot.storage import lifecycle
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.models import DeliveryState, Kind, Reminder, Source, Status
from tests.conftest import ALICE, BOB, BOT_NUMBER, SetClock
from tests.fake_telnyx import Reply

START = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> SetClock:
    return SetClock(START)


def _settings(database_url: str, **overrides):
    return load_settings(overrides={
        "DATABASE_URL": database_url, "TELNYX_API_KEY": "KEY_X", "TELNYX_PHONE_NUMBER": BOT_NUMBER,
        "MAX_SEND_ATTEMPTS": 3, "RETRY_BASE_SECONDS": 0.01, "RETRY_MAX_SECONDS": 0.01, "SEND_TIMEOUT_SECONDS": 1,
        "OUTBOUND_RATE_PER_SECOND": 0, "LATE_NOTE_AFTER_SECONDS": 60, "THIRD_PARTY_CONSENT": "notice",
        **overrides})


@pytest.fixture
def make_dispatcher(database_url, fake_telnyx, clock):
    made = []
    engine = make_engine(database_url)
    upgrade_database(engine)

    def make(transport=None, **overrides) -> Dispatcher:
        settings = _settings(database_url, **overrides)
        dispatcher = Dispatcher(make_session_factory(engine),
                                transport or TelnyxTransport("KEY_X", fake_telnyx.url, settings.send_timeout_seconds),
                                settings, clock)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.stop()
    engine.dispose()


def _add(dispatcher: Dispatcher, recipient: str = BOB, owner: str | None = ALICE, send_at: datetime = START,
         text: str = "water plants") -> str:
    with dispatcher.session_factory() as session, session.begin():
        return lifecycle.schedule(session, owner=owner, recipient=recipient, text=text, send_at=send_at,
                                  now=START - timedelta(hours=1), zone="America/New_York").id


def _row(dispatcher: Dispatcher, reminder_id: str) -> Reminder:
    with dispatcher.session_factory() as session:
        return session.get(Reminder, reminder_id)


def _number(n: int) -> str:
    return f"+1646555{n:04d}"


def _drain(dispatcher: Dispatcher, clock: SetClock, rounds: int = 20) -> None:
    """Tick until nothing is due or claimed, moving the clock past every retry delay."""
    for _ in range(rounds):
        dispatcher.tick()
        with dispatcher.session_factory() as session:
            busy = session.scalar(select(Reminder.id).where(Reminder.status.in_((Status.SCHEDULED, Status.SENDING)))
                                  .limit(1))
        if busy is None:
            return
        clock.now += timedelta(seconds=2)
    raise AssertionError("the queue did not settle")


# --- races ----------------------------------------------------------------------------------------

def test_cancels_racing_a_dispatcher_end_each_row_in_one_truthful_state(make_dispatcher, clock, fake_telnyx):
    dispatcher = make_dispatcher(DISPATCH_CONCURRENCY=4)
    ids = {_add(dispatcher, recipient=_number(n)): _number(n) for n in range(60)}
    clock.now = START + timedelta(seconds=1)
    outcomes: dict[str, lifecycle.CancelOutcome] = {}
    start = threading.Barrier(2)

    def cancel_all() -> None:
        order = list(ids)
        random.Random(7).shuffle(order)
        start.wait()
        for reminder_id in order:
            with dispatcher.session_factory() as session, session.begin():
                outcomes[reminder_id] = lifecycle.cancel(session, reminder_id, clock())

    def dispatch() -> None:
        start.wait()
        dispatcher.tick()

    threads = [threading.Thread(target=cancel_all), threading.Thread(target=dispatch)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    _drain(dispatcher, clock)

    sent_to = [message.to for message in fake_telnyx.delivered()]
    assert len(sent_to) == len(set(sent_to))  # nothing twice
    for reminder_id, recipient in ids.items():
        row, outcome = _row(dispatcher, reminder_id), outcomes[reminder_id]
        if outcome.cancelled:
            assert row.status == Status.CANCELLED and recipient not in sent_to
        else:
            assert outcome.status in (Status.SENDING, Status.SENT)
            assert row.status == Status.SENT and recipient in sent_to
            assert row.provider_message_id == fake_telnyx.delivered(recipient)[0].provider_id


def _claim(dispatcher, clock, state):
    state["claims"] = claim_due(dispatcher.session_factory, clock(), 10, dispatcher.lease)


def _send(dispatcher, clock, state):
    for claim in state.get("claims", []):
        dispatcher._process(claim)


def _cancel(dispatcher, clock, state):
    with dispatcher.session_factory() as session, session.begin():
        state["cancel"] = lifecycle.cancel(session, state["id"], clock())


def _report(name):
    def report(dispatcher, clock, state):
        provider_id = _row(dispatcher, state["id"]).provider_message_id
        with dispatcher.session_factory() as session, session.begin():
            state.setdefault("known", []).append(lifecycle.record_delivery(session, provider_id or "none", name, clock()))
    return report


STEPS = {"claim": _claim, "send": _send, "cancel": _cancel, "delivered": _report("delivered"),
         "sent": _report("sent"), "failed": _report("delivery_failed"), "queued": _report("queued")}

# order of steps -> (status, delivery status, messages that reach the recipient, cancel accepted)
ORDERS = {
    "cancel claim send": (Status.CANCELLED, None, 0, True),
    "claim cancel send": (Status.SENT, DeliveryState.QUEUED, 1, False),
    "claim send cancel": (Status.SENT, DeliveryState.QUEUED, 1, False),
    "claim send sent delivered cancel": (Status.DELIVERED, DeliveryState.DELIVERED, 1, False),
    "claim send delivered sent": (Status.DELIVERED, DeliveryState.DELIVERED, 1, None),
    "claim send delivered queued sent": (Status.DELIVERED, DeliveryState.DELIVERED, 1, None),
    "claim send failed delivered": (Status.FAILED, DeliveryState.DELIVERY_FAILED, 1, None),
    "claim send delivered failed": (Status.DELIVERED, DeliveryState.DELIVERED, 1, None),
    "claim cancel send failed cancel": (Status.FAILED, DeliveryState.DELIVERY_FAILED, 1, False),
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_every_order_of_cancel_claim_send_and_report_ends_truthfully(order, make_dispatcher, clock, fake_telnyx):
    dispatcher = make_dispatcher()
    state = {"id": _add(dispatcher)}
    clock.now = START + timedelta(seconds=1)
    for step in order.split():
        STEPS[step](dispatcher, clock, state)
    status, delivery, messages, cancelled = ORDERS[order]
    row = _row(dispatcher, state["id"])
    assert (row.status, row.delivery_status) == (status, delivery)
    assert len(fake_telnyx.delivered(BOB)) == messages
    if cancelled is not None:
        assert state["cancel"].cancelled is cancelled
    if messages:
        assert row.provider_message_id == fake_telnyx.delivered(BOB)[0].provider_id
    assert all(state.get("known", [True]))
    _drain(dispatcher, clock)
    failure_notices = [m for m in fake_telnyx.delivered(ALICE) if "could not be delivered" in (m.text or "")]
    assert len(failure_notices) == (1 if status == Status.FAILED else 0)


def test_a_report_for_an_unknown_message_says_so(make_dispatcher, clock):
    dispatcher = make_dispatcher()
    with dispatcher.session_factory() as session, session.begin():
        assert lifecycle.record_delivery(session, "no-such-id", "delivered", clock()) is False


# --- byte-identical retries -----------------------------------------------------------------------

def test_a_retry_after_a_timeout_sends_the_identical_body(make_dispatcher, clock, fake_telnyx):
    dispatcher = make_dispatcher()
    reminder_id = _add(dispatcher)
    clock.now = START + timedelta(seconds=1)  # on time: no late note
    fake_telnyx.push(Reply(200, delay=2.0))  # answered after the client's 1 s timeout
    dispatcher.tick()
    assert _row(dispatcher, reminder_id).attempts == 1
    clock.now = START + timedelta(hours=2)  # a recomposed body would now carry a late note
    _drain(dispatcher, clock)
    attempts = [m for m in fake_telnyx.messages if m.to == BOB]
    assert len(attempts) == 2
    assert attempts[0].text == attempts[1].text and "late" not in attempts[0].text.lower()
    assert attempts[0].idempotency_key == attempts[1].idempotency_key == f"{reminder_id}-0"
    assert [m.status for m in attempts] == [200, 200] and attempts[1].replayed  # Telnyx sent it once
    row = _row(dispatcher, reminder_id)
    assert row.status == Status.SENT and row.provider_message_id == attempts[0].provider_id


def test_a_takeover_after_a_lease_expiry_sends_the_body_the_first_claimer_stored(make_dispatcher, clock,
                                                                                  fake_telnyx):
    first, second = make_dispatcher(), make_dispatcher()
    reminder_id = _add(first)
    clock.now = START + timedelta(minutes=5)  # late: the body carries a late note of this moment
    [claim] = claim_due(first.session_factory, clock(), 10, first.lease)
    held = first._hold(claim)  # the first claimer composed and stored the body, then hung
    assert held is not None
    body, _ = held
    clock.now += first.lease + timedelta(minutes=30)  # its lease ran out long ago
    _drain(second, clock)
    [message] = fake_telnyx.delivered(BOB)
    assert message.text == body and message.idempotency_key == f"{reminder_id}-0"
    first._process(claim)  # the hung claimer wakes up: its claim is gone, it sends nothing
    assert len([m for m in fake_telnyx.messages if m.to == BOB]) == 1
    row = _row(second, reminder_id)
    assert row.status == Status.SENT and row.attempts == 0


def test_a_reused_key_refused_for_another_body_is_not_a_delivery_failure(make_dispatcher, clock, fake_telnyx):
    dispatcher = make_dispatcher()
    reminder_id = _add(dispatcher)
    # An earlier attempt went out with another body under this key (say, from an older version).
    TelnyxTransport("KEY_X", fake_telnyx.url, 2).send(from_number=BOT_NUMBER, to=BOB, text="older body",
                                                      idempotency_key=f"{reminder_id}-0")
    clock.now = START + timedelta(seconds=1)
    _drain(dispatcher, clock)
    assert [m.status for m in fake_telnyx.messages if m.to == BOB] == [200, 422]
    row = _row(dispatcher, reminder_id)
    assert (row.status, row.delivery_status, row.error) == (Status.SENT, DeliveryState.ACCEPTED_EARLIER, None)
    assert fake_telnyx.delivered(ALICE) == []  # the owner is not told it failed


# --- bounded failure ------------------------------------------------------------------------------

POISON = _number(9999)


class PoisonTransport:
    """Sends through the fake Telnyx, except to one number, where it raises an unexpected error."""

    def __init__(self, inner: TelnyxTransport) -> None:
        self.inner = inner
        self.calls: list[str] = []

    @property
    def ready(self) -> bool:
        return True

    def send(self, *, from_number: str, to: str, text: str, idempotency_key: str) -> SendResult:
        self.calls.append(to)
        if to == POISON:
            raise RuntimeError(f"unexpected trouble sending to {to}")
        return self.inner.send(from_number=from_number, to=to, text=text, idempotency_key=idempotency_key)


def test_a_poison_row_fails_after_the_maximum_attempts_and_the_rest_are_delivered(make_dispatcher, clock,
                                                                                 fake_telnyx):
    transport = PoisonTransport(TelnyxTransport("KEY_X", fake_telnyx.url, 2))
    dispatcher = make_dispatcher(transport)
    poison = _add(dispatcher, recipient=POISON)
    healthy = [_add(dispatcher, recipient=_number(n)) for n in range(5)]
    clock.now = START + timedelta(seconds=1)
    _drain(dispatcher, clock)
    row = _row(dispatcher, poison)
    assert row.status == Status.FAILED and row.error == "internal error: RuntimeError"
    assert transport.calls.count(POISON) == 3  # MAX_SEND_ATTEMPTS
    assert all(_row(dispatcher, reminder_id).status == Status.SENT for reminder_id in healthy)
    notices = [m.text for m in fake_telnyx.delivered(ALICE)]
    assert len(notices) == 1 and f"#{poison}" in notices[0]


def test_a_row_whose_claimers_keep_dying_fails_without_another_send(make_dispatcher, clock, fake_telnyx):
    dispatcher = make_dispatcher()
    reminder_id = _add(dispatcher)
    clock.now = START + timedelta(seconds=1)
    for _ in range(3):  # claimed, then the claimer dies before it records anything, three times
        assert len(claim_due(dispatcher.session_factory, clock(), 10, dispatcher.lease)) == 1
        clock.now += dispatcher.lease + timedelta(seconds=1)
    _drain(dispatcher, clock)
    row = _row(dispatcher, reminder_id)
    assert row.status == Status.FAILED and row.error == "gave up after 3 attempts"
    assert fake_telnyx.delivered(BOB) == []


# --- the REST and SMS faces of a refused cancel ---------------------------------------------------

def test_the_api_answers_409_sending_for_a_claimed_job(app, client, fake_telnyx):
    bot = app.extensions["bot"]
    headers = {"Authorization": "Bearer test-token-0123456789"}
    created = client.post("/v1/message/schedule", json={"number": BOB, "message": "hi", "minutes": 5},
                          headers=headers)
    job = created.get_json()["job_id"]
    claims = claim_due(bot.session_factory, bot.clock() + timedelta(minutes=6), 10, timedelta(minutes=1))
    assert [claim.id for claim in claims] == [job]
    response = client.delete(f"/sms/scheduled/{job}", headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "sending" and response.get_json()["status"] == "sending"


def test_sms_cancel_of_a_reminder_being_sent_says_so(app, client, signer, fake_telnyx):
    from tests.conftest import nth_message_to, send_sms

    bot = app.extensions["bot"]
    send_sms(client, signer, "remind me in 10 minutes: stretch")
    confirmation = nth_message_to(fake_telnyx, ALICE, 1).text
    reminder_id = confirmation.split("#", 1)[1].split()[0].strip(".,:;)")
    claims = claim_due(bot.session_factory, bot.clock() + timedelta(minutes=11), 10, timedelta(minutes=5))
    assert reminder_id in [claim.id for claim in claims]
    send_sms(client, signer, f"cancel {reminder_id}")
    reply = nth_message_to(fake_telnyx, ALICE, 2).text
    assert f"#{reminder_id} is being sent right now" in reply
    with bot.session_factory() as session:
        assert session.get(Reminder, reminder_id).status == Status.SENDING


def test_sources_and_states_are_enums(make_dispatcher):
    dispatcher = make_dispatcher()
    reminder_id = _add(dispatcher)
    row = _row(dispatcher, reminder_id)
    assert Status(row.status) is Status.SCHEDULED and Source(row.source) is Source.SMS and Kind(row.kind) is Kind.REMINDER
