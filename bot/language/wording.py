"""Everything the bot says, in one place, so the voice stays consistent."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Sequence
from zoneinfo import ZoneInfo

from bot.series import anchor_of, describe_rule
from bot.phones import format_number

LIST_LIMIT = 10
LIST_TEXT_WIDTH = 40
RECENT_LIMIT = 3


def format_when(moment: datetime, zone: str) -> str:
    """Render an instant in ``zone`` the way people read it: Tue Nov 24 at 9:00 AM EST."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %b} {local.day} at {local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"


def describe_recipient(recipient: str, sender: str) -> str:
    """Say "you" for the sender, else the number in readable form."""
    return "you" if recipient == sender else format_number(recipient)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def confirmation(reminder_id: str, text: str, recipient: str, sender: str, send_at: datetime,
                 zone: str, recurrence: str | None, anchor: datetime | None = None) -> str:
    """Confirm a new reminder with its id, recipient, local due time and, for a series, how it repeats.

    ``anchor`` is the series' first wall time as asked; without it, send_at's own wall time in
    its zone names the same day (a DST gap moves the time, never the day).
    """
    when = format_when(send_at, zone)
    who = describe_recipient(recipient, sender)
    repeat = ""
    if recurrence:
        series_zone = send_at.tzinfo.key if isinstance(send_at.tzinfo, ZoneInfo) else zone
        repeat = f", then {describe_rule(recurrence, anchor or anchor_of(send_at, series_zone))}"
    return (f'Got it (#{reminder_id}): "{_shorten(text, 60)}" to {who} on {when}{repeat}. '
            f'Reply "cancel {reminder_id}" to cancel.')


def snoozed(reminder_id: str, send_at: datetime, zone: str) -> str:
    return f'Snoozed (#{reminder_id}) until {format_when(send_at, zone)}. Reply "cancel {reminder_id}" to cancel.'


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


def _direction(item: ListedReminder, sender: str) -> str:
    if item.owner == sender and item.recipient != sender:
        return f" (to {format_number(item.recipient)})"
    if item.owner != sender:
        return f" (from {format_number(item.owner)})" if item.owner else " (scheduled for you)"
    return ""


def reminder_list(items: Sequence[ListedReminder], sender: str, zone: str, total: int) -> str:
    """List pending reminders as "#id when: text", soonest first, bounded in length."""
    if not items:
        return 'You have no pending reminders. Try "remind me tomorrow 9am: call mom".'
    lines = [f"Your reminders ({total}):"]
    for item in items[:LIST_LIMIT]:
        lines.append(f"#{item.id} {format_when(item.send_at, zone)}{_direction(item, sender)}: "
                     f"{_shorten(item.text, LIST_TEXT_WIDTH)}")
    if total > LIST_LIMIT:
        lines.append(f"...and {total - LIST_LIMIT} more.")
    return "\n".join(lines)


class Delivery(NamedTuple):
    """How one sent reminder fared, for the list."""

    id: str
    recipient: str
    status: str
    delivery_status: str | None
    error: str | None


def _fate(item: Delivery) -> str:
    if item.status == "failed":
        if item.error == "awaiting_consent":
            return "not sent (no YES from them yet)"
        return "not delivered (the recipient opted out)" if item.error == "opted_out" else "not delivered"
    if item.delivery_status == "accepted_earlier":  # an earlier attempt's answer was lost; it went out
        return "sent"
    return (item.delivery_status or item.status).replace("_", " ")


def recent_deliveries(items: Sequence[Delivery], sender: str) -> str:
    """Say how the sender's reminders of the last day fared (Telnyx's delivery reports)."""
    if not items:
        return ""
    lines = ["", "Last 24h:"]
    for item in items:
        who = "" if item.recipient == sender else f" to {format_number(item.recipient)}"
        lines.append(f"#{item.id}{who}: {_fate(item)}")
    return "\n".join(lines)


def cancelled(reminder_id: str, text: str) -> str:
    return f'Cancelled #{reminder_id}: "{_shorten(text, 60)}".'


def being_sent(reminder_id: str) -> str:
    return f"#{reminder_id} is being sent right now, so it can't be cancelled."


def unknown_reminder(reminder_id: str) -> str:
    return f'I couldn\'t find a pending reminder #{reminder_id} of yours. Text "list" to see them.'


def timezone_set(zone: str, now: datetime) -> str:
    local = now.astimezone(ZoneInfo(zone))
    return f"OK, I'll read your times in {zone} (it's {local.hour % 12 or 12}:{local:%M %p} there now)."


def opted_out() -> str:
    return ("You're unsubscribed and will get no more messages from this number. "
            "Text START to opt back in.")


def opted_in() -> str:
    return "Welcome back! You'll get messages from this number again. Text HELP for how to use it."


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
