"""Turn an inbound SMS into a Command: ``parse(text, now, zone, sender)``.

Pure: no I/O, no clock, no environment. Keywords are matched on a cleaned,
lowercased copy; the reminder text keeps its case. Time phrases are read by
bot.language.when and bot.language.repeats; dateparser is only a fallback for explicit
when-phrases our rules do not cover.
"""

from __future__ import annotations

import logging
import re
import traceback
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.language.commands import (MAX_TEXT_LENGTH, Cancel, Command, Error, Help, ListReminders, Remind,
                          SetTimezone, Snooze, Start, Stop, Yes)
from bot.phones import normalize_number
from bot.language.repeats import is_recurring, read_schedule
from bot.language.when import (Reading, TimeProblem, add_elapsed, ceil_second, find_zone, parse_duration,
                               read_fallback, read_slots)

MAX_INBOUND_LENGTH = 2000
SNOOZE_DEFAULT = timedelta(minutes=10)
EXAMPLE = '"remind me tomorrow 9am: call mom"'

# --- Opt-out and consent words ------------------------------------------------------------------
# Carrier opt-out keywords (CTIA), plus the words the FCC's 2024 TCPA consent-revocation order
# names ("revoke", "opt out"): the whole message, any case, punctuation ignored.
STOP_WORDS = frozenset({"stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke",
                        "opt out", "optout", "opt-out"})
START_WORDS = frozenset({"start", "unstop"})
# The reply to a consent request ("+1 212-555-0147 wants to send you reminders... Reply YES").
YES_WORDS = frozenset({"yes", "y", "yes please", "yep", "yeah", "agree", "i agree", "accept", "i accept"})

# The same order treats any reasonable way of saying "stop texting me" as a revocation. These
# patterns read short messages that are only such a request, matched against the whole message,
# so "remind me to stop at the store" or "stop at the bank at 5" never opt anyone out.
_MAX_OPT_OUT_WORDS = 12
_PLEASE = r"(?:please|pls|plz|kindly)"
_ME = r"(?:me|us|this number|my number|my phone)"
_MESSAGES = (r"(?:(?:these|those|this|your|ur|the|any|all|all the|all these|all your|any more|anymore|more)\s+)?"
             r"(?:messages|message|msgs|texts|text messages|text|txts|sms|reminders|notifications|alerts|spam)")
_REACHING = r"(?:texting|txting|messaging|msging|sending|contacting|spamming|bothering|smsing)"
_LIST = r"(?:this|your|ur|the|that|the mailing|your mailing)\s+(?:list|service|number|database|contacts|thing)"
_OPT_OUT_REQUESTS = (
    rf"(?:stop|quit|cease)\s+{_REACHING}(?:\s+{_ME})?(?:\s+{_MESSAGES})?",  # stop texting me, stop sending me messages
    rf"stop\s+(?:it|{_MESSAGES})",  # stop it, stop these texts
    rf"(?:dont|do not|never)\s+(?:text|txt|message|msg|contact|sms|send)\s+{_ME}(?:\s+{_MESSAGES})?",  # don't text me
    rf"(?:unsubscribe|remove)\s+{_ME}(?:\s+(?:off|from)\s+{_LIST})?",  # unsubscribe me, remove me from this list
    rf"(?:take|delete)\s+{_ME}\s+(?:off|from)\s+{_LIST}",  # take me off your list
    rf"opt\s+{_ME}\s+out",  # opt me out
    (r"(?:i\s+(?:want|wish|would like|need|wanna)\s+to\s+)?"  # i want to opt out (of this list)
     r"(?:opt out|optout|opt-out|unsubscribe|revoke(?:\s+(?:my\s+)?consent)?)"
     r"(?:\s+(?:from|of)\s+(?:this|these|your|ur|the|all)(?:\s+\w+)?)?"),
    rf"i\s+(?:dont|do not|no longer)\s+want\s+{_MESSAGES}",  # i don't want these texts
    rf"no\s+more\s+{_MESSAGES}",  # no more texts
    r"leave\s+me\s+alone",
    r"(?:stop|quit|unsubscribe)",  # please stop, stop please, stop now
    r"cancel\s+(?:my\s+)?subscription",
)
_OPT_OUT_SENTENCE = re.compile(
    rf"(?:{_PLEASE}\s+)?(?:{'|'.join(_OPT_OUT_REQUESTS)})"
    rf"(?:\s+(?:anymore|any more|again|ever again|from now on|now|at all))?(?:\s+{_PLEASE})?"
    r"(?:\s+(?:thanks|thank you|thx|ty))?")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`]")
_NOT_A_WORD = re.compile(r"[^\w\s-]+|(?<!\w)-|-(?!\w)|_")


_MAX_SHORT_MESSAGE = 120  # characters: longer messages are neither an opt-out request nor a YES


def plain_words(text: str) -> str:
    """Lowercase ``text``, drop apostrophes ("don't" is "dont") and punctuation, collapse spaces."""
    return _plain(clean_text(text))


def _plain(cleaned: str) -> str:
    return " ".join(_NOT_A_WORD.sub(" ", _APOSTROPHES.sub("", cleaned.lower())).split())


def is_opt_out(text: str) -> bool:
    """Say whether a whole message asks to stop all messages: a carrier keyword or a short plain request."""
    return _is_opt_out_plain(plain_words(text))


def _is_opt_out_plain(plain: str) -> bool:
    if not plain:
        return False
    if plain in STOP_WORDS:
        return True
    return len(plain.split()) <= _MAX_OPT_OUT_WORDS and _OPT_OUT_SENTENCE.fullmatch(plain) is not None


def is_yes(text: str) -> bool:
    """Say whether a whole message is a YES (to a consent request)."""
    return plain_words(text) in YES_WORDS

HELP_WORDS = frozenset({"help", "?", "info", "commands"})
LIST_WORDS = frozenset({"list", "ls", "reminders", "list reminders", "my reminders"})

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff]")
_ID = re.compile(r"#?\s*([a-z0-9]{4,8})")
_SEPARATOR_COLON = re.compile(r"(?<![0-9]):|:(?![0-9])")  # not the colon inside "9:30"
_PHONE_TOKEN = re.compile(r"[+0-9().\-]+")
_TO_SPLIT = re.compile(r"\s+to\s+", re.IGNORECASE)
_TEXT_START_MARKERS = frozenset({"at", "on", "in", "next", "by", "this", "the", "every"})


def clean_text(text: str) -> str:
    """Replace control characters (newlines too) with a space, drop invisible ones, trim."""
    return _CONTROL.sub(" ", _INVISIBLE.sub("", text)).strip()


def parse(text: str, now: datetime, zone: str, sender: str) -> Command:
    """Read one inbound SMS into a Command; never raises, answers bad input with an Error."""
    try:
        return read_command(text, now, zone, sender)
    except Exception as exc:  # noqa: BLE001 - a polite reply beats a crash; tests call read_command
        # A bug of ours: log where it happened, but nothing of the sender's private text, which an
        # exception's message may quote (dateutil: "Unknown string format: <text>"); hence the
        # type and the frames rather than exc_info. ``internal`` lets the bot count it in its metrics.
        logging.getLogger(__name__).error(
            "could not parse a %d-character message (zone %r): %s\nTraceback (most recent call last):\n%s",
            len(text), zone, type(exc).__qualname__, "".join(traceback.format_tb(exc.__traceback__)).rstrip())
        return Error(f"Sorry, I couldn't read that. Try {EXAMPLE}.", internal=True)


def read_command(text: str, now: datetime, zone: str, sender: str) -> Command:
    """Read one inbound SMS into a Command; may raise on a bug (``parse`` guards it)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=ZoneInfo(zone))
    ZoneInfo(zone)  # fail loudly on a bad zone from the caller
    # Aware datetimes sharing a tzinfo compare by wall time, which is wrong around DST folds
    # and gaps; in UTC, every comparison with ``now`` is between real instants.
    now = now.astimezone(timezone.utc)
    if len(text) > MAX_INBOUND_LENGTH:
        return Error(f"Sorry, that message is too long ({len(text)} characters). "
                     f"Keep commands under {MAX_INBOUND_LENGTH} characters.")
    cleaned = clean_text(text)
    key = " ".join(cleaned.lower().split()).rstrip(".!")
    plain = _plain(cleaned) if len(cleaned) <= _MAX_SHORT_MESSAGE else ""  # only short messages opt out or agree
    if key in STOP_WORDS or _is_opt_out_plain(plain):
        return Stop()
    if key in START_WORDS:
        return Start()
    if plain in YES_WORDS:
        return Yes()
    if key in HELP_WORDS:
        return Help()
    if key in LIST_WORDS:
        return ListReminders()
    if not key:
        return Error(f"Sorry, that message was empty. Try {EXAMPLE}.")
    first, _, rest = key.partition(" ")
    if first in ("cancel", "delete"):
        return read_cancel(rest)
    if first in ("tz", "timezone") or key.startswith("time zone "):
        words = cleaned.split(None, 2 if first == "time" else 1)
        return read_timezone(words[-1] if len(words) > (2 if first == "time" else 1) else "")
    if first == "snooze":
        return read_snooze(cleaned[len("snooze"):].strip(), now, zone, sender)
    if first in ("remind", "reminder"):
        body = cleaned[len(first):].strip().lstrip(":").strip()
        return read_remind(body, now, zone, sender)
    return Error(f'Sorry, I didn\'t understand "{_shorten(cleaned)}". Try {EXAMPLE}, '
                 '"list" or "cancel <id>".')


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def read_cancel(rest: str) -> Command:
    """Read the id after "cancel" or "delete"."""
    match = _ID.fullmatch(rest.strip())
    if match:
        return Cancel(match.group(1))
    if not rest.strip():
        return Error('Which reminder? Reply "cancel <id>" with the id from your list, '
                     'like "cancel 4f7k". Send "list" to see ids.')
    return Error(f'Sorry, "{_shorten(rest.strip())}" isn\'t a reminder id. Ids are 4-8 letters '
                 'and digits, like "cancel 4f7k". Send "list" to see them.')


def read_timezone(rest: str) -> Command:
    """Read the zone after "tz" or "timezone": an IANA name or a common alias."""
    name = rest.strip()
    if not name:
        return Error('Which time zone? Try "tz America/New_York" or "tz pacific".')
    zone = find_zone(name)
    if zone is None:
        return Error(f'Sorry, I don\'t know the time zone "{_shorten(name)}". '
                     'Try "tz America/New_York" or "tz pacific".')
    return SetTimezone(zone)


def read_snooze(rest: str, now: datetime, zone: str, sender: str) -> Command:
    """Read "snooze", "snooze 30m", "snooze for 1 hour" or "snooze until 5pm"."""
    phrase = re.sub(r"^(?:for|until|till|til|to)\s+", "", rest.strip(), flags=re.IGNORECASE)
    if not phrase:
        send_at = add_elapsed(ceil_second(now).astimezone(ZoneInfo(zone)), int(SNOOZE_DEFAULT.total_seconds()))
        return Snooze(send_at)
    duration = parse_duration(phrase)
    if duration is not None:
        if duration.days == 0 and duration.seconds <= 0:
            return Error(f'Sorry, "{_shorten(rest)}" is not a snooze time. Try "snooze 30m".')
        phrase = "in " + phrase
    reading = _read_explicit(phrase, now, zone, sender)
    if isinstance(reading, TimeProblem):
        return Error(describe_problem(reading, 'Try "snooze 30m" or "snooze until 5pm".'))
    if reading.recurrence:
        return Error('Sorry, a snooze can\'t repeat. Try "snooze 30m" or "snooze until 5pm".')
    return Snooze(reading.send_at)


def describe_problem(problem: TimeProblem, hint: str = f"Try {EXAMPLE}.") -> str:
    """Say politely what was wrong with a when-phrase and how to fix it."""
    fragment = _shorten(problem.fragment, 60)
    if problem.kind == "impossible":
        return f'Sorry, "{fragment}" isn\'t a real date or time. {hint}'
    if problem.kind == "past":
        return f'Sorry, "{fragment}" is in the past. Please pick a future time. {hint}'
    if problem.kind == "too_far":
        return f'Sorry, "{fragment}" is more than a year away; I can only remind you up to 365 days ahead.'
    if problem.kind == "too_often":
        return f'Sorry, "{fragment}" is too often; reminders can repeat at most once an hour.'
    if problem.kind == "ends_early":
        return f'Sorry, "{fragment}" ends before its first reminder. Try "every day at 8am until dec 31".'
    if problem.kind == "two_bounds":
        return f'Sorry, in "{fragment}" use only one of "for ...", "until ..." or "N times".'
    if problem.kind == "bad_count":
        return f'Sorry, "{fragment}" isn\'t a number of times. Try "every day at 8am 5 times".'
    return f'Sorry, I couldn\'t read the time "{fragment}". {hint}'


def _day_first(sender: str) -> bool:
    """Say whether "12/11" means 12 November: everywhere except NANP (+1) numbers."""
    return not sender.startswith("+1")


def _read_explicit(phrase: str, now: datetime, zone: str, sender: str) -> Reading:
    """Read a phrase known to be a when-phrase: our rules, then the dateparser fallback."""
    reading = read_schedule(phrase, now, zone, _day_first(sender))
    if isinstance(reading, TimeProblem) and reading.kind == "unreadable" and not is_recurring(phrase):
        fallback = read_fallback(phrase, now, zone, _day_first(sender))
        if fallback is not None:
            return fallback
    return reading


def _split_recipient(body: str, sender: str) -> tuple[str, str] | Error:
    """Split "me ..." or "<number> ..." off the front of a remind command."""
    me = re.match(r"me(?![a-z0-9])", body, re.IGNORECASE)
    if me:
        return sender, body[me.end():].strip()
    if re.match(r"to\s", body, re.IGNORECASE):
        return sender, body  # "remind to call bob at 5": nobody named, so the sender
    tokens = list(re.finditer(r"[^\s:]+", body))
    phone_tokens = []
    for token in tokens:
        if not _PHONE_TOKEN.fullmatch(token.group(0)):
            break
        phone_tokens.append(token)
        if body[token.end():token.end() + 1] == ":":
            break
    if not phone_tokens:
        word = tokens[0].group(0) if tokens else body
        return Error(f'Sorry, I can only remind "me" or a phone number, not "{_shorten(word)}". '
                     f'Try {EXAMPLE} or "remind +12125550147 at 5pm: dinner".')
    # Longest run of number-like tokens that is a phone number; "... 0147 5" keeps the 5 out.
    for count in range(len(phone_tokens), 0, -1):
        candidate = body[: phone_tokens[count - 1].end()]
        number = normalize_number(candidate, sender)
        if number is not None:
            return number, body[phone_tokens[count - 1].end():].strip()
    shown = body[: phone_tokens[-1].end()].strip()
    return Error(f'Sorry, "{_shorten(shown)}" doesn\'t look like a phone number. Use "me" or a full '
                 'number, like "remind +12125550147 at 5pm: dinner".')


def read_remind(body: str, now: datetime, zone: str, sender: str) -> Command:
    """Read the part after "remind": recipient, when-phrase and text, in any of three forms."""
    if not body:
        return Error(f"Sorry, I need a time and a message. Try {EXAMPLE}.")
    split = _split_recipient(body, sender)
    if isinstance(split, Error):
        return split
    recipient, rest = split
    if not rest or rest == ":":
        return Error(f"Sorry, I need a time and a message. Try {EXAMPLE}.")
    colon = _SEPARATOR_COLON.search(rest)
    if colon is not None and not re.match(r"to\s", rest, re.IGNORECASE):
        when_part, text = rest[: colon.start()].strip(), rest[colon.end():].strip()
        if not when_part:
            return Error(f"Sorry, I need a time before the colon. Try {EXAMPLE}.")
        reading = _read_explicit(when_part, now, zone, sender)
        return _build(recipient, reading, text, when_part)
    if re.match(r"to\s", rest, re.IGNORECASE):
        return _read_text_then_when(recipient, rest[2:].strip(), now, zone, sender)
    return _read_when_then_text(recipient, rest, now, zone, sender)


def _read_when_then_text(recipient: str, rest: str, now: datetime, zone: str, sender: str) -> Command:
    """Read "<when> to <text>"; the first " to " whose left side is a time splits them."""
    splits = list(_TO_SPLIT.finditer(rest))
    for split in splits:
        reading = read_schedule(rest[: split.start()], now, zone, _day_first(sender))
        if not (isinstance(reading, TimeProblem) and reading.is_unreadable()):
            return _build(recipient, reading, rest[split.end():], rest[: split.start()])
    if splits:
        when_part = rest[: splits[0].start()]
        reading = _read_explicit(when_part, now, zone, sender)
        return _build(recipient, reading, rest[splits[0].end():], when_part)
    whole = read_schedule(rest, now, zone, _day_first(sender))
    if not (isinstance(whole, TimeProblem) and whole.is_unreadable()):
        return Error(f'Sorry, what should the reminder say? Put it after a colon, like '
                     f'"remind me {_shorten(rest)}: call mom".')
    return Error(f'Sorry, I couldn\'t tell the time from the message in "{_shorten(rest)}". '
                 f'Put a colon after the time, like {EXAMPLE}.')


def _read_text_then_when(recipient: str, body: str, now: datetime, zone: str, sender: str) -> Command:
    """Read "to <text> <when>": the longest ending of the message that is a when-phrase."""
    day_first = _day_first(sender)
    starts = [match.start() for match in re.finditer(r"\S+", body)]
    for start in starts:
        reading = read_schedule(body[start:], now, zone, day_first)
        if isinstance(reading, TimeProblem) and reading.is_unreadable():
            continue
        if start > 0 and _is_lone_number(body[start:]):
            continue  # "to buy 12" is text, not a reminder at 12 o'clock
        return _build(recipient, reading, body[:start].rstrip(" ,;-"), body[start:])
    # Our rules found no time; let dateparser try a few endings that start like a time does.
    tried = 0
    for start in starts[1:]:
        word = body[start:].split(None, 1)[0].lower()
        if word not in _TEXT_START_MARKERS:
            continue
        fallback = read_fallback(body[start:], now, zone, day_first)
        if fallback is not None:
            return _build(recipient, fallback, body[:start], body[start:])
        tried += 1
        if tried == 3:
            break
    return Error(f'Sorry, I couldn\'t find when to send "{_shorten(body)}". '
                 'Try "remind me to call mom tomorrow at 9am".')


def _is_lone_number(phrase: str) -> bool:
    slots = read_slots(phrase, day_first=False)
    return not isinstance(slots, TimeProblem) and slots.is_only_bare_number()


def _build(recipient: str, reading: Reading, text: str, when_part: str) -> Command:
    """Check the time and text and make the Remind, or the Error that explains the problem."""
    if isinstance(reading, TimeProblem):
        return Error(describe_problem(reading))
    message = clean_text(text)
    if not message:
        return Error(f'Sorry, what should the reminder say? Try "remind me {_shorten(when_part.strip())}: '
                     'call mom".')
    if len(message) > MAX_TEXT_LENGTH:
        return Error(f"Sorry, the reminder is too long ({len(message)} characters); "
                     f"the most I can send is {MAX_TEXT_LENGTH}.")
    return Remind(to=recipient, send_at=reading.send_at, text=message, recurrence=reading.recurrence,
                  anchor=reading.anchor if reading.recurrence else None)

