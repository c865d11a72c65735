"""Property: the time a confirmation states is the time stored, through the whole inbound path.

Messages are built from phrasings people use (any order, idioms, spelled numbers, repeats) and
handled by ``handle_inbound`` on a real SQLite database, after a "tz" message sets the sender's
zone. Every "Got it" reply's stated time ("Tue Dec 1 at 5:00 PM EST") is read back, without the
bot's code, into an instant in that zone, and must be the stored ``send_at``: in the future, at
most 365 days ahead, and the same instant (DST folds included, told apart by the zone's abbreviation).
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.conversation.inbound import InboundSms, handle_inbound
from bot.settings import load_settings
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.models import Reminder

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Paris", "Australia/Sydney"]
SENDER = "+12125550147"
TIMES = ["tomorrow 9am", "at 7pm", "in 90 minutes", "tmrw at 7:30", "friday at 5pm", "next tuesday at noon",
         "half past 3 tomorrow", "quarter to 5 pm", "in 2 hours", "dec 24 at 6pm", "on the 3rd at 10am",
         "every day at 8am", "every monday at 9am", "in 1h30", "tonight at 9", "at 0930 tomorrow",
         "the 1st of every month at 9am", "sunday 10:15am", "in a half hour", "christmas at 8am"]
TEXTS = ["call mom", "take out the trash", "pay rent", "standup", "water the plants", "dentist"]
SHAPES = ["remind me {when}: {text}", "{text} {when}", "{when} {text}", "remind me to {text} {when}",
          "pls remind me {when}, {text}"]
STATED = re.compile(r" on (?P<weekday>\w{3}) (?P<month>\w{3}) (?P<day>\d{1,2}) at (?P<hour>\d{1,2}):(?P<minute>\d{2}) "
                    r"(?P<meridiem>AM|PM) (?P<abbreviation>\S+?)[.,) ]")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

nows = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                    timezones=st.just(timezone.utc))
message_ids = itertools.count()


@pytest.fixture(scope="module")
def bot_database(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('property') / 'bot.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    config = {"DATABASE_URL": url, "TELNYX_API_KEY": "", "TELNYX_PHONE_NUMBER": "", "BOT_TIMEZONE": "UTC",
              "MAX_PENDING_PER_SENDER": 100_000, "MAX_NEW_PER_HOUR": 100_000, "LOAD_DOTENV": False}
    yield make_session_factory(engine), load_settings(overrides=config)
    engine.dispose()


def _say(sessions, settings_, text: str, now: datetime):
    message = InboundSms(message_id=f"property-{next(message_ids)}", sender=SENDER, text=text)
    return handle_inbound(message, session_factory=sessions, settings=settings_, now=now)


def stated_instant(reply: str, zone: str, now: datetime) -> datetime:
    """Read the time a confirmation states back into an instant, choosing the year and the DST fold."""
    found = STATED.search(reply)
    assert found is not None, reply
    hour = int(found["hour"]) % 12 + (12 if found["meridiem"] == "PM" else 0)
    month, day = MONTHS.index(found["month"]) + 1, int(found["day"])
    local_now = now.astimezone(ZoneInfo(zone))
    readings = []
    for year in (local_now.year, local_now.year + 1):
        for fold in (0, 1):
            try:
                wall = datetime(year, month, day, hour, int(found["minute"]), tzinfo=ZoneInfo(zone), fold=fold)
            except ValueError:
                continue
            # The abbreviation tells a repeated hour's two instants apart; the weekday checks the year.
            if wall.tzname() == found["abbreviation"] and f"{wall:%a}" == found["weekday"]:
                readings.append(wall.astimezone(timezone.utc))
    readings = sorted(set(readings))
    assert readings, (reply, zone)
    return readings[0]


def confirms_truthfully(sessions, settings_, message: str, zone: str, now: datetime) -> bool:
    """Send ``message`` in ``zone`` at ``now``; check what was confirmed; say whether anything was."""
    assert _say(sessions, settings_, f"tz {zone}", now).reply
    outcome = _say(sessions, settings_, message, now)
    if not outcome.created:  # a question or a refusal: nothing was confirmed, nothing stored
        assert outcome.reply and not outcome.reply.startswith("Got it")
        return False
    assert outcome.reply.startswith("Got it")
    with sessions() as session:
        stored = session.scalars(select(Reminder).where(Reminder.id.in_(outcome.created))).one()
    send_at = stored.send_at.astimezone(timezone.utc)
    assert now < send_at <= now + timedelta(days=365, seconds=1)
    assert stated_instant(outcome.reply, zone, now) == send_at.replace(second=0, microsecond=0), outcome.reply
    return True


@settings(max_examples=120, deadline=None)
@given(shape=st.sampled_from(SHAPES), when=st.sampled_from(TIMES), text=st.sampled_from(TEXTS),
       zone=st.sampled_from(ZONES), now=nows)
def test_every_confirmation_states_the_stored_time(bot_database, shape, when, text, zone, now):
    confirms_truthfully(*bot_database, shape.format(when=when, text=text), zone, now)


def test_the_phrasings_above_are_confirmed_in_every_zone_and_across_a_dst_fold(bot_database):
    """Not vacuous: the phrasings the property draws from are confirmed, not refused, in every zone."""
    now = datetime(2026, 12, 1, 15, 30, tzinfo=timezone.utc)
    confirmed = [confirms_truthfully(*bot_database, f"remind me {when}: call mom", zone, now)
                 for when in TIMES for zone in ZONES]
    assert sum(confirmed) >= 0.8 * len(confirmed)
    # 01:10 EDT on the night clocks go back: 90 minutes later is 01:40 EST, the second 01:40 of the night.
    fold = datetime(2026, 11, 1, 5, 10, tzinfo=timezone.utc)
    assert confirms_truthfully(*bot_database, "remind me in 90 minutes: call mom", "America/New_York", fold)
