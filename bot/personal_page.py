"""One person's reminders page, in the domain's terms: what they see, and what they may do to it.

Every read and every change names the signed-in number: a change goes through
bot.storage.lifecycle with that number in its conditional UPDATE, so someone else's reminder id
changes nothing and reads as "not found". Adding a reminder runs the SMS command itself (the
parser on "remind <who> <when>: <text>", then the commands table's handler), so the page has the
SMS limits, opt-out and consent rules, not a copy of them. Each method is one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.conversation.handlers import HandlerContext, dispatch, too_long_refusal
from bot.language import wording
from bot.language.commands import MAX_TEXT_LENGTH, Ask, Command, Error, Remind
from bot.language.parser import clean_text, parse
from bot.language.when import find_zone
from bot.phones import format_number, zone_for_number
from bot.series import describe_rule
from bot.settings import Settings
from bot.storage import lifecycle, queries, web_access
from bot.storage.db import SessionFactory
from bot.storage.models import PENDING, Kind, Reminder, Status
from bot.timeutil import Clock, as_utc

UPCOMING_LIMIT = 300  # reminders shown; MAX_PENDING_PER_SENDER is 100 by default
RECENT_WINDOW = timedelta(days=7)
RECENT_LIMIT = 100
MAX_WHEN_LENGTH = 200
# Snoozes the page offers: a later time for an upcoming one-off, "again in ..." for one already sent.
SNOOZES = {"10m": ("10 minutes", timedelta(minutes=10)), "1h": ("1 hour", timedelta(hours=1)),
           "1d": ("1 day", timedelta(days=1))}

_R = Reminder.__table__.c
_SHOWN = (_R.id, _R.text, _R.send_at, _R.zone, _R.recurrence, _R.series_anchor, _R.owner, _R.recipient, _R.source,
          _R.status, _R.delivery_status, _R.error, _R.sent_at)


def _visible_to(number: str):  # type: ignore[no-untyped-def]
    # As "list" by SMS: the reminders a number set and those addressed to it.
    return and_(_R.kind == Kind.REMINDER, or_(_R.owner == number, _R.recipient == number))


@dataclass(frozen=True)
class Upcoming:
    """A pending reminder as the page lists it (times in the person's zone)."""

    id: str
    text: str
    send_at: datetime
    time: str  # "9:00 AM"
    rule: str | None  # "every day", for a series
    direction: str  # "", "to +1 646-555-0199", "from +1 212-555-0147"
    changeable: bool  # the person set it: they may edit its text and time (a recipient may delete and snooze)


@dataclass(frozen=True)
class Day:
    """The upcoming reminders of one day in the person's zone."""

    label: str  # "Today", "Tomorrow", "Fri Dec 4"
    items: tuple[Upcoming, ...]


@dataclass(frozen=True)
class Sent:
    """A reminder sent (or failed) in the last seven days, and how it fared."""

    id: str
    text: str
    when: str
    direction: str
    state: str  # "delivered", "failed: they opted out", ...
    failed: bool


@dataclass(frozen=True)
class PageView:
    """Everything the reminders page shows."""

    zone: str
    days: tuple[Day, ...]
    total: int  # pending reminders, of which at most UPCOMING_LIMIT are in ``days``
    recent: tuple[Sent, ...]
    has_feed: bool


@dataclass(frozen=True)
class Detail:
    """One reminder with what may be done to it."""

    item: Upcoming | None  # None once it is no longer pending
    id: str
    text: str
    status: str
    when: str  # its (next) time, with the rule
    changeable: bool  # edit text and time: scheduled, and the person set it
    snoozable: bool


@dataclass(frozen=True)
class Reading:
    """How a typed time (and text) was read: the Remind to save, or what was wrong."""

    remind: Remind | None
    preview: str  # "Tue Nov 24 at 9:00 AM EST, then every day" or the problem


@dataclass(frozen=True)
class Outcome:
    """What an action did: ``ok``, and what the page says about it."""

    ok: bool
    message: str


def _direction(owner: str | None, recipient: str, number: str) -> str:
    if owner == number and recipient != number:
        return f"to {format_number(recipient)}"
    if owner != number:
        return f"from {format_number(owner)}" if owner else "scheduled for you"
    return ""


def _clock(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M %p}"


def _day_label(day: date, today: date) -> str:
    if day == today:
        return "Today"
    if day == today + timedelta(days=1):
        return "Tomorrow"
    return f"{day:%a %b} {day.day}" + (f", {day.year}" if day.year != today.year else "")


def _upcoming(row, number: str, zone: ZoneInfo) -> Upcoming:  # type: ignore[no-untyped-def]
    local = as_utc(row.send_at).astimezone(zone)
    rule = describe_rule(row.recurrence, row.series_anchor) if row.recurrence else None
    return Upcoming(row.id, row.text, local, f"{_clock(local)} {local.tzname()}", rule,
                    _direction(row.owner, row.recipient, number), row.owner == number)


def group_by_day(items: list[Upcoming], now: datetime, zone: str) -> tuple[Day, ...]:
    """Group upcoming reminders (soonest first) by their day in ``zone``."""
    today = now.astimezone(ZoneInfo(zone)).date()
    days: dict[date, list[Upcoming]] = {}
    for item in items:
        days.setdefault(item.send_at.date(), []).append(item)
    return tuple(Day(_day_label(day, today), tuple(grouped)) for day, grouped in days.items())


class PersonalPage:
    """The reminders page's reads and actions, for whichever number is signed in."""

    def __init__(self, session_factory: SessionFactory, settings: Settings, clock: Clock,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.clock = clock
        self.wake = wake  # a change may make something due before the dispatcher's next poll

    # --- what the page shows -------------------------------------------------------------------

    def zone_of(self, session: Session, number: str) -> str:
        """Return the zone the number's times are shown and read in: its own, else its number's, else BOT_TIMEZONE."""
        known = queries.contact_state(session, number)
        return (known.timezone if known else None) or zone_for_number(number, self.settings.bot_timezone)

    def view(self, number: str) -> PageView:
        """Return the page: upcoming reminders by day, the last seven days' sends, whether a feed is on."""
        now = self.clock()
        with self.session_factory() as session:
            zone = self.zone_of(session, number)
            connection = session.connection()
            rows = connection.execute(select(*_SHOWN).where(_visible_to(number), _R.status.in_(PENDING))
                                      .order_by(_R.send_at, _R.id).limit(UPCOMING_LIMIT + 1)).all()
            total = len(rows)
            if total > UPCOMING_LIMIT:
                total = queries.pending_reminders(session, number, 1)[1]
            since = now - RECENT_WINDOW
            recent_rows = connection.execute(select(*_SHOWN).where(
                _visible_to(number), or_(_R.sent_at >= since, and_(_R.status == Status.FAILED, _R.due_at >= since)))
                .order_by(_R.sent_at.desc(), _R.due_at.desc()).limit(RECENT_LIMIT)).all()
            has_feed = web_access.has_feed(session, number)
        tz = ZoneInfo(zone)
        items = [_upcoming(row, number, tz) for row in rows[:UPCOMING_LIMIT]]
        recent = tuple(self._sent(row, number, tz) for row in recent_rows)
        return PageView(zone, group_by_day(items, now, zone), total, recent, has_feed)

    @staticmethod
    def _sent(row, number: str, zone: ZoneInfo) -> Sent:  # type: ignore[no-untyped-def]
        moment = as_utc(row.sent_at or row.send_at).astimezone(zone)
        state = wording.delivery_state(wording.Delivery(row.id, row.recipient, row.status, row.delivery_status,
                                                        row.error))
        failed = row.status == Status.FAILED or row.delivery_status in ("sending_failed", "delivery_failed")
        return Sent(row.id, row.text, f"{moment:%a %b} {moment.day}, {_clock(moment)}",
                    _direction(row.owner, row.recipient, number), state, failed)

    def detail(self, number: str, reminder_id: str) -> Detail | None:
        """Return one of the number's reminders with what may be done to it; None when it is not theirs."""
        with self.session_factory() as session:
            zone = ZoneInfo(self.zone_of(session, number))
            row = session.connection().execute(
                select(*_SHOWN).where(_R.id == reminder_id, _visible_to(number))).first()
        if row is None:
            return None
        pending = row.status in PENDING
        item = _upcoming(row, number, zone) if pending else None
        local = as_utc(row.send_at).astimezone(zone)
        when = wording.format_when(local, zone.key) + (f", {item.rule}" if item and item.rule else "")
        scheduled = row.status == Status.SCHEDULED
        snoozable = row.status in (Status.SCHEDULED, Status.SENT, Status.DELIVERED)
        return Detail(item, row.id, row.text, row.status, when, scheduled and row.owner == number, snoozable)

    # --- reading a time, as SMS does ------------------------------------------------------------

    def read(self, number: str, when: str, text: str, to: str = "") -> Reading:
        """Read ``when`` and ``text`` (and an optional other recipient) with the SMS parser; nothing is saved."""
        with self.session_factory() as session:
            zone = self.zone_of(session, number)
        return self._read(number, when, text, to, self.clock(), zone)

    def _read(self, number: str, when: str, text: str, to: str, now: datetime, zone: str) -> Reading:
        when, text, to = clean_text(when), clean_text(text), clean_text(to)
        to = "" if to.lower() in ("me", "myself") else to
        if not when or len(when) > MAX_WHEN_LENGTH:
            return Reading(None, wording.web_time_problem())
        if not text or len(text) > MAX_TEXT_LENGTH:
            return Reading(None, wording.web_text_problem(MAX_TEXT_LENGTH))
        command = parse(f"remind {to or 'me'} {when}: {text}", now, zone, number)
        return self._reading(command, text, zone)

    @staticmethod
    def _reading(command: Command, text: str | None, zone: str) -> Reading:
        if isinstance(command, Error):
            return Reading(None, command.error)
        if isinstance(command, Ask):  # the parser would ask ("5 AM or 5 PM?"): the page asks for one time
            return Reading(None, wording.web_unclear_time(command.reply))
        # A colon inside the time would have moved words from the text into it (or back): refuse, not guess.
        if not isinstance(command, Remind) or (text is not None and command.text != text):
            return Reading(None, wording.web_not_a_time())
        preview = wording.web_preview(command.send_at, zone, command.recurrence, command.anchor)
        return Reading(command, preview)

    # --- actions -------------------------------------------------------------------------------

    def _handler_context(self, session: Session, number: str, zone: str, now: datetime,
                         contact: queries.ContactState | None = None) -> HandlerContext:
        """The context the SMS command handlers run in, for a page action of ``number``'s."""
        contact = contact or queries.contact_state(session, number) or queries.add_contact(session, number)
        return HandlerContext(session=session, sender=number, contact=contact, zone=zone, now=now,
                              settings=self.settings)

    def add(self, number: str, when: str, text: str, to: str = "") -> Outcome:
        """Set a reminder as the SMS "remind" command would, with its limits and consent rules."""
        now = self.clock()
        with self.session_factory() as session, session.begin():
            contact = queries.contact_state(session, number) or queries.add_contact(session, number)
            if contact.opted_out_at is not None:
                return Outcome(False, wording.web_opted_out())
            zone = self.zone_of(session, number)
            reading = self._read(number, when, text, to, now, zone)
            if reading.remind is None:
                return Outcome(False, reading.preview)
            context = self._handler_context(session, number, zone, now, contact)
            reply = dispatch(reading.remind, context)
        if context.created:
            self.wake()
        return Outcome(bool(context.created), reply)

    def delete(self, number: str, reminder_id: str) -> Outcome | None:
        """Cancel one of the number's scheduled reminders; None when it is not theirs."""
        with self.session_factory() as session, session.begin():
            outcome = lifecycle.cancel(session, reminder_id, self.clock(), number=number)
        if outcome.cancelled:
            return Outcome(True, wording.web_deleted(reminder_id, outcome.text or ""))
        if outcome.status is None:
            return None
        return Outcome(False, wording.not_changeable(reminder_id, outcome.status, "deleted"))

    def change_text(self, number: str, reminder_id: str, text: str) -> Outcome | None:
        """Rewrite the text of a scheduled reminder the number set; None when it did not set it."""
        text = clean_text(text)
        if not text or len(text) > MAX_TEXT_LENGTH:
            return Outcome(False, wording.web_text_problem(MAX_TEXT_LENGTH))
        with self.session_factory() as session, session.begin():
            visible = queries.visible_reminder(session, reminder_id, number)
            if visible is not None:  # the same 10-segment rule as the SMS "edit" command
                context = self._handler_context(session, number, self.zone_of(session, number), self.clock())
                refusal = too_long_refusal(text, visible.recipient, context)
                if refusal is not None:
                    return Outcome(False, refusal)
            outcome = lifecycle.edit_text(session, reminder_id, number, text)
        if outcome.changed:
            return Outcome(True, wording.edited(reminder_id, text))
        if outcome.status is None:
            return None
        return Outcome(False, wording.not_changeable(reminder_id, outcome.status, "edited"))

    def read_new_time(self, number: str, when: str) -> Reading:
        """Read a new time for a reminder, as "remind me <when>" would; nothing is saved."""
        now = self.clock()
        with self.session_factory() as session:
            zone = self.zone_of(session, number)
        when = clean_text(when)
        if not when or len(when) > MAX_WHEN_LENGTH:
            return Reading(None, wording.web_time_problem())
        # A placeholder text keeps the time phrase alone before the colon, as the REST API reads "when".
        return self._reading(parse(f"remind me {when}: x", now, zone, number), "x", zone)

    def change_time(self, number: str, reminder_id: str, when: str) -> Outcome | None:
        """Move a scheduled reminder the number set to a new time (a new rule, if the phrase repeats); None when it did not set it."""
        reading = self.read_new_time(number, when)
        if reading.remind is None:
            return Outcome(False, reading.preview)
        remind = reading.remind
        moment = remind.send_at
        zone = moment.tzinfo.key if isinstance(moment.tzinfo, ZoneInfo) else self.settings.bot_timezone
        with self.session_factory() as session, session.begin():
            shown_zone = self.zone_of(session, number)
            outcome = lifecycle.move(session, reminder_id, number, moment, zone, recurrence=remind.recurrence,
                                     anchor=remind.anchor)
        if not outcome.changed:
            if outcome.status is None:
                return None
            return Outcome(False, wording.not_changeable(reminder_id, outcome.status, "moved"))
        self.wake()
        return Outcome(True, wording.moved(reminder_id, outcome.text or "", moment, shown_zone,
                                           outcome.recurrence, outcome.series_anchor))

    def snooze(self, number: str, reminder_id: str, choice: str) -> Outcome | None:
        """Snooze one of the number's reminders by a SNOOZES choice; None when it is not theirs.

        An upcoming one-off moves that much later; one already sent goes out again that long from
        now. A series keeps its rule: the snooze is a one-off copy that long from now, set as the SMS
        "remind" would be.
        """
        now = self.clock()
        label, delay = SNOOZES[choice]
        with self.session_factory() as session, session.begin():
            row = session.connection().execute(select(_R.status, _R.send_at, _R.recurrence, _R.text, _R.recipient)
                                               .where(_R.id == reminder_id, _visible_to(number))).first()
            if row is None:
                return None
            zone = self.zone_of(session, number)
            postpone = row.status == Status.SCHEDULED and row.recurrence is None
            base = max(now, as_utc(row.send_at)) if postpone else now
            send_at = (base + delay).astimezone(ZoneInfo(zone))
            if row.recurrence is None:
                if not lifecycle.snooze(session, reminder_id, send_at, number=number):
                    return Outcome(False, wording.web_no_snooze(reminder_id))
                reply = wording.snoozed(reminder_id, send_at, zone)
                created = True
            else:
                context = self._handler_context(session, number, zone, now)
                reply = dispatch(Remind(row.recipient, send_at, row.text), context)
                created = bool(context.created)
        if created:
            self.wake()
        return Outcome(created, reply)

    def set_zone(self, number: str, name: str) -> Outcome:
        """Read and show the number's times in a zone (an IANA name or a name "tz" takes), as "tz" does by SMS."""
        zone = find_zone(clean_text(name)[:64]) if clean_text(name) else None
        if zone is None:
            return Outcome(False, wording.web_unknown_zone(name))
        with self.session_factory() as session, session.begin():
            if queries.contact_state(session, number) is None:
                queries.add_contact(session, number)
            queries.update_contact(session, number, timezone=zone)
        return Outcome(True, wording.web_zone_set(zone))

    # --- the calendar feed and signing out ---------------------------------------------------------

    def new_feed(self, number: str) -> str:
        """Make a new private calendar feed token (any earlier one stops working); return it, shown once."""
        with self.session_factory() as session, session.begin():
            return web_access.issue_feed(session, number, self.clock())

    def revoke_feed(self, number: str) -> Outcome:
        """Turn the number's calendar feed off."""
        with self.session_factory() as session, session.begin():
            web_access.revoke_feeds(session, number, self.clock())
        return Outcome(True, wording.web_feed_revoked())

    def calendar(self, feed_token: str, host: str) -> bytes | None:
        """Return the iCalendar of a feed token's upcoming reminders; None when the token was revoked or never was."""
        from bot.calendar_feed import FeedReminder, build_calendar

        with self.session_factory() as session:
            number = web_access.feed_number(session, feed_token)
            if number is None:
                return None
            rows = session.connection().execute(select(*_SHOWN).where(_visible_to(number), _R.status.in_(PENDING))
                                                .order_by(_R.send_at, _R.id).limit(UPCOMING_LIMIT)).all()
        items = [FeedReminder(row.id, row.text, row.send_at, row.zone, row.recurrence, row.series_anchor,
                              _direction(row.owner, row.recipient, number)) for row in rows]
        return build_calendar(items, host, self.clock())

    # --- signing in and out --------------------------------------------------------------------

    def link_usable(self, link_token: str) -> bool:
        """Say whether a texted sign-in link still works, without using it up (a GET, a link preview)."""
        with self.session_factory() as session:
            return web_access.sign_in_is_usable(session, link_token, self.clock())

    def sign_in(self, link_token: str) -> web_access.SignedIn | None:
        """Use a sign-in link once and open a browser session; None when the link was used, expired or ended."""
        with self.session_factory() as session, session.begin():
            return web_access.redeem_sign_in(session, link_token, self.clock(),
                                             timedelta(days=self.settings.web_session_days))

    def signed_in_number(self, session_token: str | None) -> str | None:
        """Return the number a browser session belongs to, or None when there is none or it ended."""
        if not session_token:
            return None
        with self.session_factory() as session:
            return web_access.session_number(session, session_token, self.clock())

    def sign_out(self, session_token: str) -> None:
        """End one browser session."""
        with self.session_factory() as session, session.begin():
            web_access.end_session(session, session_token, self.clock())
