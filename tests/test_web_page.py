"""The reminders page, the calendar feed and the operator console through the test client: rules, refusals, IDOR."""

from __future__ import annotations

import html
import logging
import re
import time
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from bot.operator_console import OperatorConsole
from bot.storage import lifecycle
from bot.storage.db import make_engine, make_session_factory, upgrade_database
from bot.storage.models import Reminder, Source, Status
from bot.timeutil import utc_now
from tests.conftest import ALICE, BOB, ShiftedClock, nth_message_to
from tests.web_support import ADMIN_TOKEN, csrf_of, page_csrf, signed_in_client, transport_ready, web_config


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def web_app(app_factory, clock):
    return app_factory(clock=clock, **web_config())


def _schedule(app, owner: str, text: str, *, recipient: str | None = None, hours: float = 5,
              recurrence: str | None = None, zone: str = "America/New_York") -> str:
    bot = app.extensions["bot"]
    now = bot.clock()
    with bot.session_factory() as session, session.begin():
        return lifecycle.schedule(session, owner=owner, recipient=recipient or owner, text=text,
                                  send_at=now + timedelta(hours=hours), now=now, zone=zone,
                                  recurrence=recurrence).id


def _row(app, reminder_id: str) -> Reminder:
    with app.extensions["bot"].session_factory() as session:
        return session.get(Reminder, reminder_id)


def _flashes(client) -> list[str]:
    page = client.get("/me").get_data(as_text=True)
    return [html.unescape(text) for text in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</p>', page)]


def test_the_page_lists_reminders_by_day_with_rules_and_the_weeks_sends(web_app):
    _schedule(web_app, ALICE, "water the plants", hours=2)
    _schedule(web_app, ALICE, "standup", hours=30, recurrence="FREQ=WEEKLY;BYDAY=MO,WE,FR")
    _schedule(web_app, ALICE, "dinner with Alice", recipient=BOB, hours=3)
    _schedule(web_app, BOB, "Bob's secret", hours=1)  # Bob's own: never on Alice's page
    delivered = _schedule(web_app, ALICE, "went out fine", hours=-30)
    refused = _schedule(web_app, ALICE, "to a number that opted out", recipient=BOB, hours=-2)
    old = _schedule(web_app, ALICE, "sent last month", hours=-24 * 30)
    bot = web_app.extensions["bot"]
    now = bot.clock()
    with bot.session_factory() as session, session.begin():  # as the dispatcher and a delivery report leave them
        for reminder_id, values in (
                (delivered, dict(status=Status.DELIVERED, delivery_status="delivered", sent_at=now - timedelta(hours=1))),
                (refused, dict(status=Status.FAILED, error="opted_out")),
                (old, dict(status=Status.DELIVERED, delivery_status="delivered", sent_at=now - timedelta(days=30)))):
            session.execute(Reminder.__table__.update().where(Reminder.id == reminder_id).values(**values))
    page = signed_in_client(web_app, ALICE).get("/me").get_data(as_text=True)
    recent = page.split('id="recent"')[1]
    assert "went out fine" in recent and "delivered" in recent
    assert "to a number that opted out" in recent and "failed: they opted out" in recent
    assert "sent last month" not in page
    assert "water the plants" in page and "standup" in page and "every Mon, Wed, Fri" in page
    assert "to +1 646-555-0199" in page
    assert "Bob&#39;s secret" not in page and "Bob's secret" not in page
    assert re.search(r'<h3 class="day">(Today|Tomorrow)</h3>', page)
    assert "2125550147" not in page  # the person's own number is not shown either


def test_add_previews_then_saves_with_the_sms_parser(web_app):
    client = signed_in_client(web_app, ALICE)
    token = page_csrf(client)
    preview = client.post("/me/add", data={"csrf_token": token, "when": "every monday at 8am", "text": "standup",
                                           "action": "preview"})
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "I read this as:" in body and "every Mon" in body
    with web_app.extensions["bot"].session_factory() as session:
        assert session.scalars(select(Reminder).where(Reminder.owner == ALICE)).first() is None  # nothing saved
    saved = client.post("/me/add", data={"csrf_token": token, "when": "every monday at 8am", "text": "standup",
                                         "action": "save"})
    assert saved.status_code == 303
    with web_app.extensions["bot"].session_factory() as session:
        row = session.scalars(select(Reminder).where(Reminder.owner == ALICE)).one()
    assert (row.text, row.recurrence, row.source) == ("standup", "FREQ=WEEKLY;BYDAY=MO", Source.SMS)
    assert any("Got it" in flash for flash in _flashes(client))


@pytest.mark.parametrize("when, text, expected", [
    ("yesterday 9am", "call mom", "Sorry"),
    ("blorp", "call mom", "couldn't read"),
    ("in 400 days", "call mom", "Sorry"),
    ("tomorrow 9am", "   ", "text"),
    ("tomorrow: 9am", "call mom", "Sorry"),
], ids=["past", "unreadable", "too-far", "blank-text", "colon-in-the-time"])
def test_add_explains_what_it_could_not_read_and_saves_nothing(web_app, when, text, expected):
    client = signed_in_client(web_app, ALICE)
    for action in ("preview", "save"):
        answer = client.post("/me/add", data={"csrf_token": page_csrf(client), "when": when, "text": text,
                                              "action": action})
        assert answer.status_code == 422
        assert expected in html.unescape(answer.get_data(as_text=True))
    with web_app.extensions["bot"].session_factory() as session:
        assert session.scalars(select(Reminder).where(Reminder.owner == ALICE)).first() is None


def test_add_keeps_the_sms_limits_and_asks_a_third_party_for_consent(app_factory, fake_telnyx):
    app = transport_ready(app_factory(MAX_NEW_PER_HOUR=1, **web_config()))
    client = signed_in_client(app, ALICE)
    token = page_csrf(client)
    assert client.post("/me/add", data={"csrf_token": token, "when": "tomorrow 9am", "text": "dinner",
                                        "to": BOB, "action": "save"}).status_code == 303
    assert "wants to send you reminders" in nth_message_to(fake_telnyx, BOB).text  # the SMS consent request
    refused = client.post("/me/add", data={"csrf_token": token, "when": "tomorrow 10am", "text": "again",
                                           "action": "save"})
    assert refused.status_code == 422 and "at most 1 reminders an hour" in refused.get_data(as_text=True)


def test_edit_move_snooze_and_delete_change_the_row_through_the_lifecycle(web_app):
    reminder_id = _schedule(web_app, ALICE, "call mom", hours=2)
    client = signed_in_client(web_app, ALICE)
    token = page_csrf(client)
    assert client.post(f"/me/r/{reminder_id}/text", data={"csrf_token": token, "text": "call dad"}).status_code == 303
    assert _row(web_app, reminder_id).text == "call dad"
    preview = client.post(f"/me/r/{reminder_id}/time", data={"csrf_token": token, "when": "in 3 days at 6pm",
                                                             "action": "preview"})
    assert "I read this as:" in preview.get_data(as_text=True)
    before = _row(web_app, reminder_id).send_at
    client.post(f"/me/r/{reminder_id}/time", data={"csrf_token": token, "when": "in 3 days at 6pm", "action": "save"})
    moved = _row(web_app, reminder_id).send_at
    assert moved - before > timedelta(days=2)
    client.post(f"/me/r/{reminder_id}/snooze", data={"csrf_token": token, "choice": "1h"})
    assert _row(web_app, reminder_id).send_at == moved + timedelta(hours=1)
    client.post(f"/me/r/{reminder_id}/delete", data={"csrf_token": token})
    assert _row(web_app, reminder_id).status == Status.CANCELLED


def test_a_new_text_that_would_take_more_than_ten_texts_is_refused_and_the_row_kept(web_app):
    reminder_id = _schedule(web_app, ALICE, "call mom", hours=2)
    client = signed_in_client(web_app, ALICE)
    emoji_text = "call mom \N{SMILING FACE WITH SMILING EYES} " + "x" * 700  # UCS-2: 67 a part, so 11 parts
    client.post(f"/me/r/{reminder_id}/text", data={"csrf_token": page_csrf(client), "text": emoji_text})
    assert any("too long to send" in flash for flash in _flashes(client))
    assert _row(web_app, reminder_id).text == "call mom"


ACTIONS = [("delete", {}), ("text", {"text": "hijacked"}), ("time", {"when": "tomorrow 9am", "action": "save"}),
           ("time", {"when": "tomorrow 9am", "action": "preview"}), ("snooze", {"choice": "1h"})]


@pytest.mark.parametrize("action, form", ACTIONS, ids=["delete", "text", "time-save", "time-preview", "snooze"])
def test_someone_elses_reminder_is_not_found_by_any_action(web_app, action, form):
    bobs = _schedule(web_app, BOB, "Bob's secret", hours=2)
    before = _row(web_app, bobs)
    client = signed_in_client(web_app, ALICE)
    assert client.get(f"/me/r/{bobs}").status_code == 404
    answer = client.post(f"/me/r/{bobs}/{action}", data={"csrf_token": page_csrf(client), **form})
    assert answer.status_code == 404
    after = _row(web_app, bobs)
    assert (after.text, after.send_at, after.status) == (before.text, before.send_at, before.status)


def test_a_recipient_may_delete_but_not_rewrite_what_someone_else_set(web_app):
    from_bob = _schedule(web_app, BOB, "from Bob", recipient=ALICE, hours=2)
    client = signed_in_client(web_app, ALICE)
    page = client.get(f"/me/r/{from_bob}").get_data(as_text=True)
    assert "from +1 646-555-0199" in page and "Change the text" not in page
    token = page_csrf(client)
    assert client.post(f"/me/r/{from_bob}/text", data={"csrf_token": token, "text": "x"}).status_code == 404
    assert client.post(f"/me/r/{from_bob}/delete", data={"csrf_token": token}).status_code == 303
    assert _row(web_app, from_bob).status == Status.CANCELLED


FORMS = ["/me/add", "/me/zone", "/me/calendar", "/me/calendar/off", "/me/sign-out", "/me/r/{id}/delete",
         "/me/r/{id}/text", "/me/r/{id}/time", "/me/r/{id}/snooze"]


@pytest.mark.parametrize("path", FORMS)
def test_every_form_refuses_a_post_without_its_csrf_token(web_app, path):
    reminder_id = _schedule(web_app, ALICE, "call mom", hours=2)
    client = signed_in_client(web_app, ALICE)
    answer = client.post(path.format(id=reminder_id), data={"text": "x", "when": "tomorrow 9am", "choice": "1h",
                                                            "zone": "pacific", "action": "save"})
    assert answer.status_code == 400 and "CSRF" in answer.get_data(as_text=True)
    assert _row(web_app, reminder_id).status == Status.SCHEDULED and _row(web_app, reminder_id).text == "call mom"
    assert client.get("/me").status_code == 200  # still signed in


def test_the_time_zone_setting_changes_how_times_are_shown_and_read(web_app):
    _schedule(web_app, ALICE, "call mom", hours=2)
    client = signed_in_client(web_app, ALICE)
    assert "times in America/New_York" in client.get("/me").get_data(as_text=True)
    client.post("/me/zone", data={"csrf_token": page_csrf(client), "zone": "pacific"})
    page = client.get("/me").get_data(as_text=True)
    assert "times in America/Los_Angeles" in page and ("PST" in page or "PDT" in page)
    client.post("/me/zone", data={"csrf_token": page_csrf(client), "zone": "Mars/Olympus"})
    assert any("don't know the time zone" in flash for flash in _flashes(client))


def test_the_calendar_feed_is_private_stable_and_revocable(web_app):
    one_off = _schedule(web_app, ALICE, "dentist", hours=26)
    series = _schedule(web_app, ALICE, "standup", hours=3, recurrence="FREQ=WEEKLY;BYDAY=MO,WE,FR")
    _schedule(web_app, BOB, "Bob's secret", hours=2)
    client = signed_in_client(web_app, ALICE)
    shown = client.post("/me/calendar", data={"csrf_token": page_csrf(client)}).get_data(as_text=True)
    url = re.search(r'id="calendar-url"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="calendar-url"', shown)
    feed_url = next(group for group in url.groups() if group)
    assert feed_url.startswith("http://localhost/calendar/") and "2125550147" not in feed_url
    path = feed_url.removeprefix("http://localhost")
    outsider = web_app.test_client()  # a calendar service: no cookie
    first, second = outsider.get(path), outsider.get(path)
    assert first.status_code == 200 and first.mimetype == "text/calendar"
    calendar = Calendar.from_ical(first.data)
    events = {str(event["uid"]): event for event in calendar.walk("VEVENT")}
    assert set(events) == {f"{one_off}@localhost", f"{series}@localhost"}
    assert {str(event["uid"]) for event in Calendar.from_ical(second.data).walk("VEVENT")} == set(events)
    repeating = events[f"{series}@localhost"]
    assert repeating["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=MO,WE,FR"
    assert repeating["DTSTART"].params["TZID"] == "America/New_York"
    assert {component["TZID"] for component in calendar.walk("VTIMEZONE")} == {"America/New_York"}

    client.post("/me/calendar/off", data={"csrf_token": page_csrf(client)})
    assert outsider.get(path).status_code == 404


def test_a_new_calendar_link_turns_the_old_one_off(web_app):
    client = signed_in_client(web_app, ALICE)
    links = []
    for _ in range(2):
        shown = client.post("/me/calendar", data={"csrf_token": page_csrf(client)}).get_data(as_text=True)
        links.append(re.search(r'(/calendar/[A-Za-z0-9_-]+\.ics)', shown).group(1))
    outsider = web_app.test_client()
    assert outsider.get(links[0]).status_code == 404 and outsider.get(links[1]).status_code == 200


# --- the operator console -------------------------------------------------------------------------

def _admin_client(app):
    client = app.test_client()
    page = client.get("/admin")
    assert page.status_code == 401
    answer = client.post("/admin/sign-in", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                 "token": ADMIN_TOKEN})
    assert answer.status_code == 303
    return client


def test_the_console_is_off_without_admin_token(app_factory):
    app = app_factory(**{**web_config(), "ADMIN_TOKEN": None})
    assert app.test_client().get("/admin").status_code == 404


def test_the_console_signs_in_by_form_only_and_logs_every_action(web_app, caplog):
    caplog.set_level(logging.INFO, logger="web.admin")
    client = web_app.test_client()
    assert client.get(f"/admin?token={ADMIN_TOKEN}").status_code == 401  # never a token in a URL
    assert client.get("/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 401
    page = client.get("/admin").get_data(as_text=True)
    wrong = client.post("/admin/sign-in", data={"csrf_token": csrf_of(page), "token": "x" * 36})
    assert wrong.status_code == 401 and "admin sign-in refused" in caplog.text
    admin = _admin_client(web_app)
    assert admin.get("/admin").status_code == 200
    admin.get("/admin", query_string={"number": BOB})
    admin.post("/admin/sign-out", data={"csrf_token": page_csrf(admin, "/admin")})
    assert admin.get("/admin").status_code == 401
    assert "admin signed in" in caplog.text and "admin searched for +*******0199" in caplog.text
    assert "admin signed out" in caplog.text and BOB not in caplog.text


def test_the_console_counts_masks_and_retries_a_failed_reminder(web_app, caplog):
    caplog.set_level(logging.INFO, logger="web.admin")
    failed = _schedule(web_app, ALICE, "lost one", recipient=BOB, hours=-1)
    _schedule(web_app, ALICE, "pending", hours=3)
    bot = web_app.extensions["bot"]
    with bot.session_factory() as session, session.begin():
        session.execute(Reminder.__table__.update().where(Reminder.id == failed)
                        .values(status=Status.FAILED, error="carrier said no", due_at=bot.clock()))
    admin = _admin_client(web_app)
    page = admin.get("/admin").get_data(as_text=True)
    assert re.search(r'id="pending">1<', page) and "carrier said no" in page
    assert "+*******0147" in page and ALICE not in page  # the busiest senders, masked
    found = admin.get("/admin", query_string={"number": BOB}).get_data(as_text=True)
    assert f'id="retry-{failed}"' in found
    answer = admin.post(f"/admin/retry/{failed}", data={"csrf_token": page_csrf(admin, "/admin"), "number": BOB})
    assert answer.status_code == 303
    assert _row(web_app, failed).status in (Status.SCHEDULED, Status.SENDING, Status.SENT)
    assert f"admin retry of {failed}" in caplog.text
    again = admin.post(f"/admin/retry/{failed}", data={"csrf_token": page_csrf(admin, "/admin")})
    assert again.status_code == 303  # no longer failed: refused politely, nothing changes


def test_retry_and_the_console_counts_on_both_databases(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_database(engine)
        factory = make_session_factory(engine)
        now = utc_now()
        with factory() as session, session.begin():
            sent = lifecycle.schedule(session, owner=ALICE, recipient=ALICE, text="sent", send_at=now, now=now)
            failed = lifecycle.schedule(session, owner=ALICE, recipient=BOB, text="failed", send_at=now, now=now)
            session.execute(Reminder.__table__.update().where(Reminder.id == sent.id)
                            .values(status=Status.SENT, sent_at=now - timedelta(hours=2)))
            session.execute(Reminder.__table__.update().where(Reminder.id == failed.id)
                            .values(status=Status.FAILED, error="opted_out"))
        console = OperatorConsole(factory, lambda: now)
        overview = console.overview()
        assert sum(count for _, count in overview.sends_per_hour) == 1
        assert [failure.reason for failure in overview.failures] == ["opted_out"]
        assert overview.top_senders == (("+*******0147", 2),)
        assert console.retry(failed.id) and not console.retry(failed.id) and not console.retry(sent.id)
        with factory() as session:
            row = session.get(Reminder, failed.id)
        assert (row.status, row.error, row.occurrence) == (Status.SCHEDULED, None, 1)
        found = console.search("(646) 555-0199")
        assert found is not None and [row.id for row in found.rows] == [failed.id]
        assert console.search("not a number") is None
    finally:
        engine.dispose()


# --- measured: the page with 100 reminders --------------------------------------------------------

def test_the_page_with_100_reminders_is_light_and_quick(app_factory, capsys):
    app = app_factory(RUN_DISPATCHER=False, **web_config())
    for n in range(100):
        _schedule(app, ALICE, f"reminder number {n} with a little text", hours=1 + n * 7,
                  recurrence="FREQ=DAILY" if n % 10 == 0 else None)
    client = signed_in_client(app, ALICE)
    client.get("/me")  # warm: templates compiled, connections open
    timings, size = [], 0
    for _ in range(20):
        started = time.perf_counter()
        answer = client.get("/me")
        timings.append(time.perf_counter() - started)
        size = len(answer.data)
    assert answer.get_data(as_text=True).count('class="item"') == 100
    timings.sort()
    median, worst = timings[len(timings) // 2], timings[-1]
    with capsys.disabled():
        print(f"\n/me with 100 reminders: {size} bytes of HTML, server time median {median * 1000:.1f} ms, "
              f"max {worst * 1000:.1f} ms (20 requests, test client, SQLite)")
    assert size < 60_000
    assert median < 0.25
