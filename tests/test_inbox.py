"""The inbox: the webhook answers once a message is stored; it is handled off the request, once, in order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

from bot.conversation.inbound import InboundSms
from bot.conversation.inbox import (CHUNK_SIZE, MAX_ATTEMPTS, QUIET, Acceptance, InboxProcessor,
                                   accept)
from bot.language import wording
from bot.metrics import Metrics
from bot.service import database_unavailable
from bot.settings import load_settings
from bot.storage import inbox_queries, queries
from bot.storage.db import SessionFactory, make_engine, make_session_factory, upgrade_database
from bot.storage.models import InboundMessage, InboxMessage, InboxOutcome, InboxStatus, Kind, Reminder
from bot.timeutil import utc_now
from tests.conftest import ALICE, BOB, BOT_NUMBER, handled, json_of, nth_message_to, post_signed, settle, wait_until
from tests.signing import message_received

ROOT = Path(__file__).resolve().parent.parent
SENDERS = [f"+1646555{n:04d}" for n in range(12)]
FIRST_SEND = 30.0  # seconds: an app's first send loads the Telnyx SDK, which takes a while on a busy machine


def _sessions(url: str) -> SessionFactory:
    engine = make_engine(url)
    upgrade_database(engine)
    return make_session_factory(engine)


def _processor(sessions: SessionFactory, url: str, clock=utc_now, on_handled: Callable[[Any], None] = lambda _o: None,
               **overrides: Any) -> InboxProcessor:
    settings = load_settings(overrides={"DATABASE_URL": url, "TELNYX_PHONE_NUMBER": BOT_NUMBER,
                                        "TELNYX_API_KEY": "K", **overrides})
    return InboxProcessor(sessions, settings, clock, on_handled=on_handled, is_outage=database_unavailable)


def _store(sessions: SessionFactory, messages: list[tuple[str, str]], first: int = 0) -> list[str]:
    """Store (sender, text) pairs as the webhook would, in this order; return their message ids (numbered from ``first``)."""
    ids = []
    for number, (sender, text) in enumerate(messages, start=first):
        message = InboundSms(f"msg-{number:04d}", sender, text, f"evt-{number:04d}")
        assert accept(message, session_factory=sessions, now=utc_now()) is Acceptance.ACCEPTED
        ids.append(message.message_id)
    return ids


def _inbox(sessions: SessionFactory) -> list[InboxMessage]:
    with sessions() as session:
        return list(session.scalars(select(InboxMessage).order_by(InboxMessage.id)))


def _assert_handled_once_in_order(sessions: SessionFactory, ids: list[str]) -> None:
    """Every message done and handled, once (one inbound record, one reply each), each sender's in arrival order."""
    rows = _inbox(sessions)
    assert [row.message_id for row in rows] == ids
    assert Counter((row.status, row.outcome) for row in rows) == {(InboxStatus.DONE, InboxOutcome.HANDLED): len(ids)}
    assert all(row.text is None for row in rows)  # not kept once handled
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == len(ids)
        replies = Counter(session.scalars(select(Reminder.recipient).where(Reminder.kind == Kind.REPLY)))
    assert replies == Counter(row.sender for row in rows)
    by_sender: dict[str, list[InboxMessage]] = defaultdict(list)
    for row in rows:
        by_sender[row.sender].append(row)
    for sender, handled_rows in by_sender.items():
        moments = [row.handled_at for row in handled_rows]
        assert moments == sorted(moments), f"{sender}'s messages were handled out of order"


# --- the webhook -----------------------------------------------------------------------------------

def test_the_webhook_answers_accepted_and_the_reply_follows(app_factory, signer, fake_telnyx, database_url):
    app = app_factory(DATABASE_URL=database_url)
    event = message_received("remind me in 2 hours: water the plants", ALICE)
    response = post_signed(app.test_client(), signer, event)
    assert response.status_code == 200 and json_of(response) == {"status": "accepted"}
    assert "water the plants" in nth_message_to(fake_telnyx, ALICE, timeout=FIRST_SEND).text
    assert handled(app, event["data"]["payload"]["id"]) == {"status": "handled", "command": "remind"}
    [row] = _inbox(app.extensions["bot"].session_factory)
    assert row.text is None and row.handled_at is not None and row.claim_token is None


def test_a_retried_webhook_is_answered_duplicate_and_handled_once(app_factory, signer, fake_telnyx, database_url):
    app = app_factory(DATABASE_URL=database_url)
    client = app.test_client()
    event = message_received("list", ALICE)
    same_event_new_message_id = message_received("list", ALICE, event_id=event["data"]["id"])
    answers = [json_of(post_signed(client, signer, body))["status"]
               for body in (event, event, same_event_new_message_id)]
    assert answers == ["accepted", "duplicate", "duplicate"]
    nth_message_to(fake_telnyx, ALICE, timeout=FIRST_SEND)
    settle(app)
    assert len(fake_telnyx.delivered(ALICE)) == 1


def test_a_message_handled_before_it_reached_the_inbox_is_not_answered_again(app_factory, signer, fake_telnyx):
    # Handled by the synchronous path (or before the inbox existed), then retried by Telnyx.
    app = app_factory()
    bot = app.extensions["bot"]
    event = message_received("list", ALICE)
    payload = event["data"]["payload"]
    assert bot.handle_sms(InboundSms(payload["id"], ALICE, "list", event["data"]["id"])).status == "handled"
    nth_message_to(fake_telnyx, ALICE, timeout=FIRST_SEND)
    assert json_of(post_signed(app.test_client(), signer, event))["status"] == "accepted"
    assert handled(app, payload["id"])["status"] == "duplicate"
    settle(app)
    assert len(fake_telnyx.delivered(ALICE)) == 1


def test_an_instance_that_only_accepts_leaves_the_handling_to_another(app_factory, signer, fake_telnyx, tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    front = app_factory(DATABASE_URL=url, RUN_DISPATCHER=False)
    event = message_received("help", ALICE)
    assert json_of(post_signed(front.test_client(), signer, event))["status"] == "accepted"
    [row] = _inbox(front.extensions["bot"].session_factory)
    assert row.status == InboxStatus.RECEIVED and row.text == "help"  # stored, answered, not handled
    app_factory(DATABASE_URL=url)  # another instance, with the inbox and the dispatcher running
    assert nth_message_to(fake_telnyx, ALICE, timeout=FIRST_SEND).text
    assert handled(front, event["data"]["payload"]["id"])["status"] == "handled"


def test_a_nul_in_the_text_is_stored_without_it(app_factory, signer, fake_telnyx, pg_url):
    # PostgreSQL cannot store U+0000 in text; the parser drops control characters anyway.
    app = app_factory(DATABASE_URL=pg_url)
    event = message_received("list\u0000", ALICE)
    response = post_signed(app.test_client(), signer, event)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert handled(app, event["data"]["payload"]["id"]) == {"status": "handled", "command": "list"}


# --- claims, order, exactly once -------------------------------------------------------------------

def test_a_claim_skips_senders_someone_else_is_handling(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    sessions = _sessions(url)
    _store(sessions, [(ALICE, "list"), (BOB, "list"), (ALICE, "help")])
    now = utc_now()
    with sessions() as session, session.begin():
        first = inbox_queries.claim_batch(session, now, 1, timedelta(seconds=30))
    assert [claim.sender for claim in first] == [ALICE]
    with sessions() as session, session.begin():
        second = inbox_queries.claim_batch(session, now, 10, timedelta(seconds=60))
    assert [claim.sender for claim in second] == [BOB]  # Alice's later message waits for her first
    later = now + timedelta(seconds=31)  # the first claimer died: its lease runs out
    with sessions() as session, session.begin():
        taken_over = inbox_queries.claim_batch(session, later, 10, timedelta(seconds=30))
    assert [(claim.message_id, claim.attempts) for claim in taken_over] == [("msg-0000", 1), ("msg-0002", 0)]


def test_a_claim_that_ran_out_is_not_handled_twice(database_url):
    sessions = _sessions(database_url)
    ids = _store(sessions, [(ALICE, "list"), (ALICE, "help"), (BOB, "list")])
    first = _processor(sessions, database_url)
    with sessions() as session, session.begin():
        stale = inbox_queries.claim_batch(session, utc_now(), 10, first.lease)
    later = _processor(sessions, database_url, clock=lambda: utc_now() + first.lease + timedelta(seconds=1))
    assert later.tick() == 3  # the claimer stalled past its lease: another instance takes the rows over
    assert first._handle_batch(stale) == 0  # the stalled claimer wakes up: its claims are gone
    _assert_handled_once_in_order(sessions, ids)


@pytest.mark.parametrize("instances", [1, 4])
def test_concurrent_processors_handle_each_message_once_in_order(database_url, instances):
    sessions = _sessions(database_url)
    ids = _store(sessions, [(SENDERS[n % len(SENDERS)], ("list", "help", "tz")[n % 3]) for n in range(240)])
    processors = [_processor(_sessions(database_url), database_url, INBOX_BATCH_SIZE=7) for _ in range(instances)]
    start = threading.Barrier(instances)
    counts = [0] * instances

    def run(index: int) -> None:
        start.wait()
        for _ in range(500):  # bounded; claims held by the others come back as they finish
            counts[index] += processors[index].tick()
            with sessions() as session:
                if inbox_queries.count_waiting(session) == 0:
                    return

    threads = [threading.Thread(target=run, args=(index,)) for index in range(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(counts) == len(ids)
    if instances > 1:
        assert sum(1 for count in counts if count) > 1, counts  # the work was shared
    _assert_handled_once_in_order(sessions, ids)


def _worker(url: str, lease: float, batch_size: int) -> subprocess.Popen:
    """Start a worker process; it says "ready" when set up and starts work on a line from ``_set_going``."""
    return subprocess.Popen([sys.executable, "-m", "tests.inbox_worker", url, str(lease), str(batch_size)],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _set_going(worker: subprocess.Popen) -> None:
    assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    worker.stdin.write("go\n")
    worker.stdin.flush()


def _done(sessions: SessionFactory) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(InboxMessage)
                              .where(InboxMessage.status == InboxStatus.DONE)) or 0


def _claimed(sessions: SessionFactory) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(InboxMessage)
                              .where(InboxMessage.status == InboxStatus.HANDLING)) or 0


def test_sigkill_at_any_point_neither_loses_nor_doubles_a_message(database_url):
    # Three times as many senders as a batch holds: a killed worker's claims keep a third of them
    # until its lease (the shortest allowed) runs out, and the next worker handles the others meanwhile.
    senders = [f"+1718555{n:04d}" for n in range(30)]
    sessions = _sessions(database_url)
    ids = _store(sessions, [(senders[n % len(senders)], ("list", "help")[n % 2]) for n in range(150)])
    # Started together, so that their start-up (mostly imports) overlaps; set going one at a time.
    workers = [_worker(database_url, lease=1, batch_size=10) for _ in range(4)]
    *victims, survivor = workers
    try:
        for victim in victims:  # each is killed in the middle of its work, holding a claim
            _set_going(victim)
            target = _done(sessions) + 25
            assert wait_until(lambda: _done(sessions) >= target and _claimed(sessions) > 0, timeout=60,
                              interval=0.005), victim.stderr.read()
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
        assert _claimed(sessions) > 0  # the last kill left a claim for the survivor to take over
        _set_going(survivor)
        assert survivor.wait(timeout=120) == 0, survivor.stderr.read()
    finally:
        for worker in workers:
            if worker.poll() is None:  # the test failed before this one's turn
                worker.kill()
                worker.wait(timeout=10)
    _assert_handled_once_in_order(sessions, ids)


# --- stopping and failing --------------------------------------------------------------------------

def test_stopping_gives_back_the_messages_not_started(tmp_path):
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    sessions = _sessions(url)
    count = CHUNK_SIZE + 2  # more than one transaction holds, however fast the machine
    _store(sessions, [(SENDERS[n], "list") for n in range(count)])
    processor = _processor(sessions, url, on_handled=lambda _outcome: processor.request_stop())
    # Stopping is asked for after the first outcome; the transaction it came in (a chunk of as many
    # messages as fit CHUNK_SECONDS, at most CHUNK_SIZE) still commits, and nothing after it starts.
    handled = processor.tick()
    assert 1 <= handled <= CHUNK_SIZE
    statuses = [(row.status, row.claim_token) for row in _inbox(sessions)]
    assert statuses == [(InboxStatus.DONE, None)] * handled + [(InboxStatus.RECEIVED, None)] * (count - handled)


_REFUSE_REPLIES_TO = "+16465559999"
def _poison(table: str, column: str) -> dict[str, list[str]]:
    """Triggers that make every INSERT into ``table`` whose ``column`` is _REFUSE_REPLIES_TO fail, per dialect."""
    return {
        "sqlite": [f"CREATE TRIGGER poison BEFORE INSERT ON {table} WHEN NEW.{column} = '{_REFUSE_REPLIES_TO}' "
                   "BEGIN SELECT RAISE(ABORT, 'poison'); END"],
        "postgresql": [f"CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.{column} = "
                       f"'{_REFUSE_REPLIES_TO}' THEN RAISE EXCEPTION 'poison'; END IF; RETURN NEW; END $$ "
                       "LANGUAGE plpgsql",
                       f"CREATE TRIGGER poison BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION poison()"],
    }


def _install(sessions: SessionFactory, statements: dict[str, list[str]]) -> None:
    engine = sessions.kw["bind"]
    with engine.begin() as connection:
        for statement in statements[engine.dialect.name]:
            connection.exec_driver_sql(statement)


# A database that refuses every reply to one number: handling that number's messages always fails.
_POISON = _poison("reminders", "recipient")
# Handling a message from one number always fails; replies to it can still be queued.
_REFUSE_INBOUND_FROM = _poison("inbound_messages", "sender")


def test_a_message_that_fails_every_time_is_given_up_and_the_senders_next_one_waits_for_it(database_url):
    sessions = _sessions(database_url)
    _install(sessions, _POISON)
    ids = _store(sessions, [(_REFUSE_REPLIES_TO, "help"), (ALICE, "list"), (_REFUSE_REPLIES_TO, "list")])
    outcomes: list[str] = []
    processor = _processor(sessions, database_url, on_handled=lambda outcome: outcomes.append(outcome.status))
    for _ in range(2 * MAX_ATTEMPTS):  # one attempt a tick for the first, then for the second
        processor.tick()
    rows = {row.message_id: row for row in _inbox(sessions)}
    assert rows[ids[1]].outcome == InboxOutcome.HANDLED  # other senders are not held up
    assert (rows[ids[0]].status, rows[ids[0]].outcome, rows[ids[0]].attempts) == (
        InboxStatus.DONE, InboxOutcome.FAILED, MAX_ATTEMPTS)
    assert (rows[ids[2]].outcome, rows[ids[2]].attempts) == (InboxOutcome.FAILED, MAX_ATTEMPTS)
    assert rows[ids[0]].handled_at < rows[ids[2]].handled_at  # the second waited for the first to be given up
    assert outcomes.count(InboxOutcome.FAILED) == 2
    with sessions() as session:  # no apology either: queueing any reply to that number fails, so it was left out
        assert session.scalar(select(func.count()).select_from(Reminder)
                              .where(Reminder.recipient == _REFUSE_REPLIES_TO)) == 0


def test_the_sender_of_a_message_given_up_gets_one_apology(database_url):
    sessions = _sessions(database_url)
    _install(sessions, _REFUSE_INBOUND_FROM)
    _store(sessions, [(_REFUSE_REPLIES_TO, "remind me in 2 hours: call mom")])
    outcomes: list[Any] = []
    processor = _processor(sessions, database_url, on_handled=outcomes.append)
    for _ in range(MAX_ATTEMPTS + 1):  # one attempt a tick; the last tick finds nothing left
        processor.tick()
    [row] = _inbox(sessions)
    assert (row.status, row.outcome, row.attempts) == (InboxStatus.DONE, InboxOutcome.FAILED, MAX_ATTEMPTS)
    assert [(outcome.status, outcome.reply) for outcome in outcomes] == [
        (InboxOutcome.FAILED, wording.handling_failed())]
    with sessions() as session:  # queued as a reply, for the dispatcher to send; nothing else was
        queued = session.execute(select(Reminder.kind, Reminder.text).where(Reminder.recipient == _REFUSE_REPLIES_TO))
        assert [tuple(row) for row in queued] == [(Kind.REPLY, wording.handling_failed())]


def test_an_opted_out_sender_gets_no_apology(tmp_path):
    url = f"sqlite:///{tmp_path / 'opted-out.db'}"
    sessions = _sessions(url)
    _install(sessions, _REFUSE_INBOUND_FROM)
    with sessions() as session, session.begin():
        queries.add_contact(session, _REFUSE_REPLIES_TO)
        queries.update_contact(session, _REFUSE_REPLIES_TO, opted_out_at=utc_now())
    _store(sessions, [(_REFUSE_REPLIES_TO, "start")])
    processor = _processor(sessions, url)
    for _ in range(MAX_ATTEMPTS):
        processor.tick()
    assert [row.outcome for row in _inbox(sessions)] == [InboxOutcome.FAILED]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reminder)) == 0


def test_a_burst_is_stored_first_and_handled_right_after_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'burst.db'}"
    sessions = _sessions(url)
    count = 400

    def burst() -> None:  # webhooks of another process, storing as fast as they can (hundreds a second)
        _store(sessions, [(SENDERS[n % len(SENDERS)], "list") for n in range(count)])

    storing = threading.Thread(target=burst)
    storing.start()
    assert wait_until(lambda: len(_inbox(sessions)) >= 10)
    processor = _processor(sessions, url)
    for _ in range(100):  # each tick waits for the burst to pass, then handles what it finds stored
        processor.tick()
        if not storing.is_alive() and sum(row.status == InboxStatus.DONE for row in _inbox(sessions)) == count:
            break
    storing.join(timeout=60)
    rows = _inbox(sessions)
    assert [row.status for row in rows] == [InboxStatus.DONE] * count
    last_stored = max(row.received_at for row in rows)
    during = [row for row in rows if row.handled_at < last_stored]
    assert len(during) <= 5, f"{len(during)} of {count} were handled while the burst was still arriving"


def test_lanes_keep_each_senders_messages_together_and_in_order():
    from bot.conversation.inbox import _lanes
    from bot.storage.inbox_queries import InboxClaim

    senders = [ALICE, BOB, ALICE, SENDERS[0], BOB, SENDERS[1], ALICE]
    claims = [InboxClaim(n, "t", f"m{n}", None, sender, "list", utc_now(), 0) for n, sender in enumerate(senders)]
    lanes = _lanes(claims, 2)
    assert [[claim.id for claim in lane] for lane in lanes] == [[0, 2, 3, 6], [1, 4, 5]]
    assert _lanes(claims, 1) == [claims]


def test_a_steady_trickle_is_not_taken_for_a_burst_when_looks_come_late(tmp_path):
    # On a loaded machine a wait of QUIET between two looks can take several times as long; a trickle
    # seen over such a wait is still a trickle (it passed for a burst, and the inbox waited seconds).
    url = f"sqlite:///{tmp_path / 'trickle.db'}"
    sessions = _sessions(url)
    processor = _processor(sessions, url)
    time_passes = threading.Event()  # never set: its wait is time passing, as it does between looks
    processor._webhooks_busy()  # the first look
    time_passes.wait(4 * QUIET)
    _store(sessions, [(ALICE, "list")])
    assert processor._webhooks_busy()  # after a pause, one message may be the start of a burst: look again
    time_passes.wait(4 * QUIET)  # the next look comes late
    _store(sessions, [(BOB, "list")], first=1)
    assert not processor._webhooks_busy()  # one message in 80 ms or more: 12 a second at most


def test_handled_rows_are_deleted_after_the_retention_and_a_late_retry_is_still_a_duplicate(database_url):
    sessions = _sessions(database_url)
    ids = _store(sessions, [(ALICE, "list"), (BOB, "help")])
    assert _processor(sessions, database_url).tick() == 2
    waiting = _store(sessions, [(BOB, "list")], first=2)  # not handled yet: never deleted, however old
    with sessions() as session, session.begin():
        claims = inbox_queries.claim_batch(session, utc_now(), 10, timedelta(seconds=30))
    days = load_settings(overrides={"DATABASE_URL": database_url}).inbox_retention_days
    later = _processor(sessions, database_url, clock=lambda: utc_now() + timedelta(days=days, hours=1))
    later._prune_if_due()
    assert [row.message_id for row in _inbox(sessions)] == waiting
    with sessions() as session, session.begin():
        inbox_queries.release(session, claims)
    # Telnyx retries the first message after all that time: stored again, and known as handled before.
    retried = InboundSms(ids[0], ALICE, "list", "evt-0000")
    assert accept(retried, session_factory=sessions, now=utc_now()) is Acceptance.ACCEPTED
    outcomes: list[Any] = []
    assert _processor(sessions, database_url, on_handled=outcomes.append).tick() == 2
    assert sorted(outcome.status for outcome in outcomes) == [InboxOutcome.DUPLICATE, InboxOutcome.HANDLED]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reminder).where(Reminder.recipient == ALICE)) == 1


def test_the_backlog_gauge_counts_the_messages_not_handled_yet(tmp_path):
    url = f"sqlite:///{tmp_path / 'gauge.db'}"
    sessions = _sessions(url)
    processor = _processor(sessions, url)
    metrics = Metrics()
    metrics.track_inbox_backlog(processor.count_waiting)
    _store(sessions, [(ALICE, "list"), (BOB, "list"), (ALICE, "help")])
    assert b"bot_inbox_backlog 3.0" in metrics.exposition()
    processor.tick()
    assert b"bot_inbox_backlog 0.0" in metrics.exposition()
