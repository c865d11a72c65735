"""Segment counting against known figures (3GPP TS 23.038 / 23.040), and the cutting of long bodies."""

from __future__ import annotations

import pytest
import smsutil
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.language.segments import MAX_SEGMENTS, fits, is_gsm7, segment_count, split_message

# (text, segments): GSM-7 holds 160 septets alone and 153 a part; UCS-2 70 units alone and 67 a part.
KNOWN = {
    "empty": ("", 1),
    "gsm 160": ("a" * 160, 1),
    "gsm 161": ("a" * 161, 2),
    "gsm 306": ("a" * 306, 2),
    "gsm 307": ("a" * 307, 3),
    "gsm 1530 (ten parts)": ("a" * 1530, 10),
    "gsm 1531": ("a" * 1531, 11),
    "extension chars take two septets: 80 euros": ("€" * 80, 1),
    "81 euros": ("€" * 81, 2),
    "braces and brackets": ("{}[]~\\|^" * 10, 1),
    "one more brace": ("{}[]~\\|^" * 10 + "{", 2),
    # 152 septets, then an escaped pair that would straddle the 153-septet part: still one SMS (154 <= 160).
    "extension char at the part boundary, single": ("a" * 152 + "€", 1),
    # 159 + 2 = 161 septets: two parts; the euro moves whole into the second part.
    "extension char never split from its escape": ("a" * 159 + "€", 2),
    "accented letters in the GSM table": ("é" * 160, 1),
    "a letter outside it forces UCS-2": ("ç" + "a" * 69, 1),
    "ucs2 71": ("ç" + "a" * 70, 2),
    "ucs2 134": ("ю" * 134, 2),
    "ucs2 135": ("ю" * 135, 3),
    "an emoji is two UTF-16 units": ("😀" * 35, 1),
    "36 emoji": ("😀" * 36, 2),
    "one emoji turns 69 letters into two parts": ("a" * 69 + "😀", 2),
    "curly quote forces UCS-2": ("\u2019" + "a" * 70, 2),
}


@pytest.mark.parametrize("text,segments", list(KNOWN.values()), ids=list(KNOWN))
def test_known_segment_counts(text, segments):
    assert segment_count(text) == segments


@pytest.mark.parametrize("text,gsm", [("Hello {name} €5", True), ("naïve", False), ("ok 👍", False), ("", True)],
                         ids=["extension table", "i-diaeresis is not GSM-7", "emoji", "empty"])
def test_is_gsm7(text, gsm):
    assert is_gsm7(text) is gsm


@pytest.mark.parametrize("text", ["a" * 5000, "word " * 1000, "😀 " * 900, "ю" * 700 + "a" * 2000],
                         ids=["gsm run", "gsm words", "emoji words", "ucs2 then gsm"])
def test_split_message_keeps_every_part_within_the_limit_and_loses_nothing(text):
    parts = split_message(text)
    assert len(parts) > 1
    assert all(fits(part, MAX_SEGMENTS) for part in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_split_message_cuts_at_a_space_near_the_limit():
    parts = split_message(("word " * 1000).strip())
    assert all(part.endswith("word") for part in parts)
    assert len(parts[0]) > 1450  # nearly the whole 1530 septets, not a timid cut


def test_a_body_that_fits_is_one_part_unchanged():
    assert split_message("Reminder: call mom") == ["Reminder: call mom"]


def _parts(units: int, single: int, part: int) -> int:
    return 1 if units <= single else -(-units // part)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_counts_grow_with_the_text_and_match_the_arithmetic(text):
    count = segment_count(text)
    assert segment_count(text + "a") >= count  # the fitting loops rely on this
    if is_gsm7(text):
        septets = len(text) + sum(text.count(char) for char in "\f^{}\\[~]|€")
        exact = _parts(septets, 160, 153)
        # An escaped pair is never split, so it may open one more part; without one the arithmetic is exact.
        assert count == exact if septets == len(text) else exact <= count <= exact + 1
    else:
        units = len(text.encode("utf-16-le", "surrogatepass")) // 2
        exact = _parts(units, 70, 67)
        assert count == exact if units == len(text) else exact <= count <= exact + 1  # surrogate pairs likewise



@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab €{}[]~\\|^\f", min_size=70, max_size=170))
def test_the_short_cut_for_one_segment_agrees_with_smsutil(text):
    """Around one segment's 160 septets, with extension characters: the quick count says what smsutil says."""
    assert segment_count(text) == len(smsutil.split(text).parts)


# --- every fixed reply within its budget, and none suggesting an opt-out word ------------------

def _fixed_replies() -> dict[str, tuple[str, int]]:
    """Every reply the bot words itself, with typical values, and its budget in segments."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bot.language import wording
    from bot.language.grammar import not_understood
    from bot.language.help_text import HELP_TEXT

    rid, other, me = "k3x9qa", "+16465550199", "+12125550147"
    zone = "America/New_York"
    at = datetime(2026, 12, 4, 17, 0, tzinfo=ZoneInfo(zone))
    dawn = datetime(2026, 12, 2, 5, 0, tzinfo=ZoneInfo(zone))
    listed = [wording.ListedReminder(f"id{n:04d}", at, f"errand number {n} with a longer description", me, me, "sms",
                                     "FREQ=DAILY" if n == 2 else None) for n in range(5)]
    recent = [wording.Delivery(f"rc{n:04d}", me, "sent", state, None, f"sent text {n}")
              for n, state in enumerate(("delivered", "queued", "delivery_failed"))]
    emoji_list = [item._replace(text="birthday cake 🎂 for the office") if n == 1 else item
                  for n, item in enumerate(listed)]
    emoji_first = [item._replace(text="🎂 birthday cake for the office") if n == 1 else item
                   for n, item in enumerate(listed)]
    one, two, list_ = wording.CONFIRMATION_SEGMENTS, wording.REPLY_SEGMENTS, wording.LIST_SEGMENTS
    return {
        "confirmation": (wording.confirmation(rid, "call mom", me, me, at, zone, None), one),
        "confirmation, long text": (wording.confirmation(rid, "x" * 200, me, me, at, zone, None), one),
        "confirmation, emoji": (wording.confirmation(rid, "🎂 cake for the office party tonight", me, me, at, zone,
                                                     None), one),
        "confirmation, series": (wording.confirmation(rid, "standup", me, me, at, zone,
                                                      "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"), one),
        "confirmation, someone else": (wording.confirmation(rid, "dinner?", other, me, at, zone, None), one),
        "consent pending (after a confirmation)": (wording.confirmation(rid, "dinner?", other, me, at, zone, None)
                                                   + wording.consent_pending(other, newly_asked=True), two),
        "snoozed": (wording.snoozed(rid, at, zone), one),
        "moved": (wording.moved(rid, "call mom", at, zone, None), one),
        "moved, series": (wording.moved(rid, "standup", at, zone, "FREQ=DAILY"), one),
        "edited": (wording.edited(rid, "call dad about the weekend plans"), one),
        "cancelled": (wording.cancelled(rid, "call mom"), one),
        "done": (wording.marked_done(rid, "take pills", repeats=False), one),
        "done, series": (wording.marked_done(rid, "take pills", repeats=True), one),
        "nothing to mark done": (wording.nothing_to_mark_done(), one),
        "not sent yet": (wording.not_sent_yet(rid), one),
        "not changeable": (wording.not_changeable(rid, "sent", "moved"), one),
        "being sent": (wording.being_sent(rid), one),
        "unknown reminder": (wording.unknown_reminder(rid), one),
        "nothing to snooze": (wording.nothing_to_snooze(), one),
        "delete all question": (wording.delete_all_question(7), one),
        "nothing to delete": (wording.nothing_to_delete(), one),
        "deleted all": (wording.deleted_all(7), one),
        "nothing deleted": (wording.nothing_deleted(), one),
        "question expired": (wording.question_expired(), one),
        "which time": (wording.which_time_question(dawn, dawn.replace(hour=17), zone), one),
        "what text": (wording.what_text_question(), one),
        "timezone set": (wording.timezone_set(zone, at), one),
        "opted out": (wording.opted_out(3), one),
        "opted in": (wording.opted_in(), one),
        "opted in, skipped": (wording.opted_in([wording.Skipped(f"sk{n:04d}", "water the plants on the balcony")
                                                for n in range(3)], 5), two),
        "too long to send": (wording.too_long_to_send(12), one),
        "limit reached": (wording.limit_reached("you already have 100 pending reminders", wording.make_room_hint()),
                          one),
        "third party disabled": (wording.third_party_disabled(), one),
        "not allowed": (wording.not_allowed(), one),
        "recipient opted out": (wording.recipient_opted_out(other), one),
        "consent request": (wording.consent_request(me, "Acme Reminders"), one),
        "consent given": (wording.consent_given([me]), one),
        "nothing to agree to": (wording.nothing_to_agree_to(), one),
        "consent given notice": (wording.consent_given_notice(other), one),
        "recipient opted out notice": (wording.recipient_opted_out_notice(other, 2), one),
        "delivery failed": (wording.delivery_failed(rid, other, "opted_out"), one),
        "reminder with hint": (wording.reminder_message(me, me, None, zone, False, "take pills",
                                                        wording.reminder_hint(rid, False)), one),
        "series reminder with hint": (wording.reminder_message(me, me, None, zone, False, "standup",
                                                               wording.reminder_hint(rid, True)), one),
        "not understood": (not_understood("asdf qwerty").error, one),
        "web link (issue 17)": (wording.web_link("https://reminders.example.com/s/3q2x9k7m4p8r1t6v5w0y", 15), one),
        "web not set up (issue 17)": (wording.web_not_set_up(), one),
        "web link limit (issue 17)": (wording.web_link_limit(5), one),
        "web sessions ended (issue 17)": (wording.web_sessions_ended(2), one),
        "help": (HELP_TEXT, two),
        "list, full page": (wording.reminder_list(listed, me, zone, 12, 0, recent).text, list_),
        "list, full page, one emoji": (wording.reminder_list(emoji_list, me, zone, 12, 0, recent).text, list_),
        "list, full page, an emoji it cannot cut": (wording.reminder_list(emoji_first, me, zone, 12, 0, recent).text,
                                                     list_),
        "list, later page": (wording.reminder_list(listed, me, zone, 12, 5).text, list_),
        "list, empty": (wording.reminder_list([], me, zone, 0).text, one),
    }


OPT_OUT_WORDS = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "opt", "optout", "opt-out"}


def test_every_fixed_reply_fits_its_budget_and_the_table_is_printed():
    rows = []
    for name, (reply, budget) in _fixed_replies().items():
        count = segment_count(reply)
        rows.append(f"{name:42} {count:>2} / {budget}  {'GSM-7' if is_gsm7(reply) else 'UCS-2'}  {len(reply):>4} chars")
        assert count <= budget, f"{name} takes {count} segments: {reply!r}"
    print("\nreply                                      segments  encoding  length\n" + "\n".join(rows))


def test_no_reply_suggests_a_command_that_begins_with_an_opt_out_word():
    import re

    for name, (reply, _) in _fixed_replies().items():
        for quoted in re.findall(r'"([^"]+)"', reply):
            assert quoted.split()[0].lower() not in OPT_OUT_WORDS, f"{name} suggests {quoted!r}"
        for word, after in re.findall(r"\b(?:reply|text|send)\s+([A-Za-z-]+)([^.]*\bto opt out)?", reply, re.I):
            # Only STOP, and only as what it is: the way to opt out.
            assert word.lower() not in OPT_OUT_WORDS or (word == "STOP" and after), f"{name}: {reply!r}"


def test_a_late_note_never_pushes_a_reminder_past_ten_segments():
    from datetime import datetime, timezone

    from bot.language import wording

    text = "x" * (1530 - len("Reminder: "))  # exactly ten segments with the plain prefix
    was_due = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)
    body = wording.reminder_message("+12125550147", "+12125550147", was_due, "America/New_York", False, text,
                                    wording.reminder_hint("k3x9", False))
    assert body == "Reminder: " + text  # no late note, and no hint: neither fits
    short = wording.reminder_message("+12125550147", "+12125550147", was_due, "America/New_York", False, "pills")
    assert short.startswith("Reminder (late, was due Tue Dec 1 at 9:00 AM EST): pills")
