"""The database is the source of truth: a restart loses nothing and sends nothing twice."""

from __future__ import annotations

from datetime import timedelta

from bot.storage import lifecycle
from bot.storage.models import Reminder, Status
from bot.timeutil import utc_now
from tests.conftest import ALICE, BOB, both_providers, settle


@both_providers
def test_reminders_survive_a_restart_and_are_sent_once(app_factory, fake_sms):
    first = app_factory(RUN_DISPATCHER=False)
    bot = first.extensions["bot"]
    now = utc_now()
    with bot.session_factory() as session, session.begin():
        ids = [lifecycle.schedule(session, owner=ALICE, recipient=ALICE, text=f"task {n}",
                                 send_at=now + timedelta(seconds=1), now=now).id for n in range(5)]
        # One came due while the app was down.
        overdue = lifecycle.schedule(session, owner=ALICE, recipient=BOB, text="overdue",
                                    send_at=now - timedelta(minutes=30), now=now).id
    bot.shutdown()
    bot.engine.dispose()

    second = app_factory()
    assert fake_sms.wait_for(lambda sent: len(sent) >= 6, timeout=10)
    settle(second)
    assert len(fake_sms.messages) == 6
    texts = sorted(m.text for m in fake_sms.delivered(ALICE))
    assert texts == [f'Reminder: task {n}\nReply "snooze 10" or "done".' for n in range(5)]
    late = [m.text for m in fake_sms.delivered(BOB)]
    assert len(late) == 1 and "late, was due" in late[0] and late[0].endswith(': overdue\nReply "snooze 10" or "done".')
    with second.extensions["bot"].session_factory() as session:
        assert {session.get(Reminder, i).status for i in ids + [overdue]} == {Status.SENT}
