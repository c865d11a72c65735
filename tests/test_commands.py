"""Commands beyond remind/list/cancel, through the whole pipeline: snooze, time zones, repeats."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.storage.models import Reminder, Status
from bot.timeutil import utc_now
from tests.conftest import ALICE, nth_message_to, send_sms, settle, wait_until


def _row(app, reminder_id):
    with app.extensions["bot"].session_factory() as session:
        return session.get(Reminder, reminder_id)


def test_snooze_reschedules_the_reminder_that_just_arrived(app, client, signer, fake_telnyx):
    send_sms(client, signer, "remind me in 1 second: take pills")
    reminder_id = re.search(r"#([a-z0-9]+)", nth_message_to(fake_telnyx, ALICE, 1).text).group(1)
    assert nth_message_to(fake_telnyx, ALICE, 2).text == 'Reminder: take pills\nReply "snooze 10" or "done".'
    # The fake sees the message a moment before the dispatcher records it as sent.
    assert wait_until(lambda: _row(app, reminder_id).status == Status.SENT)
    send_sms(client, signer, "snooze 30m")
    reply = nth_message_to(fake_telnyx, ALICE, 3).text
    assert reply.startswith(f"Snoozed (#{reminder_id}) until")
    row = _row(app, reminder_id)
    assert row.status == Status.SCHEDULED
    assert abs(row.send_at - (utc_now() + timedelta(minutes=30))) < timedelta(seconds=15)


def test_snooze_with_nothing_to_snooze_says_so(client, signer, fake_telnyx):
    send_sms(client, signer, "snooze")
    assert "no recent reminder" in nth_message_to(fake_telnyx, ALICE).text


def test_timezone_setting_changes_how_times_are_read(app, client, signer, fake_telnyx):
    send_sms(client, signer, "tz pacific")
    assert "America/Los_Angeles" in nth_message_to(fake_telnyx, ALICE).text
    send_sms(client, signer, "remind me tomorrow 9am: hike")
    confirmation = nth_message_to(fake_telnyx, ALICE, 2).text
    assert re.search(r"at 9:00 AM P[SD]T", confirmation), confirmation


def test_repeating_reminder_is_confirmed_with_its_rule(app, client, signer, fake_telnyx):
    send_sms(client, signer, "remind me every weekday at 8am: standup")
    confirmation = nth_message_to(fake_telnyx, ALICE).text
    reminder_id = re.search(r"#([a-z0-9]+)", confirmation).group(1)
    assert "then every Mon, Tue, Wed, Thu, Fri" in confirmation
    row = _row(app, reminder_id)
    assert row.recurrence == "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR" and row.zone == "America/New_York"


def test_unreadable_time_quotes_the_part_it_could_not_read(client, signer, fake_telnyx):
    send_sms(client, signer, "remind me blorpday at noonish: x")
    reply = nth_message_to(fake_telnyx, ALICE).text
    assert "blorp" in reply and "remind me" in reply


def test_snoozing_twice_moves_the_reminder_and_sends_it_once(app, client, signer, fake_telnyx):
    send_sms(client, signer, "remind me in 1 second: take pills")
    reminder_id = re.search(r"#([a-z0-9]+)", nth_message_to(fake_telnyx, ALICE, 1).text).group(1)
    nth_message_to(fake_telnyx, ALICE, 2)
    assert wait_until(lambda: _row(app, reminder_id).status == Status.SENT)
    send_sms(client, signer, "snooze 30m")
    send_sms(client, signer, "snooze 2 seconds")
    assert nth_message_to(fake_telnyx, ALICE, 4).text.startswith(f"Snoozed (#{reminder_id})")
    assert nth_message_to(fake_telnyx, ALICE, 5).text == 'Reminder: take pills\nReply "snooze 10" or "done".'
    settle(app)
    assert len(fake_telnyx.delivered(ALICE)) == 5  # confirmation, reminder, two snooze replies, reminder: once
    assert _row(app, reminder_id).status == Status.SENT
    with app.extensions["bot"].session_factory() as session:
        reminders = session.query(Reminder).filter(Reminder.kind == "reminder").all()
    assert [r.id for r in reminders] == [reminder_id]  # moved, not copied: nothing left to send
