"""The help SMS: the grammar in brief, with examples, in two GSM-7 segments at most."""

from __future__ import annotations

# Plain ASCII keeps the message in GSM-7, where two segments hold 306 characters.
# Only STOP is offered as a bare keyword: a bare CANCEL or END is a carrier opt-out.
HELP_TEXT = (
    "Reminder bot. Examples:\n"
    "remind me tomorrow 9am: call mom\n"
    "remind me in 20 min to stretch\n"
    "remind 212-555-0147 fri 5pm: dinner\n"
    "remind me every weekday at 8am: standup\n"
    "Times: in 2h, 9:30pm, noon, fri, dec 3, 3pm PST\n"
    "Also: list, cancel <id>, snooze 30m, tz pacific.\n"
    "Text STOP to opt out."
)
