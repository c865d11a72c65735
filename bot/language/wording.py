"""Everything the bot says, in one place, so the voice stays consistent."""

from __future__ import annotations

from datetime import datetime
from typing import Callable, NamedTuple, Sequence
from zoneinfo import ZoneInfo

from bot.language.segments import MAX_SEGMENTS, fits, is_gsm7, segment_count
from bot.series import anchor_of, describe_rule, rule_parts
from bot.phones import format_number

LIST_PAGE_SIZE = 5  # reminders a "list" or "more" shows at most
LIST_TEXT_WIDTHS = (40, 24, 12)  # a reminder's text is cut to these, in turn, until the page fits
LIST_SEGMENTS = 4
RECENT_LIMIT = 4  # the last day's sends a list shows, newest first
CONFIRMATION_SEGMENTS = 1
REPLY_SEGMENTS = 2  # a longer answer (the help, START's list of skipped reminders)
QUOTE_WIDTH = 60  # the most of a reminder's text a confirmation quotes


def format_when(moment: datetime, zone: str) -> str:
    """Render an instant in ``zone`` the way people read it: Tue Nov 24 at 9:00 AM EST."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %b} {local.day} at {local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"


def describe_recipient(recipient: str, sender: str) -> str:
    """Say "you" for the sender, else the number in readable form."""
    return "you" if recipient == sender else format_number(recipient)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def fit_quote(build: Callable[[str], str], text: str, segments: int = CONFIRMATION_SEGMENTS,
              width: int = QUOTE_WIDTH) -> str:
    """Return ``build(quote)`` with the longest quote of ``text`` (up to ``width``) that keeps it in ``segments``.

    The quoted text is what gives: the id, the time and how to undo it always stay whole. When even
    a short quote needs UCS-2 (an emoji), the quote leaves out what GSM-7 cannot say, so one
    emoji does not double the reply. A reply that cannot fit at all keeps the shortest quote.
    """
    def quote(quoted: str, shown: int) -> str:
        return build(_shorten(quoted, shown) if shown < len(quoted) else quoted)

    plain = " ".join("".join(char for char in text if is_gsm7(char)).split())
    for quoted in (text, plain) if plain and plain != text else (text,):
        low, high = 8, min(len(quoted), width)
        if high < low or not fits(quote(quoted, low), segments):
            continue
        while low < high:  # the longest quote that fits: a reply only grows with its quote
            middle = (low + high + 1) // 2
            low, high = (middle, high) if fits(quote(quoted, middle), segments) else (low, middle - 1)
        return quote(quoted, low)
    return quote(text, 8)


def _repeats(recurrence: str | None, send_at: datetime, zone: str, anchor: datetime | None) -> str:
    if not recurrence:
        return ""
    series_zone = send_at.tzinfo.key if isinstance(send_at.tzinfo, ZoneInfo) else zone
    return f", then {describe_rule(recurrence, anchor or anchor_of(send_at, series_zone))}"


def delete_hint(reminder_id: str) -> str:
    """Say how to cancel: "delete", never "cancel", since a bare CANCEL is a carrier opt-out."""
    return f'Reply "delete {reminder_id}" to cancel.'


def confirmation(reminder_id: str, text: str, recipient: str, sender: str, send_at: datetime,
                 zone: str, recurrence: str | None, anchor: datetime | None = None) -> str:
    """Confirm a new reminder with its id, recipient, local due time and, for a series, how it repeats.

    ``anchor`` is the series' first wall time as asked; without it, send_at's own wall time in
    its zone names the same day (a DST gap moves the time, never the day). One segment where the
    text allows: the quoted text is cut first.
    """
    when = format_when(send_at, zone)
    who = describe_recipient(recipient, sender)
    repeat = _repeats(recurrence, send_at, zone, anchor)
    return fit_quote(lambda quote: f'Got it (#{reminder_id}): "{quote}" to {who} on {when}{repeat}. '
                                   f'{delete_hint(reminder_id)}', text)


def snoozed(reminder_id: str, send_at: datetime, zone: str) -> str:
    return f'Snoozed (#{reminder_id}) until {format_when(send_at, zone)}. {delete_hint(reminder_id)}'


def nothing_to_snooze() -> str:
    return "There's no recent reminder to snooze. Text \"list\" to see your reminders."


class ListedReminder(NamedTuple):
    """What the list shows of one reminder."""

    id: str
    send_at: datetime
    text: str
    owner: str | None
    recipient: str
    source: str
    recurrence: str | None = None


def _direction(item: ListedReminder, sender: str) -> str:
    if item.owner == sender and item.recipient != sender:
        return f" (to {format_number(item.recipient)})"
    if item.owner != sender:
        return f" (from {format_number(item.owner)})" if item.owner else " (scheduled for you)"
    return ""


_WEEKDAYS = "MO,TU,WE,TH,FR"
_REPEAT_NOTE_WIDTH = 24


def repeat_note(recurrence: str | None) -> str:
    """Mark a repeating reminder in a list, in plain GSM-7 words: " (every day)", " (every Mon)", " (repeats)"."""
    if not recurrence:
        return ""
    try:
        parts = {name: value for name, value in rule_parts(recurrence).items() if name not in ("COUNT", "UNTIL")}
    except ValueError:
        return " (repeats)"
    if parts.get("FREQ") == "WEEKLY" and parts.get("BYDAY") == _WEEKDAYS and parts.get("INTERVAL", "1") == "1":
        return " (every weekday)"
    words = describe_rule(";".join(f"{name}={value}" for name, value in parts.items()))
    return f" ({words})" if len(words) <= _REPEAT_NOTE_WIDTH and not words.startswith("repeating") else " (repeats)"


def _list_when(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %b} {local.day} {local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"


class Delivery(NamedTuple):
    """How one sent reminder fared, for the list."""

    id: str
    recipient: str
    status: str
    delivery_status: str | None
    error: str | None
    text: str = ""
    done: bool = False  # the recipient said "done" after it arrived


_FAILURE_REASONS = {"opted_out": "they opted out", "awaiting_consent": "no YES from them yet",
                    "delivery sending_failed": "the carrier refused it",
                    "delivery delivery_failed": "the carrier could not deliver it"}


def _fate(item: Delivery) -> str:
    if item.done:
        return "done"
    if item.status == "failed" or item.delivery_status in ("sending_failed", "delivery_failed"):
        error = item.error or f"delivery {item.delivery_status}"  # a series keeps only the report
        return f"failed: {_FAILURE_REASONS.get(error, _shorten(error, 30))}"
    if item.delivery_status == "delivered" or item.status == "delivered":
        return "delivered"
    if item.delivery_status == "delivery_unconfirmed":
        return "sent, delivery unconfirmed"
    return "sent, not yet confirmed"  # queued, sending, sent, or accepted by an earlier attempt


def recent_deliveries(items: Sequence[Delivery], sender: str, width: int = 16) -> str:
    """Say how the sender's reminders of the last day fared (delivery reports, and "done")."""
    if not items:
        return ""
    lines = ["", "Last 24h:"]
    for item in items:
        who = "" if item.recipient == sender else f" to {format_number(item.recipient)}"
        what = f" {_shorten(item.text, width)}" if item.text and width else ""
        lines.append(f"#{item.id}{what}{who}: {_fate(item)}")
    return "\n".join(lines)


class ListPage(NamedTuple):
    """One page of the list as sent, and how many reminders it shows."""

    text: str
    shown: int


def _page_text(items: Sequence[ListedReminder], sender: str, zone: str, total: int, offset: int, width: int,
               recent: str) -> str:
    if offset == 0:
        lines = [f"Your reminders ({total}):"]
    else:
        lines = [f"Your reminders {offset + 1}-{offset + len(items)} of {total}:"]
    for item in items:
        lines.append(f"#{item.id} {_list_when(item.send_at, zone)}{repeat_note(item.recurrence)}"
                     f"{_direction(item, sender)}: {_shorten(item.text, width)}")
    left = total - offset - len(items)
    if left > 0:
        lines.append(f'Reply "more" for {left} more.')
    return "\n".join(lines) + recent


def reminder_list(items: Sequence[ListedReminder], sender: str, zone: str, total: int, offset: int = 0,
                  recent: Sequence[Delivery] = (), segments: int = LIST_SEGMENTS) -> ListPage:
    """List one page of pending reminders ("#id when: text", soonest first) within ``segments``.

    The last day's sends follow on the first page. Longer texts are cut, then fewer reminders
    shown ("more" shows the rest), until the page fits: one emoji in a text makes the whole SMS
    UCS-2, where a segment holds 67 characters instead of 153.
    """
    if not items:
        if offset > 0:
            return ListPage('That\'s the whole list. Text "list" to see it again.', 0)
        empty = 'You have no pending reminders. Try "remind me tomorrow 9am: call mom".'
        return ListPage(empty + recent_deliveries(recent, sender), 0)
    items = items[:LIST_PAGE_SIZE]
    # The last day's sends in full, then without their texts; left out only when one reminder alone does not fit.
    recent_texts = [recent_deliveries(recent, sender), recent_deliveries(recent, sender, width=0)]
    for count in range(len(items), 0, -1):
        for width in LIST_TEXT_WIDTHS:
            for recent_text in recent_texts:
                page = _page_text(items[:count], sender, zone, total, offset, width, recent_text)
                if fits(page, segments):
                    return ListPage(page, count)
    return ListPage(_page_text(items[:1], sender, zone, total, offset, 8, ""), 1)


def cancelled(reminder_id: str, text: str) -> str:
    return fit_quote(lambda quote: f'Cancelled #{reminder_id}: "{quote}".', text)


def being_sent(reminder_id: str, change: str = "cancelled") -> str:
    return f"#{reminder_id} is being sent right now, so it can't be {change}."


def unknown_reminder(reminder_id: str) -> str:
    return f'I couldn\'t find a pending reminder #{reminder_id} of yours. Text "list" to see them.'


def timezone_set(zone: str, now: datetime) -> str:
    local = now.astimezone(ZoneInfo(zone))
    return f"OK, I'll read your times in {zone} (it's {local.hour % 12 or 12}:{local:%M %p} there now)."


def opted_out(pending: int = 0) -> str:
    """Confirm an opt-out, saying how many reminders to this number will now not be sent."""
    if pending == 0:
        lost = ""
    elif pending == 1:
        lost = "1 pending reminder to you won't be sent. "
    else:
        lost = f"{pending} pending reminders to you won't be sent. "
    return f"You're unsubscribed and will get no more messages from this number. {lost}Text START to resume."


class Skipped(NamedTuple):
    """A reminder that was not sent while its recipient had opted out."""

    id: str
    text: str


SKIPPED_SHOWN = 3


def opted_in(skipped: Sequence[Skipped] = (), count: int = 0) -> str:
    """Welcome a number back, naming the reminders (the first few of ``count``) skipped while it was opted out."""
    welcome = "Welcome back! You'll get messages from this number again."
    if not count:
        return f"{welcome} Text HELP for how to use it."

    def build(width: int) -> str:
        names = ", ".join(f'#{item.id} "{_shorten(item.text, width)}"' for item in skipped[:SKIPPED_SHOWN])
        more = f" and {count - len(skipped[:SKIPPED_SHOWN])} more" if count > len(skipped[:SKIPPED_SHOWN]) else ""
        what = "1 reminder was" if count == 1 else f"{count} reminders were"
        return f"{welcome} While you were unsubscribed, {what} not sent: {names}{more}."

    for width in (30, 20, 12, 8):
        if fits(build(width), REPLY_SEGMENTS):
            return build(width)
    return build(8)


def reminder_prefix(owner: str | None, recipient: str, late_since: datetime | None, zone: str,
                    introduce: bool) -> str:
    """Say what the message is: a reminder, from whom, whether it is late, how to opt out.

    The reminder text itself is never altered; everything the bot adds goes here.
    """
    if owner and owner != recipient:
        prefix = f"Reminder from {format_number(owner)}"
    else:
        prefix = "Reminder"
    notes = []
    if late_since is not None:
        notes.append(f"late, was due {format_when(late_since, zone)}")
    if introduce:
        notes.append("set via a reminder service; text STOP to opt out")
    if notes:
        prefix += " (" + "; ".join(notes) + ")"
    return prefix + ": "


def api_prefix(introduce: bool, brand: str | None = None) -> str:
    """Label a message scheduled over the API: who sends it (BRAND_NAME) and, the first time, how to stop them.

    The text itself goes out as written.
    """
    if introduce:
        return f"({brand}: automated message. Reply STOP to opt out.) " if brand else \
            "(Automated message. Reply STOP to opt out.) "
    return f"{brand}: " if brand else ""


def delivery_failed(reminder_id: str, recipient: str, reason: str) -> str:
    if reason == "awaiting_consent":
        number = format_number(recipient)
        return f"Sorry, your reminder #{reminder_id} to {number} was not sent: {number} has not replied YES yet."
    readable = "the recipient has opted out" if reason == "opted_out" else reason
    return (f"Sorry, your reminder #{reminder_id} to {format_number(recipient)} could not be delivered "
            f"({readable}).")


def limit_reached(what: str, hint: str = "Try again later.") -> str:
    return f"Sorry, {what}. {hint}"


def make_room_hint() -> str:
    return 'Text "list" to see them and "delete <id>" to make room.'


def third_party_disabled() -> str:
    return 'This bot only sends reminders to you. Try "remind me tomorrow 9am: call mom".'


def not_allowed() -> str:
    return "Sorry, this reminder service is private and isn't available to your number."


# --- Consent: opt-outs known at set time, the recipient's YES --------------------------

def recipient_opted_out(recipient: str) -> str:
    """Refuse a reminder for a number that opted out."""
    return (f"Sorry, {format_number(recipient)} has opted out of messages from this number, "
            "so I can't send them reminders.")


def consent_request(sender: str, brand: str | None) -> str:
    """Ask a recipient to agree to a sender's reminders; never quotes a reminder's text."""
    who = f"{brand}: " if brand else ""
    return (f"{who}{format_number(sender)} wants to send you reminders by text from this number. "
            "Reply YES to agree or STOP to opt out.")


def consent_pending(recipient: str, newly_asked: bool) -> str:
    """Tell the sender, after the confirmation, that nothing reaches the recipient before their YES."""
    who = format_number(recipient)
    if newly_asked:
        return f" {who} will be asked first: it is sent only if they reply YES by then."
    return f" {who} was asked to reply YES: it is sent only if they do by then."


def consent_given(senders: Sequence[str]) -> str:
    """Thank a recipient for their YES, naming everyone it applies to."""
    names = [format_number(sender) for sender in senders[:3]]
    more = f" and {len(senders) - 3} more" if len(senders) > 3 else ""
    return (f"Thanks! Reminders from {', '.join(names)}{more} will reach you now. "
            "Text STOP at any time to opt out.")


def nothing_to_agree_to() -> str:
    return "Thanks, but nobody is waiting for your YES right now. Text HELP for how to use this number."


def consent_given_notice(recipient: str) -> str:
    """Tell a sender that the recipient replied YES."""
    return f"{format_number(recipient)} replied YES: your reminders to them will be sent."


def recipient_opted_out_notice(recipient: str, pending: int) -> str:
    """Tell a sender, once, that a recipient of their pending reminders opted out."""
    reminders = "pending reminder" if pending == 1 else f"{pending} pending reminders"
    return (f"{format_number(recipient)} has opted out of messages from this number, so your "
            f"{reminders} to them will not be sent.")


# --- The web page, the calendar feed and the operator console (issue 17) ----------------------

def web_link(url: str, minutes: int) -> str:
    """Text the one-time sign-in link; the link carries no phone number."""
    return f"Your sign-in link for your reminders page (works once, for {minutes} minutes): {url}"


def web_not_set_up() -> str:
    return "Sorry, the web page isn't set up for this number yet. Text \"list\" to see your reminders."


def web_link_limit(per_hour: int) -> str:
    return limit_reached(f"I can text at most {per_hour} sign-in links an hour", "Use the last one, or try later.")


def web_sessions_ended(count: int) -> str:
    """Confirm "web off": every browser signed in with this number is signed out."""
    if count == 0:
        return "No browser was signed in to your reminders page. Text \"web\" for a sign-in link."
    browsers = "1 browser" if count == 1 else f"{count} browsers"
    return f"Done: {browsers} signed out of your reminders page. Text \"web\" for a new link."


def web_preview(send_at: datetime, zone: str, recurrence: str | None, anchor: datetime | None) -> str:
    """Say how a typed time was read, before anything is saved: "Tue Nov 24 at 9:00 AM EST, then every day"."""
    return format_when(send_at, zone) + _repeats(recurrence, send_at, zone, anchor)


def web_deleted(reminder_id: str, text: str) -> str:
    return f'Deleted #{reminder_id}: "{_shorten(text, 60)}".'


def web_text_problem(longest: int) -> str:
    return f"Please write the reminder's text (at most {longest} characters)."


def web_time_problem() -> str:
    return 'Please write when, like "tomorrow 9am", "in 2 hours" or "every monday at 8am".'


def web_not_a_time() -> str:
    return 'Sorry, I couldn\'t read that as a time. Try "tomorrow 9am" or "every monday at 8am".'


def web_unclear_time(question: str) -> str:
    """Pass on a question the SMS parser would ask ("5 AM or 5 PM?"): on the page the person writes it plainly."""
    return f"{question} Please write the time so it can only mean one thing, like \"5pm\"."


def delivery_state(item: Delivery) -> str:
    """Say how one sent reminder fared, in the list's words ("delivered", "failed: they opted out")."""
    return _fate(item)


def web_opted_out() -> str:
    return "You've opted out of messages from this number (STOP), so no reminder can reach you. Text START first."


def web_no_snooze(reminder_id: str) -> str:
    return f"#{reminder_id} can't be snoozed now: it is being sent, failed or was deleted."


def web_zone_set(zone: str) -> str:
    return f"Times are now shown and read in {zone}."


def web_unknown_zone(name: str) -> str:
    return f'Sorry, I don\'t know the time zone "{_shorten(name, 40)}". Try America/New_York or "pacific".'


def web_feed_revoked() -> str:
    return "Your calendar link is turned off; calendars subscribed to it will stop updating."


def web_form_expired() -> str:
    return "This form has expired or didn't come from this site. Go back, reload the page and try again."


def web_signed_out() -> str:
    return "You're signed out. Text \"web\" for a new sign-in link."


def web_link_unusable() -> str:
    """Explain a sign-in link that was used, expired or ended: the fix is a new one, not a retry."""
    return ("This sign-in link can't be used: each link works once, for 15 minutes. "
            "Text \"web\" to get a new one.")


def admin_retried(reminder_id: str) -> str:
    return f"#{reminder_id} is scheduled to be sent again now."


def admin_not_retried(reminder_id: str) -> str:
    return f"#{reminder_id} is not a failed reminder, so there is nothing to retry."


# --- Conversation (issue 14): managing reminders, questions, the reminder's own hint --------

def reminder_hint(reminder_id: str, repeats: bool) -> str:
    """The end of a reminder SMS: how to answer it. "delete", since a bare CANCEL is a carrier opt-out."""
    # On a line of its own, so it never reads as part of the reminder's text.
    return f'\nReply "delete {reminder_id}" to stop.' if repeats else '\nReply "snooze 10" or "done".'


def with_hint(body: str, hint: str) -> str:
    """Add ``hint`` to ``body`` only when the message still takes no more segments than ``body`` alone."""
    return body + hint if segment_count(body + hint) <= segment_count(body) else body


def reminder_message(owner: str | None, recipient: str, late_since: datetime | None, zone: str, introduce: bool,
                     text: str, hint: str = "") -> str:
    """Compose a reminder SMS: the prefix, the text as written, and ``hint`` when it costs no extra segment.

    The late note is left out when it alone would push the message past MAX_SEGMENTS, the most
    a reminder was allowed when it was set.
    """
    body = reminder_prefix(owner, recipient, late_since, zone, introduce) + text
    if late_since is not None and not fits(body, MAX_SEGMENTS):
        body = reminder_prefix(owner, recipient, None, zone, introduce) + text
    return with_hint(body, hint)


def too_long_to_send(segments: int) -> str:
    """Refuse, at set time, a reminder that would take more than MAX_SEGMENTS text messages to deliver."""
    return (f"Sorry, that reminder is too long to send: it would take {segments} texts and the most is "
            f"{MAX_SEGMENTS}. Please shorten it (an emoji halves what a text holds).")


def moved(reminder_id: str, text: str, send_at: datetime, zone: str, recurrence: str | None,
          anchor: datetime | None = None) -> str:
    """Confirm a move with the reminder's new time (and rule), in one segment where the text allows."""
    when = format_when(send_at, zone)
    repeat = _repeats(recurrence, send_at, zone, anchor)
    return fit_quote(lambda quote: f'Moved #{reminder_id} "{quote}" to {when}{repeat}.', text)


def edited(reminder_id: str, text: str) -> str:
    """Confirm new text for a reminder."""
    return fit_quote(lambda quote: f'Changed #{reminder_id} to "{quote}".', text)


def not_changeable(reminder_id: str, status: str, change: str) -> str:
    """Say why a reminder that is no longer scheduled cannot be moved or edited."""
    if status == "sending":
        return being_sent(reminder_id, change)
    what = {"cancelled": "was deleted", "failed": "could not be sent"}.get(status, "was already sent")
    return f"#{reminder_id} {what}, so it can't be {change}. Text \"list\" to see your reminders."


def marked_done(reminder_id: str, text: str, repeats: bool) -> str:
    """Confirm "done"; for a series, say that it goes on and how to end it."""
    if repeats:
        return fit_quote(lambda quote: f'Done: "{quote}" (#{reminder_id}). It repeats as set; '
                                       f'reply "delete {reminder_id}" to end it.', text)
    return fit_quote(lambda quote: f'Done: "{quote}" (#{reminder_id}).', text)


def nothing_to_mark_done() -> str:
    return "There's no recent reminder to mark done. Text \"list\" to see your reminders."


def not_sent_yet(reminder_id: str) -> str:
    return f'#{reminder_id} hasn\'t been sent yet. Reply "delete {reminder_id}" if you no longer need it.'


def delete_all_question(count: int) -> str:
    """Ask before deleting every pending reminder, with how many there are."""
    if count == 1:
        return "Delete your 1 pending reminder? Reply yes to confirm."
    return f"Delete all {count} of your pending reminders? Reply yes to confirm."


def nothing_to_delete() -> str:
    return "You have no pending reminders to delete."


def deleted_all(count: int) -> str:
    """Confirm "delete all" with how many reminders it deleted."""
    if count == 0:
        return "You had no pending reminders left to delete."
    if count == 1:
        return "Deleted your 1 pending reminder."
    return f"Deleted all {count} of your pending reminders."


def nothing_deleted() -> str:
    """Answer a "no" to the delete-all question."""
    return "OK, nothing deleted."


def question_expired(delete_all: bool = False) -> str:
    """Answer a reply to a question asked too long ago."""
    if delete_all:
        return 'Sorry, I stopped waiting for that answer, so nothing was deleted. Send "delete all" again if you want.'
    return ('Sorry, I stopped waiting for that answer. Please send the reminder again, like '
            '"remind me tomorrow 9am: call mom".')


def which_time_question(first: datetime, second: datetime, zone: str) -> str:
    """Ask which reading of a bare hour was meant: 'Did you mean 5:00 AM or 5:00 PM (Tue Dec 1)? Reply "am" or "pm".'"""
    one, other = first.astimezone(ZoneInfo(zone)), second.astimezone(ZoneInfo(zone))

    def clock(local: datetime) -> str:
        return f"{local.hour % 12 or 12}:{local:%M %p}"

    day = f"{one:%a %b} {one.day}"
    if one.date() != other.date():
        return (f"Did you mean {clock(one)} ({day}) or {clock(other)} ({other:%a %b} {other.day})? "
                'Reply "am" or "pm".')
    return f'Did you mean {clock(one)} or {clock(other)} ({day})? Reply "am" or "pm".'


def which_one_question(times: Sequence[datetime], zone: str) -> str:
    """Ask which of a message's readings was meant, by number: 'Did you mean 1) Thu Jun 11 at 5:00 PM or 2) ...?'."""
    shown = []
    for number, moment in enumerate(times, start=1):
        local = moment.astimezone(ZoneInfo(zone))
        shown.append(f"{number}) {local:%a %b} {local.day} at {local.hour % 12 or 12}:{local:%M %p}")
    choices = ", ".join(f'"{number}"' for number in range(1, len(times)))
    return f"Did you mean {', '.join(shown[:-1])} or {shown[-1]}? Reply {choices} or \"{len(times)}\"."


def what_text_question() -> str:
    """Ask for the text of a reminder whose time was given without one."""
    return "What should the reminder say?"


def _day_names(days: Sequence[datetime]) -> str:
    names = [f"{day:%a %b} {day.day}" for day in days]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def date_example(moment: datetime) -> str:
    """Write an instant (in its own zone) as a sender would type it back: "dec 4 at 3pm", "jun 11 at 3:12am"."""
    minutes = f":{moment:%M}" if moment.minute else ""
    return f"{moment:%b}".lower() + f" {moment.day} at {moment.hour % 12 or 12}{minutes}{moment:%p}".lower()


def which_day_question(days: Sequence[datetime], example: datetime) -> str:
    """Ask which day a phrase meant: 'Did you mean Fri Dec 4 or Fri Dec 11? Reply with the date, like ...'."""
    return f'Did you mean {_day_names(days)}? Reply with the date, like "{date_example(example)}".'


def unclear_day(fragment: str, days: Sequence[datetime], example: datetime) -> str:
    """Refuse a phrase that names two days where no question can follow (snooze, move, the API)."""
    return (f'Sorry, "{fragment}" could be {_day_names(days)}. '
            f'Please say the date and time, like "{date_example(example)}".')


def unclear_when(times: Sequence[datetime], zone: str) -> str:
    """Say what an API "when" could mean: 'ambiguous time: 5:00 AM or 5:00 PM (Tue Dec 1)? Give am/pm or ...'."""
    local = [moment.astimezone(ZoneInfo(zone)) for moment in times]

    def clock(moment: datetime) -> str:
        return f"{moment.hour % 12 or 12}:{moment:%M %p}"

    first, last = local[0], local[-1]
    if len(local) == 2 and first.date() == last.date() and (first.hour < 12) != (last.hour < 12):
        return (f"ambiguous time: {clock(first)} or {clock(last)} ({first:%a %b} {first.day})? "
                "Give am/pm or a 24-hour time.")
    shown = [f"{moment:%a %b} {moment.day} at {clock(moment)}" for moment in local]
    example = next((moment for moment in local if moment.hour >= 7), first)
    return (f"ambiguous time: {', '.join(shown[:-1])} or {shown[-1]}? "
            f'Give the date and the time, like "{date_example(example)}".')


def unclear_time(fragment: str) -> str:
    """Refuse a phrase with several readings and no single instant each ("every friday at midnight")."""
    if "midnight" in fragment.lower():
        return (f'Sorry, "{fragment}" could be the start or the end of that day. '
                'Please say "11:59pm" on that day or "12am" on the next.')
    return f'Sorry, "{fragment}" could mean more than one time. Please say the exact day and time.'


def handling_failed() -> str:
    """Tell a sender that their message was given up on after every try failed (bot.conversation.inbox)."""
    return "Sorry, something went wrong and I couldn't handle your last message. Please send it again in a few minutes."
